"""The announcement flow's typed state and payloads: old buttons and saved flows still work."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.callbacks import BadPayload
from bot.callbacks.announcements import Ack, Action, Audience, BroadcastButton
from bot.conversations import Flow
from handlers.broadcast import SPEC, Draft, Step


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
