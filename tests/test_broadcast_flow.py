"""The announcement flow's typed state and payloads: old buttons and saved flows still work."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.callbacks import BadPayload
from bot.callbacks.announcements import Ack, Action, Audience, BroadcastButton
from bot.conversations import Flow
from handlers.broadcast import SPEC, Draft, Step
from storage import outbox
from storage.models import ConversationState
from tests.factories import ADMIN_ID
from tests.harness import running_bot


def test_buttons_already_sent_keep_working() -> None:
    assert BroadcastButton.unpack("bc:aud:units").audience is Audience.UNITS
    toggle = BroadcastButton.unpack("bc:tg:5:1")
    assert (toggle.action, toggle.number, toggle.page) == (Action.TOGGLE, 5, 1)
    assert BroadcastButton.unpack("bc:show:12").number == 12
    assert BroadcastButton.unpack("bc:send").action is Action.SEND
    assert Ack.unpack("ack:77").announcement_id == 77
    for packed in (BroadcastButton.toggle(3, 2), BroadcastButton.of(Action.AUTO, 24), Ack(9)):
        assert type(packed).unpack(packed.pack()) == packed


@pytest.mark.parametrize("data", ["bc:nope", "bc:show:x", "bc:show:99999999999999999999", "ack:"])
def test_forged_buttons_are_refused(data: str) -> None:
    with pytest.raises(BadPayload):
        payload = (Ack if data.startswith("ack") else BroadcastButton).unpack(data)
        if isinstance(payload, BroadcastButton):
            _ = payload.number


def test_a_flow_saved_by_the_untyped_version_loads() -> None:
    old = {
        "text": "<b>Họp</b>",
        "length": 3,
        "file": ["F1", "document", "ke-hoach.docx"],
        "audience": {"kind": "units", "ids": [4, 7]},
        "send_at": "2026-06-10T01:00:00+00:00",
        "resend": 24,
    }
    state = SPEC.load(Flow("broadcast", Step.CONFIRM, old))
    assert isinstance(state, Draft)
    assert (state.kind, state.ids, state.file) == (
        Audience.UNITS,
        [4, 7],
        ("F1", "document", "ke-hoach.docx"),
    )
    assert state.send_at == datetime(2026, 6, 10, 1, 0, tzinfo=UTC)
    draft = state.draft()
    assert draft.target.stored() == {"kind": "units", "ids": [4, 7]}
    assert draft.attachment is not None and draft.attachment.name == "ke-hoach.docx"
    again = SPEC.load(SPEC.place(Step.CONFIRM, state))
    assert again == state


PREVIEW = "Kiểm tra lại trước khi gửi"


async def test_a_step_whose_reply_cannot_be_written_stays_where_it_was(
    tmp_path, monkeypatch
) -> None:
    """The step's new place and its messages are one transaction: when the preview cannot
    be written, the flow does not move on, and the same press then shows it (before, the
    step was saved first and the press was answered "stale button")."""
    async with running_bot(tmp_path) as bot:
        listing = await bot.say(bot.admin, "/thongbao")
        await bot.press(bot.admin, listing, "➕ Thông báo mới")
        ask_file = await bot.say(bot.admin, "Họp giao ban", contains="Gửi kèm")
        audience = await bot.press(bot.admin, ask_file, "Bỏ qua")
        schedule = await bot.press(bot.admin, audience, "Chỉ quản trị viên")
        assert "Gửi ngay" in schedule["text"]

        async def failing(**_: object) -> list[int]:
            raise RuntimeError("the outbox cannot be written")

        real = outbox.enqueue_many
        monkeypatch.setattr(outbox, "enqueue_many", failing)
        await bot.press(bot.admin, schedule, "Gửi ngay")
        monkeypatch.setattr(outbox, "enqueue_many", real)
        flow = bot.services.conversations.get(ADMIN_ID, ADMIN_ID)
        assert flow is not None and flow.step == Step.SCHEDULE
        async with bot.services.db.read() as session:
            stored = await session.get(ConversationState, (ADMIN_ID, ADMIN_ID))
        assert stored is not None and stored.step == Step.SCHEDULE

        preview = await bot.press(bot.admin, schedule, "Gửi ngay")
        assert PREVIEW in preview["text"]
        labels = [b["text"] for row in preview["reply_markup"]["inline_keyboard"] for b in row]
        assert "✅ Gửi" in labels
