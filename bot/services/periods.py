"""Report periods: the rules of a period (kind, title, times, extensions) and the units of
work of /kybaocao: list, create, close, extend. The console (`thidua period`) shares the rules.

Every change re-checks that the actor is an admin and that the period still exists; the
admin's reply, the end of their flow and the notices to contacts commit with the change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.dates import START_OF_DAY, DateError, check_period_times, parse_local_datetime
from bot.i18n import format_datetime
from bot.permissions import Caller
from bot.questions import PeriodKind
from bot.services import notices
from bot.services.errors import NotAllowed, ServiceError
from bot.services.work import Outgoing
from bot.text import utf16_len
from storage import contacts, periods, submissions
from storage.models import ReportPeriod
from storage.periods import PeriodStatus
from storage.submissions import BoardState

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from bot.config import Config
    from bot.context import Services

LIST_LIMIT = 10
DONE = frozenset({BoardState.ON_TIME, BoardState.LATE, BoardState.ACCEPTED})


class PeriodError(ServiceError):
    """A period cannot be created or changed as asked; `key` is the message saying why."""


STALE = "common.stale_button"


# -- rules -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodRequest:
    """A validated request for a new period."""

    kind: PeriodKind
    title: str
    opens_at: datetime
    deadline_at: datetime


def default_title(kind: str, year: int, language: str, translate: Any) -> str:
    """The usual title of a period of this kind, e.g. 'Sơ kết 6 tháng đầu năm 2023'."""
    return translate(language, f"period.default_title_{kind}", year=year)  # type: ignore[no-any-return]


def parse_opening(text: str | None, config: Config, now: datetime) -> datetime:
    """The opening time typed by an admin (start of the day if no time); now if empty."""
    if not text or not text.strip():
        return now
    try:
        return parse_local_datetime(text, tz=config.bloc.tz, now=now, default_time=START_OF_DAY)
    except DateError as exc:
        raise PeriodError(exc.key) from None


def parse_deadline(text: str, config: Config, now: datetime) -> datetime:
    """A deadline typed by an admin (end of the day if no time)."""
    try:
        return parse_local_datetime(text, tz=config.bloc.tz, now=now)
    except DateError as exc:
        raise PeriodError(exc.key) from None


def validate(
    kind: str, title: str, opens_at: datetime, deadline_at: datetime, now: datetime
) -> PeriodRequest:
    """Checks a request; raises PeriodError with the reason."""
    try:
        period_kind = PeriodKind(kind)
    except ValueError:
        raise PeriodError("period.error_kind") from None
    title = " ".join(title.split())
    if not 3 <= utf16_len(title) <= 200:
        raise PeriodError("period.error_title")
    if reason := check_period_times(opens_at, deadline_at, now):
        raise PeriodError(reason)
    return PeriodRequest(period_kind, title, opens_at, deadline_at)


def validate_title(kind: str, title: str, now: datetime) -> str:
    """A typed title, checked before the times are known; returns it tidied."""
    return validate(kind, title, now, far_future(now), now).title


def far_future(now: datetime) -> datetime:
    """The same moment a year later (28 February after a 29 February)."""
    try:
        return now.replace(year=now.year + 1)
    except ValueError:  # 29 February, and next year is not a leap year
        return now.replace(year=now.year + 1, day=28)


def check_extension(period: ReportPeriod, deadline: datetime, now: datetime) -> None:
    """A new deadline must lie ahead, and after the current one."""
    if deadline <= now:
        raise PeriodError("date.error_deadline_past")
    if deadline <= period.deadline_at:
        raise PeriodError("period.error_not_later")


async def insert(
    session: AsyncSession, config: Config, request: PeriodRequest, *, created_by: int | None
) -> ReportPeriod:
    """Creates the period with a copy of its kind's questions from the config."""
    template = config.reports.template(request.kind)
    return await periods.create_period(
        session=session,
        kind=request.kind.value,
        title=request.title,
        year=config.bloc.year,
        opens_at=request.opens_at,
        deadline_at=request.deadline_at,
        questions=[q.model_dump(mode="json") for q in template.questions],
        late_days=config.reports.late_days,
        created_by=created_by,
    )


def require_admin(services: Services, actor: Caller) -> None:
    """Refuses unless the actor is one of the bloc's admins (by the config, not the update)."""
    if not actor.is_admin or not services.is_admin(actor.user_id):
        raise NotAllowed()


async def _period(session: AsyncSession, period_id: int) -> ReportPeriod:
    period = await periods.get_period(session=session, period_id=period_id)
    if period is None:
        raise PeriodError(STALE)
    return period


# -- reads -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodLine:
    """One period of the list, with how many units have submitted."""

    period: ReportPeriod
    status: PeriodStatus
    done: int
    total: int


async def listing(
    services: Services, *, actor: Caller, limit: int = LIST_LIMIT
) -> list[PeriodLine]:
    """The most recent periods, each with its state and count of submitted units."""
    require_admin(services, actor)
    now = services.clock()
    async with services.db.read() as session:
        recent = await periods.list_periods(session=session, limit=limit)
        lines = []
        for period in recent:
            board = await submissions.board(session=session, period_id=period.id or 0)
            done = sum(1 for row in board if row.state in DONE)
            lines.append(PeriodLine(period, periods.status_of(period, now), done, len(board)))
    return lines


async def period(services: Services, *, actor: Caller, period_id: int) -> ReportPeriod:
    """One period (PeriodError "stale button" if it is gone)."""
    require_admin(services, actor)
    async with services.db.read() as session:
        return await _period(session, period_id)


async def open_now(services: Services, *, actor: Caller) -> list[ReportPeriod]:
    """The periods accepting submissions now, nearest deadline first."""
    require_admin(services, actor)
    async with services.db.read() as session:
        return await periods.open_periods(session=session, now=services.clock())


# -- changes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """A new period as the admin entered it (checked again when it is created)."""

    kind: str
    title: str
    opens_at: datetime
    deadline_at: datetime


async def create(
    services: Services,
    *,
    update_id: int | None,
    actor: Caller,
    chat_id: int,
    draft: Draft,
    render: Callable[[ReportPeriod], Sequence[Outgoing]],
) -> ReportPeriod:
    """Creates the period; the admin's reply and the end of their flow commit with it.
    (Contacts hear of it from the reminder service's "open" slot when it opens.)"""
    require_admin(services, actor)
    request = validate(draft.kind, draft.title, draft.opens_at, draft.deadline_at, services.clock())
    async with services.work(update_id) as work:
        created = await insert(work.session, services.config, request, created_by=actor.user_id)
        await work.end_flow(chat_id, actor.user_id)
        work.send(*render(created))
    return created


async def close(
    services: Services,
    *,
    update_id: int | None,
    actor: Caller,
    period_id: int,
    render: Callable[[ReportPeriod], Sequence[Outgoing]],
) -> ReportPeriod:
    """Closes the period now (once: a second press only repeats the reply)."""
    require_admin(services, actor)
    async with services.work(update_id) as work:
        found = await _period(work.session, period_id)
        if periods.status_of(found, work.now) is not PeriodStatus.CLOSED:
            await periods.close_period(
                session=work.session, period=found, now=work.now, actor_user_id=actor.user_id
            )
        work.send(*render(found))
    return found


@dataclass(frozen=True)
class Extended:
    """A deadline moved: the period (with its new deadline), the old one, who was told."""

    period: ReportPeriod
    old_deadline: datetime
    notified: int


async def extend(
    services: Services,
    *,
    update_id: int | None,
    actor: Caller,
    chat_id: int,
    period_id: int,
    deadline: datetime,
    render: Callable[[Extended], Sequence[Outgoing]],
) -> Extended:
    """Moves the deadline (and the late window); the admin's reply, the end of their flow
    and the notice to every contact commit with it."""
    require_admin(services, actor)
    async with services.work(update_id) as work:
        session = work.session
        found = await _period(session, period_id)
        check_extension(found, deadline, work.now)
        old = await periods.extend_deadline(
            session=session,
            period=found,
            deadline_at=deadline,
            late_days=services.config.reports.late_days,
            actor_user_id=actor.user_id,
        )
        people = await contacts.list_contacts(session=session)
        await work.end_flow(chat_id, actor.user_id)
        tz = services.config.bloc.tz
        notified = await notices.to_users(
            work,
            services,
            [c.telegram_user_id for c, _ in people],
            "period.extension_notice",
            title=found.title,
            deadline=lambda language: format_datetime(deadline, tz, language),
        )
        result = Extended(found, old, notified)
        work.send(*render(result))
    return result
