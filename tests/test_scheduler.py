"""The scheduler: its jobs run, and stopping it lets a job under way finish quietly."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.app import make_services
from bot.config import Config
from bot.context import Services
from bot.scheduler import Scheduler
from bot.services.events import EventReminders
from bot.services.reminders import Reminders
from storage.db import Database


@pytest.fixture
def services(seeded: Database, config: Config) -> Services:
    return make_services(config, db=seeded)


def _scheduler(services: Services, *extra) -> Scheduler:
    return Scheduler(
        Reminders(services), EventReminders(services), tick_seconds=3600, extra=list(extra)
    )


def _troubles(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR
        or (r.exc_info and isinstance(r.exc_info[1], asyncio.CancelledError))
    ]


async def test_stop_during_a_check_waits_for_it_without_an_error(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    started = asyncio.Event()
    finished: list[str] = []

    async def slow_check() -> None:
        started.set()
        await asyncio.sleep(0.3)  # e.g. a reminder run writing its outbox rows
        finished.append("done")

    scheduler = _scheduler(services, slow_check)
    scheduler.start()
    await asyncio.wait_for(started.wait(), timeout=10)
    await scheduler.stop()  # as on SIGTERM: the check is still running

    assert finished == ["done"]
    assert _troubles(caplog) == []
    assert not scheduler._scheduler.running
    await asyncio.sleep(0.05)
    assert finished == ["done"]  # and nothing runs after the stop


async def test_stop_right_after_start_and_stop_twice(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    scheduler = _scheduler(services)
    scheduler.start()
    await scheduler.stop()
    await scheduler.stop()
    await _scheduler(services).stop()  # never started
    assert _troubles(caplog) == []
