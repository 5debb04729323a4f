"""Reminder bookkeeping: claiming slots exactly once, and who still has to be reminded."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    Contact,
    Department,
    ReminderLog,
    ReportPeriod,
    Submission,
    Unit,
    UserSetting,
)


async def claim(*, session: AsyncSession, rows: list[dict[str, Any]]) -> set[str]:
    """Records slot keys; returns the ones this call recorded (others were claimed before,
    by this process or another sharing the database)."""
    if not rows:
        return set()
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert  # type: ignore[union-attr]
    table = ReminderLog.__table__
    statement = insert(table).on_conflict_do_nothing().returning(table.c.key)  # type: ignore[attr-defined]
    connection = await session.connection()
    claimed = set((await connection.execute(statement, rows)).scalars())
    return claimed


async def existing_keys(*, session: AsyncSession, keys: list[str]) -> set[str]:
    """Which of these keys are recorded already."""
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        query = select(ReminderLog.key).where(col(ReminderLog.key).in_(chunk))
        found.update((await session.exec(query)).all())
    return found


async def live_periods(*, session: AsyncSession, since: datetime) -> list[ReportPeriod]:
    """Periods that may still have slots at or after `since`."""
    query = select(ReportPeriod).where(
        or_(col(ReportPeriod.closed_at).is_(None), col(ReportPeriod.closed_at) > since),
        or_(col(ReportPeriod.closes_at).is_(None), col(ReportPeriod.closes_at) > since),
    )
    return list((await session.exec(query)).all())


class UnitRef(NamedTuple):
    """The few fields of a unit a reminder needs (plain rows: tens of thousands are cheap)."""

    id: int
    code: str
    name: str
    department_id: int
    department_name: str


class ContactRef(NamedTuple):
    """The few fields of a contact a reminder needs."""

    id: int
    telegram_user_id: int
    unit_id: int
    language: str | None


async def active_units(*, session: AsyncSession) -> list[UnitRef]:
    """Every active unit, in department and configured order."""
    query = (
        select(Unit.id, Unit.code, Unit.name, Department.id, Department.name)
        .join(Department, col(Department.id) == Unit.department_id)
        .where(col(Unit.active).is_(True))
        .order_by(col(Department.id), col(Unit.position))
    )
    return [UnitRef(*row) for row in (await session.exec(query)).all()]


async def reported_unit_ids(*, session: AsyncSession, period_id: int) -> set[int]:
    """Units with a submission that counts (submitted or accepted, not returned)."""
    query = select(Submission.unit_id).where(
        Submission.period_id == period_id,
        Submission.version > 0,
        Submission.status != "returned",
    )
    return set((await session.exec(query)).all())


async def units_to_remind(
    *, session: AsyncSession, period_id: int, only_missing: bool = True
) -> list[UnitRef]:
    """Active units with nothing submitted (or a submission returned for revision)."""
    units = await active_units(session=session)
    if not only_missing:
        return units
    done = await reported_unit_ids(session=session, period_id=period_id)
    return [unit for unit in units if unit.id not in done]


async def active_contacts(*, session: AsyncSession) -> list[ContactRef]:
    """Every active contact, with the language each chose (None if never)."""
    query = (
        select(Contact.id, Contact.telegram_user_id, Contact.unit_id, UserSetting.language)
        .join(
            UserSetting,
            col(UserSetting.telegram_user_id) == Contact.telegram_user_id,
            isouter=True,
        )
        .where(col(Contact.active).is_(True))
        .order_by(col(Contact.id))
    )
    return [ContactRef(*row) for row in (await session.exec(query)).all()]


async def languages(*, session: AsyncSession, user_ids: list[int]) -> dict[int, str]:
    """The languages some users chose."""
    if not user_ids:
        return {}
    query = select(UserSetting).where(col(UserSetting.telegram_user_id).in_(user_ids))
    return {s.telegram_user_id: s.language for s in (await session.exec(query)).all()}
