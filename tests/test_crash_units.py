"""kill -9 right after a unit of work commits: the person still gets what was committed, once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage import bloc, invites
from storage.models import Contact
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


JOINER = 7102


async def test_joining_welcome_and_admin_notice_survive_a_kill_after_commit(tmp_path) -> None:
    async with crash_bot(tmp_path) as bot:
        async with bot.db.session() as session:
            unit = await bloc.get_unit_by_code(session=session, code="GT-02")
            assert unit is not None
            issued = await invites.create_invite(session=session, unit=unit, ttl=timedelta(days=1))
        joiner = bot.emu.add_user(JOINER, "Lan")
        await bot.start()

        bot.hold_sends()
        bot.emu.send_text(joiner, f"/start {issued.token}")
        await bot.wait_for_outbox(JOINER, lambda row: "Xin chào" in row.text)
        await bot.wait_for_outbox(ADMIN_ID, lambda row: "Lan" in row.text)
        await bot.restart_after_kill()

        await bot.emu.wait_for_message(JOINER, contains="Xin chào", timeout=15)
        await bot.emu.wait_for_message(ADMIN_ID, contains="Lan", timeout=15)
        await bot.emu.wait_until_delivered()
        welcomes = [m for m in bot.emu.sent_messages(JOINER) if "Xin chào" in m["text"]]
        notices = [m for m in bot.emu.sent_messages(ADMIN_ID) if "Lan" in m["text"]]
        assert len(welcomes) == 1 and len(notices) == 1
        # The replayed /start finds the update handled: no second "already a member" reply.
        assert not [m for m in bot.emu.sent_messages(JOINER) if "đã là cán bộ" in m["text"]]
