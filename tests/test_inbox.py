"""The update inbox on both backends: replay after a crash."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import update
from sqlmodel import col, select
from telegram.ext import Application

from bot.inbox import Inbox
from storage import inbox
from storage.db import Database
from storage.models import InboxUpdate
from tests.factories import TOKEN

STORED = 2345  # more than two pages of 1,000


async def _store(db: Database, count: int) -> list[int]:
    """Stores `count` updates (ids 101..), some of them handled, a few given up; returns
    the ids a replay must queue."""
    ids = list(range(101, 101 + count))
    payloads = [{"update_id": i, "message": _message(i)} for i in ids]
    handled = ids[::7]
    given_up = ids[3::500]
    async with db.session() as session:
        await inbox.store_updates(session=session, updates=payloads)
        await inbox.mark_processed(session=session, update_ids=handled)
        await session.exec(
            update(InboxUpdate)
            .where(col(InboxUpdate.update_id).in_(given_up))
            .values(attempts=inbox.MAX_ATTEMPTS)
        )
    skipped = set(handled) | set(given_up)
    return [i for i in ids if i not in skipped]


def _message(update_id: int) -> dict[str, object]:
    return {
        "message_id": update_id,
        "date": 1_700_000_000,
        "chat": {"id": 42, "type": "private"},
        "from": {"id": 42, "is_bot": False, "first_name": "Lan"},
        "text": f"m{update_id}",
    }


async def test_pending_pages_through_in_update_id_order(database: Database) -> None:
    expected = await _store(database, 1200)
    seen: list[int] = []
    after = None
    async with database.read() as session:
        while page := await inbox.pending(session=session, after=after, limit=250):
            seen += [row.update_id for row in page]
            after = page[-1].update_id
    assert seen == expected


async def test_replay_queues_every_pending_update_beyond_one_batch(database: Database) -> None:
    expected = await _store(database, STORED)
    assert len(expected) > 2000
    app = Application.builder().token(TOKEN).build()
    replayed = await Inbox(app, database).replay()

    assert replayed == len(expected)
    queued = []
    while not app.update_queue.empty():
        queued.append(app.update_queue.get_nowait())
    assert [u.update_id for u in queued] == expected
    assert queued[-1].message is not None and queued[-1].message.text == f"m{expected[-1]}"
    async with database.read() as session:
        attempts = dict(
            (await session.exec(select(InboxUpdate.update_id, InboxUpdate.attempts))).all()
        )
    # Queuing counts no attempt: only an update whose handling begins does (mark_started).
    assert {attempts[i] for i in expected} == {0}
    async with database.read() as session:
        failed = await inbox.failed(session=session)
    assert sorted(r.update_id for r in failed) == list(range(101, 101 + STORED))[3::500]


async def test_replay_of_an_exact_multiple_of_the_batch(database: Database) -> None:
    async with database.session() as session:
        await inbox.store_updates(session=session, updates=[{"update_id": i} for i in range(1, 7)])
    app = Application.builder().token(TOKEN).build()
    assert await Inbox(app, database).replay(batch=3) == 6
    assert [app.update_queue.get_nowait().update_id for _ in range(6)] == [1, 2, 3, 4, 5, 6]
    assert app.update_queue.empty()


async def test_a_given_up_update_is_logged_listed_and_can_be_retried(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """Skipped updates were dropped silently: now each is a WARNING with its id, a row with
    an error, listed by `failed`, and `retry` makes it pending again."""
    async with database.session() as session:
        await inbox.store_updates(
            session=session, updates=[{"update_id": i, "message": _message(i)} for i in (7, 8)]
        )
        await session.exec(
            update(InboxUpdate)
            .where(col(InboxUpdate.update_id) == 7)
            .values(attempts=inbox.MAX_ATTEMPTS)
        )
    app = Application.builder().token(TOKEN).build()
    with caplog.at_level(logging.WARNING, logger="bot.inbox"):
        assert await Inbox(app, database).replay() == 1
    (record,) = [r for r in caplog.records if r.name == "bot.inbox"]
    assert record.levelno == logging.WARNING and "update 7 given up" in record.getMessage()
    async with database.session() as session:
        (row,) = await inbox.failed(session=session)
        assert row.update_id == 7 and row.error and "given up" in row.error
        assert await inbox.retry(session=session, update_id=7)
        assert not await inbox.retry(session=session, update_id=8)  # not a failed one
    async with database.read() as session:
        assert [r.update_id for r in await inbox.pending(session=session)] == [7, 8]
        assert await inbox.failed(session=session) == []
