"""Event rules shared by the chat flows and the console, the notices they cause, and the
event reminders.

Every message sent to units goes through the outbox, written in the same transaction as the
change that causes it (an event created, moved or cancelled, a reminder slot claimed).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time
from enum import StrEnum
from typing import Any

from bot.callbacks import legacy as cb
from bot.context import Services
from bot.dates import END_OF_DAY, DateError, parse_local_datetime
from bot.i18n import Html, format_datetime
from bot.planning import EventTimes, Slot, event_slots
from bot.services.reminders import SlotService
from storage import bloc, outbox
from storage import events as store
from storage.models import Event, EventRegistration, Unit
from storage.outbox import Priority

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


class Action(StrEnum):
    """What an event button does (the part after `ev:` in its callback data)."""

    LIST = "list"
    SHOW = "show"
    NEW = "new"
    KIND = "kind"
    SKIP = "skip"
    DEFAULTS = "dflt"
    CREATE = "create"
    CANCEL = "cancel"
    REGISTER = "reg"
    DECLINE = "no"
    EDIT = "edit"
    TOGGLE = "d"
    DONE = "done"
    CHANGE = "chg"
    CHANGE_TIME = "chgt"
    CHANGE_PLACE = "chgp"
    DELETE = "del"
    DELETE_YES = "delok"


class EventError(ValueError):
    """An event or registration cannot be as asked; `key` is the catalogue message."""

    def __init__(self, key: str, **details: Any) -> None:
        super().__init__(key)
        self.key = key
        self.details = details


@dataclass(frozen=True)
class EventRequest:
    """A validated request for a new event."""

    kind: EventKind
    title: str
    starts_at: datetime
    place: str
    description: str
    registration_deadline: datetime
    disciplines: tuple[str, ...]


@dataclass(frozen=True)
class EventPage:
    """What an event's page shows."""

    event: Event
    rows: list[tuple[EventRegistration, Unit]]
    totals: store.Totals
    unanswered: int
    mine: EventRegistration | None


def data(action: Action, *args: object) -> str:
    """The callback data of an event button."""
    return cb.build(cb.Prefix.EVENT, action.value, *args)


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
    if not 3 <= len(title) <= 200:
        raise EventError("event.error_title")
    return title


def check_place(text: str) -> str:
    """A place of 2 to 300 characters, spaces tidied."""
    place = _clean(text)
    if not 2 <= len(place) <= 300:
        raise EventError("event.error_place")
    return place


def check_description(text: str) -> str:
    """An optional description up to 2000 characters."""
    description = text.strip()
    if len(description) > 2000:
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
        if len(name) > 40:
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


def _button(
    services: Services, language: str, key: str, action: Action, event_id: int
) -> dict[str, str]:
    return {"text": services.translator(language, key), "callback_data": data(action, event_id)}


def _open_markup(services: Services, language: str, event_id: int) -> dict[str, Any]:
    button = _button(services, language, "event.open_button", Action.SHOW, event_id)
    return {"inline_keyboard": [[button]]}


def _answer_markup(services: Services, language: str, event_id: int) -> dict[str, Any]:
    return {
        "inline_keyboard": [
            [
                _button(services, language, "event.register_button", Action.REGISTER, event_id),
                _button(services, language, "event.decline_button", Action.DECLINE, event_id),
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


def wake(services: Services) -> None:
    """Tells the running dispatcher (if any) that new outbox rows wait."""
    dispatcher = services.dispatcher
    if dispatcher is not None:
        dispatcher.wake()


async def announce(services: Services, session: Any, event: Event) -> int:
    """Queues the announcement to every active contact; returns how many messages."""
    units = await bloc.list_units(session=session, active_only=True)

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
        session,
        [u.id or 0 for u in units],
        render,
        source=f"event:{event.id}",
        dedup=lambda _unit, contact: f"event:{event.id}:announce:c{contact}",
    )
    await outbox.enqueue_many(session=session, rows=rows, now=services.clock())
    return len(rows)


async def create(
    services: Services, request: EventRequest, *, created_by: int | None
) -> tuple[Event, int]:
    """Creates the event and queues its announcement; returns it and the messages queued."""
    async with services.db.session() as session:
        event = await store.create_event(
            session=session,
            kind=request.kind.value,
            title=request.title,
            starts_at=request.starts_at,
            place=request.place,
            description=request.description,
            registration_deadline=request.registration_deadline,
            disciplines=list(request.disciplines),
            created_by=created_by,
            now=services.clock(),
        )
        sent = await announce(services, session, event)
    wake(services)
    log.info("event %s created, %d announcement(s) queued", event.id, sent)
    return event, sent


async def register(
    services: Services,
    *,
    event_id: int,
    unit_id: int,
    participating: bool,
    people: int = 0,
    disciplines: list[str] | None = None,
    user_id: int | None,
) -> tuple[Event, EventRegistration]:
    """Records a unit's answer; EventError if it is too late or does not fit the event."""
    now = services.clock()
    async with services.db.session() as session:
        event = await store.get_event(session=session, event_id=event_id)
        try:
            store.check_open(event, now)
        except store.RegistrationClosed as exc:
            raise EventError(exc.reason) from None
        assert event is not None
        names = check_registration(
            event, participating=participating, people=people, disciplines=disciplines or []
        )
        registration = await store.register(
            session=session,
            event=event,
            unit_id=unit_id,
            participating=participating,
            people=people,
            disciplines=names,
            updated_by=user_id,
            now=now,
        )
    return event, registration


async def _live_event(session: Any, event_id: int, now: datetime) -> Event:
    event = await store.get_event(session=session, event_id=event_id)
    if event is None:
        raise EventError("event.error_gone")
    if event.cancelled_at is not None:
        raise EventError("event.error_cancelled")
    if event.starts_at <= now:
        raise EventError("event.error_started")
    return event


async def change(
    services: Services,
    *,
    event_id: int,
    actor_user_id: int | None,
    starts_at: datetime | None = None,
    place: str | None = None,
) -> tuple[Event, int]:
    """Moves an event or changes its place and tells the units taking part; returns the
    event and how many units were told. Registration closes no later than the new start."""
    now = services.clock()
    async with services.db.session() as session:
        event = await _live_event(session, event_id, now)
        old_start, old_place = event.starts_at, event.place
        deadline = None
        if starts_at is not None:
            check_start(starts_at, now)
            deadline = min(event.registration_deadline, starts_at)
        changes = await store.update_event(
            session=session,
            event=event,
            now=now,
            actor_user_id=actor_user_id,
            starts_at=starts_at,
            place=check_place(place) if place is not None else None,
            registration_deadline=deadline,
        )
        if not changes:
            raise EventError("event.error_no_change")
        units = await store.registered_units(session=session, event_id=event_id)

        def render(language: str, _unit_id: int) -> tuple[str, dict[str, Any] | None]:
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
            return "\n".join(lines), _open_markup(services, language, event_id)

        rows = await _contact_rows(
            services,
            session,
            [u.id or 0 for u in units],
            render,
            source=f"event:{event_id}",
            dedup=lambda _u, c: f"event:{event_id}:r{event.revision}:change:c{c}",
        )
        await outbox.enqueue_many(session=session, rows=rows, now=now)
    wake(services)
    return event, len(units)


async def cancel(
    services: Services, *, event_id: int, actor_user_id: int | None
) -> tuple[Event, int]:
    """Cancels an event and tells the units taking part; returns it and how many units."""
    now = services.clock()
    async with services.db.session() as session:
        event = await _live_event(session, event_id, now)
        await store.cancel_event(session=session, event=event, now=now, actor_user_id=actor_user_id)
        units = await store.registered_units(session=session, event_id=event_id)

        def render(language: str, _unit_id: int) -> tuple[str, dict[str, Any] | None]:
            text = services.translator(
                language,
                "event.cancelled_notice",
                title=event.title,
                starts=when(services, event.starts_at, language),
            )
            return text, None

        rows = await _contact_rows(
            services,
            session,
            [u.id or 0 for u in units],
            render,
            source=f"event:{event_id}",
            dedup=lambda _u, c: f"event:{event_id}:cancel:c{c}",
        )
        await outbox.enqueue_many(session=session, rows=rows, now=now)
    wake(services)
    return event, len(units)


async def page(services: Services, event_id: int, unit_id: int | None) -> EventPage | None:
    """What an event's page shows (None if there is no such event)."""
    async with services.db.read() as session:
        event = await store.get_event(session=session, event_id=event_id)
        if event is None:
            return None
        rows = await store.registrations(session=session, event_id=event_id)
        unanswered = await store.unanswered_units(session=session, event_id=event_id)
    mine = next((r for r, u in rows if u.id == unit_id), None) if unit_id is not None else None
    totals = store.summarize(rows, list(event.disciplines))
    return EventPage(event, rows, totals, len(unanswered), mine)


def registration_open(event: Event, now: datetime) -> bool:
    """Whether units may still register or change their answer."""
    try:
        store.check_open(event, now)
    except store.RegistrationClosed:
        return False
    return True


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
