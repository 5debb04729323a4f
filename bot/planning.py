"""Planning reminders: pure functions from (period or event, policy, calendar) to slots.

A slot is a moment something is due, with a key that names it uniquely. The key includes
the slot's time, so when a deadline moves, the old slots simply stop being planned and new
ones (with new keys) appear; nothing obsolete is ever sent. Whether a slot still has anyone
to remind is decided later, from the database, when it fires.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from bot.workdays import WorkCalendar

EVENING = time(20, 0)


@dataclass(frozen=True)
class Policy:
    """When to remind units of a report deadline (one per period kind)."""

    on_open: bool = True
    days_before: tuple[int, ...] = (7, 3, 1)
    deadline_morning: bool = True
    overdue_every: int = 2
    overdue_max: int = 3
    digest: bool = True


@dataclass(frozen=True)
class EventPolicy:
    """When to remind units of an event."""

    unanswered_days_before: tuple[int, ...] = (2,)
    day_before: bool = True
    hours_before: int = 2


@dataclass(frozen=True)
class PeriodTimes:
    """What the planner needs to know of a report period."""

    id: int
    opens_at: datetime
    deadline_at: datetime
    closes_at: datetime | None
    closed_at: datetime | None = None

    @property
    def end(self) -> datetime | None:
        """When the period stops taking reports (whichever comes first)."""
        ends = [t for t in (self.closes_at, self.closed_at) if t is not None]
        return min(ends) if ends else None


@dataclass(frozen=True)
class EventTimes:
    """What the planner needs to know of an event."""

    id: int
    starts_at: datetime
    registration_deadline: datetime
    created_at: datetime
    cancelled: bool = False


@dataclass(frozen=True, order=True)
class Slot:
    """Something due at `at`. `audience`: who it goes to (see the reminder service)."""

    at: datetime
    key: str
    kind: str
    audience: str
    target_id: int


def period_slots(
    period: PeriodTimes, policy: Policy, calendar: WorkCalendar, hour: time
) -> list[Slot]:
    """Every reminder slot of a report period, in time order, none outside its life."""
    slots: list[Slot] = []
    deadline_day = calendar.local_date(period.deadline_at)

    def add(kind: str, at: datetime, audience: str = "missing") -> None:
        if at < period.opens_at or (period.end is not None and at >= period.end):
            return
        slots.append(
            Slot(at, f"period:{period.id}:{kind}:{at.isoformat()}", kind, audience, period.id)
        )

    if policy.on_open:
        add("open", _daytime(period.opens_at, calendar, hour), audience="all")
    for days in sorted(set(policy.days_before), reverse=True):
        day = calendar.previous_working_day(deadline_day - timedelta(days=days))
        at = calendar.at(day, hour)
        if at < period.deadline_at:
            add(f"before_{days}", at)
    morning = calendar.at(calendar.previous_working_day(deadline_day), hour)
    if policy.deadline_morning and morning < period.deadline_at:
        add("deadline", morning)
    if policy.overdue_every > 0:
        for repeat in range(1, policy.overdue_max + 1):
            day = calendar.add_working_days(deadline_day, policy.overdue_every * repeat)
            add(f"overdue_{repeat}", calendar.at(day, hour))
    if policy.digest:
        add("digest_deadline", morning, audience="admins")
        after = calendar.at(calendar.add_working_days(deadline_day, 1), hour)
        add("digest_after", after, audience="admins")
    return _dedupe(slots)


def event_slots(
    event: EventTimes, policy: EventPolicy, calendar: WorkCalendar, hour: time
) -> list[Slot]:
    """Every reminder slot of an event: the unanswered before registration closes, the
    registered the day before and shortly before it starts."""
    if event.cancelled:
        return []
    slots: list[Slot] = []

    def add(kind: str, at: datetime, audience: str, until: datetime) -> None:
        if event.created_at <= at < until:
            slots.append(
                Slot(at, f"event:{event.id}:{kind}:{at.isoformat()}", kind, audience, event.id)
            )

    close_day = calendar.local_date(event.registration_deadline)
    for days in sorted(set(policy.unanswered_days_before), reverse=True):
        at = calendar.at(calendar.previous_working_day(close_day - timedelta(days=days)), hour)
        add(f"unanswered_{days}", at, "unanswered", event.registration_deadline)
    if policy.day_before:
        eve = calendar.local_date(event.starts_at) - timedelta(days=1)
        add("day_before", calendar.at(eve, hour), "registered", event.starts_at)
    if policy.hours_before > 0:
        add(
            "soon",
            event.starts_at - timedelta(hours=policy.hours_before),
            "registered",
            event.starts_at,
        )
    return _dedupe(slots)


def due(slots: Iterable[Slot], now: datetime, grace: timedelta) -> tuple[list[Slot], list[Slot]]:
    """Splits slots whose time has come into (to send, too old to send); a slot exactly
    `grace` old is still sent."""
    ready, stale = [], []
    for slot in sorted(slots):
        if slot.at > now:
            continue
        (ready if slot.at >= now - grace else stale).append(slot)
    return ready, stale


def _daytime(moment: datetime, calendar: WorkCalendar, hour: time) -> datetime:
    """The moment itself if it falls in a working day's daytime, else the next working
    day's reminder hour (an opening at midnight is announced in the morning)."""
    local = moment.astimezone(calendar.tz)
    day = local.date()
    if calendar.is_working_day(day) and hour <= local.time() < EVENING:
        return moment
    if calendar.is_working_day(day) and local.time() < hour:
        return calendar.at(day, hour)
    return calendar.at(calendar.next_working_day(day + timedelta(days=1)), hour)


def _rank(slot: Slot) -> tuple[int, int]:
    """Which of two coinciding slots to keep: the opening announcement (it reaches every
    unit), then the deadline, then the rule nearest the deadline, then the overdue ones."""
    kind, _, number = slot.kind.partition("_")
    order = {"open": 0, "deadline": 1, "before": 2, "unanswered": 2, "overdue": 3}
    return order.get(kind, 4), int(number) if number.isdigit() else 0


def _dedupe(slots: list[Slot]) -> list[Slot]:
    """Keeps one slot per (audience, time): two rules landing on one day remind once."""
    seen: set[tuple[str, datetime]] = set()
    unique: list[Slot] = []
    for slot in sorted(slots, key=lambda s: (s.at, _rank(s), s.key)):
        # "all" units includes the "missing" ones: one message each, not two.
        audience = "units" if slot.audience in ("all", "missing") else slot.audience
        if (audience, slot.at) not in seen:
            seen.add((audience, slot.at))
            unique.append(slot)
    return sorted(unique)
