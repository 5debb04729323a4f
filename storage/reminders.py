"""Reminder bookkeeping: claiming slots exactly once, and who still has to be reminded."""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
    claimed: set[str] = set()
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert  # type: ignore[union-attr]
    for start in range(0, len(rows), 500):
        statement = (
            insert(ReminderLog)
            .values(rows[start : start + 500])
            .on_conflict_do_nothing()
            .returning(col(ReminderLog.key))
        )
        claimed.update((await session.exec(statement)).scalars())  # type: ignore[call-overload]
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


async def units_to_remind(
    *, session: AsyncSession, period_id: int, only_missing: bool = True
) -> list[tuple[Unit, Department]]:
    """Active units with nothing submitted (or a submission returned for revision)."""
    query = (
        select(Unit, Department)
        .join(Department, col(Department.id) == Unit.department_id)
        .where(col(Unit.active).is_(True))
        .order_by(col(Department.id), col(Unit.position))
    )
    rows = (await session.exec(query)).all()
    if not only_missing:
        return [(u, d) for u, d in rows]
    done = set(
        (
            await session.exec(
                select(Submission.unit_id).where(
                    Submission.period_id == period_id,
                    Submission.version > 0,
                    Submission.status != "returned",
                )
            )
        ).all()
    )
    return [(u, d) for u, d in rows if u.id not in done]


async def contacts_of(
    *, session: AsyncSession, unit_ids: list[int]
) -> dict[int, list[tuple[Contact, str | None]]]:
    """Each unit's active contacts with their chosen language (None if never chosen)."""
    result: dict[int, list[tuple[Contact, str | None]]] = {}
    for start in range(0, len(unit_ids), 500):
        chunk = unit_ids[start : start + 500]
        query = (
            select(Contact, UserSetting.language)
            .join(
                UserSetting,
                col(UserSetting.telegram_user_id) == Contact.telegram_user_id,
                isouter=True,
            )
            .where(col(Contact.active).is_(True), col(Contact.unit_id).in_(chunk))
        )
        for contact, language in (await session.exec(query)).all():
            result.setdefault(contact.unit_id, []).append((contact, language))
    return result


async def languages(*, session: AsyncSession, user_ids: list[int]) -> dict[int, str]:
    """The languages some users chose."""
    if not user_ids:
        return {}
    query = select(UserSetting).where(col(UserSetting.telegram_user_id).in_(user_ids))
    return {s.telegram_user_id: s.language for s in (await session.exec(query)).all()}
