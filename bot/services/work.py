"""The unit of work: everything one update (or one scheduled job) causes, committed together.

A service opens one `Work` per call. In its single transaction go the state change, the
update's inbox mark, the person's place in a flow, and every message the change causes, the
reply included, as outbox rows. Only after the commit are caches updated and the replies sent,
so the rule is: *what the database says happened, the user is told, exactly once*, apart from
the window of one HTTP request in which a crash can repeat a message (see `bot.dispatch`).

Replies (priority URGENT) are written already claimed and handed to the dispatcher's
interactive lane right after the commit; `run` returns once they are delivered, which keeps
one chat's replies in order. Notices to other people wait their turn on the paced lane.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlmodel.ext.asyncio.session import AsyncSession

from storage import conversations as flow_store
from storage import inbox, outbox
from storage.db import Database
from storage.models import OutboxMessage, utcnow
from storage.outbox import OutboxStatus, Priority

if TYPE_CHECKING:
    from bot.conversations import Conversations, Flow

log = logging.getLogger(__name__)

REPLY_SOURCE = "reply"


@dataclass(frozen=True)
class Outgoing:
    """One message a unit of work causes (a new message, or an edit of `edit_message_id`)."""

    chat_id: int
    text: str
    markup: dict[str, Any] | None = None
    edit_message_id: int | None = None
    document_file_id: str | None = None
    photo_file_id: str | None = None
    priority: int = Priority.URGENT
    source: str = REPLY_SOURCE
    dedup_key: str | None = None
    not_before: datetime | None = None

    @property
    def interactive(self) -> bool:
        """A reply to the person who acted: sent at once, not paced behind broadcasts."""
        return self.priority == Priority.URGENT and self.not_before is None

    def row(self) -> dict[str, Any]:
        """The outbox row's fields."""
        values: dict[str, Any] = {
            "chat_id": self.chat_id,
            "text": self.text,
            "reply_markup": self.markup,
            "edit_message_id": self.edit_message_id,
            "document_file_id": self.document_file_id,
            "photo_file_id": self.photo_file_id,
            "priority": self.priority,
            "source": self.source,
            "dedup_key": self.dedup_key,
        }
        if self.not_before is not None:
            values["not_before"] = self.not_before
        return values


Sender = Callable[[list[OutboxMessage]], Awaitable[list[tuple[int, int]]]]


@dataclass
class Work:
    """One open transaction and what it will send and change once committed."""

    session: AsyncSession
    now: datetime
    update_id: int | None = None
    messages: list[Outgoing] = field(default_factory=list)
    _flows: dict[tuple[int, int], Flow | None] = field(default_factory=dict)
    _after: list[Callable[[], None]] = field(default_factory=list)

    def send(self, *messages: Outgoing) -> None:
        """Queues messages to commit with this unit of work."""
        self.messages.extend(messages)

    async def save_flow(self, chat_id: int, user_id: int, flow: Flow) -> None:
        """Stores the person's place in a flow in this transaction."""
        await flow_store.save_state(
            session=self.session,
            chat_id=chat_id,
            user_id=user_id,
            flow=flow.flow,
            step=flow.step,
            data=flow.data,
        )
        self._flows[(chat_id, user_id)] = flow

    async def end_flow(self, chat_id: int, user_id: int) -> None:
        """Ends the person's flow in this transaction."""
        await flow_store.delete_state(session=self.session, chat_id=chat_id, user_id=user_id)
        self._flows[(chat_id, user_id)] = None

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Runs callback once the transaction has committed (cache invalidation and such)."""
        self._after.append(callback)


class UnitOfWork:
    """Opens units of work on the database and sends what they committed."""

    def __init__(
        self,
        db: Database,
        conversations: Conversations,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.conversations = conversations
        self.clock = clock
        self.sender: Sender | None = None  # the dispatcher's interactive lane, when running
        self.wake: Callable[[], None] | None = None  # tells the paced lane rows are waiting
        # Replies Telegram accepted, (row id, message id), not yet marked sent: the next
        # transaction marks them, or a flush right behind it (see `_record_sent`).
        self._sent: list[tuple[int, int]] = []
        self._flush: asyncio.Task[None] | None = None
        self.marked: set[int] = set()  # updates marked handled by a unit of work

    @asynccontextmanager
    async def __call__(self, update_id: int | None = None) -> AsyncIterator[Work]:
        """One transaction; on leaving it without an error, commits and then sends."""
        claimed: list[OutboxMessage] = []
        queued = False
        sent: list[tuple[int, int]] = []
        try:
            async with self.db.session() as session:
                work = Work(session=session, now=self.clock(), update_id=update_id)
                yield work
                if update_id is not None:
                    await inbox.mark_processed(session=session, update_ids=[update_id])
                claimed, queued = await self._write(work)
                sent, self._sent = self._sent, []
                await outbox.mark_sent_many(session=session, sent=sent, now=work.now)
        except BaseException:
            self._sent[:0] = sent  # not committed: the next transaction marks them
            raise
        if update_id is not None:
            self.marked.add(update_id)
        for key, flow in work._flows.items():
            if flow is None:
                self.conversations.forget(*key)
            else:
                self.conversations.cache(*key, flow)
        for callback in work._after:
            callback()
        if queued and self.wake is not None:
            self.wake()
        if claimed and self.sender is not None:
            try:
                self._record_sent(await self.sender(claimed))
            except Exception:  # committed rows stay claimed; the next start sends them
                log.exception("could not send the reply for update %s", update_id)

    def _record_sent(self, sent: list[tuple[int, int]]) -> None:
        """Marks delivered replies sent: in the next unit of work's transaction when one
        is queued (under load, no transaction of their own), else in a flush right away.

        Until the mark commits, a crash would send the reply again at the next start: the
        window is one request plus the wait for the write lock, never a timer.
        """
        if not sent:
            return
        self._sent.extend(sent)
        if self._flush is None or self._flush.done():
            self._flush = asyncio.create_task(self.flush_sent())

    async def flush_sent(self) -> None:
        """Writes the pending `sent` marks (a no-op if a transaction took them first)."""
        await asyncio.sleep(0)  # units of work already waiting for the lock take them
        if not self._sent:
            return
        async with self.db.session() as session:
            batch, self._sent = self._sent, []
            if batch:
                try:
                    await outbox.mark_sent_many(session=session, sent=batch, now=self.clock())
                except BaseException:
                    self._sent[:0] = batch
                    raise

    async def close(self) -> None:
        """Writes what is pending (before the database closes)."""
        if self._flush is not None and not self._flush.done():
            await asyncio.gather(self._flush, return_exceptions=True)
        await self.flush_sent()

    async def _write(self, work: Work) -> tuple[list[OutboxMessage], bool]:
        """Writes the outbox rows; returns the claimed replies (as rows) and whether any
        row waits for the paced lane."""
        if not work.messages:
            return [], False
        interactive = self.sender is not None
        rows: list[dict[str, Any]] = []
        for message in work.messages:
            row = message.row()
            if interactive and message.interactive:
                row["status"] = OutboxStatus.SENDING.value
                row["attempts"] = 1
            rows.append(row)
        ids = await outbox.enqueue_many(session=work.session, rows=rows, now=work.now)
        claimed: list[OutboxMessage] = []
        queued = False
        # The rows as the database has them (enqueue_many gives them `now` for both times);
        # passed in, the two datetime default factories are not run, a third of the model's
        # construction time.
        times = {"not_before": work.now, "created_at": work.now}
        for row, row_id in zip(rows, ids, strict=False):
            if row.get("status") == OutboxStatus.SENDING.value:
                claimed.append(OutboxMessage(id=row_id, **(times | row)))
            else:
                queued = True
        if len(ids) < len(rows):  # a dedup_key met an earlier row: match by position is off
            claimed = await self._reload(work.session, ids)
            queued = True
        return claimed, queued

    @staticmethod
    async def _reload(session: AsyncSession, ids: list[int]) -> list[OutboxMessage]:
        from sqlmodel import col, select

        query = select(OutboxMessage).where(
            col(OutboxMessage.id).in_(ids), OutboxMessage.status == OutboxStatus.SENDING.value
        )
        return list((await session.exec(query.order_by(col(OutboxMessage.id)))).all())
