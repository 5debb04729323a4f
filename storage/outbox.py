"""The outbox: messages waiting to be sent by the dispatcher, and what became of them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, delete, exists, func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.invites import INVITE_LINK_RE, REDACTED_TOKEN
from storage.models import AnnouncementDelivery, OutboxMessage, utcnow


class OutboxStatus(StrEnum):
    """Where an outbox row stands."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # permanent: blocked, chat not found, invalid message
    DEAD = "dead"  # transient errors until the attempts ran out


class Priority:
    """Lower goes first."""

    URGENT = 0
    NOTICE = 10
    REMINDER = 20
    BULK = 30


def _insert(session: AsyncSession) -> Any:
    dialect = session.bind.dialect.name  # type: ignore[union-attr]
    return pg_insert if dialect == "postgresql" else sqlite_insert


async def enqueue_many(
    *, session: AsyncSession, rows: list[dict[str, Any]], now: datetime | None = None
) -> list[int]:
    """Adds messages and returns the ids of those added (see `_insert_rows`)."""
    result = await _insert_rows(session, rows, now, returning=True)
    return [int(i) for i in result.scalars()] if result is not None else []


async def enqueue_bulk(
    *, session: AsyncSession, rows: list[dict[str, Any]], now: datetime | None = None
) -> int:
    """Adds many messages without returning their ids (the fast path for fan-outs);
    returns how many were added."""
    result = await _insert_rows(session, rows, now, returning=False)
    return max(int(result.rowcount), 0) if result is not None else 0  # type: ignore[attr-defined]


async def _insert_rows(
    session: AsyncSession, rows: list[dict[str, Any]], now: datetime | None, *, returning: bool
) -> Any:
    """Inserts messages (dicts of OutboxMessage fields), skipping rows whose `dedup_key`
    exists already; `now` is when they become sendable."""
    if not rows:
        return None
    now = now or utcnow()
    # A multi-row INSERT takes its columns from the first row: give every row every column.
    defaults: dict[str, Any] = {
        "priority": Priority.NOTICE,
        "not_before": now,
        "created_at": now,
        "source": "",
        "status": OutboxStatus.PENDING.value,
        "attempts": 0,
        "reply_markup": None,
        "document_file_id": None,
        "photo_file_id": None,
        "edit_message_id": None,
        "dedup_key": None,
    }
    values = [{**defaults, **row} for row in rows]
    # One statement executed for many rows (the driver's executemany, or SQLAlchemy's
    # batched "insertmanyvalues" when RETURNING is asked for): compiled once, not per row.
    statement = _insert(session)(OutboxMessage.__table__).on_conflict_do_nothing()
    if returning:
        statement = statement.returning(OutboxMessage.__table__.c.id)
    connection = await session.connection()
    return await connection.execute(statement, values)


async def enqueue(
    *,
    session: AsyncSession,
    chat_id: int,
    text: str,
    source: str,
    reply_markup: dict[str, Any] | None = None,
    priority: int = Priority.NOTICE,
    dedup_key: str | None = None,
    not_before: datetime | None = None,
    now: datetime | None = None,
) -> int | None:
    """Adds one message; None if its dedup_key was enqueued before."""
    row: dict[str, Any] = {
        "chat_id": chat_id,
        "text": text,
        "source": source,
        "reply_markup": reply_markup,
        "priority": priority,
        "dedup_key": dedup_key,
    }
    if not_before is not None:
        row["not_before"] = not_before
    added = await enqueue_many(session=session, rows=[row], now=now)
    return added[0] if added else None


async def claim(*, session: AsyncSession, now: datetime, limit: int) -> list[OutboxMessage]:
    """Takes up to `limit` ready rows, most urgent first, and marks them being sent.

    On PostgreSQL rows locked by another dispatcher are skipped; on SQLite the write
    transaction itself keeps two dispatchers apart.
    """
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING.value, OutboxMessage.not_before <= now)
        .order_by(col(OutboxMessage.priority), col(OutboxMessage.id))
        .limit(limit)
    )
    if session.bind.dialect.name == "postgresql":  # type: ignore[union-attr]
        query = query.with_for_update(skip_locked=True)
    rows = list((await session.exec(query)).all())
    if rows:
        await session.exec(
            update(OutboxMessage)
            .where(col(OutboxMessage.id).in_([r.id for r in rows]))
            .values(status=OutboxStatus.SENDING.value, attempts=OutboxMessage.attempts + 1)
        )
        # The ORM applies the same change to the loaded rows (synchronize_session).
    return rows


async def scrub_invite_links(*, session: AsyncSession, row_ids: list[int]) -> None:
    """Replaces the token of every invite link in these rows' text (a `/moi` reply) once the
    row is done with: no invite token stays in the database after it was delivered."""
    if not row_ids:
        return
    query = select(OutboxMessage.id, OutboxMessage.text).where(
        col(OutboxMessage.id).in_(row_ids), col(OutboxMessage.text).contains("start=")
    )
    for row_id, text in (await session.exec(query)).all():
        scrubbed = INVITE_LINK_RE.sub(rf"\g<1>{REDACTED_TOKEN}", text)
        if scrubbed != text:
            await session.exec(
                update(OutboxMessage).where(col(OutboxMessage.id) == row_id).values(text=scrubbed)
            )


async def mark_sent(*, session: AsyncSession, row_id: int, message_id: int, now: datetime) -> None:
    """Records Telegram's acceptance."""
    await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == row_id)
        .values(status=OutboxStatus.SENT.value, message_id=message_id, sent_at=now, last_error=None)
    )
    await scrub_invite_links(session=session, row_ids=[row_id])


async def mark_sent_many(
    *, session: AsyncSession, sent: list[tuple[int, int]], now: datetime
) -> None:
    """Records Telegram's acceptance of several rows, `(row_id, message_id)` each, at once."""
    if not sent:
        return
    connection = await session.connection()
    await connection.execute(
        update(OutboxMessage.__table__)
        .where(OutboxMessage.__table__.c.id == bindparam("row_id"))
        .values(
            status=OutboxStatus.SENT.value,
            message_id=bindparam("mid"),
            sent_at=now,
            last_error=None,
        ),
        [{"row_id": row_id, "mid": message_id} for row_id, message_id in sent],
    )
    await scrub_invite_links(session=session, row_ids=[row_id for row_id, _ in sent])


async def mark_retry(
    *, session: AsyncSession, row_id: int, not_before: datetime, error: str, count: bool = True
) -> None:
    """Puts a row back to try later (a 429 does not count as an attempt)."""
    values: dict[str, Any] = {
        "status": OutboxStatus.PENDING.value,
        "not_before": not_before,
        "last_error": error[:500],
    }
    if not count:
        values["attempts"] = OutboxMessage.attempts - 1
    await session.exec(
        update(OutboxMessage).where(col(OutboxMessage.id) == row_id).values(**values)
    )


async def mark_failed(
    *, session: AsyncSession, row_id: int, error: str, status: OutboxStatus = OutboxStatus.FAILED
) -> None:
    """Gives up on a row, keeping the reason."""
    await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == row_id)
        .values(status=status.value, last_error=error[:500])
    )
    await scrub_invite_links(session=session, row_ids=[row_id])


async def recover(*, session: AsyncSession) -> int:
    """After a crash: rows caught mid-send go back to pending (they may be sent twice, see
    docs; that window is the time of one HTTP request)."""
    result = await session.exec(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.SENDING.value)
        .values(status=OutboxStatus.PENDING.value)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def release(*, session: AsyncSession, row_ids: list[int]) -> None:
    """Rows claimed for sending go back to the queue (the interactive lane gave them up)."""
    if row_ids:
        await session.exec(
            update(OutboxMessage)
            .where(
                col(OutboxMessage.id).in_(row_ids),
                OutboxMessage.status == OutboxStatus.SENDING.value,
            )
            .values(status=OutboxStatus.PENDING.value)
        )


async def prune(*, session: AsyncSession, before: datetime) -> int:
    """Deletes rows sent before `before`; returns how many.

    Pending, sending, failed and dead rows are kept whatever their age (they are what an
    admin looks into), and so are the copies of announcements: the delivery report of an
    announcement reads their status.
    """
    announced = exists().where(col(AnnouncementDelivery.outbox_id) == OutboxMessage.id)
    result = await session.exec(
        delete(OutboxMessage).where(
            OutboxMessage.status == OutboxStatus.SENT.value,
            col(OutboxMessage.sent_at) < before,
            ~announced,
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def next_due(*, session: AsyncSession) -> datetime | None:
    """When the earliest pending row becomes ready."""
    query = select(func.min(OutboxMessage.not_before)).where(
        OutboxMessage.status == OutboxStatus.PENDING.value
    )
    return (await session.exec(query)).first()


async def counts(*, session: AsyncSession, source: str | None = None) -> dict[str, int]:
    """Rows per status (optionally of one source)."""
    query = select(OutboxMessage.status, func.count()).group_by(col(OutboxMessage.status))
    if source is not None:
        query = query.where(OutboxMessage.source == source)
    return {status: int(n) for status, n in (await session.exec(query)).all()}
