"""Retention on both backends: old handled updates and old sent messages are deleted,
everything still pending or gone wrong is kept; the scheduler prunes at start-up."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select

from bot.app import make_services
from bot.config import Config, RetentionConfig
from bot.scheduler import Scheduler
from bot.services.events import EventReminders
from bot.services.reminders import Reminders
from storage import inbox, outbox
from storage.db import Database
from storage.models import Announcement, AnnouncementDelivery, InboxUpdate, OutboxMessage
from storage.outbox import OutboxStatus
from tests.factories import example_raw

NOW = datetime(2024, 6, 30, 12, 0, tzinfo=UTC)
CUT_OFF = NOW - timedelta(days=30)
OLD, RECENT = CUT_OFF - timedelta(days=1), CUT_OFF + timedelta(days=1)


async def _inbox_rows(db: Database) -> None:
    """Ids 1-7: 1 handled long ago, 2 handled recently, 3 never handled (old), 4 handled
    long ago with an error, 5 given up (old), 6 handled long ago; 7, the newest, handled
    long ago too."""
    async with db.session() as session:
        await inbox.store_updates(session=session, updates=[{"update_id": i} for i in range(1, 8)])
        await inbox.mark_processed(session=session, update_ids=[4], error="boom")
        await inbox.mark_processed(session=session, update_ids=[1, 2, 6, 7])
        for ids, values in (
            ([1, 3, 4, 5, 6, 7], {"received_at": OLD, "processed_at": OLD}),
            ([2], {"received_at": OLD, "processed_at": RECENT}),
            ([3, 5], {"processed_at": None}),
            ([5], {"attempts": inbox.MAX_ATTEMPTS}),
        ):
            await session.exec(
                update(InboxUpdate).where(col(InboxUpdate.update_id).in_(ids)).values(**values)
            )


async def test_inbox_prune_deletes_only_old_handled_updates(database: Database) -> None:
    await _inbox_rows(database)
    async with database.session() as session:
        assert await inbox.prune(session=session, before=CUT_OFF) == 2
    async with database.session() as session:
        kept = (await session.exec(select(InboxUpdate.update_id))).all()
        assert sorted(kept) == [2, 3, 4, 5, 7]
        assert await inbox.max_update_id(session=session) == 7  # polling resumes after it
        assert await inbox.prune(session=session, before=CUT_OFF) == 0


async def _outbox_rows(db: Database) -> dict[str, int]:
    """One row per case, by name; all created long before the cut-off."""
    names = ["sent_old", "sent_recent", "pending", "sending", "failed", "dead", "announced"]
    async with db.session() as session:
        ids = await outbox.enqueue_many(
            session=session,
            rows=[{"chat_id": 100 + n, "text": name} for n, name in enumerate(names)],
            now=OLD - timedelta(days=400),
        )
        row = dict(zip(names, ids, strict=True))
        for name in ("sent_old", "announced"):
            await outbox.mark_sent(session=session, row_id=row[name], message_id=1, now=OLD)
        await outbox.mark_sent(session=session, row_id=row["sent_recent"], message_id=2, now=RECENT)
        await outbox.mark_failed(session=session, row_id=row["failed"], error="blocked")
        await outbox.mark_failed(
            session=session, row_id=row["dead"], error="timeout", status=OutboxStatus.DEAD
        )
        await session.exec(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == row["sending"])
            .values(status=OutboxStatus.SENDING.value)
        )
        announcement = Announcement(text="Thông báo", created_at=OLD, send_at=OLD)
        session.add(announcement)
        await session.flush()
        session.add(
            AnnouncementDelivery(
                announcement_id=announcement.id, chat_id=106, outbox_id=row["announced"]
            )
        )
    return row


async def test_outbox_prune_deletes_only_old_sent_rows(database: Database) -> None:
    row = await _outbox_rows(database)
    async with database.session() as session:
        assert await outbox.prune(session=session, before=CUT_OFF) == 1
    async with database.session() as session:
        kept = set((await session.exec(select(OutboxMessage.id))).all())
        assert kept == set(row.values()) - {row["sent_old"]}
        # The delivery report of an announcement still finds its copy's status.
        status = await session.get(OutboxMessage, row["announced"])
        assert status is not None and status.status == OutboxStatus.SENT.value


def test_retention_defaults_and_the_example_file() -> None:
    assert RetentionConfig() == RetentionConfig(inbox_days=30, outbox_days=180)
    assert example_raw()["retention"] == {"inbox_days": 30, "outbox_days": 180}


async def test_scheduler_prunes_at_start_even_without_reminders(
    seeded: Database, config: Config
) -> None:
    await _inbox_rows(seeded)
    row = await _outbox_rows(seeded)
    quiet = config.model_copy(
        update={
            "reminders": config.reminders.model_copy(update={"enabled": False}),
            "retention": RetentionConfig(inbox_days=30, outbox_days=30),
        }
    )
    services = make_services(quiet, db=seeded)
    services.clock = lambda: NOW
    scheduler = Scheduler(Reminders(services), EventReminders(services), tick_seconds=3600)
    scheduler.start()
    assert [job.id for job in scheduler._scheduler.get_jobs()] == ["prune"]
    try:
        for _ in range(200):
            async with seeded.read() as session:
                left = set((await session.exec(select(OutboxMessage.id))).all())
            if row["sent_old"] not in left:
                break
            await asyncio.sleep(0.02)
    finally:
        await scheduler.stop()
    assert row["sent_old"] not in left and row["sent_recent"] in left
    async with seeded.read() as session:
        assert sorted((await session.exec(select(InboxUpdate.update_id))).all()) == [2, 3, 4, 5, 7]
    assert await scheduler.prune() == (0, 0)  # nothing left to prune
