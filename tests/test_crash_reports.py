"""kill -9 right after a typed answer commits: the contact gets the next question once, and
their next message is filed under that question."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from storage import bloc, periods
from storage.models import Contact, Submission, utcnow
from tests.process import crash_bot

pytestmark = pytest.mark.slow

CONTACT = 7201
QUESTIONS = [
    {"key": key, "type": "short_text", "text": f"Nội dung {key}", "text_en": f"Content {key}"}
    for key in ("a", "b", "c")
]


async def test_a_typed_answer_killed_after_its_commit_gets_the_next_question_once(
    tmp_path,
) -> None:
    async with crash_bot(tmp_path) as bot:
        async with bot.db.session() as session:
            unit = await bloc.get_unit_by_code(session=session, code="GT-04")
            assert unit is not None
            session.add(Contact(unit_id=unit.id, telegram_user_id=CONTACT, full_name="Bình"))
            now = utcnow()
            await periods.create_period(
                session=session,
                kind="adhoc",
                title="Báo cáo nhanh",
                year=bot.config.bloc.year,
                opens_at=now - timedelta(hours=1),
                deadline_at=now + timedelta(days=7),
                questions=QUESTIONS,
                late_days=3,
            )
        contact = bot.emu.add_user(CONTACT, "Bình")
        await bot.start()
        mark = bot.emu.mark(CONTACT)
        bot.emu.send_text(contact, "/baocao")
        await bot.emu.wait_for_message(CONTACT, contains="Câu 1/3.", after=mark, timeout=10)

        bot.hold_sends()
        bot.emu.send_text(contact, "Trả lời câu 1")
        await bot.wait_for_outbox(CONTACT, lambda row: "Câu 2/3." in row.text)
        await bot.restart_after_kill()

        await bot.emu.wait_for_message(CONTACT, contains="Câu 2/3.", timeout=15)
        mark = bot.emu.mark(CONTACT)
        bot.emu.send_text(contact, "Trả lời câu 2")
        await bot.emu.wait_for_message(CONTACT, contains="Câu 3/3.", after=mark, timeout=10)
        await bot.emu.wait_until_delivered()

        texts = [m["text"] for m in bot.emu.sent_messages(CONTACT)]
        assert sum("Câu 2/3." in t for t in texts) == 1
        assert sum("Câu 3/3." in t for t in texts) == 1
        async with bot.db.read() as session:
            submission = (await session.exec(select(Submission))).one()
        assert submission.answers["a"]["v"] == "Trả lời câu 1"
        assert submission.answers["b"]["v"] == "Trả lời câu 2"  # not filed under question 1
        assert "c" not in submission.answers
