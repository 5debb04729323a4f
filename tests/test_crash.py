"""Crash safety of the outbox: kill -9 mid-broadcast, restart, every recipient served once."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from sqlmodel import select

from bot.app import make_services
from bot.config import load_config
from bot.emulator import BotApiEmulator
from bot.permissions import Caller, Role
from bot.runner import prepare_database
from bot.services.announcements import Audience, Draft, Target, publish
from storage import bloc
from storage.db import Database
from storage.models import Contact, OutboxMessage
from tests.factories import ADMIN_ID, TOKEN, example_raw, write_config

ROOT = Path(__file__).resolve().parent.parent
PER_UNIT = 4


async def _start(config: Path) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env["PYTHONPATH"] = str(ROOT)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        "--config",
        str(config),
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


def _delivered(emu: BotApiEmulator, chats: list[int]) -> int:
    return sum(1 for chat in chats if emu.sent_messages(chat))


async def test_kill_9_mid_broadcast_then_restart_serves_everyone_once(tmp_path) -> None:
    async with BotApiEmulator(token=TOKEN, bot_username="thidua_test_bot") as emu:
        raw = example_raw()
        raw["telegram"].update(token=TOKEN, base_url=emu.base_url, poll_timeout=1)
        raw["database"]["url"] = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
        raw["bloc"]["admins"] = [ADMIN_ID]
        raw["files"] = {"dir": str(tmp_path / "files")}
        raw["outbox"] = {"per_second": 20}
        raw["reminders"] = {"enabled": False}
        path = write_config(tmp_path / "config.toml", raw)
        config = load_config(path)
        emu.add_user(ADMIN_ID, "Admin")
        db = Database(config.database.url)
        await prepare_database(config, db)
        chats: list[int] = []
        async with db.session() as session:
            for unit in await bloc.list_units(session=session):
                for n in range(PER_UNIT):
                    chat = 70_000 + unit.id * 10 + n
                    emu.add_user(chat, f"C{chat}")
                    session.add(Contact(unit_id=unit.id, telegram_user_id=chat, full_name="C"))
                    chats.append(chat)
        services = make_services(config, db)

        first = await _start(path)
        try:
            await emu.wait_for_call("getUpdates", timeout=20)
            admin = Caller(ADMIN_ID, "Admin", None, Role.ADMIN, "vi")
            draft = Draft(text="<b>Thông báo</b> họp khối", target=Target(Audience.ALL))
            count = (await publish(services, actor=admin, draft=draft)).count
            assert count == len(chats) == 60
            for _ in range(400):
                if _delivered(emu, chats) >= 20:
                    break
                await asyncio.sleep(0.02)
            # Hold every new send "on the wire", let those already answered be recorded,
            # then pull the plug while some are in flight.
            emu.delays["sendMessage"] = 60.0
            await asyncio.sleep(0.5)
            before = _delivered(emu, chats)
            assert 20 <= before < len(chats)
        finally:
            first.kill()
            await first.communicate()
        emu.delays.clear()

        second = await _start(path)
        try:
            for _ in range(1000):
                if _delivered(emu, chats) == len(chats):
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.5)
        finally:
            second.terminate()
            _, err = await second.communicate()
        per_chat = {chat: len(emu.sent_messages(chat)) for chat in chats}
        assert set(per_chat.values()) == {1}, {c: n for c, n in per_chat.items() if n != 1}
        assert "mid-send at the last stop" in err.decode()
        async with db.session() as session:
            rows = (await session.exec(select(OutboxMessage))).all()
        await db.dispose()
    assert len(rows) == 60 and {r.status for r in rows} == {"sent"}
