"""kill -9 right after an event step commits: the contact gets what was committed, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.services import events
from storage import bloc
from storage.models import Contact, EventRegistration
from tests.process import crash_bot

pytestmark = pytest.mark.slow

CONTACT = 7201


async def test_a_registration_confirmation_survives_a_kill_after_commit(tmp_path) -> None:
    async with crash_bot(tmp_path) as bot:
        async with bot.db.session() as session:
            unit = await bloc.get_unit_by_code(session=session, code="GT-02")
            assert unit is not None
            session.add(Contact(unit_id=unit.id, telegram_user_id=CONTACT, full_name="Lan"))
        lan = bot.emu.add_user(CONTACT, "Lan")
        now = datetime.now(UTC)
        request = events.validate(
            kind="learning",
            title="Học tập kinh nghiệm tại Quảng Ninh",
            starts_at=now + timedelta(days=10),
            place="Hạ Long",
            description="",
            registration_deadline=now + timedelta(days=5),
            disciplines=(),
            now=now,
        )
        await events.create(bot.services, actor=None, draft=request)  # queued before the start
        await bot.start()
        announced = await bot.emu.wait_for_message(CONTACT, contains="Quảng Ninh", timeout=15)
        mark = bot.emu.mark(CONTACT)
        bot.emu.press_button_text(lan, announced, "Đăng ký tham gia")
        await bot.emu.wait_for_message(CONTACT, contains="số người", after=mark)

        bot.hold_sends()
        bot.emu.send_text(lan, "4 người")
        await bot.wait_for_outbox(CONTACT, lambda row: "với 4 người" in row.text)
        await bot.restart_after_kill()

        done = await bot.emu.wait_for_message(CONTACT, contains="với 4 người", timeout=15)
        assert done is not None
        await bot.emu.wait_until_delivered()
        confirmations = [m for m in bot.emu.sent_messages(CONTACT) if "với 4 người" in m["text"]]
        assert len(confirmations) == 1
        async with bot.db.read() as session:
            rows = (await session.exec(select(EventRegistration))).all()
        assert len(rows) == 1 and rows[0].people == 4
        # The flow ended with the commit: the next message is no answer to a question.
        mark = bot.emu.mark(CONTACT)
        bot.emu.send_text(lan, "5")
        after = await bot.emu.wait_for_message(CONTACT, after=mark, timeout=15)
        assert "với 5 người" not in after["text"]
