"""kill -9 right after a deadline extension commits: the admin is told once, every contact
hears of the new deadline once, and the replayed update extends nothing a second time."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from storage import bloc, periods
from storage import conversations as flow_store
from storage.models import Contact, utcnow
from tests.factories import ADMIN_ID
from tests.process import crash_bot

pytestmark = pytest.mark.slow

CONTACTS = {7201: "GT-02", 7202: "GT-04"}
TITLE = "Sơ kết 6 tháng đầu năm 2023"


def _sent(bot, chat_id: int, needle: str) -> list[dict]:
    return [m for m in bot.emu.sent_messages(chat_id) if needle in m["text"]]


async def test_extension_reply_and_notices_survive_a_kill_after_commit(tmp_path) -> None:
    async with crash_bot(tmp_path) as bot:
        now = utcnow()
        async with bot.db.session() as session:
            for user_id, code in CONTACTS.items():
                unit = await bloc.get_unit_by_code(session=session, code=code)
                assert unit is not None
                session.add(Contact(unit_id=unit.id, telegram_user_id=user_id, full_name="Lan"))
            period = await periods.create_period(
                session=session,
                kind="six_month",
                title=TITLE,
                year=2023,
                opens_at=now - timedelta(days=1),
                deadline_at=now + timedelta(days=7),
                questions=[{"key": "a", "type": "long_text", "text": "A", "text_en": "A"}],
                late_days=30,
            )
            period_id = period.id
        for user_id in CONTACTS:
            bot.emu.add_user(user_id, "Lan")
        await bot.start()
        admin = bot.emu.state.users[ADMIN_ID]
        mark = bot.emu.mark(ADMIN_ID)
        bot.emu.send_text(admin, "/kybaocao")
        listing = await bot.emu.wait_for_message(ADMIN_ID, contains="Các kỳ báo cáo", after=mark)
        bot.emu.press_button_text(admin, listing, f"Gia hạn: {TITLE[:40]}")
        await bot.emu.wait_for_call("editMessageText", lambda c: "Nhập hạn mới" in str(c.params))

        bot.hold_sends()
        bot.emu.send_text(admin, "31/12/2099 17:00")
        await bot.wait_for_outbox(ADMIN_ID, lambda row: "Đã gia hạn" in row.text)
        await bot.restart_after_kill()

        await bot.emu.wait_for_message(ADMIN_ID, contains="Đã gia hạn", timeout=15)
        for user_id in CONTACTS:
            notice = await bot.emu.wait_for_message(user_id, contains="gia hạn", timeout=15)
            assert "31/12/2099 17:00" in notice["text"]
        await bot.emu.wait_until_delivered()
        await asyncio.sleep(0.5)  # time for any duplicate to show up
        assert len(_sent(bot, ADMIN_ID, "Đã gia hạn")) == 1
        for user_id in CONTACTS:
            assert len(_sent(bot, user_id, "gia hạn")) == 1
        async with bot.db.read() as session:
            stored = await periods.get_period(session=session, period_id=period_id)
            flows = await flow_store.all_states(session=session)
        assert stored is not None and stored.extensions == 1
        assert not [f for f in flows if f.user_id == ADMIN_ID]  # the flow ended with it
