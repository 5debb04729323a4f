"""The outbound dispatcher: drains the outbox at Telegram's limits, retrying what can be.

Every message the bot sends goes through here, replies included. A row is claimed
(status `sending`) before the HTTP call and marked `sent` with its message_id right after,
so the only window in which a crash can cause a second copy is one HTTP request long.

Two lanes. Replies to the person who wrote (`send_now`) are written already claimed by the
unit of work that caused them and sent at once, in order, right after its commit: the person
notices no delay and no broadcast queue stands in front of them. Everything else is claimed
from the table in priority order and paced at Telegram's limits. A reply that meets a 429
or a network error goes back to the table and continues on the paced lane. After a crash,
`start` returns rows left claimed to the table, so what was committed is still sent, once.

An edit (a row with `edit_message_id`) of a message that can no longer be edited is sent
as a new message instead; "message is not modified" counts as done.

Errors:
- 429: the row waits `retry_after` and goes back without costing an attempt; the pace
  slows, and a burst of 429s pauses every send for `retry_after` (see bot.ratelimit).
- network errors, timeouts, 5xx: retried with exponential backoff and jitter, up to
  `max_attempts`, then dead-lettered with the reason. A timed-out send may have reached
  Telegram (the Bot API has no idempotency key); it is retried, accepting a rare duplicate
  over a lost message.
- 403 (blocked, deactivated) and 400 chat not found: permanent; the row is marked failed and
  `on_permanent_failure(chat_id, reason)` is told, and the rest carry on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from telegram import Bot, Message, TelegramObject
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.ratelimit import Limits, RateLimiter, retry_after_seconds
from storage import outbox
from storage.db import Database
from storage.models import OutboxMessage, utcnow
from storage.outbox import OutboxStatus

log = logging.getLogger(__name__)

PERMANENT_BAD_REQUESTS = ("chat not found", "user not found", "peer_id_invalid", "chat_id is empty")
UNEDITABLE = ("message to edit not found", "message can't be edited", "there is no text")
FailureHook = Callable[[int, str], Awaitable[None]]


class Dispatcher:
    """Sends outbox rows concurrently, each at the time the rate limiter allows."""

    def __init__(
        self,
        bot: Bot,
        db: Database,
        *,
        limits: Limits | None = None,
        clock: Callable[[], datetime] = utcnow,
        max_attempts: int = 6,
        max_in_flight: int = 32,
        batch: int = 100,
        idle_poll: float = 1.0,
        backoff_base: float = 1.0,
        backoff_max: float = 300.0,
    ) -> None:
        self.bot = bot
        self.db = db
        self.limiter = RateLimiter(limits or Limits())
        self.clock = clock
        self.max_attempts = max_attempts
        self.batch = batch
        self.idle_poll = idle_poll
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self.on_permanent_failure: FailureHook | None = None
        self.on_sent: Callable[[OutboxMessage, Message], Awaitable[None]] | None = None
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._on_the_wire: set[asyncio.Task[None]] = set()
        self.stats = {"sent": 0, "retried": 0, "throttled": 0, "floods": 0, "failed": 0, "dead": 0}

    async def start(self) -> None:
        """Re-queues rows a crash left mid-send, then starts draining."""
        async with self.db.session() as session:
            recovered = await outbox.recover(session=session)
        if recovered:
            log.warning(
                "%d outbox message(s) were mid-send at the last stop; sending again", recovered
            )
        self._task = asyncio.create_task(self._run(), name="thidua-dispatcher")

    async def stop(self) -> None:
        """Stops claiming; requests already on the wire finish, sends still waiting for
        their turn are dropped (their rows stay claimed and are re-sent at the next start)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in self._sending - self._on_the_wire:
            task.cancel()
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)

    def wake(self) -> None:
        """New rows are waiting: look now rather than at the next poll."""
        self._wake.set()

    async def send_now(self, rows: list[OutboxMessage]) -> list[tuple[int, int]]:
        """The interactive lane: sends rows a unit of work has just committed as claimed,
        in order; returns `(row id, message id)` of those sent, for the caller to mark."""
        sent: list[tuple[int, int]] = []
        for row in rows:
            if not await self._send(row, interactive=True, sent=sent):
                break  # the rest of this reply follows the failed part on the paced lane
        if len(sent) < len(rows):
            await self._release([r for r in rows if r.id not in {i for i, _ in sent}])
        return sent

    async def _release(self, rows: list[OutboxMessage]) -> None:
        """Hands claimed rows the interactive lane did not finish back to the paced lane."""
        async with self.db.session() as session:
            await outbox.release(session=session, row_ids=[r.id or 0 for r in rows])
        self.wake()

    async def drain_once(self) -> int:
        """Claims one batch and sends it (waiting for every send); returns how many."""
        async with self.db.session() as session:
            rows = await outbox.claim(session=session, now=self.clock(), limit=self.batch)
        await asyncio.gather(*(self._send(row) for row in rows))
        return len(rows)

    async def _run(self) -> None:
        while True:
            # Cleared before looking, so a wake() during the claim is not lost.
            self._wake.clear()
            try:
                async with self.db.session() as session:
                    rows = await outbox.claim(session=session, now=self.clock(), limit=self.batch)
            except Exception:
                log.exception("could not read the outbox; retrying")
                await asyncio.sleep(self.idle_poll)
                continue
            for row in rows:
                await self._in_flight.acquire()
                task = asyncio.create_task(self._send_and_release(row))
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)
            if len(rows) < self.batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.idle_poll)

    async def _send_and_release(self, row: OutboxMessage) -> None:
        try:
            await self._send(row)
        finally:
            self._in_flight.release()
            task = asyncio.current_task()
            if task is not None:
                self._on_the_wire.discard(task)

    async def _send(
        self,
        row: OutboxMessage,
        *,
        interactive: bool = False,
        sent: list[tuple[int, int]] | None = None,
    ) -> bool:
        """Sends one row and records its fate; True if Telegram accepted it.

        On the interactive lane the row skips the pacing (a person who just wrote expects
        the answer now) but not a flood pause; its `sent` mark is left to the caller.
        """
        assert row.id is not None
        if interactive:
            self.limiter.note_interactive(row.chat_id)
        else:
            start = self.limiter.reserve(row.chat_id)
            wait = start - self.limiter.clock()
            if wait > 0:
                await asyncio.sleep(wait)
        if (held := self.limiter.paused_for()) > 0:  # a flood pause began meanwhile
            await asyncio.sleep(held)
        current = asyncio.current_task()
        if current is not None and not interactive:
            self._on_the_wire.add(current)
        try:
            message = await self._deliver(row)
        except RetryAfter as exc:
            seconds = retry_after_seconds(exc)
            if self.limiter.throttled(row.chat_id, seconds):
                self.stats["floods"] += 1
                log.warning("Telegram flood control: every send waits %.0f s", seconds)
            self.stats["throttled"] += 1
            await self._retry(
                row, timedelta(seconds=seconds), f"429 retry after {seconds}s", count=False
            )
        except ChatMigrated as exc:
            await self._fail(row, f"group migrated to {exc.new_chat_id}", permanent=True)
        except Forbidden as exc:
            await self._fail(row, f"403 {exc.message}", permanent=True)
        except BadRequest as exc:
            permanent = any(text in exc.message.lower() for text in PERMANENT_BAD_REQUESTS)
            await self._fail(row, f"400 {exc.message}", permanent=permanent)
        except (TimedOut, NetworkError) as exc:
            if row.attempts >= self.max_attempts:
                await self._dead(row, f"{type(exc).__name__}: {exc}")
            else:
                backoff = min(self.backoff_base * 2 ** (row.attempts - 1), self.backoff_max)
                backoff *= random.uniform(0.5, 1.5)
                self.stats["retried"] += 1
                await self._retry(row, timedelta(seconds=backoff), f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # a bug must not stop the other messages
            log.exception("outbox row %s could not be sent", row.id)
            await self._dead(row, f"{type(exc).__name__}: {exc}")
        else:
            if sent is not None:
                sent.append((row.id, message.message_id))
            else:
                async with self.db.session() as session:
                    await outbox.mark_sent(
                        session=session,
                        row_id=row.id,
                        message_id=message.message_id,
                        now=self.clock(),
                    )
            self.stats["sent"] += 1
            self.limiter.succeeded()
            if self.on_sent is not None:
                await self.on_sent(row, message)
            return True
        return False

    async def _deliver(self, row: OutboxMessage) -> Message:
        markup = _StoredMarkup(row.reply_markup) if row.reply_markup else None
        kwargs: dict[str, Any] = {"reply_markup": markup, "parse_mode": ParseMode.HTML}
        if row.edit_message_id is not None:
            edited = await self._edit(row, markup)
            if edited is not None:
                return edited
        if row.document_file_id:
            return await self.bot.send_document(
                row.chat_id, row.document_file_id, caption=row.text, **kwargs
            )
        if row.photo_file_id:
            return await self.bot.send_photo(
                row.chat_id, row.photo_file_id, caption=row.text, **kwargs
            )
        return await self.bot.send_message(row.chat_id, row.text, **kwargs)

    async def _edit(self, row: OutboxMessage, markup: _StoredMarkup | None) -> Message | None:
        """Edits the row's message; None if it can no longer be edited (then it is sent)."""
        assert row.edit_message_id is not None
        try:
            if not row.text:  # only the keyboard changes (a caption or text stays as it is)
                result = await self.bot.edit_message_reply_markup(
                    chat_id=row.chat_id, message_id=row.edit_message_id, reply_markup=markup
                )
            else:
                result = await self.bot.edit_message_text(
                    row.text,
                    chat_id=row.chat_id,
                    message_id=row.edit_message_id,
                    reply_markup=markup,
                    parse_mode=ParseMode.HTML,
                )
        except BadRequest as exc:
            reason = exc.message.lower()
            if "not modified" in reason:
                return _Edited(row.edit_message_id)  # type: ignore[return-value]
            if any(text in reason for text in UNEDITABLE):
                # Gone or too old: a text is sent anew; a keyboard alone has nothing to fix.
                return None if row.text else _Edited(row.edit_message_id)  # type: ignore[return-value]
            raise
        if isinstance(result, Message):
            return result
        return _Edited(row.edit_message_id)  # type: ignore[return-value]

    async def _retry(
        self, row: OutboxMessage, after: timedelta, error: str, count: bool = True
    ) -> None:
        async with self.db.session() as session:
            await outbox.mark_retry(
                session=session,
                row_id=row.id or 0,
                not_before=self.clock() + after,
                error=error,
                count=count,
            )
        self.wake()

    async def _fail(self, row: OutboxMessage, reason: str, *, permanent: bool) -> None:
        if not permanent:
            await self._dead(row, reason)
            return
        log.warning("message to chat %s failed permanently: %s", row.chat_id, reason)
        async with self.db.session() as session:
            await outbox.mark_failed(session=session, row_id=row.id or 0, error=reason)
        self.stats["failed"] += 1
        if self.on_permanent_failure is not None:
            try:
                await self.on_permanent_failure(row.chat_id, reason)
            except Exception:
                log.exception("handling the failure for chat %s failed", row.chat_id)

    async def _dead(self, row: OutboxMessage, reason: str) -> None:
        log.error("message %s to chat %s given up: %s", row.id, row.chat_id, reason)
        async with self.db.session() as session:
            await outbox.mark_failed(
                session=session, row_id=row.id or 0, error=reason, status=OutboxStatus.DEAD
            )
        self.stats["dead"] += 1


class _StoredMarkup(TelegramObject):
    """A keyboard as the outbox stored it, which is already the Bot API's JSON.

    PTB sends a reply markup as its `to_dict()`, so the stored dict goes out as it is,
    instead of building an InlineKeyboardMarkup (`de_json`) only for PTB to turn it back
    into the same dict: that round trip was about 130 us of CPU per message.
    """

    __slots__ = ("_stored",)

    def __init__(self, stored: dict[str, Any]) -> None:
        super().__init__()
        self._stored = stored
        self._freeze()

    def to_dict(self, recursive: bool = True) -> dict[str, Any]:
        return self._stored


class _Edited:
    """Stands for the edited message where Telegram answered without one."""

    def __init__(self, message_id: int) -> None:
        self.message_id = message_id
