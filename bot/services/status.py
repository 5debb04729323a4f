"""The status board (/tinhhinh) and the choice of a period: read models, no changes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.permissions import Caller
from bot.services.errors import NotAllowed
from storage import periods, submissions
from storage.models import ReportPeriod
from storage.periods import PeriodStatus
from storage.submissions import BoardRow

if TYPE_CHECKING:
    from bot.context import Services

RECENT = 8  # periods offered to choose from


@dataclass(frozen=True)
class Periods:
    """The recent periods, newest first, and the one to act on without asking, if any."""

    recent: list[ReportPeriod]
    only: ReportPeriod | None


@dataclass(frozen=True)
class Board:
    """Every active unit's state for a period, in department order."""

    period: ReportPeriod
    status: PeriodStatus
    rows: list[BoardRow]


def check_admin(services: Services, actor: Caller) -> None:
    """Refuses anyone the configuration does not name an admin (whatever the handler saw)."""
    if not actor.is_admin or not services.is_admin(actor.user_id):
        raise NotAllowed()


async def recent_periods(services: Services, *, actor: Caller) -> Periods:
    """The periods to choose from; `only` when there is exactly one and it is open."""
    check_admin(services, actor)
    async with services.db.read() as session:
        recent = await periods.list_periods(session=session, limit=RECENT)
    now = services.clock()
    live = [p for p in recent if periods.status_of(p, now) is PeriodStatus.OPEN]
    only = live[0] if len(live) == 1 and len(recent) == 1 else None
    return Periods(recent, only)


async def board(services: Services, *, actor: Caller, period_id: int) -> Board | None:
    """The board of a period, or None if there is no such period."""
    check_admin(services, actor)
    async with services.db.read() as session:
        period = await periods.get_period(session=session, period_id=period_id)
        if period is None:
            return None
        rows = await submissions.board(session=session, period_id=period_id)
    return Board(period, periods.status_of(period, services.clock()), rows)
