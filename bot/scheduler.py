"""The alarm clock: APScheduler wakes the reminder service; the database decides the rest.

It also keeps the bookkeeping tables small: handled updates (inbox) and sent messages
(outbox) older than `[retention]` are deleted at start-up and every few hours.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_PAUSED
from apscheduler.triggers.interval import IntervalTrigger

from bot.services.events import EventReminders
from bot.services.reminders import Reminders
from storage import inbox, outbox

log = logging.getLogger(__name__)
PRUNE_EVERY = timedelta(hours=6)


class Scheduler:
    """Runs the scheduled checks (deadline and event reminders, automatic re-sends of
    announcements) at start-up, catching up on downtime, and every tick; and, at start-up
    and every `prune_every` seconds, deletes the inbox and outbox rows past their retention.

    The checks run only with `[reminders] enabled`; pruning always does.
    """

    def __init__(
        self,
        reminders: Reminders,
        event_reminders: EventReminders,
        tick_seconds: float,
        extra: list[Callable[[], Awaitable[object]]] | None = None,
        *,
        prune_every: float = PRUNE_EVERY.total_seconds(),
    ) -> None:
        self.reminders = reminders
        self.event_reminders = event_reminders
        self.services = reminders.services
        self.checks: list[Callable[[], Awaitable[object]]] = [
            reminders.run_once,
            event_reminders.run_once,
            *(extra or []),
        ]
        self.tick_seconds = tick_seconds
        self.prune_every = prune_every
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._running: set[asyncio.Task[Any]] = set()

    def start(self) -> None:
        """Schedules the jobs; the first runs of each start immediately."""
        now = datetime.now(UTC)
        if self.services.config.reminders.enabled:
            self._add(self._tick, self.tick_seconds, "reminders", now)
        self._add(self.prune, self.prune_every, "prune", now)
        self._scheduler.start()

    def _add(
        self, job: Callable[[], Awaitable[object]], seconds: float, name: str, now: datetime
    ) -> None:
        self._scheduler.add_job(
            self._tracked(job),
            IntervalTrigger(seconds=seconds),
            id=name,
            next_run_time=now,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )

    def _tracked(self, job: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[object]]:
        async def run() -> None:
            task = asyncio.current_task()
            assert task is not None
            self._running.add(task)
            try:
                await job()
            finally:
                self._running.discard(task)

        return run

    async def stop(self) -> None:
        """Stops waking anything up, and lets a job under way finish (it uses the database,
        which closes next) before shutting APScheduler down: its shutdown would cancel it."""
        if not self._scheduler.running or self._scheduler.state == STATE_PAUSED:
            return  # never started, or stopping already
        self._scheduler.pause()
        # A job handed to the event loop just before the pause starts on the next turn.
        await asyncio.sleep(0)
        if self._running:
            await asyncio.wait(set(self._running))
        self._scheduler.shutdown(wait=False)
        await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the loop's next turn

    async def _tick(self) -> None:
        for check in self.checks:
            try:
                await check()
            except Exception:
                log.exception("a scheduled check failed; it runs again at the next tick")

    async def prune(self) -> tuple[int, int]:
        """Deletes handled updates and sent messages older than `[retention]` allows;
        returns how many of each."""
        retention = self.services.config.retention
        now = self.services.clock()
        try:
            async with self.services.db.session() as session:
                updates = await inbox.prune(
                    session=session, before=now - timedelta(days=retention.inbox_days)
                )
                messages = await outbox.prune(
                    session=session, before=now - timedelta(days=retention.outbox_days)
                )
        except Exception:
            log.exception("pruning the inbox and outbox failed; it is tried again later")
            return 0, 0
        if updates or messages:
            log.info("pruned %d handled update(s) and %d sent message(s)", updates, messages)
        return updates, messages
