"""Events on both backends: rules, announcements, registrations, changes, reminders."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.app import make_services
from bot.config import Config
from bot.context import Services
from bot.permissions import Caller, Role
from bot.services import events
from bot.services.errors import NotAllowed
from bot.services.events import EventError, EventReminders
from storage import audit, bloc, contacts
from storage import events as store
from storage.db import Database
from storage.models import (
    Contact,
    Event,
    EventRegistration,
    OutboxMessage,
    ReminderLog,
    UserSetting,
)
from tests.factories import ADMIN_ID, FakeClock, make_config

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = "2023-10-02 10:00"  # a Monday
CODES = ["GT-02", "GT-03", "TN-02", "XD-01"]  # the units with a contact, 9000 + position
ADMIN = Caller(user_id=ADMIN_ID, full_name="Admin", username=None, role=Role.ADMIN, language="vi")


def contact(user_id: int) -> Caller:
    """A unit's contact as a handler would have seen them."""
    return Caller(
        user_id=user_id,
        full_name=f"Contact {user_id}",
        username=None,
        role=Role.CONTACT,
        language="vi",
        contact=Contact(unit_id=0, telegram_user_id=user_id, full_name="x"),
    )


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ).astimezone(UTC)


# --- rules (no database) ----------------------------------------------------------------


def _request(**changes: object) -> events.EventRequest:
    values: dict = {
        "kind": "sports",
        "title": "  Giải bóng đá   giao lưu ",
        "starts_at": local("2023-10-13 08:00"),
        "place": "Sân vận động tỉnh",
        "description": "",
        "registration_deadline": local("2023-10-11 17:00"),
        "disciplines": ("Bóng đá", "Cầu lông"),
        "now": local(NOW),
    }
    values.update(changes)
    return events.validate(**values)


def test_a_valid_request_is_tidied() -> None:
    request = _request()
    assert request.title == "Giải bóng đá giao lưu"
    assert request.kind is events.EventKind.SPORTS
    assert request.disciplines == ("Bóng đá", "Cầu lông")
    culture = _request(kind="culture", disciplines=("Bóng đá",))
    assert culture.disciplines == ()  # only sports events have disciplines


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"kind": "party"}, "event.error_kind"),
        ({"title": "A"}, "event.error_title"),
        ({"place": " "}, "event.error_place"),
        ({"description": "x" * 2001}, "event.error_description"),
        ({"starts_at": local("2023-10-01 08:00")}, "event.error_start_past"),
        ({"registration_deadline": local("2023-10-02 09:00")}, "event.error_deadline_past"),
        ({"registration_deadline": local("2023-10-13 09:00")}, "event.error_deadline_after_start"),
        ({"disciplines": ()}, "event.error_no_disciplines"),
    ],
)
def test_bad_requests_are_refused_with_a_reason(changes: dict, key: str) -> None:
    with pytest.raises(EventError) as caught:
        _request(**changes)
    assert caught.value.key == key


def test_parsing_people_and_disciplines() -> None:
    assert events.parse_people("12") == 12
    assert events.parse_people(" 12 người ") == 12
    assert events.parse_people("500") == 500
    for bad in ("0", "501", "-3", "mười hai", "", "12.5"):
        with pytest.raises(EventError) as caught:
            events.parse_people(bad)
        assert caught.value.key == "event.error_people" and caught.value.details["max"] == 500
    assert events.parse_disciplines("Bóng đá, cầu lông;bóng đá\nBóng bàn") == (
        "Bóng đá",
        "cầu lông",
        "Bóng bàn",
    )
    for bad, key in (
        (" , ", "event.error_no_disciplines"),
        ("x" * 41, "event.error_discipline_name"),
        (",".join(f"Môn {i}" for i in range(13)), "event.error_too_many_disciplines"),
    ):
        with pytest.raises(EventError) as caught:
            events.parse_disciplines(bad)
        assert caught.value.key == key


def test_start_without_a_time_means_eight_and_deadline_the_end_of_day() -> None:
    services = make_services(make_config(database_url="sqlite+aiosqlite:///:memory:"))
    now = local(NOW)
    assert events.parse_start("13/10/2023", services, now) == local("2023-10-13 08:00")
    assert events.parse_deadline("11/10", services, now) == local("2023-10-11 23:59")
    with pytest.raises(EventError) as caught:
        events.parse_start("32/10/2023", services, now)
    assert caught.value.key == "date.error_invalid"


# --- storage and services on both backends ----------------------------------------------


@pytest.fixture
async def world(seeded: Database, config: Config):
    """Four units with a contact each (one reads English) and a clock on a Monday morning."""
    clock = FakeClock(local(NOW))
    services = make_services(config, seeded)
    services.clock = clock
    async with seeded.session() as session:
        units = {u.code: u for u in await bloc.list_units(session=session)}
        for n, code in enumerate(CODES):
            session.add(Contact(unit_id=units[code].id, telegram_user_id=9000 + n, full_name=code))
        session.add(UserSetting(telegram_user_id=9003, language="en"))
    return services, clock, units


async def _create(services: Services, **changes: object) -> Event:
    values: dict = {"now": services.clock()}
    values.update(changes)
    return (await events.create(services, actor=ADMIN, draft=_request(**values))).event


async def _outbox(db: Database) -> list[OutboxMessage]:
    async with db.session() as session:
        return list((await session.exec(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def _register(services: Services, event: Event, unit, people: int = 0, names=None, **kw):
    return await events.register(
        services,
        actor=contact(9000 + CODES.index(unit.code)),
        event_id=event.id,
        participating=kw.pop("participating", True),
        people=people,
        disciplines=names or [],
    )


async def test_creating_announces_to_every_contact_in_their_language(world) -> None:
    services, _, _ = world
    created = await events.create(services, actor=ADMIN, draft=_request())
    event, queued = created.event, created.queued
    rows = await _outbox(services.db)
    assert queued == 4 and sorted(r.chat_id for r in rows) == [9000, 9001, 9002, 9003]
    vietnamese = next(r for r in rows if r.chat_id == 9000)
    assert "Giải bóng đá giao lưu" in vietnamese.text and "13/10/2023 08:00" in vietnamese.text
    assert "Hạn đăng ký: 11/10/2023 17:00" in vietnamese.text
    assert "Bóng đá, Cầu lông" in vietnamese.text
    buttons = vietnamese.reply_markup["inline_keyboard"][0]
    assert [b["text"] for b in buttons] == ["Đăng ký tham gia", "Không tham gia"]
    assert [b["callback_data"] for b in buttons] == [f"ev:reg:{event.id}", f"ev:no:{event.id}"]
    assert vietnamese.dedup_key.startswith(f"event:{event.id}:announce:c")
    english = next(r for r in rows if r.chat_id == 9003)
    assert "Registration closes" in english.text and "Take part" in str(english.reply_markup)
    async with services.work() as work:
        again = await events.announce(services, work, event)  # idempotent by dedup_key
        entries = await audit.recent(session=work.session, action="event.create")
    assert again == 4 and len(await _outbox(services.db)) == 4
    assert entries and entries[0].target == f"event:{event.id}"


async def test_register_change_withdraw_and_totals(world) -> None:
    services, clock, units = world
    event = await _create(services)
    await _register(services, event, units["GT-02"], 12, ["Cầu lông", "Bóng đá"])
    await _register(services, event, units["GT-03"], participating=False)
    await _register(services, event, units["TN-02"], 8, ["Bóng đá"])
    async with services.db.read() as session:
        totals = await store.totals(session=session, event_id=event.id)
        rows = await store.registrations(session=session, event_id=event.id)
    assert totals.units == 2 and totals.people == 20 and totals.declined == 1
    assert totals.per_discipline == {"Bóng đá": 2, "Cầu lông": 1}
    first = rows[0][0]
    assert rows[0][1].code == "GT-02" and first.disciplines == [
        "Bóng đá",
        "Cầu lông",
    ]  # event order

    clock.now += timedelta(days=1)
    await _register(services, event, units["GT-02"], 15, ["Bóng đá"], user_id=8)
    await _register(services, event, units["TN-02"], participating=False)
    async with services.db.read() as session:
        totals = await store.totals(session=session, event_id=event.id)
        unanswered = await store.unanswered_units(session=session, event_id=event.id)
        taking_part = await store.registered_units(session=session, event_id=event.id)
        count = len((await session.exec(select(EventRegistration))).all())
        entries = await audit.recent(session=session, limit=100)
    assert totals.units == 1 and totals.people == 15 and totals.declined == 2
    assert totals.per_discipline == {"Bóng đá": 1, "Cầu lông": 0}
    assert count == 3 and len(unanswered) == 12 and [u.code for u in taking_part] == ["GT-02"]
    assert {"GT-02", "GT-03", "TN-02"}.isdisjoint({u.code for u in unanswered})
    actions = [e.action for e in entries if e.action.startswith("event.")]
    assert actions.count("event.register") == 3 and actions.count("event.decline") == 2


@pytest.mark.parametrize(
    ("people", "names", "key"),
    [
        (0, ["Bóng đá"], "event.error_people"),
        (501, ["Bóng đá"], "event.error_people"),
        (12, ["Bóng rổ"], "event.error_unknown_discipline"),
        (12, [], "event.error_pick_discipline"),
    ],
)
async def test_bad_registrations_change_nothing(world, people, names, key) -> None:
    services, _, units = world
    event = await _create(services)
    await _register(services, event, units["GT-02"], 5, ["Bóng đá"])
    with pytest.raises(EventError) as caught:
        await _register(services, event, units["GT-02"], people, names)
    assert caught.value.key == key
    async with services.db.read() as session:
        kept = await store.get_registration(
            session=session, event_id=event.id, unit_id=units["GT-02"].id
        )
    assert kept.people == 5 and kept.disciplines == ["Bóng đá"]


async def test_no_registration_after_the_deadline_or_for_a_cancelled_event(world) -> None:
    services, clock, units = world
    event = await _create(services)
    clock.now = event.registration_deadline + timedelta(minutes=1)
    with pytest.raises(EventError) as caught:
        await _register(services, event, units["GT-02"], 5, ["Bóng đá"])
    assert caught.value.key == "event.error_closed"
    clock.now = local(NOW)
    other = await _create(services, title="Hội thao mùa thu")
    await events.cancel(services, event_id=other.id, actor=ADMIN)
    with pytest.raises(EventError) as caught:
        await _register(services, other, units["GT-02"], 5, ["Bóng đá"])
    assert caught.value.key == "event.error_cancelled"
    with pytest.raises(EventError) as caught:
        await events.register(services, actor=contact(9000), event_id=99999, participating=False)
    assert caught.value.key == "event.error_gone"
    async with services.db.read() as session:
        assert (await session.exec(select(EventRegistration))).all() == []


async def test_the_service_rechecks_who_acts(world) -> None:
    """A revoked contact is refused (not trusted from the handler's view of them), a
    non-admin cannot create, move or cancel, and nothing of a refusal is stored."""
    services, _, _ = world
    event = await _create(services)
    async with services.db.session() as session:
        bound = await contacts.get_active_contact(session=session, telegram_user_id=9000)
        await contacts.revoke_contact(session=session, contact_id=bound.id, actor_user_id=1)
    for call in (
        events.register(services, actor=contact(9000), event_id=event.id, participating=False),
        events.begin_registration(
            services, update_id=None, actor=contact(9000), event_id=event.id, render=_no_reply
        ),
    ):
        with pytest.raises(NotAllowed) as caught:
            await call
        assert caught.value.key == "event.contact_revoked"
    stranger = replace(contact(4242), contact=None)
    with pytest.raises(NotAllowed) as caught:
        await events.register(services, actor=stranger, event_id=event.id, participating=False)
    assert caught.value.key == "event.no_unit"
    lan = contact(9001)
    for call in (
        events.create(services, actor=lan, draft=_request(now=services.clock())),
        events.change(services, actor=lan, event_id=event.id, place="Nhà văn hóa"),
        events.cancel(services, actor=lan, event_id=event.id),
    ):
        with pytest.raises(NotAllowed):
            await call
    async with services.db.read() as session:
        assert (await session.exec(select(EventRegistration))).all() == []
        assert len((await session.exec(select(Event))).all()) == 1
        assert (await store.get_event(session=session, event_id=event.id)).cancelled_at is None


def _no_reply(_: object) -> events.Reply:
    return events.Reply()


async def test_two_contacts_answering_at_once_leave_one_registration(world) -> None:
    services, _, units = world
    event = await _create(services)
    await asyncio.gather(
        _register(services, event, units["GT-02"], 5, ["Bóng đá"], user_id=1),
        _register(services, event, units["GT-02"], 7, ["Cầu lông"], user_id=2),
    )
    async with services.db.read() as session:
        rows = (await session.exec(select(EventRegistration))).all()
    assert len(rows) == 1 and rows[0].people in (5, 7)


async def test_changing_the_time_tells_registered_units_only(world) -> None:
    services, _, units = world
    event = await _create(services)
    await _register(services, event, units["GT-02"], 12, ["Bóng đá"])
    await _register(services, event, units["GT-03"], participating=False)
    before = len(await _outbox(services.db))
    changed = await events.change(
        services, event_id=event.id, actor=ADMIN, starts_at=local("2023-10-10 07:30")
    )
    moved, told = changed.event, changed.units
    notices = (await _outbox(services.db))[before:]
    assert told == 1 and [n.chat_id for n in notices] == [9000]
    assert "10/10/2023 07:30" in notices[0].text and "13/10/2023 08:00" in notices[0].text
    assert (
        notices[0].reply_markup["inline_keyboard"][0][0]["callback_data"] == f"ev:show:{event.id}"
    )
    assert moved.revision == 1
    assert moved.registration_deadline == local("2023-10-10 07:30")  # closes by the start

    placed = (
        await events.change(services, event_id=event.id, actor=ADMIN, place="Nhà thi đấu <Cẩm Phả>")
    ).event
    last = (await _outbox(services.db))[-1]
    assert placed.revision == 2 and "Nhà thi đấu &lt;Cẩm Phả&gt;" in last.text
    for kwargs, key in (
        ({"place": "Nhà thi đấu <Cẩm Phả>"}, "event.error_no_change"),
        ({"starts_at": local("2023-10-01 08:00")}, "event.error_start_past"),
        ({"place": "x"}, "event.error_place"),
    ):
        with pytest.raises(EventError) as caught:
            await events.change(services, event_id=event.id, actor=ADMIN, **kwargs)
        assert caught.value.key == key
    async with services.db.read() as session:
        entries = await audit.recent(session=session, action="event.update")
        stored = await store.get_event(session=session, event_id=event.id)
    assert len(entries) == 2 and stored.revision == 2 and stored.place == "Nhà thi đấu <Cẩm Phả>"


async def test_cancelling_tells_registered_units_and_leaves_the_list(world) -> None:
    services, _, units = world
    event = await _create(services)
    await _register(services, event, units["XD-01"], 3, ["Cầu lông"])
    before = len(await _outbox(services.db))
    told = (await events.cancel(services, event_id=event.id, actor=ADMIN)).units
    notices = (await _outbox(services.db))[before:]
    assert told == 1 and [n.chat_id for n in notices] == [9003]
    assert "has been cancelled" in notices[0].text
    async with services.db.read() as session:
        assert await store.upcoming_events(session=session, now=services.clock()) == []
    with pytest.raises(EventError) as caught:
        await events.cancel(services, event_id=event.id, actor=ADMIN)
    assert caught.value.key == "event.error_cancelled"


# --- reminders --------------------------------------------------------------------------


async def _remind(services: Services, clock: FakeClock, when: str) -> list[OutboxMessage]:
    before = len(await _outbox(services.db))
    clock.set_local(when)
    await EventReminders(services).run_once()
    return (await _outbox(services.db))[before:]


async def test_event_reminders_fire_once_to_the_right_units(world) -> None:
    services, clock, units = world
    event = await _create(services)  # closes Wed 11/10 17:00, starts Fri 13/10 08:00
    cancelled = await _create(services, title="Hội thao bị hủy")
    await events.cancel(services, event_id=cancelled.id, actor=ADMIN)
    await _register(services, event, units["GT-02"], 12, ["Bóng đá"])
    await _register(services, event, units["GT-03"], participating=False)

    assert await _remind(services, clock, "2023-10-09 07:59") == []
    unanswered = await _remind(services, clock, "2023-10-09 08:01")  # 2 days before closing
    assert sorted(r.chat_id for r in unanswered) == [9002, 9003]
    vietnamese = next(r for r in unanswered if r.chat_id == 9002)
    assert "chưa trả lời" in vietnamese.text and "11/10/2023 17:00" in vietnamese.text
    assert (
        vietnamese.reply_markup["inline_keyboard"][0][0]["callback_data"] == f"ev:show:{event.id}"
    )
    assert "has not answered" in next(r for r in unanswered if r.chat_id == 9003).text
    assert await _remind(services, clock, "2023-10-09 09:00") == []  # never twice

    day_before = await _remind(services, clock, "2023-10-12 08:00")
    assert [r.chat_id for r in day_before] == [9000]
    assert "Ngày mai" in day_before[0].text and "12 người" in day_before[0].text
    soon = await _remind(services, clock, "2023-10-13 06:00")
    assert [r.chat_id for r in soon] == [9000] and "sắp bắt đầu" in soon[0].text
    assert await _remind(services, clock, "2023-10-13 07:00") == []
    async with services.db.read() as session:
        logged = (await session.exec(select(ReminderLog))).all()
    assert {r.target_id for r in logged} == {event.id}  # nothing for the cancelled event
    assert {r.kind for r in logged} == {"unanswered_2", "day_before", "soon"}


async def test_two_reminder_services_at_once_send_each_slot_once(world) -> None:
    services, clock, _ = world
    await _create(services)
    clock.set_local("2023-10-09 08:30")
    before = len(await _outbox(services.db))
    reports = await asyncio.gather(
        EventReminders(services).run_once(), EventReminders(services).run_once()
    )
    sent = (await _outbox(services.db))[before:]
    assert sorted(r.chat_id for r in sent) == [9000, 9001, 9002, 9003]
    assert sum(r.messages for r in reports) == 4


async def test_missed_slots_are_skipped_not_sent_late(world) -> None:
    services, clock, _ = world
    event = await _create(services)
    sent = await _remind(services, clock, "2023-10-10 09:00")  # a day after the 09/10 slot
    assert sent == []
    async with services.db.read() as session:
        skipped = (
            await session.exec(select(ReminderLog).where(ReminderLog.status == "skipped"))
        ).all()
    assert [s.kind for s in skipped] == ["unanswered_2"] and skipped[0].target_id == event.id
