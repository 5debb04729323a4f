"""Durable update intake: store each update before Telegram is told we have it.

python-telegram-bot's own polling confirms a batch (by asking for the next offset) before
handling it, so a crash can drop fetched updates. Here every update is written to the
`inbox_update` table first, handed to the Application, and marked processed when its
handlers finish. At start-up, stored-but-unprocessed updates are replayed before new ones.
Update ids seen before are ignored (webhooks deliver at least once).

No invite token is stored: the argument of `/start <token>` is replaced by "<redacted>" in
the stored copy, which carries the token's hash instead (the invites table stores the same
hash). The live update keeps the token in memory; a replay after a crash redeems by hash.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import re
from typing import Any

from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application

from bot.ratelimit import retry_after_seconds
from storage import inbox
from storage.db import Database
from storage.invites import TOKEN_RE, hash_token

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [
    "message",
    "edited_message",
    "callback_query",
    "my_chat_member",
    "chat_member",
]
REPLAY_BATCH = 1000  # stored updates read per query when replaying
REDACTED = "<redacted>"  # what the stored copy of `/start <token>` says instead of the token
START_HASH_KEY = "thidua_start_token_sha256"  # top-level key of the stored copy: the hash
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def redact(payload: dict[str, Any]) -> dict[str, Any]:
    """The form of an update that may be stored: `/start <token>` (an invite's token, in a
    message or an edited one) becomes `/start <redacted>` plus the token's hash under
    START_HASH_KEY. Any other update is returned as it is."""
    for key in ("message", "edited_message"):
        message = payload.get(key)
        text = message.get("text") if isinstance(message, dict) else None
        if not isinstance(text, str):
            continue
        command, _, argument = text.partition(" ")
        argument = argument.strip()
        if command.split("@", 1)[0] != "/start" or not TOKEN_RE.match(argument):
            continue
        payload = copy.deepcopy(payload)
        payload[key]["text"] = f"{command} {REDACTED}"
        payload[START_HASH_KEY] = hash_token(argument)
    return payload


def start_token_hash(update: Update) -> str | None:
    """For a replayed `/start <redacted>`: the hash of the token it carried (else None).

    Only a stored copy has it: Telegram never sends this key, so a person typing
    "/start <redacted>" gets no hash and is refused like any malformed token."""
    value = update.api_kwargs.get(START_HASH_KEY)
    return value if isinstance(value, str) and _SHA256_RE.match(value) else None


class Inbox:
    """Stores updates, feeds them to the application, and records when they are done."""

    def __init__(
        self,
        app: Application[Any, Any, Any, Any, Any, Any],
        db: Database,
        *,
        flush_delay: float = 0.1,
    ) -> None:
        self.app = app
        self.db = db
        self.flush_delay = flush_delay
        self._done: list[int] = []
        self.marked: set[int] = set()  # shared with the unit of work (see bot.services.work)
        self._replayed: set[int] = set()  # queued by replay, attempt not yet counted
        self._flusher: asyncio.Task[None] | None = None

    async def accept(
        self, payloads: list[dict[str, Any]], parsed: list[Update] | None = None
    ) -> int:
        """Stores raw updates durably, then queues the new ones; returns how many were new.

        `parsed`, when the caller already has the Update objects (polling), saves parsing
        them a second time. What is stored is redacted (`redact`); what is queued is the
        update as received.
        """
        stored = [redact(payload) for payload in payloads]
        async with self.db.session() as session:
            fresh = set(await inbox.store_updates(session=session, updates=stored))
        for position, payload in enumerate(payloads):
            if int(payload["update_id"]) not in fresh:
                continue
            if parsed is not None:
                await self.app.update_queue.put(parsed[position])
            else:
                await self._enqueue(payload)
        return len(fresh)

    async def replay(self, batch: int = REPLAY_BATCH) -> int:
        """Queues every update stored by an earlier run but never processed, oldest first.

        They are read `batch` at a time (in update id order, each page after the last id of
        the one before), so a long outage costs no more memory per query than a short one.
        An attempt is counted only when an update's handling begins (`mark_started`), so a
        backlog waiting behind one slow update loses nothing however often the bot restarts.
        An update whose handling was already interrupted MAX_ATTEMPTS times is given up: a
        WARNING names it, and its row keeps an error (`thidua inbox list --failed`, `thidua
        inbox retry UPDATE_ID`).
        """
        async with self.db.session() as session:
            given_up = await inbox.give_up(session=session)
        for update_id in given_up:
            log.warning(
                "update %s given up after %d interrupted attempts; it is listed by "
                "`thidua inbox list --failed` and `thidua inbox retry %s` replays it",
                update_id,
                inbox.MAX_ATTEMPTS,
                update_id,
            )
        total = 0
        after: int | None = None
        while True:
            async with self.db.read() as session:
                rows = await inbox.pending(session=session, after=after, limit=batch)
            self._replayed.update(r.update_id for r in rows)
            for row in rows:
                await self._enqueue(row.payload)
            total += len(rows)
            if len(rows) < batch:
                break
            after = rows[-1].update_id
        if total:
            log.info("replaying %d update(s) left unprocessed by the last run", total)
        return total

    async def mark_started(self, update_id: int) -> None:
        """Counts an attempt at a replayed update as its handling begins (the processor calls
        this, in the update's turn). A live update is not counted: if a crash interrupts it,
        its replays are."""
        if update_id not in self._replayed:
            return
        self._replayed.discard(update_id)
        async with self.db.session() as session:
            await inbox.mark_started(session=session, update_ids=[update_id])

    async def mark_done(self, update_id: int) -> None:
        """Records that an update's handlers have finished.

        Marks are written in small batches (every `flush_delay` seconds): one write instead
        of one per update. A crash in that window only means those updates are handled
        again at start-up, which the handlers tolerate (the inbox is at-least-once).
        """
        if update_id in self.marked:  # its unit of work marked it in its own transaction
            self.marked.discard(update_id)
            return
        self._done.append(update_id)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(self.flush_delay)
        await self.flush()

    async def close(self) -> None:
        """Writes the pending marks and stops the delayed flush (before the database closes)."""
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        await self.flush()

    async def flush(self) -> None:
        """Writes the pending marks now."""
        while self._done:
            batch, self._done = self._done, []
            async with self.db.session() as session:
                await inbox.mark_processed(session=session, update_ids=batch)

    async def next_offset(self) -> int | None:
        """The getUpdates offset that confirms everything already stored."""
        async with self.db.session() as session:
            newest = await inbox.max_update_id(session=session)
        return None if newest is None else newest + 1

    async def _enqueue(self, payload: dict[str, Any]) -> None:
        try:
            update = Update.de_json(payload, self.app.bot)
        except Exception:
            log.exception("unparseable update %s skipped", payload.get("update_id"))
            await self.mark_done(int(payload["update_id"]))
            return
        await self.app.update_queue.put(update)


class Poller:
    """Long polling with getUpdates, storing each batch before confirming it."""

    def __init__(self, inbox_: Inbox, *, timeout: int = 30) -> None:
        self.inbox = inbox_
        self.timeout = timeout
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Starts polling in the background."""
        await self.inbox.app.bot.delete_webhook(drop_pending_updates=False)
        self._task = asyncio.create_task(self._run(), name="thidua-poller")

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The polling task (done only if polling gave up)."""
        return self._task

    async def stop(self) -> None:
        """Stops polling (an in-flight getUpdates is abandoned; its batch is unconfirmed)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        bot = self.inbox.app.bot
        offset = await self.inbox.next_offset()
        backoff = 1.0
        while True:
            try:
                updates = await bot.get_updates(
                    offset=offset,
                    timeout=self.timeout,
                    allowed_updates=ALLOWED_UPDATES,
                    read_timeout=self.timeout + 10,
                )
            except RetryAfter as exc:
                await asyncio.sleep(float(retry_after_seconds(exc)))
                continue
            except InvalidToken:
                log.critical("Telegram rejected the bot token; polling stops")
                raise
            except Conflict:
                log.error("another process is polling with this token; retrying in 10 s")
                await asyncio.sleep(10)
                continue
            except (TimedOut, NetworkError) as exc:
                log.warning("getUpdates failed (%s); retrying in %.0f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60.0)
                continue
            backoff = 1.0
            if not updates:
                continue
            payloads = [u.to_dict() for u in updates]
            try:
                await self.inbox.accept(payloads, parsed=list(updates))
            except Exception:
                # Not stored, so not confirmed: Telegram will hand the batch over again.
                log.exception("could not store %d update(s); retrying", len(payloads))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60.0)
                continue
            # Durable before confirmed: only now may the next getUpdates advance the offset.
            offset = updates[-1].update_id + 1
