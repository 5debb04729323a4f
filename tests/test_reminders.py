"""The reminder service on both backends: who is reminded, when, and never twice."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.app import make_services
from bot.config import Config
from bot.permissions import Caller, Role
from bot.services import reminders as reminder_service
from bot.services.errors import NotAllowed, ServiceError
from bot.services.reminders import Reminders
from storage import bloc, periods
from storage.db import Database
from storage.models import Contact, OutboxMessage, ReportPeriod, Submission, UserSetting
from tests.factories import ADMIN_ID, SECOND_ADMIN_ID, FakeClock

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ).astimezone(UTC)


@pytest.fixture
async def world(seeded: Database, config: Config):
    """Four units with a contact each (one reads English), and a six-month period."""
    clock = FakeClock(local("2023-06-01 10:00"))
    services = make_services(config, seeded)
    services.clock = clock
    async with seeded.session() as session:
        units = {u.code: u for u in await bloc.list_units(session=session)}
        for n, code in enumerate(["GT-02", "GT-03", "TN-02", "XD-01"]):
            session.add(Contact(unit_id=units[code].id, telegram_user_id=9000 + n, full_name=code))
        session.add(UserSetting(telegram_user_id=9003, language="en"))
        period = await periods.create_period(
            session=session,
            kind="six_month",
            title="Sơ kết 6 tháng 2023",
            year=2023,
            opens_at=local("2023-06-05 09:30"),
            deadline_at=local("2023-06-15 17:00"),
            questions=[{"key": "a", "type": "long_text", "text": "A", "text_en": "A"}],
            late_days=30,
        )
    return services, clock, units, period


async def _rows(db: Database) -> list[OutboxMessage]:
    async with db.session() as session:
        return list((await session.exec(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def _run(services, clock: FakeClock, when: str) -> list[OutboxMessage]:
    before = len(await _rows(services.db))
    clock.set_local(when)
    await Reminders(services).run_once()
    return (await _rows(services.db))[before:]


async def _submit(db: Database, period: ReportPeriod, unit_id: int, status: str = "submitted"):
    async with db.session() as session:
        session.add(Submission(period_id=period.id, unit_id=unit_id, status=status, version=1))


async def test_the_default_policy_over_a_period(world) -> None:
    services, clock, units, period = world
    db = services.db
    assert await _run(services, clock, "2023-06-05 09:00") == []  # not open yet
    opened = await _run(services, clock, "2023-06-05 09:31")
    assert sorted(r.chat_id for r in opened) == [9000, 9001, 9002, 9003]
    vietnamese = next(r for r in opened if r.chat_id == 9000)
    assert "đã mở" in vietnamese.text and "15/06/2023 17:00" in vietnamese.text
    english = next(r for r in opened if r.chat_id == 9003)
    assert (
        "is open" in english.text
        and english.reply_markup["inline_keyboard"][0][0]["callback_data"] == f"rpp:{period.id}"
    )
    assert await _run(services, clock, "2023-06-05 09:40") == []  # never twice

    await _submit(db, period, units["GT-02"].id)
    await _submit(db, period, units["GT-03"].id, status="returned")
    week = await _run(services, clock, "2023-06-08 08:00")
    assert sorted(r.chat_id for r in week if 9000 <= r.chat_id < 10000) == [9001, 9002, 9003]
    # (returned counts as missing; the admins' digests come on the deadline day)
    assert "Còn 7 ngày" in next(r for r in week if r.chat_id == 9001).text

    day = await _run(services, clock, "2023-06-15 08:00")
    contacts = sorted(r.chat_id for r in day if 9000 <= r.chat_id < 10000)
    digests = [r for r in day if r.chat_id in (ADMIN_ID, SECOND_ADMIN_ID)]
    assert contacts == [9001, 9002, 9003]
    assert len(digests) == 2 and "còn <b>14</b> đơn vị chưa nộp" in digests[0].text
    assert "Sở Tài nguyên và Môi trường" in digests[0].text
    assert "Hôm nay là hạn nộp" in next(r for r in day if r.chat_id == 9001).text

    # 12/06 and 14/06 slots (3 and 1 day before) were missed: more than 12 hours late.
    async with db.session() as session:
        from storage.models import ReminderLog

        skipped = (
            await session.exec(select(ReminderLog).where(ReminderLog.status == "skipped"))
        ).all()
    assert {s.kind for s in skipped} == {"before_3", "before_1"}


async def test_overdue_repeats_stop_at_the_cap_and_when_submitted(world) -> None:
    services, clock, units, period = world
    seen = []
    for when in ["2023-06-19 08:00", "2023-06-21 08:00", "2023-06-23 08:00", "2023-06-27 08:00"]:
        sent = await _run(services, clock, when)
        seen.append(len([r for r in sent if 9000 <= r.chat_id < 10000]))
        if when == "2023-06-21 08:00":
            await _submit(services.db, period, units["XD-01"].id)
    assert seen == [4, 4, 3, 0]  # overdue_1..3 every 2 working days, then no more
    overdue = (await _rows(services.db))[-1]
    assert "quá hạn 8 ngày" in overdue.text or "overdue" in overdue.text


async def test_an_extension_replaces_the_old_slots(world) -> None:
    services, clock, _units, period = world
    await _run(services, clock, "2023-06-14 08:00")  # before_1 of the old deadline
    async with services.db.session() as session:
        stored = await periods.get_period(session=session, period_id=period.id)
        await periods.extend_deadline(
            session=session,
            period=stored,
            deadline_at=local("2023-06-22 17:00"),
            late_days=30,
            actor_user_id=1,
        )
    # 15/06 08:00 was the old deadline morning; now it is 7 days before the new deadline.
    moved = [r for r in await _run(services, clock, "2023-06-15 08:00") if r.chat_id == 9000]
    assert len(moved) == 1 and "Còn 7 ngày" in moved[0].text and "22/06/2023" in moved[0].text
    new = await _run(services, clock, "2023-06-19 08:00")  # new before_3 (22/06 - 3)
    assert {r.chat_id for r in new} == {9000, 9001, 9002, 9003}
    mine = next(r for r in new if r.chat_id == 9000)
    assert "22/06/2023 17:00" in mine.text and "Còn 3 ngày" in mine.text


async def test_a_closed_period_reminds_nobody(world) -> None:
    services, clock, _units, period = world
    async with services.db.session() as session:
        stored = await periods.get_period(session=session, period_id=period.id)
        await periods.close_period(
            session=session, period=stored, now=local("2023-06-07 12:00"), actor_user_id=1
        )
    assert await _run(services, clock, "2023-06-08 08:00") == []
    assert await _run(services, clock, "2023-06-15 08:00") == []


async def test_two_services_racing_send_each_slot_once(world, db_url) -> None:
    services, clock, _units, _period = world
    clock.set_local("2023-06-08 08:00")
    url, connect_args = db_url
    other_db = Database(url, connect_args=connect_args)
    other = make_services(services.config, other_db)
    other.clock = clock
    try:
        await asyncio.gather(*(Reminders(s).run_once() for s in [services, other] * 3))
    finally:
        await other_db.dispose()
    rows = await _rows(services.db)
    assert sorted(r.chat_id for r in rows) == [9000, 9001, 9002, 9003]


async def test_stale_slots_are_logged_once(world, caplog: pytest.LogCaptureFixture) -> None:
    services, clock, _units, _period = world
    caplog.set_level(logging.WARNING, logger="bot.services.reminders")
    await _run(services, clock, "2023-06-09 08:00")  # open and before_7 are > 12 h old
    await _run(services, clock, "2023-06-09 09:00")
    warnings = [r.message for r in caplog.records if "too long ago" in r.message]
    assert len(warnings) == 2


async def test_manual_reminder_goes_to_the_missing_only(world) -> None:
    services, clock, units, period = world
    clock.set_local("2023-06-10 10:00")
    await _submit(services.db, period, units["TN-02"].id)
    admin = Caller(ADMIN_ID, "Admin", None, Role.ADMIN, "vi")

    async def remind(unit_id: int | None) -> int:
        done = await reminder_service.remind_now(
            services,
            update_id=None,
            actor=admin,
            period_id=period.id,
            unit_id=unit_id,
            render=lambda _: [],
        )
        return done.units

    assert await remind(None) == 14  # every active unit still missing, with or without contacts
    rows = await _rows(services.db)
    assert sorted(r.chat_id for r in rows) == [9000, 9001, 9003]
    assert "nhắc" in next(r for r in rows if r.chat_id == 9000).text
    assert await remind(units["GT-02"].id) == 1
    assert (await _rows(services.db))[-1].chat_id == 9000


async def test_manual_reminder_is_refused_to_a_non_admin_and_for_a_closed_period(world) -> None:
    services, clock, _units, period = world
    clock.set_local("2023-06-10 10:00")
    contact = Caller(9000, "Lan", None, Role.CONTACT, "vi")
    with pytest.raises(NotAllowed):
        await reminder_service.remind_now(
            services,
            update_id=None,
            actor=contact,
            period_id=period.id,
            unit_id=None,
            render=lambda _: [],
        )
    clock.set_local("2024-06-10 10:00")  # long past the late window
    admin = Caller(ADMIN_ID, "Admin", None, Role.ADMIN, "vi")
    with pytest.raises(ServiceError):
        await reminder_service.remind_now(
            services,
            update_id=None,
            actor=admin,
            period_id=period.id,
            unit_id=None,
            render=lambda _: [],
        )
    assert await _rows(services.db) == []
