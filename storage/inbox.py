"""The update inbox: every Telegram update is stored before Telegram is told we have it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import InboxUpdate, utcnow

MAX_ATTEMPTS = 3


async def store_updates(*, session: AsyncSession, updates: list[dict[str, Any]]) -> list[int]:
    """Stores raw updates, ignoring ids seen before; returns the ids that are new."""
    if not updates:
        return []
    ids = [int(u["update_id"]) for u in updates]
    seen = set(
        (
            await session.exec(
                select(InboxUpdate.update_id).where(col(InboxUpdate.update_id).in_(ids))
            )
        ).all()
    )
    fresh = [u for u in updates if int(u["update_id"]) not in seen]
    if not fresh:
        return []
    now = utcnow()
    rows = [{"update_id": int(u["update_id"]), "payload": u, "received_at": now} for u in fresh]
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert  # type: ignore[union-attr]
    # A concurrent writer (a second process, a webhook retry) may have stored the same id.
    await session.exec(insert(InboxUpdate).values(rows).on_conflict_do_nothing())  # type: ignore[call-overload]
    return [r["update_id"] for r in rows]


async def pending(
    *, session: AsyncSession, after: int | None = None, limit: int = 1000
) -> list[InboxUpdate]:
    """Updates stored but not yet processed, oldest first, skipping ones that keep failing.

    At most `limit` of them: pass the last update id of one page as `after` for the next.
    """
    query = select(InboxUpdate).where(
        col(InboxUpdate.processed_at).is_(None), InboxUpdate.attempts < MAX_ATTEMPTS
    )
    if after is not None:
        query = query.where(col(InboxUpdate.update_id) > after)
    query = query.order_by(col(InboxUpdate.update_id)).limit(limit)
    return list((await session.exec(query)).all())


async def mark_started(*, session: AsyncSession, update_ids: list[int]) -> None:
    """Counts an attempt at a replayed update as its handling begins, so one that crashes
    the process every time is given up (updates merely waiting their turn are not counted)."""
    if update_ids:
        await session.exec(
            update(InboxUpdate)
            .where(col(InboxUpdate.update_id).in_(update_ids))
            .values(attempts=InboxUpdate.attempts + 1)
        )


async def mark_processed(
    *, session: AsyncSession, update_ids: list[int], error: str | None = None
) -> None:
    """Marks updates handled (with the error text if handling failed)."""
    if update_ids:
        await session.exec(
            update(InboxUpdate)
            .where(col(InboxUpdate.update_id).in_(update_ids))
            .values(processed_at=utcnow(), error=error[:500] if error else None)
        )


GAVE_UP = "given up after {attempts} attempts (each interrupted by a crash or restart)"


async def give_up(*, session: AsyncSession) -> list[int]:
    """Marks every unprocessed update at MAX_ATTEMPTS handled with an error (so it is listed
    by `failed` and kept by `prune`); returns their ids, oldest first."""
    query = (
        select(InboxUpdate.update_id)
        .where(col(InboxUpdate.processed_at).is_(None), InboxUpdate.attempts >= MAX_ATTEMPTS)
        .order_by(col(InboxUpdate.update_id))
    )
    ids = list((await session.exec(query)).all())
    if ids:
        await mark_processed(
            session=session, update_ids=ids, error=GAVE_UP.format(attempts=MAX_ATTEMPTS)
        )
    return ids


async def failed(*, session: AsyncSession, limit: int = 100) -> list[InboxUpdate]:
    """Updates handled with an error or given up, newest first (at most `limit`)."""
    query = (
        select(InboxUpdate)
        .where(col(InboxUpdate.error).is_not(None))
        .order_by(col(InboxUpdate.update_id).desc())
        .limit(limit)
    )
    return list((await session.exec(query)).all())


async def retry(*, session: AsyncSession, update_id: int) -> bool:
    """Makes a failed or given-up update pending again with no attempts counted (the next
    start replays it); False if there is no such failed update."""
    result = await session.exec(
        update(InboxUpdate)
        .where(col(InboxUpdate.update_id) == update_id, col(InboxUpdate.error).is_not(None))
        .values(processed_at=None, error=None, attempts=0)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def max_update_id(*, session: AsyncSession) -> int | None:
    """The highest update id ever stored (to resume polling after it)."""
    query = select(InboxUpdate.update_id).order_by(col(InboxUpdate.update_id).desc()).limit(1)
    return (await session.exec(query)).first()


async def prune(*, session: AsyncSession, before: datetime) -> int:
    """Deletes updates handled (without error) before `before`; returns how many.

    Unprocessed, given-up and failed updates are kept, and so is the newest update
    whatever its age: its id is where polling resumes.
    """
    newest = await max_update_id(session=session)
    result = await session.exec(
        delete(InboxUpdate).where(
            col(InboxUpdate.processed_at).is_not(None),
            col(InboxUpdate.processed_at) < before,
            col(InboxUpdate.error).is_(None),
            col(InboxUpdate.update_id) != (newest or -1),
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
