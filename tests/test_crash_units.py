"""kill -9 right after a unit of work commits: the person still gets what was committed, once."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from storage import bloc
from storage.models import Announcement, Contact, ConversationState
from tests.factories import ADMIN_ID
from tests.process import crash_bot

pytestmark = pytest.mark.slow

CONTACT = 7101


def _edits(emu, chat_id: int, needle: str) -> list:
    return [
        c
        for c in emu.calls_to("editMessageText")
        if int(c.params.get("chat_id", 0)) == chat_id
        and needle in str(c.params.get("text", ""))
        and c.response.get("ok")
    ]


async def test_revocation_reply_and_notice_survive_a_kill_after_commit(tmp_path) -> None:
    async with crash_bot(tmp_path) as bot:
        async with bot.db.session() as session:
            unit = await bloc.get_unit_by_code(session=session, code="GT-04")
            assert unit is not None
            session.add(Contact(unit_id=unit.id, telegram_user_id=CONTACT, full_name="Bình"))
        contact = bot.emu.add_user(CONTACT, "Bình")
        await bot.start()
        admin = bot.emu.state.users[ADMIN_ID]
        mark = bot.emu.mark(ADMIN_ID)
        bot.emu.send_text(admin, "/thuhoi")
        menu = await bot.emu.wait_for_message(ADMIN_ID, contains="Thu hồi quyền", after=mark)
        bot.emu.press_button_text(admin, menu, "Bình — Trung tâm Sát hạch lái xe (ví dụ)")
        await bot.emu.wait_for_call("editMessageText", lambda c: "Bình" in str(c.params))
        confirm = bot.emu.last_message(ADMIN_ID)

        bot.hold_sends()
        bot.emu.press_button_text(admin, confirm, "Thu hồi")
        await bot.wait_for_outbox(ADMIN_ID, lambda row: "Đã thu hồi" in row.text)
        await bot.restart_after_kill()

        notice = await bot.emu.wait_for_message(CONTACT, contains="đã được thu hồi", timeout=15)
        assert notice is not None
        for _ in range(100):
            if _edits(bot.emu, ADMIN_ID, "Đã thu hồi"):
                break
            await bot.emu.wait_until_delivered()
        assert len(_edits(bot.emu, ADMIN_ID, "Đã thu hồi")) == 1
        notices = [m for m in bot.emu.sent_messages(contact.id) if "thu hồi" in m["text"]]
        assert len(notices) == 1


PREVIEW = "Kiểm tra lại trước khi gửi"


async def _wait_for_step(bot, step: str) -> None:
    """Polls the database (not the bot) until the admin's flow is at `step`."""
    for _ in range(1000):
        async with bot.db.read() as session:
            state = await session.get(ConversationState, (ADMIN_ID, ADMIN_ID))
        if state is not None and state.step == step:
            return
        await asyncio.sleep(0.002)
    raise AssertionError(f"the flow never reached {step}")


ANNOUNCEMENT = "Họp giao ban khối thi đua quý IV"


async def test_announcement_preview_survives_a_kill_after_commit_and_sends(tmp_path) -> None:
    """The button step that leads to the preview (CONFIRM) commits the step, the copy and
    the «Gửi» message together: after kill -9 the admin gets them once and «Gửi» publishes
    (issue 8: the replayed press used to find the step moved on, "stale button")."""
    async with crash_bot(tmp_path) as bot:
        await bot.start()
        admin = bot.emu.state.users[ADMIN_ID]
        mark = bot.emu.mark(ADMIN_ID)
        bot.emu.send_text(admin, "/thongbao")
        listing = await bot.emu.wait_for_message(ADMIN_ID, contains="Thông báo gần đây", after=mark)
        mark = bot.emu.mark(ADMIN_ID)
        bot.emu.press_button_text(admin, listing, "➕ Thông báo mới")
        await bot.emu.wait_for_message(ADMIN_ID, contains="Nhập nội dung", after=mark)
        mark = bot.emu.mark(ADMIN_ID)
        bot.emu.send_text(admin, ANNOUNCEMENT)
        ask_file = await bot.emu.wait_for_message(ADMIN_ID, contains="Gửi kèm", after=mark)
        mark = bot.emu.mark(ADMIN_ID)
        bot.emu.press_button_text(admin, ask_file, "Bỏ qua")
        audience = await bot.emu.wait_for_message(ADMIN_ID, contains="tới ai", after=mark)
        mark = bot.emu.mark(ADMIN_ID)
        bot.emu.press_button_text(admin, audience, "Chỉ quản trị viên")
        schedule = await bot.emu.wait_for_message(ADMIN_ID, contains="Gửi ngay", after=mark)

        bot.hold_sends()
        mark = bot.emu.mark(ADMIN_ID)
        bot.emu.press_button_text(admin, schedule, "Gửi ngay")  # admins: straight to CONFIRM
        await _wait_for_step(bot, "confirm")  # killed as soon as the step has committed
        await bot.restart_after_kill()

        preview = await bot.emu.wait_for_message(ADMIN_ID, contains=PREVIEW, after=mark, timeout=15)
        assert preview is not None
        await bot.emu.wait_until_delivered()
        sent = bot.emu.sent_messages(ADMIN_ID)
        previews = [m for m in sent if PREVIEW in m.get("text", "")]
        copies = [m for m in sent if m.get("text") == ANNOUNCEMENT]
        assert len(previews) == 1 and len(copies) == 1
        labels = [b["text"] for row in preview["reply_markup"]["inline_keyboard"] for b in row]
        assert "✅ Gửi" in labels

        press = bot.emu.press_button_text(admin, preview, "✅ Gửi")
        await bot.emu.wait_for_call(
            "editMessageText", lambda c: "Đã xếp hàng" in str(c.params), timeout=15
        )
        query_id = press["callback_query"]["id"]
        await bot.emu.wait_for_call(
            "answerCallbackQuery",
            lambda c: str(c.params.get("callback_query_id")) == str(query_id),
            timeout=15,
        )
        answer = bot.emu.callback_answer(press)
        assert answer is not None and not answer.get("show_alert")  # no "stale button"
        assert len(_edits(bot.emu, ADMIN_ID, "Đã xếp hàng")) == 1
        async with bot.db.read() as session:
            stored = (await session.exec(select(Announcement))).all()
        assert [a.text for a in stored] == [ANNOUNCEMENT]
