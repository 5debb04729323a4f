"""Report periods: creating, listing, closing and extending them."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import audit
from storage.models import ReportPeriod


class PeriodStatus(StrEnum):
    """Where a period is in its life; follows from its times."""

    SCHEDULED = "scheduled"
    OPEN = "open"
    CLOSED = "closed"


def status_of(period: ReportPeriod, now: datetime) -> PeriodStatus:
    """scheduled → open → closed, by the clock (or an admin's early close)."""
    if period.closed_at is not None and period.closed_at <= now:
        return PeriodStatus.CLOSED
    if period.closes_at is not None and period.closes_at <= now:
        return PeriodStatus.CLOSED
    if now < period.opens_at:
        return PeriodStatus.SCHEDULED
    return PeriodStatus.OPEN


async def create_period(
    *,
    session: AsyncSession,
    kind: str,
    title: str,
    year: int,
    opens_at: datetime,
    deadline_at: datetime,
    questions: list[dict[str, Any]],
    late_days: int,
    created_by: int | None = None,
) -> ReportPeriod:
    """Creates a period; it stays open for late reports `late_days` after the deadline."""
    period = ReportPeriod(
        kind=kind,
        title=title,
        year=year,
        opens_at=opens_at,
        deadline_at=deadline_at,
        closes_at=deadline_at + timedelta(days=late_days),
        questions=questions,
        created_by=created_by,
    )
    session.add(period)
    await session.flush()
    await audit.record(
        session=session,
        action="period.create",
        actor_user_id=created_by,
        target=f"period:{period.id}",
        kind=kind,
        title=title,
        opens_at=opens_at.isoformat(),
        deadline_at=deadline_at.isoformat(),
    )
    return period


async def get_period(*, session: AsyncSession, period_id: int) -> ReportPeriod | None:
    """A period by id."""
    return await session.get(ReportPeriod, period_id)


async def list_periods(*, session: AsyncSession, limit: int = 20) -> list[ReportPeriod]:
    """The most recent periods first."""
    query = select(ReportPeriod).order_by(col(ReportPeriod.deadline_at).desc()).limit(limit)
    return list((await session.exec(query)).all())


async def open_periods(*, session: AsyncSession, now: datetime) -> list[ReportPeriod]:
    """Periods accepting submissions now, nearest deadline first."""
    query = (
        select(ReportPeriod)
        .where(col(ReportPeriod.opens_at) <= now, col(ReportPeriod.closed_at).is_(None))
        .order_by(col(ReportPeriod.deadline_at))
    )
    periods = (await session.exec(query)).all()
    return [p for p in periods if status_of(p, now) is PeriodStatus.OPEN]


async def close_period(
    *, session: AsyncSession, period: ReportPeriod, now: datetime, actor_user_id: int | None
) -> None:
    """Closes a period now; no more submissions or edits."""
    period.closed_at = now
    session.add(period)
    await audit.record(
        session=session,
        action="period.close",
        actor_user_id=actor_user_id,
        target=f"period:{period.id}",
    )


async def extend_deadline(
    *,
    session: AsyncSession,
    period: ReportPeriod,
    deadline_at: datetime,
    late_days: int,
    actor_user_id: int | None,
) -> datetime:
    """Moves the deadline (and the late window with it); returns the old deadline."""
    old = period.deadline_at
    period.deadline_at = deadline_at
    period.closes_at = max(period.closes_at or deadline_at, deadline_at + timedelta(days=late_days))
    period.closed_at = None
    period.extensions += 1
    session.add(period)
    await audit.record(
        session=session,
        action="period.extend",
        actor_user_id=actor_user_id,
        target=f"period:{period.id}",
        old=old.isoformat(),
        new=deadline_at.isoformat(),
    )
    return old
