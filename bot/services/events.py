"""Events: the rules shared by the chat flows and the console, each step of the flows as one
unit of work, the notices they cause, and the event reminders.

Every public coroutine that changes something is one unit of work (`services.work`): the
change, the update's inbox mark, the person's place in a flow, the reply and the notices to
units and admins commit together. The actor is re-checked inside the work (an admin for
creating and changing, an active contact of a unit for registering); a refusal raises an
`EventError` (a `ServiceError`) before anything is written, so nothing of it commits.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, time
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from bot.callbacks.events import Decline, EventPayload, Register, ShowEvent
from bot.dates import END_OF_DAY, DateError, parse_local_datetime
from bot.i18n import Html, format_datetime
from bot.permissions import Caller
from bot.planning import EventTimes, Slot, event_slots
from bot.services.errors import NotAllowed, ServiceError
from bot.services.reminders import SlotService
from bot.services.work import Outgoing, Work
from bot.text import utf16_len
from storage import bloc, contacts
from storage import events as store
from storage.models import Event, EventRegistration, Unit
from storage.outbox import Priority

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from bot.context import Services
    from bot.conversations import Flow

log = logging.getLogger(__name__)

DEFAULT_DISCIPLINES = ("Bóng đá", "Cầu lông", "Bóng chuyền", "Bóng bàn")
MAX_PEOPLE = 500
MAX_DISCIPLINES = 12
START_TIME = time(8, 0)
_PEOPLE_RE = re.compile(r"^\s*(\d{1,6})\s*(người|nguoi|people|persons?)?\s*\.?\s*$", re.IGNORECASE)


class EventKind(StrEnum):
    """What kind of exchange an event is."""

    SPORTS = "sports"
    CULTURE = "culture"
    LEARNING = "learning"


ICONS = {EventKind.SPORTS: "⚽", EventKind.CULTURE: "🎭", EventKind.LEARNING: "📚"}


class EventError(ServiceError):
    """An event or registration cannot be as asked; `key` is the catalogue message."""


TERMINAL = frozenset({"event.error_gone", "event.error_cancelled", "event.error_started"})
"""Refusals after which there is nothing left to change about the event."""


@dataclass(frozen=True)
class Draft:
    """An event as an admin (or the console) described it, not yet checked."""

    kind: str
    title: str
    starts_at: datetime
    place: str
    description: str
    registration_deadline: datetime
    disciplines: tuple[str, ...]


@dataclass(frozen=True)
class EventRequest(Draft):
    """A validated request for a new event (`validate` makes one)."""

    kind: EventKind


@dataclass(frozen=True)
class EventPage:
    """What an event's page shows."""

    event: Event
    rows: list[tuple[EventRegistration, Unit]]
    totals: store.Totals
    unanswered: int
    mine: EventRegistration | None


# --- parsing and validation -------------------------------------------------------------


def _clean(text: str) -> str:
    return " ".join(text.split())


def parse_start(text: str, services: Services, now: datetime) -> datetime:
    """A start time typed by an admin (08:00 if no time is given)."""
    try:
        return parse_local_datetime(
            text, tz=services.config.bloc.tz, now=now, default_time=START_TIME
        )
    except DateError as exc:
        raise EventError(exc.key) from None


def parse_deadline(text: str, services: Services, now: datetime) -> datetime:
    """A registration deadline typed by an admin (end of the day if no time)."""
    try:
        return parse_local_datetime(
            text, tz=services.config.bloc.tz, now=now, default_time=END_OF_DAY
        )
    except DateError as exc:
        raise EventError(exc.key) from None


def parse_kind(kind: str) -> EventKind:
    """The event kind, or EventError."""
    try:
        return EventKind(kind)
    except ValueError:
        raise EventError("event.error_kind") from None


def check_title(text: str) -> str:
    """A title of 3 to 200 characters, spaces tidied."""
    title = _clean(text)
    if not 3 <= utf16_len(title) <= 200:
        raise EventError("event.error_title")
    return title


def check_place(text: str) -> str:
    """A place of 2 to 300 characters, spaces tidied."""
    place = _clean(text)
    if not 2 <= utf16_len(place) <= 300:
        raise EventError("event.error_place")
    return place


def check_description(text: str) -> str:
    """An optional description up to 2000 characters."""
    description = text.strip()
    if utf16_len(description) > 2000:
        raise EventError("event.error_description")
    return description


def check_start(starts_at: datetime, now: datetime) -> datetime:
    """A start time in the future."""
    if starts_at <= now:
        raise EventError("event.error_start_past")
    return starts_at


def check_deadline(deadline: datetime, starts_at: datetime, now: datetime) -> datetime:
    """A registration deadline in the future and no later than the start."""
    if deadline <= now:
        raise EventError("event.error_deadline_past")
    if deadline > starts_at:
        raise EventError("event.error_deadline_after_start")
    return deadline


def parse_disciplines(text: str) -> tuple[str, ...]:
    """Disciplines typed comma-separated, e.g. 'Bóng đá, Cầu lông' (duplicates dropped)."""
    names: list[str] = []
    for part in re.split(r"[,;\n]", text):
        name = _clean(part)
        if not name:
            continue
        if utf16_len(name) > 40:
            raise EventError("event.error_discipline_name", name=name[:40])
        if name.casefold() not in {n.casefold() for n in names}:
            names.append(name)
    if not names:
        raise EventError("event.error_no_disciplines")
    if len(names) > MAX_DISCIPLINES:
        raise EventError("event.error_too_many_disciplines", max=MAX_DISCIPLINES)
    return tuple(names)


def parse_people(text: str) -> int:
    """How many people a unit sends: a whole number from 1 to MAX_PEOPLE."""
    match = _PEOPLE_RE.match(text)
    people = int(match[1]) if match else 0
    if not 1 <= people <= MAX_PEOPLE:
        raise EventError("event.error_people", max=MAX_PEOPLE)
    return people


def validate(
    *,
    kind: str,
    title: str,
    starts_at: datetime,
    place: str,
    description: str,
    registration_deadline: datetime,
    disciplines: tuple[str, ...] | list[str],
    now: datetime,
) -> EventRequest:
    """Checks a whole request; raises EventError with the first reason."""
    event_kind = parse_kind(kind)
    names = tuple(disciplines) if event_kind is EventKind.SPORTS else ()
    if event_kind is EventKind.SPORTS and not names:
        raise EventError("event.error_no_disciplines")
    if names:
        names = parse_disciplines(",".join(names))
    return EventRequest(
        kind=event_kind,
        title=check_title(title),
        starts_at=check_start(starts_at, now),
        place=check_place(place),
        description=check_description(description),
        registration_deadline=check_deadline(registration_deadline, starts_at, now),
        disciplines=names,
    )


def check_registration(
    event: Event, *, participating: bool, people: int, disciplines: list[str]
) -> list[str]:
    """The disciplines in the event's order; EventError if the answer does not fit it."""
    if not participating:
        return []
    if not 1 <= people <= MAX_PEOPLE:
        raise EventError("event.error_people", max=MAX_PEOPLE)
    for name in disciplines:
        if name not in event.disciplines:
            raise EventError("event.error_unknown_discipline", name=name)
    if event.kind == EventKind.SPORTS and event.disciplines and not disciplines:
        raise EventError("event.error_pick_discipline")
    return [name for name in event.disciplines if name in disciplines]


# --- text -------------------------------------------------------------------------------


def when(services: Services, moment: datetime, language: str) -> str:
    """dd/mm/yyyy HH:MM in the bloc's time zone."""
    return format_datetime(moment, services.config.bloc.tz, language)


def kind_label(services: Services, language: str, kind: str) -> str:
    """The kind's name with its icon."""
    icon = next((v for k, v in ICONS.items() if k.value == kind), "📌")
    return f"{icon} {services.translator(language, f'event.kind_{kind}')}"


def details_text(services: Services, event: Event, language: str) -> Html:
    """An event's details, as HTML ready to send."""
    translate = services.translator
    lines = [
        translate(
            language,
            "event.details",
            title=event.title,
            kind=kind_label(services, language, event.kind),
            starts=when(services, event.starts_at, language),
            place=event.place,
            deadline=when(services, event.registration_deadline, language),
        )
    ]
    if event.disciplines:
        lines.append(
            translate(
                language, "event.details_disciplines", disciplines=", ".join(event.disciplines)
            )
        )
    if event.description:
        lines.append(
            translate(language, "event.details_description", description=event.description)
        )
    if event.cancelled_at is not None:
        lines.append(translate(language, "event.details_cancelled"))
    return Html("\n".join(lines))


def _button(services: Services, language: str, key: str, payload: EventPayload) -> dict[str, str]:
    return {"text": services.translator(language, key), "callback_data": payload.pack()}


def _open_markup(services: Services, language: str, event_id: int) -> dict[str, Any]:
    button = _button(services, language, "event.open_button", ShowEvent(event_id))
    return {"inline_keyboard": [[button]]}


def _answer_markup(services: Services, language: str, event_id: int) -> dict[str, Any]:
    return {
        "inline_keyboard": [
            [
                _button(services, language, "event.register_button", Register(event_id)),
                _button(services, language, "event.decline_button", Decline(event_id)),
            ]
        ]
    }


# --- outbox fan-out ---------------------------------------------------------------------

Render = Callable[[str, int], tuple[str, dict[str, Any] | None]]


async def _contact_rows(
    services: Services,
    session: Any,
    unit_ids: list[int],
    render: Render,
    *,
    source: str,
    dedup: Callable[[int, int], str],
    priority: int = Priority.NOTICE,
) -> list[dict[str, Any]]:
    """One outbox row per active contact of the units, in the contact's language;
    `dedup(unit_id, contact_id)` names each row."""
    default = services.config.bloc.language
    rows: list[dict[str, Any]] = []
    for person in await store.recipients(session=session, unit_ids=unit_ids):
        text, markup = render(person.language or default, person.unit_id)
        rows.append(
            {
                "chat_id": person.telegram_user_id,
                "text": text,
                "reply_markup": markup,
                "priority": priority,
                "source": source,
                "dedup_key": dedup(person.unit_id, person.contact_id),
            }
        )
    return rows


def _outgoing(rows: list[dict[str, Any]]) -> list[Outgoing]:
    """Outbox rows of `_contact_rows` as messages of a unit of work."""
    return [
        Outgoing(
            chat_id=row["chat_id"],
            text=row["text"],
            markup=row["reply_markup"],
            priority=row["priority"],
            source=row["source"],
            dedup_key=row["dedup_key"],
        )
        for row in rows
    ]


async def announce(services: Services, work: Work, event: Event) -> int:
    """Queues the announcement to every active contact in `work`; returns how many."""
    units = await bloc.list_units(session=work.session, active_only=True)

    def render(language: str, _unit_id: int) -> tuple[str, dict[str, Any] | None]:
        text = "\n\n".join(
            [
                services.translator(language, "event.announce_header"),
                details_text(services, event, language),
                services.translator(
                    language,
                    "event.announce_footer",
                    deadline=when(services, event.registration_deadline, language),
                ),
            ]
        )
        return text, _answer_markup(services, language, event.id or 0)

    rows = await _contact_rows(
        services,
        work.session,
        [u.id or 0 for u in units],
        render,
        source=f"event:{event.id}",
        dedup=lambda _unit, contact: f"event:{event.id}:announce:c{contact}",
    )
    work.send(*_outgoing(rows))
    return len(rows)


# --- what a unit of work answers ----------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """What the handler answers an outcome with, committed in the service's unit of work:
    the messages, and where the actor's flow in `chat_id` goes (`place` saved, else ended if
    `end`, else left as it is)."""

    messages: Sequence[Outgoing] = ()
    chat_id: int | None = None
    place: Flow | None = None
    end: bool = False


async def _answer(work: Work, actor: Caller | None, reply: Reply | None) -> None:
    """Writes `reply` into the work: its messages and the actor's next place."""
    if reply is None:
        return
    work.send(*reply.messages)
    if actor is None or reply.chat_id is None:
        return
    if reply.place is not None:
        await work.save_flow(reply.chat_id, actor.user_id, reply.place)
    elif reply.end:
        await work.end_flow(reply.chat_id, actor.user_id)


def _admin(services: Services, actor: Caller | None) -> None:
    """Creating and changing events is for admins (None: the console, on the server)."""
    if actor is not None and not services.is_admin(actor.user_id):
        raise NotAllowed()


async def _unit_of(services: Services, session: AsyncSession, actor: Caller) -> Unit:
    """The unit the actor answers for, as the database says now (not as cached)."""
    contact = await contacts.get_active_contact(session=session, telegram_user_id=actor.user_id)
    unit = await bloc.get_unit(session=session, unit_id=contact.unit_id) if contact else None
    if contact is None or unit is None or not unit.active:
        services.forget_user(actor.user_id)  # whatever was cached about them is out of date
        # A contact revoked since the flow began is told so; anyone else has no unit.
        raise NotAllowed("event.contact_revoked" if actor.contact is not None else "event.no_unit")
    return unit


async def _live_event(session: AsyncSession, event_id: int, now: datetime) -> Event:
    """The event if it can still change (EventError saying why not)."""
    event = await store.get_event(session=session, event_id=event_id)
    if event is None:
        raise EventError("event.error_gone")
    if event.cancelled_at is not None:
        raise EventError("event.error_cancelled")
    if event.starts_at <= now:
        raise EventError("event.error_started")
    return event


async def _open_event(session: AsyncSession, event_id: int, now: datetime) -> Event:
    """The event if units may answer it now (EventError saying why not)."""
    event = await store.get_event(session=session, event_id=event_id)
    try:
        return store.check_open(event, now)
    except store.RegistrationClosed as exc:
        raise EventError(exc.reason) from None


async def _page(session: AsyncSession, event_id: int, unit_id: int | None) -> EventPage | None:
    event = await store.get_event(session=session, event_id=event_id)
    if event is None:
        return None
    rows = await store.registrations(session=session, event_id=event_id)
    unanswered = await store.unanswered_units(session=session, event_id=event_id)
    mine = next((r for r, u in rows if u.id == unit_id), None) if unit_id is not None else None
    totals = store.summarize(rows, list(event.disciplines))
    return EventPage(event, rows, totals, len(unanswered), mine)


# --- reading (a page, the list) -----------------------------------------------------------


async def upcoming(services: Services, *, limit: int = 20) -> list[Event]:
    """The events still to come, soonest first (what /sukien lists)."""
    async with services.db.read() as session:
        return await store.upcoming_events(session=session, now=services.clock(), limit=limit)


async def page(services: Services, event_id: int, unit_id: int | None) -> EventPage | None:
    """What an event's page shows (None if there is no such event)."""
    async with services.db.read() as session:
        return await _page(session, event_id, unit_id)


async def live_event(services: Services, *, actor: Caller, event_id: int) -> Event:
    """The event an admin is about to change or cancel (EventError if it no longer can)."""
    _admin(services, actor)
    async with services.db.read() as session:
        return await _live_event(session, event_id, services.clock())


def registration_open(event: Event, now: datetime) -> bool:
    """Whether units may still register or change their answer."""
    try:
        store.check_open(event, now)
    except store.RegistrationClosed:
        return False
    return True


# --- flow steps that change nothing else ---------------------------------------------------


class Need(StrEnum):
    """Who may take a step."""

    ANYONE = "anyone"
    ADMIN = "admin"
    CONTACT = "contact"


async def answer(
    services: Services, *, update_id: int | None, actor: Caller, reply: Reply, need: Need
) -> None:
    """One step of a flow that changes only the actor's place in it: the next question, a
    re-ask, or a refusal that ends the flow, committed with the update's inbox mark. The
    actor is re-checked first (`need`); NotAllowed if they may no longer take it."""
    async with services.work(update_id) as work:
        if need is Need.ADMIN:
            _admin(services, actor)
        elif need is Need.CONTACT:
            await _unit_of(services, work.session, actor)
        await _answer(work, actor, reply)


# --- creating ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Created:
    """An event created, and how many announcements were queued."""

    event: Event
    queued: int


async def create(
    services: Services,
    *,
    update_id: int | None = None,
    actor: Caller | None,
    draft: Draft,
    render: Callable[[Created], Reply] | None = None,
) -> Created:
    """Creates the event (checked again now: a deadline may have passed since the preview)
    and announces it to every active contact; the reply commits with both."""
    async with services.work(update_id) as work:
        _admin(services, actor)
        values = {f.name: getattr(draft, f.name) for f in fields(Draft)}
        request = validate(**values, now=work.now)
        event = await store.create_event(
            session=work.session,
            kind=request.kind.value,
            title=request.title,
            starts_at=request.starts_at,
            place=request.place,
            description=request.description,
            registration_deadline=request.registration_deadline,
            disciplines=list(request.disciplines),
            created_by=actor.user_id if actor is not None else None,
            now=work.now,
        )
        result = Created(event, await announce(services, work, event))
        await _answer(work, actor, render(result) if render else None)
    log.info("event %s created, %d announcement(s) queued", event.id, result.queued)
    return result


# --- registering ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Opened:
    """A unit about to answer an event: the event, the unit and its current answer."""

    event: Event
    unit: Unit
    mine: EventRegistration | None


@dataclass(frozen=True)
class Picking:
    """A unit choosing its disciplines: the event, its unit and the names picked so far."""

    event: Event
    unit: Unit
    people: int
    picked: tuple[str, ...]


@dataclass(frozen=True)
class Registered:
    """A unit's answer, stored."""

    event: Event
    unit: Unit
    registration: EventRegistration


async def begin_registration(
    services: Services,
    *,
    update_id: int | None,
    actor: Caller,
    event_id: int,
    render: Callable[[Opened], Reply],
) -> Opened:
    """A contact starts (or redoes) their unit's registration: the first question and the
    flow's place commit together; EventError/NotAllowed if the unit cannot answer now."""
    async with services.work(update_id) as work:
        unit = await _unit_of(services, work.session, actor)
        event = await _open_event(work.session, event_id, work.now)
        mine = await store.get_registration(
            session=work.session, event_id=event_id, unit_id=unit.id or 0
        )
        result = Opened(event, unit, mine)
        await _answer(work, actor, render(result))
    return result


async def _store_answer(
    work: Work,
    *,
    actor: Caller,
    unit: Unit,
    event_id: int,
    participating: bool,
    people: int,
    disciplines: Sequence[str],
) -> Registered:
    event = await _open_event(work.session, event_id, work.now)
    names = check_registration(
        event, participating=participating, people=people, disciplines=list(disciplines)
    )
    registration = await store.register(
        session=work.session,
        event=event,
        unit_id=unit.id or 0,
        participating=participating,
        people=people if participating else 0,
        disciplines=names,
        updated_by=actor.user_id,
        now=work.now,
    )
    return Registered(event, unit, registration)


async def answer_people(
    services: Services,
    *,
    update_id: int | None,
    actor: Caller,
    event_id: int,
    text: str,
    picked: Sequence[str],
    render: Callable[[Picking | Registered], Reply],
) -> Picking | Registered:
    """How many people the unit sends, as typed: a sports event with disciplines goes on
    to the picker; any other event's registration is stored. EventError if the number does
    not fit or the event closed; NotAllowed if the actor is no longer a unit's contact."""
    async with services.work(update_id) as work:
        unit = await _unit_of(services, work.session, actor)
        people = parse_people(text)
        event = await _open_event(work.session, event_id, work.now)
        result: Picking | Registered
        if event.kind == EventKind.SPORTS and event.disciplines:
            keep = tuple(name for name in event.disciplines if name in picked)
            result = Picking(event, unit, people, keep)
        else:
            result = await _store_answer(
                work,
                actor=actor,
                unit=unit,
                event_id=event_id,
                participating=True,
                people=people,
                disciplines=(),
            )
        await _answer(work, actor, render(result))
    return result


async def toggle(
    services: Services,
    *,
    update_id: int | None,
    actor: Caller,
    event_id: int,
    index: int,
    people: int,
    picked: Sequence[str],
    render: Callable[[Picking], Reply],
) -> Picking:
    """Picks or unpicks one discipline (by its place in the event's list)."""
    async with services.work(update_id) as work:
        unit = await _unit_of(services, work.session, actor)
        event = await _open_event(work.session, event_id, work.now)
        if not 0 <= index < len(event.disciplines):
            raise ServiceError("common.stale_button")
        name = event.disciplines[index]
        chosen = [n for n in picked if n != name] if name in picked else [*picked, name]
        ordered = tuple(n for n in event.disciplines if n in chosen)
        result = Picking(event, unit, people, ordered)
        await _answer(work, actor, render(result))
    return result


async def register(
    services: Services,
    *,
    update_id: int | None = None,
    actor: Caller,
    event_id: int,
    participating: bool,
    people: int = 0,
    disciplines: Sequence[str] = (),
    render: Callable[[Registered], Reply] | None = None,
) -> Registered:
    """Records the answer of the actor's unit (as the database says now); EventError if
    it is too late or does not fit the event, NotAllowed if the actor is no longer a
    contact. The confirmation and the end of the flow commit with it."""
    async with services.work(update_id) as work:
        unit = await _unit_of(services, work.session, actor)
        result = await _store_answer(
            work,
            actor=actor,
            unit=unit,
            event_id=event_id,
            participating=participating,
            people=people,
            disciplines=disciplines,
        )
        await _answer(work, actor, render(result) if render else None)
    return result


# --- changing and cancelling (admins) -----------------------------------------------------


@dataclass(frozen=True)
class Changing:
    """An event an admin is about to change."""

    event: Event


async def begin_change(
    services: Services,
    *,
    update_id: int | None,
    actor: Caller,
    event_id: int,
    render: Callable[[Changing], Reply],
) -> Changing:
    """An admin starts moving an event or changing its place: the question and the flow's
    place commit together (EventError if the event can no longer change)."""
    async with services.work(update_id) as work:
        _admin(services, actor)
        result = Changing(await _live_event(work.session, event_id, work.now))
        await _answer(work, actor, render(result))
    return result


@dataclass(frozen=True)
class Changed:
    """An event moved or placed anew, how many units were told, and its page now."""

    event: Event
    units: int
    page: EventPage


async def change(
    services: Services,
    *,
    update_id: int | None = None,
    actor: Caller | None,
    event_id: int,
    starts_at: datetime | None = None,
    place: str | None = None,
    render: Callable[[Changed], Reply] | None = None,
) -> Changed:
    """Moves an event or changes its place and tells the units taking part, in one unit
    of work with the admin's reply. Registration closes no later than the new start."""
    async with services.work(update_id) as work:
        _admin(services, actor)
        now, session = work.now, work.session
        event = await _live_event(session, event_id, now)
        old_start, old_place = event.starts_at, event.place
        deadline = None
        if starts_at is not None:
            check_start(starts_at, now)
            deadline = min(event.registration_deadline, starts_at)
        new_place = check_place(place) if place is not None else None
        changes = await store.update_event(
            session=session,
            event=event,
            now=now,
            actor_user_id=actor.user_id if actor is not None else None,
            starts_at=starts_at,
            place=new_place,
            registration_deadline=deadline,
        )
        if not changes:
            raise EventError("event.error_no_change")
        units = await store.registered_units(session=session, event_id=event_id)

        def notice(language: str, _unit_id: int) -> tuple[str, dict[str, Any] | None]:
            lines = [services.translator(language, "event.changed_notice", title=event.title)]
            if "starts_at" in changes:
                lines.append(
                    services.translator(
                        language,
                        "event.changed_time",
                        starts=when(services, event.starts_at, language),
                        old=when(services, old_start, language),
                    )
                )
            if "place" in changes:
                lines.append(
                    services.translator(
                        language, "event.changed_place", place=event.place, old=old_place
                    )
                )
            return "\\n".join(lines), _open_markup(services, language, event_id)

        rows = await _contact_rows(
            services,
            session,
            [u.id or 0 for u in units],
            notice,
            source=f"event:{event_id}",
            dedup=lambda _u, c: f"event:{event_id}:r{event.revision}:change:c{c}",
        )
        work.send(*_outgoing(rows))
        unit_id = None
        if actor is not None and actor.unit is not None:
            unit_id = actor.unit.id
        shown = await _page(session, event_id, unit_id)
        assert shown is not None  # the event was just changed in this transaction
        result = Changed(event, len(units), shown)
        await _answer(work, actor, render(result) if render else None)
    return result


@dataclass(frozen=True)
class Cancelled:
    """An event cancelled, and how many units taking part were told."""

    event: Event
    units: int


async def cancel(
    services: Services,
    *,
    update_id: int | None = None,
    actor: Caller | None,
    event_id: int,
    render: Callable[[Cancelled], Reply] | None = None,
) -> Cancelled:
    """Cancels an event and tells the units taking part, with the admin's reply."""
    async with services.work(update_id) as work:
        _admin(services, actor)
        event = await _live_event(work.session, event_id, work.now)
        await store.cancel_event(
            session=work.session,
            event=event,
            now=work.now,
            actor_user_id=actor.user_id if actor is not None else None,
        )
        units = await store.registered_units(session=work.session, event_id=event_id)

        def notice(language: str, _unit_id: int) -> tuple[str, dict[str, Any] | None]:
            text = services.translator(
                language,
                "event.cancelled_notice",
                title=event.title,
                starts=when(services, event.starts_at, language),
            )
            return text, None

        rows = await _contact_rows(
            services,
            work.session,
            [u.id or 0 for u in units],
            notice,
            source=f"event:{event_id}",
            dedup=lambda _u, c: f"event:{event_id}:cancel:c{c}",
        )
        work.send(*_outgoing(rows))
        result = Cancelled(event, len(units))
        await _answer(work, actor, render(result) if render else None)
    return result


# --- reminders --------------------------------------------------------------------------


class EventReminders(SlotService[Event]):
    """Event reminders; `run_once` is what the scheduler calls.

    Audiences: "unanswered" (before registration closes) goes to the contacts of active
    units that have not answered; "registered" (the day before, shortly before) to the
    contacts of the units taking part.
    """

    kind = "event reminder"

    async def targets(self, session: Any, since: datetime) -> list[Event]:
        return await store.upcoming_events(session=session, now=since, limit=1000)

    def slots(self, target: Event) -> list[Slot]:
        """Every slot of an event under the configured policy."""
        cfg = self.services.config.reminders
        times = EventTimes(
            id=target.id or 0,
            starts_at=target.starts_at,
            registration_deadline=target.registration_deadline,
            created_at=target.created_at,
            cancelled=target.cancelled_at is not None,
        )
        return event_slots(times, cfg.event_policy(), self.calendar, cfg.hour)

    async def rows(self, session: Any, target: Event, slot: Slot) -> list[dict[str, Any]]:
        event_id = target.id or 0
        event = await store.get_event(session=session, event_id=event_id)
        if event is None or event.cancelled_at is not None:
            return []
        if slot.audience == "unanswered":
            units = await store.unanswered_units(session=session, event_id=event_id)
        else:
            units = await store.registered_units(session=session, event_id=event_id)
        people = {
            r.unit_id: r.people
            for r, _ in await store.registrations(session=session, event_id=event_id)
        }
        return await _contact_rows(
            self.services,
            session,
            [unit.id or 0 for unit in units],
            lambda language, unit_id: self._text(event, slot, language, people.get(unit_id)),
            source=f"event_reminder:{event_id}",
            dedup=lambda unit_id, contact: f"{slot.key}:u{unit_id}:c{contact}",
            priority=Priority.REMINDER,
        )

    def _text(
        self, event: Event, slot: Slot, language: str, people: int | None
    ) -> tuple[str, dict[str, Any] | None]:
        services = self.services
        key = {
            "day_before": "event.remind_day_before",
            "soon": "event.remind_soon",
        }.get(slot.kind, "event.remind_unanswered")
        text = services.translator(
            language,
            key,
            title=event.title,
            starts=when(services, event.starts_at, language),
            place=event.place,
            deadline=when(services, event.registration_deadline, language),
            people=people or 0,
        )
        return text, _open_markup(services, language, event.id or 0)
