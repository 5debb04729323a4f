"""Reminders end to end: time moves, messages arrive at the emulator, never twice."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import select

from bot.config import load_config
from bot.emulator import BotApiEmulator
from bot.runner import prepare_database
from handlers.keyboards import button_label
from storage import bloc, periods
from storage import reminders as reminder_store
from storage.db import Database
from storage.models import Contact, OutboxMessage
from tests.factories import ADMIN_ID, TOKEN, FakeClock, example_raw, write_config
from tests.harness import Harness, running_bot

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
ROOT = Path(__file__).resolve().parent.parent
FAST_TICK = {"tick_seconds": 0.1, "enabled": True}


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ).astimezone(UTC)


async def _period(bot: Harness, opens: str, deadline: str, title: str = "Sơ kết 6 tháng") -> int:
    async with bot.db.session() as session:
        period = await periods.create_period(
            session=session,
            kind="six_month",
            title=title,
            year=2023,
            opens_at=local(opens),
            deadline_at=local(deadline),
            questions=[{"key": "a", "type": "long_text", "text": "Nội dung", "text_en": "Text"}],
            late_days=30,
        )
    return period.id


async def test_reminders_arrive_as_time_moves_and_open_the_report(tmp_path) -> None:
    clock = FakeClock(local("2023-06-05 07:00"))
    async with running_bot(tmp_path, clock=clock, reminders=FAST_TICK) as bot:
        lan = bot.user(3001, "Lan")
        await bot.join(lan, "GT-02")
        await _period(bot, "2023-06-05 09:30", "2023-06-15 17:00")
        mark = bot.emu.mark(lan.id)
        clock.set_local("2023-06-05 09:31")
        opened = await bot.emu.wait_for_message(lan.id, after=mark, contains="đã mở")
        assert "15/06/2023 17:00" in opened["text"]
        mark = bot.emu.mark(lan.id)
        clock.set_local("2023-06-08 08:00")
        week = await bot.emu.wait_for_message(lan.id, after=mark, contains="Còn 7 ngày")
        question = await bot.press(lan, week, "📝 Báo cáo ngay")
        assert "Câu 1/1." in question["text"]
        await asyncio.sleep(0.5)  # further ticks at the same time send nothing more
        texts = [m["text"] for m in bot.emu.sent_messages(lan.id)]
        assert sum("Còn 7 ngày" in t for t in texts) == 1


async def test_a_restart_across_a_reminder_time_sends_it_exactly_once(tmp_path) -> None:
    clock = FakeClock(local("2023-06-08 07:00"))
    async with running_bot(tmp_path, clock=clock, reminders=FAST_TICK) as bot:
        lan = bot.user(3002, "Lan")
        await bot.join(lan, "GT-03")
        await _period(bot, "2023-06-01 09:30", "2023-06-15 17:00")
        await asyncio.sleep(0.3)
        assert not any("Còn" in m["text"] for m in bot.emu.sent_messages(lan.id))
    # Down across 08:00; back at 10:00, within the 12-hour grace window.
    clock.set_local("2023-06-08 10:00")
    counts = []
    for run in range(2):
        async with running_bot(
            tmp_path, clock=clock, reminders=FAST_TICK, first_update_id=1000 * (run + 1)
        ) as bot:
            bot.user(3002, "Lan")
            if run == 0:
                await bot.emu.wait_for_message(3002, contains="Còn 7 ngày")
            await asyncio.sleep(0.4)
            counts.append(sum("Còn 7 ngày" in m["text"] for m in bot.emu.sent_messages(3002)))
    assert counts == [1, 0]


async def test_admin_reminds_now_with_nhac(tmp_path) -> None:
    clock = FakeClock(local("2023-06-10 10:00"))
    async with running_bot(tmp_path, clock=clock, reminders=FAST_TICK) as bot:
        lan = bot.user(3003, "Lan")
        await bot.join(lan, "GT-04")
        await _period(bot, "2023-06-09 09:00", "2023-06-30 17:00")
        menu = await bot.say(bot.admin, "/nhac", contains="chưa nộp")
        assert "15 đơn vị chưa nộp" in menu["text"]
        mark = bot.emu.mark(lan.id)
        done = await bot.press(bot.admin, menu, "🔔 Nhắc tất cả (15)")
        assert "Đã gửi lời nhắc tới 15 đơn vị" in done["text"]
        reminder = await bot.emu.wait_for_message(lan.id, after=mark, contains="nhắc")
        assert "30/06/2023 17:00" in reminder["text"]
        assert reminder["reply_markup"]["inline_keyboard"][0][0]["text"] == "📝 Báo cáo ngay"


async def test_two_processes_on_one_database_send_each_reminder_once(tmp_path) -> None:
    async with BotApiEmulator(token=TOKEN, bot_username="thidua_test_bot") as emu:
        raw = example_raw()
        raw["telegram"].update(token=TOKEN, base_url=emu.base_url)
        raw["database"]["url"] = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
        raw["bloc"]["admins"] = [ADMIN_ID]
        raw["files"] = {"dir": str(tmp_path / "files")}
        config_path = write_config(tmp_path / "config.toml", raw)
        emu.add_user(ADMIN_ID, "Admin")
        db = Database(raw["database"]["url"])
        await prepare_database(load_config(config_path), db)
        async with db.session() as session:
            units = await bloc.list_units(session=session)
            for n, unit in enumerate(units):
                emu.add_user(4000 + n, f"C{n}")
                session.add(Contact(unit_id=unit.id, telegram_user_id=4000 + n, full_name=f"C{n}"))
            await periods.create_period(
                session=session,
                kind="six_month",
                title="Kỳ chung",
                year=2023,
                opens_at=local("2023-06-01 09:00"),
                deadline_at=local("2023-06-15 17:00"),
                questions=[{"key": "a", "type": "long_text", "text": "A", "text_en": "A"}],
                late_days=30,
            )
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        now = local("2023-06-08 08:05").isoformat()
        workers = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.reminder_worker",
                str(config_path),
                now,
                env=env,
                cwd=ROOT,
                stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(2)
        ]
        results = [await asyncio.wait_for(w.communicate(), timeout=60) for w in workers]
        assert [w.returncode for w in workers] == [0, 0], results
        per_chat = {4000 + n: len(emu.sent_messages(4000 + n)) for n in range(len(units))}
        assert set(per_chat.values()) == {1}, per_chat  # 15 contacts, one message each
        async with db.session() as session:
            rows = (await session.exec(select(OutboxMessage))).all()
        await db.dispose()
    assert len(rows) == 15 and all(r.status == "sent" for r in rows)


def _labels(message: dict) -> list[str]:
    return [b["text"] for row in message["reply_markup"]["inline_keyboard"] for b in row]


async def test_nhac_picks_a_unit_past_the_first_page(tmp_path) -> None:
    clock = FakeClock(local("2023-06-10 10:00"))
    async with running_bot(tmp_path, clock=clock) as bot:
        async with bot.db.read() as session:
            last = (await reminder_store.active_units(session=session))[-1]
        label = button_label(last.name)
        lan = bot.user(3004, "Lan")
        await bot.join(lan, last.code)
        await _period(bot, "2023-06-09 09:00", "2023-06-30 17:00")
        menu = await bot.say(bot.admin, "/nhac", contains="chưa nộp")
        assert label not in _labels(menu) and "1/2" in _labels(menu)
        second = await bot.press(bot.admin, menu, "›")
        assert "2/2" in _labels(second) and label in _labels(second)
        back = await bot.press(bot.admin, second, "‹")
        assert "1/2" in _labels(back)
        second = await bot.press(bot.admin, back, "›")
        mark = bot.emu.mark(lan.id)
        done = await bot.press(bot.admin, second, label)
        assert "Đã gửi lời nhắc tới 1 đơn vị" in done["text"]
        reminder = await bot.emu.wait_for_message(lan.id, after=mark, contains="nhắc")
        assert "30/06/2023 17:00" in reminder["text"]
