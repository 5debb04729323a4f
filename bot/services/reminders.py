"""Deadline reminders: what the planner says is due, sent at most once per slot and unit.

Each run plans every live period's slots from the database (so a moved deadline, an
extension, a closed period or a submission counts at once), claims the due ones in
`reminder_log` and writes the messages to the outbox in the same transaction. A slot key is
unique, so a slot fires once even across a crash, a restart, or two processes sharing the
database. Slots missed by more than the grace window are recorded as skipped and logged.
"""

from __future__ import annotations

import html
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from bot.callbacks.reports import ReportPeriodPick
from bot.i18n import format_datetime
from bot.permissions import Caller
from bot.planning import PeriodTimes, Slot, due, period_slots
from bot.services.errors import ServiceError
from bot.services.periods import require_admin
from bot.services.work import Outgoing, Work
from bot.text import SAFE_LIMIT, shorten_html
from bot.workdays import WorkCalendar
from storage import audit, groups, outbox, periods
from storage import reminders as store
from storage.models import ReportPeriod, utcnow
from storage.outbox import Priority

if TYPE_CHECKING:
    from bot.context import Services

log = logging.getLogger(__name__)
Target = TypeVar("Target")


@dataclass
class RunReport:
    """What one run did."""

    slots_fired: list[str] = field(default_factory=list)
    slots_skipped: list[str] = field(default_factory=list)
    messages: int = 0


def report_button(translate: Any, language: str, period_id: int) -> dict[str, Any]:
    """The inline keyboard that opens (or resumes) the report conversation."""
    label = translate(language, "reminder.report_button")
    return {
        "inline_keyboard": [[{"text": label, "callback_data": ReportPeriodPick(period_id).pack()}]]
    }


@dataclass
class Roster:
    """Units and contacts, read once per run however many slots fire."""

    units: list[store.UnitRef]
    contacts: list[store.ContactRef]


class SlotService(ABC, Generic[Target]):
    """The shared machinery of scheduled notices: plan each target's slots, skip the ones
    already handled or too old, and fire each remaining slot exactly once.

    A slot fires inside one transaction that first claims its marker in `reminder_log`
    (whoever claims it does the work, in this process or another) and then writes the
    outbox rows; each row's dedup key names the slot, so no copy is ever queued twice.
    """

    kind = "reminder"

    def __init__(self, services: Services, wake: Callable[[], None] | None = None) -> None:
        self.services = services
        self.wake = wake or (lambda: None)
        cfg = services.config.reminders
        self.calendar = WorkCalendar.of(services.config.bloc.tz, cfg.holidays)
        self.grace = timedelta(hours=cfg.grace_hours)

    @abstractmethod
    async def targets(self, session: Any, since: datetime) -> list[Target]:
        """What may have slots at or after `since` (periods, events)."""

    @abstractmethod
    def slots(self, target: Target) -> list[Slot]:
        """Every slot of a target."""

    @abstractmethod
    async def rows(self, session: Any, target: Target, slot: Slot) -> list[dict[str, Any]]:
        """The outbox rows for a slot that fires now (inside its transaction)."""

    async def run_once(self) -> RunReport:
        """Sends whatever is due now; safe to call any time, from any process."""
        now = self.services.clock()
        report = RunReport()
        self.reset()
        async with self.services.db.read() as session:
            live = await self.targets(session, now - self.grace)
        plans = [(target, *due(self.slots(target), now, self.grace)) for target in live]
        candidates = [s for _, ready, stale in plans for s in (*ready, *stale)]
        async with self.services.db.read() as session:
            done = await store.existing_keys(
                session=session, keys=[slot_marker(s) for s in candidates]
            )
        for target, ready, stale in plans:
            for slot in stale:
                if slot_marker(slot) not in done:
                    await self._skip(slot, report)
            for slot in ready:
                if slot_marker(slot) not in done:
                    report.messages += await self._fire(target, slot, report)
        if report.messages:
            self.wake()
        return report

    def reset(self) -> None:
        """Forgets anything cached by the previous run."""

    async def _skip(self, slot: Slot, report: RunReport) -> None:
        row = log_row(slot_marker(slot), slot, None, status="skipped")
        async with self.services.db.session() as session:
            if await store.claim(session=session, rows=[row]):
                report.slots_skipped.append(slot.key)
                log.warning(
                    "%s %s was due at %s, too long ago: skipped", self.kind, slot.key, slot.at
                )

    async def _fire(self, target: Target, slot: Slot, report: RunReport) -> int:
        services = self.services
        async with services.db.session() as session:
            if not await store.claim(
                session=session, rows=[log_row(slot_marker(slot), slot, None)]
            ):
                return 0
            rows = await self.rows(session, target, slot)
            await outbox.enqueue_bulk(session=session, rows=rows, now=services.clock())
        report.slots_fired.append(slot.key)
        log.info("%s %s: %d message(s)", self.kind, slot.key, len(rows))
        return len(rows)


class Reminders(SlotService[ReportPeriod]):
    """Deadline reminders of report periods; `run_once` is what the scheduler calls."""

    def __init__(self, services: Services, wake: Callable[[], None] | None = None) -> None:
        super().__init__(services, wake)
        self._roster: Roster | None = None

    def reset(self) -> None:
        self._roster = None

    async def _load_roster(self, session: Any) -> Roster:
        if self._roster is None:
            self._roster = Roster(
                units=await store.active_units(session=session),
                contacts=await store.active_contacts(session=session),
            )
        return self._roster

    async def targets(self, session: Any, since: datetime) -> list[ReportPeriod]:
        return await store.live_periods(session=session, since=since)

    def slots(self, target: ReportPeriod) -> list[Slot]:
        """Every slot of a period under the configured policy."""
        cfg = self.services.config.reminders
        times = PeriodTimes(
            id=target.id or 0,
            opens_at=target.opens_at,
            deadline_at=target.deadline_at,
            closes_at=target.closes_at,
            closed_at=target.closed_at,
        )
        return period_slots(times, cfg.policy(target.kind), self.calendar, cfg.hour)

    async def rows(self, session: Any, target: ReportPeriod, slot: Slot) -> list[dict[str, Any]]:
        roster = await self._load_roster(session)
        units = roster.units
        if slot.audience != "all":
            done = await store.reported_unit_ids(session=session, period_id=target.id or 0)
            units = [unit for unit in units if unit.id not in done]
        if slot.audience == "admins":
            return await self._digest_rows(session, target, units, f"{slot.key}:admins")
        return await self._unit_rows(session, target, slot, units, self.services.clock())

    async def _unit_rows(
        self,
        session: Any,
        period: ReportPeriod,
        slot: Slot | None,
        units: list[store.UnitRef],
        now: datetime,
    ) -> list[dict[str, Any]]:
        translate = self.services.translator
        default = self.services.config.bloc.language
        wanted = {unit.id for unit in units}
        roster = await self._load_roster(session)
        contacts = [c for c in roster.contacts if c.unit_id in wanted]
        at = slot.at if slot else now
        # The text only depends on the language: render it once per language, not per unit.
        texts: dict[str, tuple[str, dict[str, Any]]] = {}
        rows: list[dict[str, Any]] = []
        for contact in contacts:
            language = contact.language or default
            if language not in texts:
                texts[language] = (
                    self._unit_text(period, slot, at, language),
                    report_button(translate, language, period.id or 0),
                )
            text, markup = texts[language]
            rows.append(
                {
                    "chat_id": contact.telegram_user_id,
                    "text": text,
                    "reply_markup": markup,
                    "priority": Priority.REMINDER if slot else Priority.NOTICE,
                    "source": f"reminder:{period.id}",
                    "dedup_key": (f"{slot.key}:u{contact.unit_id}:c{contact.id}" if slot else None),
                }
            )
        return rows

    def _unit_text(
        self, period: ReportPeriod, slot: Slot | None, at: datetime, language: str
    ) -> str:
        translate = self.services.translator
        tz = self.services.config.bloc.tz
        deadline = format_datetime(period.deadline_at, tz, language)
        days = (self.calendar.local_date(period.deadline_at) - self.calendar.local_date(at)).days
        kind = slot.kind if slot else "manual"
        if kind == "open":
            key = "reminder.open"
        elif kind == "manual":
            key = "reminder.manual" if at <= period.deadline_at else "reminder.overdue"
        elif kind.startswith("before_") or (kind == "deadline" and days > 0):
            # A deadline on a weekend is announced on the working day before it.
            key = "reminder.before"
        elif kind == "deadline":
            key = "reminder.deadline"
        else:
            key = "reminder.overdue"
        return translate(language, key, title=period.title, deadline=deadline, days=abs(days))

    async def _digest_rows(
        self, session: Any, period: ReportPeriod, units: list[store.UnitRef], key: str
    ) -> list[dict[str, Any]]:
        services = self.services
        admins = services.config.bloc.admins
        chosen = await store.languages(session=session, user_ids=admins)
        group = await groups.active_group(session=session)
        rows = []
        if group is not None:
            rows.append(
                {
                    "chat_id": group.chat_id,
                    "text": self.digest_text(period, units, services.config.bloc.language),
                    "priority": Priority.REMINDER,
                    "source": f"digest:{period.id}",
                    "dedup_key": f"{key}:group",
                }
            )
        for admin in admins:
            language = chosen.get(admin, services.config.bloc.language)
            rows.append(
                {
                    "chat_id": admin,
                    "text": self.digest_text(period, units, language),
                    "priority": Priority.REMINDER,
                    "source": f"digest:{period.id}",
                    "dedup_key": f"{key}:{admin}",
                }
            )
        return rows

    def digest_text(self, period: ReportPeriod, units: list[store.UnitRef], language: str) -> str:
        """Who is still missing, grouped by department."""
        translate = self.services.translator
        deadline = format_datetime(period.deadline_at, self.services.config.bloc.tz, language)
        if not units:
            return translate(
                language, "reminder.digest_complete", title=period.title, deadline=deadline
            )
        lines = [
            translate(
                language,
                "reminder.digest",
                title=period.title,
                deadline=deadline,
                missing=len(units),
            )
        ]
        department = None
        for unit in units:
            if unit.department_id != department:
                department = unit.department_id
                lines.append(f"<b>{html.escape(unit.department_name)}</b>")
            lines.append(f"• {html.escape(unit.name)}")
        text = "\n".join(lines)
        return shorten_html(text, SAFE_LIMIT)  # Telegram's limit, cut after a whole line

    async def remind_now(
        self, work: Work, period: ReportPeriod, unit_ids: list[int] | None, actor_user_id: int
    ) -> int:
        """An admin's /nhac: queues reminders to the missing units (or the chosen ones) in
        the admin's unit of work; returns how many units."""
        self._roster = None  # fresh contacts, not those of the last scheduled run
        session = work.session
        units = await store.units_to_remind(session=session, period_id=period.id or 0)
        chosen = [u for u in units if unit_ids is None or u.id in unit_ids]
        rows = await self._unit_rows(session, period, None, chosen, work.now)
        work.send(
            *(
                Outgoing(
                    chat_id=row["chat_id"],
                    text=row["text"],
                    markup=row["reply_markup"],
                    priority=row["priority"],
                    source=row["source"],
                )
                for row in rows
            )
        )
        await audit.record(
            session=session,
            action="reminder.manual",
            actor_user_id=actor_user_id,
            target=f"period:{period.id}",
            units=[u.code for u in chosen],
        )
        return len(chosen)


@dataclass(frozen=True)
class Missing:
    """An open period and its units still missing a report, for the /nhac menu."""

    period: ReportPeriod
    units: list[store.UnitRef]


@dataclass(frozen=True)
class Reminded:
    """What a manual reminder did: the period, and how many units it reminded."""

    period: ReportPeriod
    units: int


async def _open_period(session: Any, period_id: int, now: datetime) -> ReportPeriod:
    period = await periods.get_period(session=session, period_id=period_id)
    if period is None or periods.status_of(period, now) is not periods.PeriodStatus.OPEN:
        raise ServiceError("common.stale_button")
    return period


async def missing(services: Services, *, actor: Caller, period_id: int) -> Missing:
    """The units of an open period still to remind (ServiceError if it is not open)."""
    require_admin(services, actor)
    async with services.db.read() as session:
        period = await _open_period(session, period_id, services.clock())
        units = await store.units_to_remind(session=session, period_id=period.id or 0)
    return Missing(period, units)


async def remind_now(
    services: Services,
    *,
    update_id: int | None,
    actor: Caller,
    period_id: int,
    unit_id: int | None,
    render: Callable[[Reminded], Sequence[Outgoing]],
) -> Reminded:
    """An admin's /nhac: reminds every missing unit of an open period (or one of them);
    the reminders and the admin's reply commit together."""
    require_admin(services, actor)
    async with services.work(update_id) as work:
        period = await _open_period(work.session, period_id, work.now)
        count = await Reminders(services).remind_now(
            work, period, None if unit_id is None else [unit_id], actor.user_id
        )
        result = Reminded(period, count)
        work.send(*render(result))
    return result


def slot_marker(slot: Slot) -> str:
    """The key recording that a slot was handled (fired or skipped) as a whole."""
    return f"{slot.key}:slot"


def log_row(key: str, slot: Slot, unit_id: int | None, status: str = "sent") -> dict[str, Any]:
    return {
        "key": key,
        "kind": slot.kind,
        "target_id": slot.target_id,
        "unit_id": unit_id,
        "slot_at": slot.at,
        "status": status,
        "recipients": 0,
        "created_at": utcnow(),
    }
