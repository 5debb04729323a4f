"""Memory: the bot's resident set after start-up, and over rounds of simple updates.

Starts the real bot (`python -m bot.cli run`, its own OS process, as `tests/process.py`
does) on a fresh SQLite file against the in-repo Bot API emulator, waits for its first
getUpdates, and prints VmRSS (and VmHWM, the peak) from /proc/<pid>/status. Then, for
each round, the admin sends `--updates` plain `/start` commands and the script waits for
every reply before reading VmRSS again, so that a leak shows as a rising column. The size of
the SQLite file (with its WAL) is printed beside it: SQLite's page cache (2 MB per connection
by default) grows with the pages the bot touches until it is full.

Usage (from the repository root; Linux only, it reads /proc):

    .venv/bin/python benchmarks/memory.py [--rounds 8] [--updates 50]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `tests` is not an installed package

from tests.factories import ADMIN_ID  # noqa: E402
from tests.process import crash_bot  # noqa: E402


def database_mb(path: Path) -> float:
    """The SQLite file and its write-ahead log, in MB."""
    files = [path, path.with_name(path.name + "-wal")]
    return sum(f.stat().st_size for f in files if f.exists()) / 1e6


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process, in MB (10^6 bytes)."""
    figures: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            figures[key] = int(value.split()[0]) * 1024 / 1e6
    return figures


async def measure(rounds: int, updates: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with crash_bot(Path(tmp)) as bot:
            await bot.start()
            assert bot.process is not None
            pid = bot.process.pid
            database = Path(tmp) / "bot.db"
            await asyncio.sleep(0.5)  # let start-up settle (command menus, replay)
            start = memory_mb(pid)
            print(f"after start-up: VmRSS {start['VmRSS']:.1f} MB, VmHWM {start['VmHWM']:.1f} MB")
            for number in range(1, rounds + 1):
                for _ in range(updates):
                    mark = bot.emu.mark(ADMIN_ID)
                    bot.emu.send_text(ADMIN_ID, "/start")
                    await bot.emu.wait_for_message(ADMIN_ID, after=mark, timeout=30)
                now = memory_mb(pid)
                print(
                    f"round {number} ({updates} updates): VmRSS {now['VmRSS']:.1f} MB, "
                    f"VmHWM {now['VmHWM']:.1f} MB, database {database_mb(database):.2f} MB"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--updates", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(measure(args.rounds, args.updates))


if __name__ == "__main__":
    main()
