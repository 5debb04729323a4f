"""Announcements: who they went to, what became of each delivery, who acknowledged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import audit
from storage.models import (
    Announcement,
    AnnouncementAck,
    AnnouncementDelivery,
    Contact,
    OutboxMessage,
    Unit,
)


@dataclass(frozen=True)
class Recipient:
    """Where one copy goes: a contact's private chat, an admin's, or the bloc group."""

    chat_id: int
    unit_id: int | None = None
    contact_id: int | None = None
    language: str | None = None


@dataclass(frozen=True)
class DeliveryRow:
    """One line of an announcement's report."""

    delivery: AnnouncementDelivery
    unit: Unit | None
    contact_name: str | None
    status: str
    error: str | None


async def create(
    *,
    session: AsyncSession,
    text: str,
    audience: dict[str, Any],
    created_by: int,
    send_at: datetime,
    now: datetime,
    attachment: tuple[str, str, str | None] | None = None,
    resend_after_hours: int | None = None,
) -> Announcement:
    """Stores an announcement (its deliveries are added by `add_deliveries`)."""
    file_id, kind, name = attachment or (None, None, None)
    announcement = Announcement(
        text=text,
        audience=audience,
        created_by=created_by,
        created_at=now,
        send_at=send_at,
        attachment_file_id=file_id,
        attachment_kind=kind,
        attachment_name=name,
        resend_after_hours=resend_after_hours,
    )
    session.add(announcement)
    await session.flush()
    await audit.record(
        session=session,
        action="announcement.create",
        actor_user_id=created_by,
        target=f"announcement:{announcement.id}",
        audience=audience,
    )
    return announcement


async def add_deliveries(
    *,
    session: AsyncSession,
    announcement_id: int,
    recipients: list[Recipient],
    outbox_ids: list[int | None],
) -> None:
    """Records each recipient with the outbox row carrying its copy."""
    rows = [
        {
            "announcement_id": announcement_id,
            "chat_id": r.chat_id,
            "unit_id": r.unit_id,
            "contact_id": r.contact_id,
            "outbox_id": outbox_id,
            "message_id": None,
        }
        for r, outbox_id in zip(recipients, outbox_ids, strict=True)
    ]
    if rows:
        connection = await session.connection()
        insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
        table = AnnouncementDelivery.__table__
        await connection.execute(insert(table).on_conflict_do_nothing(), rows)  # type: ignore[arg-type]


async def get(*, session: AsyncSession, announcement_id: int) -> Announcement | None:
    """An announcement by id."""
    return await session.get(Announcement, announcement_id)


async def recent(*, session: AsyncSession, limit: int = 10) -> list[Announcement]:
    """The latest announcements, newest first."""
    query = select(Announcement).order_by(col(Announcement.id).desc()).limit(limit)
    return list((await session.exec(query)).all())


async def report(*, session: AsyncSession, announcement_id: int) -> list[DeliveryRow]:
    """Every delivery with its unit, contact, outbox status and error."""
    query = (
        select(
            AnnouncementDelivery,
            Unit,
            Contact.full_name,
            OutboxMessage.status,
            OutboxMessage.last_error,
        )
        .join(Unit, col(Unit.id) == AnnouncementDelivery.unit_id, isouter=True)
        .join(Contact, col(Contact.id) == AnnouncementDelivery.contact_id, isouter=True)
        .join(OutboxMessage, col(OutboxMessage.id) == AnnouncementDelivery.outbox_id, isouter=True)
        .where(AnnouncementDelivery.announcement_id == announcement_id)
        .order_by(col(AnnouncementDelivery.id))
    )
    return [
        DeliveryRow(delivery, unit, name, status or "pending", error)
        for delivery, unit, name, status, error in (await session.exec(query)).all()
    ]


async def acks(*, session: AsyncSession, announcement_id: int) -> list[AnnouncementAck]:
    """Acknowledgements in the order they came."""
    query = (
        select(AnnouncementAck)
        .where(AnnouncementAck.announcement_id == announcement_id)
        .order_by(col(AnnouncementAck.at))
    )
    return list((await session.exec(query)).all())


async def delivery_to(
    *, session: AsyncSession, announcement_id: int, chat_id: int
) -> AnnouncementDelivery | None:
    """The announcement's copy for `chat_id` (a person's private chat, or the group)."""
    query = select(AnnouncementDelivery).where(
        AnnouncementDelivery.announcement_id == announcement_id,
        AnnouncementDelivery.chat_id == chat_id,
    )
    return (await session.exec(query)).first()


async def acknowledge(
    *,
    session: AsyncSession,
    announcement_id: int,
    user_id: int,
    unit_id: int | None,
    chat_id: int,
    now: datetime,
) -> bool:
    """Records that user_id acknowledged; False if they had already."""
    connection = await session.connection()
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    table = AnnouncementAck.__table__
    result = await connection.execute(
        insert(table)
        .values(
            announcement_id=announcement_id,
            user_id=user_id,
            unit_id=unit_id,
            chat_id=chat_id,
            at=now,
        )
        .on_conflict_do_nothing()
    )
    return bool(result.rowcount)


async def record_message_id(*, session: AsyncSession, outbox_id: int, message_id: int) -> None:
    """Remembers which Telegram message carried a delivery (to edit its button later)."""
    await session.exec(
        update(AnnouncementDelivery)
        .where(col(AnnouncementDelivery.outbox_id) == outbox_id)
        .values(message_id=message_id)
    )


async def unacknowledged(
    *, session: AsyncSession, announcement_id: int
) -> list[AnnouncementDelivery]:
    """Deliveries to units' contacts whose unit has not acknowledged (by anyone) since the
    announcement went out (an acknowledgement recorded before its time does not count)."""
    announcement = await session.get(Announcement, announcement_id)
    if announcement is None:
        return []
    sent_at = announcement.send_at
    acked_units = {
        a.unit_id
        for a in await acks(session=session, announcement_id=announcement_id)
        if a.at >= sent_at
    }
    query = select(AnnouncementDelivery).where(
        AnnouncementDelivery.announcement_id == announcement_id,
        col(AnnouncementDelivery.contact_id).is_not(None),
    )
    return [d for d in (await session.exec(query)).all() if d.unit_id not in acked_units]


async def mark_resent(
    *, session: AsyncSession, announcement: Announcement, now: datetime, actor_user_id: int | None
) -> None:
    """Counts a re-send."""
    announcement.resends += 1
    announcement.last_resend_at = now
    session.add(announcement)
    await audit.record(
        session=session,
        action="announcement.resend",
        actor_user_id=actor_user_id,
        target=f"announcement:{announcement.id}",
        resends=announcement.resends,
    )


async def due_for_auto_resend(*, session: AsyncSession, now: datetime) -> list[Announcement]:
    """Announcements whose automatic re-send time has come and which were not re-sent yet."""
    query = select(Announcement).where(
        col(Announcement.resend_after_hours).is_not(None), Announcement.resends == 0
    )
    return [
        a
        for a in (await session.exec(query)).all()
        if a.send_at + timedelta(hours=a.resend_after_hours or 0) <= now
    ]
