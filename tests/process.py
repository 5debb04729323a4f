"""The real bot as its own OS process (`python -m bot.cli run`), for kill -9 tests.

`CrashBot` starts the bot against an emulator, can hold every send "on the wire" (the
emulator delays the call; a request whose client died meanwhile has no effect), waits
until the database shows a unit of work committed, kills the process with SIGKILL and
starts it again. Tests then check that what was committed reaches the person once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import select

from bot.app import make_services
from bot.config import Config, load_config
from bot.context import Services
from bot.emulator import BotApiEmulator
from bot.runner import prepare_database
from storage.db import Database
from storage.models import OutboxMessage
from tests.factories import ADMIN_ID, TOKEN, example_raw, write_config

ROOT = Path(__file__).resolve().parent.parent
SEND_METHODS = ("sendMessage", "editMessageText", "editMessageReplyMarkup", "sendDocument")
BOT_USERNAME = "thidua_test_bot"


@dataclass
class CrashBot:
    """A bot process, its emulator, its config and a database handle of the test's own."""

    emu: BotApiEmulator
    path: Path
    config: Config
    db: Database
    services: Services
    process: asyncio.subprocess.Process | None = None
    stderr: list[str] = field(default_factory=list)

    async def start(self) -> None:
        """Starts `thidua run` and waits until it polls."""
        env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
        env["PYTHONPATH"] = str(ROOT)
        polls = len(self.emu.calls_to("getUpdates"))
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            "--config",
            str(self.path),
            env=env,
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(1000):
            if len(self.emu.calls_to("getUpdates")) > polls:
                return
            if self.process.returncode is not None:
                break
            await asyncio.sleep(0.02)
        raise AssertionError(f"the bot did not start: {await self._stderr()}")

    def hold_sends(self) -> None:
        """Every send from now on hangs "on the wire" (and has no effect if the bot dies)."""
        for method in SEND_METHODS:
            self.emu.delays[method] = 60.0

    def release_sends(self) -> None:
        """Sends go through again."""
        for method in SEND_METHODS:
            self.emu.delays.pop(method, None)

    async def wait_for_outbox(
        self, chat_id: int, predicate: Callable[[OutboxMessage], bool] = lambda _: True
    ) -> OutboxMessage:
        """Waits until a row to chat_id matching predicate has been committed."""
        for _ in range(500):
            async with self.db.read() as session:
                rows = (
                    await session.exec(
                        select(OutboxMessage).where(OutboxMessage.chat_id == chat_id)
                    )
                ).all()
            found = [r for r in rows if predicate(r)]
            if found:
                return found[-1]
            await asyncio.sleep(0.02)
        raise AssertionError(f"no committed outbox row for chat {chat_id}")

    async def kill(self) -> None:
        """SIGKILL: no clean-up of any kind."""
        assert self.process is not None
        self.process.kill()
        await self.process.wait()
        await self._stderr()

    async def stop(self) -> None:
        """SIGTERM, as an operator would."""
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.process.wait(), timeout=20)
            await self._stderr()

    async def restart_after_kill(self) -> None:
        """Kills the bot while its sends hang, lets sends through, starts it again."""
        await self.kill()
        self.release_sends()
        await self.start()

    async def _stderr(self) -> str:
        assert self.process is not None and self.process.stderr is not None
        with contextlib.suppress(TimeoutError):
            data = await asyncio.wait_for(self.process.stderr.read(), timeout=5)
            self.stderr.append(data.decode(errors="replace"))
        return "".join(self.stderr)


@contextlib.asynccontextmanager
async def crash_bot(tmp_path: Path, **raw_overrides: Any) -> AsyncIterator[CrashBot]:
    """An emulator and a bot process on a seeded SQLite file (stopped afterwards)."""
    async with BotApiEmulator(token=TOKEN, bot_username=BOT_USERNAME) as emu:
        raw = example_raw()
        raw["telegram"].update(token=TOKEN, base_url=emu.base_url, poll_timeout=1)
        raw["database"]["url"] = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
        raw["bloc"]["admins"] = [ADMIN_ID]
        raw["files"] = {"dir": str(tmp_path / "files")}
        raw["reminders"] = {"enabled": False}
        raw.update(raw_overrides)
        path = write_config(tmp_path / "config.toml", raw)
        config = load_config(path)
        emu.add_user(ADMIN_ID, "Admin")
        db = Database(config.database.url)
        await prepare_database(config, db)
        bot = CrashBot(emu, path, config, db, make_services(config, db))
        try:
            yield bot
        finally:
            bot.release_sends()
            await bot.stop()
            await db.dispose()
