"""Benchmark: plan and enqueue deadline reminders for 20,000 units across 4 open periods.

Setup (not timed): a fresh SQLite database (or PostgreSQL with --backend postgres) with
20,000 active units in 20 departments, one contact each, and four open report periods whose
"7 days before the deadline" slot is due at the benchmark's clock. Timed: one run of the
reminder service (`bot.services.reminders.Reminders.run_once`): planning every period's
slots, finding the units still missing, claiming the slots in `reminder_log` and writing one
outbox row per contact: 80,000 messages. A second run, which must add nothing, is timed too.

Prints wall time and the process's peak resident memory (the bot's whole process: Python,
SQLite's page cache, everything). Goal: under 2 s and under 300 MB.

Usage: .venv/bin/python benchmarks/reminders.py [--units 20000] [--periods 4]
       [--backend sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert
from sqlmodel import select

from bot.app import make_services
from bot.services.reminders import Reminders
from storage.db import Database
from storage.models import (
    Bloc,
    Contact,
    Department,
    OutboxMessage,
    ReportPeriod,
    Unit,
)
from tests.factories import FakeClock, make_config

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
POSTGRES_URL = os.environ.get(
    "THIDUA_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def local(text_: str) -> datetime:
    return datetime.fromisoformat(text_).replace(tzinfo=TZ).astimezone(UTC)


async def seed(db: Database, units: int, periods: int) -> None:
    """Departments, units, contacts and periods, inserted in bulk."""
    now = datetime.now(UTC)
    async with db.session() as session:
        await session.exec(
            insert(Bloc).values(
                name="Khối thử",
                timezone="Asia/Ho_Chi_Minh",
                current_year=2023,
                created_at=now,
                updated_at=now,
            )
        )
        await session.exec(
            insert(Department).values(
                [
                    {"bloc_id": 1, "code": f"D{d}", "name": f"Sở {d}", "active": True}
                    for d in range(20)
                ]
            )
        )
        dept_ids = (await session.exec(select(Department.id))).all()
        for start in range(0, units, 2000):
            await session.exec(
                insert(Unit).values(
                    [
                        {
                            "department_id": dept_ids[i % 20],
                            "code": f"U{i:05d}",
                            "name": f"Đơn vị {i}",
                            "short_name": "",
                            "active": True,
                            "position": i,
                            "created_at": now,
                        }
                        for i in range(start, min(units, start + 2000))
                    ]
                )
            )
        unit_ids = (await session.exec(select(Unit.id))).all()
        for start in range(0, len(unit_ids), 2000):
            await session.exec(
                insert(Contact).values(
                    [
                        {
                            "unit_id": uid,
                            "telegram_user_id": 10_000_000 + uid,
                            "full_name": f"Cán bộ {uid}",
                            "active": True,
                            "joined_at": now,
                        }
                        for uid in unit_ids[start : start + 2000]
                    ]
                )
            )
        for p in range(periods):
            session.add(
                ReportPeriod(
                    kind="six_month",
                    title=f"Kỳ {p + 1}",
                    year=2023,
                    opens_at=local("2023-06-01 09:00"),
                    deadline_at=local("2023-06-15 17:00"),
                    closes_at=local("2023-07-15 17:00"),
                    questions=[{"key": "a", "type": "long_text", "text": "A", "text_en": "A"}],
                )
            )


async def run(backend: str, units: int, periods: int) -> dict[str, float]:
    schema = None
    connect_args: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{folder}/bench.db"
        else:
            import asyncpg

            url = POSTGRES_URL
            schema = f"bench_{secrets.token_hex(4)}"
            conn = await asyncpg.connect(url.replace("+asyncpg", ""))
            await conn.execute(f"CREATE SCHEMA {schema}")
            await conn.close()
            connect_args = {"server_settings": {"search_path": schema}}
        db = Database(url, connect_args=connect_args)
        try:
            await db.upgrade()
            await seed(db, units, periods)
            config = make_config(database_url=url, admins=[1, 2])
            services = make_services(config, db)
            # 08/06 08:00 local: "7 days before" of every period is due; the opening
            # announcements (01/06) are past the grace window and only recorded as skipped.
            services.clock = FakeClock(local("2023-06-08 08:00"))
            reminders = Reminders(services)
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            started = time.perf_counter()
            report = await reminders.run_once()
            first = time.perf_counter() - started
            rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            started = time.perf_counter()
            again = await reminders.run_once()
            second = time.perf_counter() - started
            async with db.read() as session:
                rows = (await session.exec(select(func.count()).select_from(OutboxMessage))).one()
            assert report.messages == rows == units * periods, (report.messages, rows)
            assert again.messages == 0
        finally:
            await db.dispose()
            if schema:
                import asyncpg

                conn = await asyncpg.connect(url.replace("+asyncpg", ""))
                await conn.execute(f"DROP SCHEMA {schema} CASCADE")
                await conn.close()
    return {
        "messages": float(rows),
        "first_s": first,
        "second_s": second,
        "rss_before_mb": rss_before,
        "rss_peak_mb": rss_after,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=20_000)
    parser.add_argument("--periods", type=int, default=4)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    result = asyncio.run(run(args.backend, args.units, args.periods))
    print(f"reminders benchmark ({args.backend}): {args.units} units x {args.periods} periods")
    print(f"  messages enqueued        {result['messages']:>10,.0f}")
    print(f"  first run (plan+enqueue) {result['first_s']:>10.2f} s   (goal < 2 s)")
    print(f"  second run (nothing new) {result['second_s']:>10.3f} s")
    print(f"  peak RSS before the run  {result['rss_before_mb']:>10.1f} MB  (after seeding)")
    print(f"  peak RSS after the run   {result['rss_peak_mb']:>10.1f} MB  (goal < 300 MB)")


if __name__ == "__main__":
    main()
