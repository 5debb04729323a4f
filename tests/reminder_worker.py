"""A separate OS process that runs the reminder check and drains the outbox once.

Used by tests/test_e2e_reminders.py to show that two bot processes sharing one database send
each reminder exactly once. Usage: python -m tests.reminder_worker CONFIG NOW_ISO
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime

from telegram import Bot

from bot.app import make_services
from bot.config import load_config
from bot.dispatch import Dispatcher
from bot.ratelimit import Limits
from bot.services.reminders import Reminders
from storage import outbox
from tests.factories import FakeClock


async def main(config_path: str, now: str) -> None:
    config = load_config(config_path)
    services = make_services(config)
    services.clock = FakeClock(datetime.fromisoformat(now))
    base = config.telegram.base_url
    bot = Bot(config.require_token(), base_url=f"{base}/bot", base_file_url=f"{base}/file/bot")
    async with bot:
        dispatcher = Dispatcher(
            bot, services.db, clock=services.clock, limits=Limits(1000, 0.0, 0.0)
        )
        for _ in range(5):
            await Reminders(services).run_once()
            await dispatcher.drain_once()
        for _ in range(50):
            async with services.db.session() as session:
                if not (await outbox.counts(session=session)).get("pending"):
                    break
            await dispatcher.drain_once()
    await services.db.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
