"""Events (giao lưu văn hóa, thể thao; học tập kinh nghiệm) and units' registrations."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import audit
from storage.models import Department, Event, EventRegistration, Unit
from storage.reminders import active_contacts


class RegistrationClosed(Exception):
    """A unit cannot register for the event now; `reason` is a catalogue key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Recipient(NamedTuple):
    """An active contact to tell about an event, with the language they chose (if any)."""

    contact_id: int
    telegram_user_id: int
    unit_id: int
    language: str | None


@dataclass(frozen=True)
class Totals:
    """An event's registrations summed up."""

    units: int = 0
    people: int = 0
    declined: int = 0
    per_discipline: dict[str, int] = field(default_factory=dict)


def check_open(event: Event | None, now: datetime) -> Event:
    """The event if units may register now, else RegistrationClosed saying why."""
    if event is None:
        raise RegistrationClosed("event.error_gone")
    if event.cancelled_at is not None:
        raise RegistrationClosed("event.error_cancelled")
    if now > event.registration_deadline or now >= event.starts_at:
        raise RegistrationClosed("event.error_closed")
    return event


async def create_event(
    *,
    session: AsyncSession,
    kind: str,
    title: str,
    starts_at: datetime,
    place: str,
    description: str,
    registration_deadline: datetime,
    disciplines: list[str],
    created_by: int | None = None,
    now: datetime | None = None,
) -> Event:
    """Creates an event (the caller has validated it)."""
    event = Event(
        kind=kind,
        title=title,
        starts_at=starts_at,
        place=place,
        description=description,
        registration_deadline=registration_deadline,
        disciplines=list(disciplines),
        created_by=created_by,
    )
    if now is not None:
        event.created_at = event.updated_at = now
    session.add(event)
    await session.flush()
    await audit.record(
        session=session,
        action="event.create",
        actor_user_id=created_by,
        target=f"event:{event.id}",
        kind=kind,
        title=title,
        starts_at=starts_at.isoformat(),
        registration_deadline=registration_deadline.isoformat(),
        disciplines=list(disciplines),
    )
    return event


async def get_event(*, session: AsyncSession, event_id: int) -> Event | None:
    """An event by id, fresh from the database."""
    return await session.get(Event, event_id, populate_existing=True)


async def upcoming_events(*, session: AsyncSession, now: datetime, limit: int = 50) -> list[Event]:
    """Events not cancelled that start after `now`, soonest first."""
    query = (
        select(Event)
        .where(col(Event.cancelled_at).is_(None), col(Event.starts_at) > now)
        .order_by(col(Event.starts_at), col(Event.id))
        .limit(limit)
    )
    return list((await session.exec(query)).all())


async def list_events(*, session: AsyncSession, limit: int = 100) -> list[Event]:
    """Every event, latest start first (for the console)."""
    query = select(Event).order_by(col(Event.starts_at).desc(), col(Event.id).desc()).limit(limit)
    return list((await session.exec(query)).all())


async def update_event(
    *,
    session: AsyncSession,
    event: Event,
    now: datetime,
    actor_user_id: int | None,
    starts_at: datetime | None = None,
    place: str | None = None,
    registration_deadline: datetime | None = None,
) -> dict[str, tuple[str, str]]:
    """Changes the time and/or place; returns {field: (old, new)} of what changed."""
    changes: dict[str, tuple[str, str]] = {}
    if starts_at is not None and starts_at != event.starts_at:
        changes["starts_at"] = (event.starts_at.isoformat(), starts_at.isoformat())
        event.starts_at = starts_at
    if registration_deadline is not None and registration_deadline != event.registration_deadline:
        changes["registration_deadline"] = (
            event.registration_deadline.isoformat(),
            registration_deadline.isoformat(),
        )
        event.registration_deadline = registration_deadline
    if place is not None and place != event.place:
        changes["place"] = (event.place, place)
        event.place = place
    if not changes:
        return changes
    event.revision += 1
    event.updated_at = now
    session.add(event)
    await audit.record(
        session=session,
        action="event.update",
        actor_user_id=actor_user_id,
        target=f"event:{event.id}",
        revision=event.revision,
        changes={k: list(v) for k, v in changes.items()},
    )
    return changes


async def cancel_event(
    *, session: AsyncSession, event: Event, now: datetime, actor_user_id: int | None
) -> None:
    """Cancels an event; it leaves the lists and takes no more registrations."""
    event.cancelled_at = now
    event.updated_at = now
    event.revision += 1
    session.add(event)
    await audit.record(
        session=session,
        action="event.cancel",
        actor_user_id=actor_user_id,
        target=f"event:{event.id}",
    )


async def get_registration(
    *, session: AsyncSession, event_id: int, unit_id: int
) -> EventRegistration | None:
    """A unit's answer to an event, if it gave one."""
    query = select(EventRegistration).where(
        EventRegistration.event_id == event_id, EventRegistration.unit_id == unit_id
    )
    return (await session.exec(query)).first()


async def register(
    *,
    session: AsyncSession,
    event: Event,
    unit_id: int,
    participating: bool,
    people: int,
    disciplines: list[str],
    updated_by: int | None,
    now: datetime,
) -> EventRegistration:
    """Records (or replaces) a unit's answer; RegistrationClosed if it is too late."""
    check_open(event, now)
    registration = await get_registration(session=session, event_id=event.id or 0, unit_id=unit_id)
    if registration is None:
        try:
            async with session.begin_nested():
                registration = EventRegistration(event_id=event.id or 0, unit_id=unit_id)
                session.add(registration)
        except IntegrityError:  # another contact of the unit answered a moment ago
            registration = await get_registration(
                session=session, event_id=event.id or 0, unit_id=unit_id
            )
            assert registration is not None
    registration.participating = participating
    registration.people = people if participating else 0
    registration.disciplines = list(disciplines) if participating else []
    registration.updated_by = updated_by
    registration.updated_at = now
    session.add(registration)
    await session.flush()
    await audit.record(
        session=session,
        action="event.register" if participating else "event.decline",
        actor_user_id=updated_by,
        target=f"event:{event.id}",
        unit_id=unit_id,
        people=registration.people,
        disciplines=list(registration.disciplines),
    )
    return registration


async def registrations(
    *, session: AsyncSession, event_id: int
) -> list[tuple[EventRegistration, Unit]]:
    """Every unit's answer with the unit, in department and unit order."""
    query = (
        select(EventRegistration, Unit)
        .join(Unit, col(Unit.id) == EventRegistration.unit_id)
        .join(Department, col(Department.id) == Unit.department_id)
        .where(EventRegistration.event_id == event_id)
        .order_by(col(Department.id), col(Unit.position), col(Unit.id))
    )
    return [(r, u) for r, u in (await session.exec(query)).all()]


def summarize(rows: list[tuple[EventRegistration, Unit]], disciplines: list[str]) -> Totals:
    """Units and people taking part, units declining, and units entered per discipline."""
    taking_part = [r for r, _ in rows if r.participating]
    per_discipline = {name: 0 for name in disciplines}
    for registration in taking_part:
        for name in registration.disciplines:
            per_discipline[name] = per_discipline.get(name, 0) + 1
    return Totals(
        units=len(taking_part),
        people=sum(r.people for r in taking_part),
        declined=sum(1 for r, _ in rows if not r.participating),
        per_discipline=per_discipline,
    )


async def totals(*, session: AsyncSession, event_id: int) -> Totals:
    """An event's registrations summed up (units entered per discipline)."""
    event = await session.get(Event, event_id)
    rows = await registrations(session=session, event_id=event_id)
    return summarize(rows, list(event.disciplines) if event else [])


async def _active_units(session: AsyncSession) -> list[Unit]:
    query = (
        select(Unit)
        .join(Department, col(Department.id) == Unit.department_id)
        .where(col(Unit.active).is_(True))
        .order_by(col(Department.id), col(Unit.position), col(Unit.id))
    )
    return list((await session.exec(query)).all())


async def unanswered_units(*, session: AsyncSession, event_id: int) -> list[Unit]:
    """Active units that have not answered the event yet."""
    answered = set(
        (
            await session.exec(
                select(EventRegistration.unit_id).where(EventRegistration.event_id == event_id)
            )
        ).all()
    )
    return [u for u in await _active_units(session) if u.id not in answered]


async def registered_units(*, session: AsyncSession, event_id: int) -> list[Unit]:
    """Units taking part in the event."""
    rows = await registrations(session=session, event_id=event_id)
    return [unit for registration, unit in rows if registration.participating]


async def recipients(*, session: AsyncSession, unit_ids: list[int]) -> list[Recipient]:
    """The active contacts of these units, in the order of `unit_ids`."""
    wanted = {unit_id: position for position, unit_id in enumerate(unit_ids)}
    found = [
        Recipient(*contact)
        for contact in await active_contacts(session=session)
        if contact.unit_id in wanted
    ]
    return sorted(found, key=lambda r: wanted[r.unit_id])
