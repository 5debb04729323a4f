"""The alarm clock: APScheduler wakes the reminder service; the database decides the rest."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.events import EventReminders
from bot.reminders import Reminders

log = logging.getLogger(__name__)


class Scheduler:
    """Runs the scheduled checks (deadline and event reminders, automatic re-sends of
    announcements) at start-up, catching up on downtime, and every tick."""

    def __init__(
        self,
        reminders: Reminders,
        event_reminders: EventReminders,
        tick_seconds: float,
        extra: list[Callable[[], Awaitable[object]]] | None = None,
    ) -> None:
        self.reminders = reminders
        self.event_reminders = event_reminders
        self.checks: list[Callable[[], Awaitable[object]]] = [
            reminders.run_once,
            event_reminders.run_once,
            *(extra or []),
        ]
        self.tick_seconds = tick_seconds
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._current: asyncio.Task[Any] | None = None

    def start(self) -> None:
        """Schedules the checks; the first runs immediately."""
        self._scheduler.add_job(
            self._tick,
            IntervalTrigger(seconds=self.tick_seconds),
            id="reminders",
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        self._scheduler.start()

    async def stop(self) -> None:
        """Stops waking anything up, and lets a check under way finish (it uses the
        database, which closes next)."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        if self._current is not None and not self._current.done():
            with contextlib.suppress(Exception):
                await self._current

    async def _tick(self) -> None:
        self._current = asyncio.current_task()
        for check in self.checks:
            try:
                await check()
            except Exception:
                log.exception("a scheduled check failed; it runs again at the next tick")
