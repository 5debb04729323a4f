"""Benchmark: fan one message out to N recipients through the dispatcher, against an emulator
that enforces Telegram's rate limit and injects faults.

Setup (not timed): a fresh SQLite database (or PostgreSQL with --backend postgres) holding N
outbox rows, one per private chat, each with a unique text; a Bot API emulator in a separate
process (so its work does not share the bot's event loop or memory) that knows the N users,
enforces `RateLimits(per_second=L)` (and one message per second per chat) and answers a
random 5 % of sends 429 (retry_after 1) and 1 % 500/502. Timed: `Dispatcher.start()` until no
row is pending or sending.

Prints wall time against the ideal (N / L), the achieved rate, messages lost (expected but
never delivered) and duplicated (delivered more than once), the faults injected, the 429s of
the emulator's rate limit (the bot's own pace), dead-lettered rows and the bot process's
peak RSS. Goals: 0 lost, 0 duplicated, achieved rate >= 95 % of L.

With --timeouts RATE a fraction of sends also time out: the client never gets an answer, and
(in --timeout-mode mixed, the default) half of those were delivered anyway ("after") and
half were not ("before"). The Bot API has no idempotency key, so a dispatcher that retries a
timed-out send duplicates the "after" half and one that does not would lose the "before"
half: duplicates are then expected and reported against the "after" timeouts.

Usage: .venv/bin/python benchmarks/fanout.py                # both default runs
       .venv/bin/python benchmarks/fanout.py --recipients 5000 --limit 300
       [--timeouts 0.005] [--timeout-mode mixed|before|after] [--backend sqlite|postgres]
       [--max-in-flight 32] [--batch 100] [--idle-poll 1.0] [--backoff-base 1.0]
       [--pace 1.0: the dispatcher's rate / the enforced limit] [--burst 1.0: the emulator's
       tolerance] [--timeline: sends per second at the emulator, by outcome] [--seed 1]

The default runs use the Dispatcher's own defaults (max_in_flight=32, batch=100,
idle_poll=1.0, backoff_base=1.0) and pace it at exactly the enforced limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telegram import Bot
from telegram.request import HTTPXRequest

from bot.dispatch import Dispatcher
from bot.emulator import BotApiEmulator, RateLimits
from bot.ratelimit import Limits
from storage import outbox
from storage.db import Database

TOKEN = "123456:ABC-bench"
FIRST_CHAT = 10_000_000
DEFAULT_RUNS = ((5000, 300.0), (600, 30.0))
POSTGRES_URL = os.environ.get(
    "THIDUA_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def text_for(i: int) -> str:
    return f"Thông báo #{i}: khối thi đua họp lúc 8:00 thứ Hai."


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- the emulator, in its own process ----------------------------------------------------------


def serve_emulator(conn: Any, config: dict[str, Any]) -> None:
    """Child process: run the emulator until told to stop, then send back its accounting."""
    asyncio.run(_serve(conn, config))


async def _serve(conn: Any, config: dict[str, Any]) -> None:
    limits = RateLimits(per_second=config["limit"], per_chat_per_second=1.0,
                        per_group_per_minute=20.0, burst=config["burst"])  # fmt: skip
    async with BotApiEmulator(token=TOKEN, limits=limits) as emu:
        for i in range(config["recipients"]):
            emu.add_user(FIRST_CHAT + i, f"Cán bộ {i}")
        emu.faults.random(
            rate_429=config["rate_429"],
            retry_after=1,
            rate_5xx=config["rate_5xx"],
            rate_timeout=config["timeouts"],
            methods=("sendMessage",),
            seed=config["seed"],
            timeout_mode=config["timeout_mode"],
            timeout_seconds=config["timeout_seconds"],
        )
        conn.send(emu.base_url)
        cpu_before = cpu_seconds()
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # "stop"
        sends = emu.calls_to("sendMessage")
        timeline: dict[int, Counter[str]] = {}
        for call in sends:
            second = int(call.at - sends[0].at)
            outcome = call.fault or ("ok" if call.response["ok"] else "error")
            timeline.setdefault(second, Counter())[outcome] += 1
        conn.send({
            "delivered": [[chat, text, n] for (chat, text), n in emu.delivered_counts().items()],
            "injected": dict(emu.faults.injected),
            "limit_hits": dict(emu.limit_hits),
            "send_calls": len(sends),
            "timeline": {second: dict(counts) for second, counts in timeline.items()},
            "first_send": sends[0].at if sends else 0.0,
            "last_send": sends[-1].at if sends else 0.0,
            "rss_mb": peak_rss_mb(),
            "cpu_s": cpu_seconds() - cpu_before,
        })  # fmt: skip


# -- the bot side ------------------------------------------------------------------------------


async def open_database(backend: str, folder: str) -> tuple[Database, str | None]:
    if backend == "sqlite":
        return Database(f"sqlite+aiosqlite:///{folder}/fanout.db"), None
    import asyncpg

    schema = f"bench_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""), timeout=3)
    try:
        await conn.execute(f"CREATE SCHEMA {schema}")
    finally:
        await conn.close()
    db = Database(POSTGRES_URL, connect_args={"server_settings": {"search_path": schema}})
    return db, schema


async def drop_schema(schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))
    try:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
    finally:
        await conn.close()


async def postgres_unavailable() -> str | None:
    import asyncpg

    try:
        conn = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""), timeout=3)
    except Exception as exc:
        return f"PostgreSQL not reachable at {POSTGRES_URL} ({type(exc).__name__})"
    await conn.close()
    return None


async def enqueue(db: Database, recipients: int) -> None:
    rows = [
        {"chat_id": FIRST_CHAT + i, "text": text_for(i), "source": "fanout"}
        for i in range(recipients)
    ]
    for start in range(0, recipients, 1000):
        async with db.session() as session:
            await outbox.enqueue_bulk(session=session, rows=rows[start : start + 1000])


async def unfinished(db: Database) -> int:
    async with db.read() as session:
        counts = await outbox.counts(session=session)
    return counts.get("pending", 0) + counts.get("sending", 0)


async def wait_until_drained(
    db: Database, dispatcher: Dispatcher, rows: int, deadline: float
) -> None:
    """Wait until every row reached a final state (sent, failed or dead): watch the
    dispatcher's counters (cheap, every 10 ms), then confirm in the database."""
    while time.perf_counter() < deadline:
        stats = dispatcher.stats
        if stats["sent"] + stats["failed"] + stats["dead"] >= rows and not await unfinished(db):
            return
        await asyncio.sleep(0.01)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    config = {
        "recipients": args.recipients, "limit": args.limit, "burst": args.burst,
        "rate_429": args.rate_429, "rate_5xx": args.rate_5xx, "timeouts": args.timeouts,
        "timeout_mode": args.timeout_mode, "timeout_seconds": args.timeout_seconds,
        "seed": args.seed,
    }  # fmt: skip
    ctx = multiprocessing.get_context("spawn")
    parent_end, child_end = ctx.Pipe()
    emulator = ctx.Process(target=serve_emulator, args=(child_end, config), daemon=True)
    emulator.start()
    loop = asyncio.get_running_loop()
    base_url: str = await loop.run_in_executor(None, parent_end.recv)
    schema = None
    with tempfile.TemporaryDirectory() as folder:
        db, schema = await open_database(args.backend, folder)
        try:
            await db.upgrade()
            await enqueue(db, args.recipients)
            request = HTTPXRequest(
                connection_pool_size=args.max_in_flight + 8, read_timeout=args.read_timeout
            )
            bot = Bot(TOKEN, base_url=f"{base_url}/bot", request=request)
            async with bot:
                dispatcher = Dispatcher(
                    bot,
                    db,
                    limits=Limits(
                        per_second=args.limit * args.pace, private_interval=1.0, group_interval=3.0
                    ),
                    max_in_flight=args.max_in_flight,
                    batch=args.batch,
                    idle_poll=args.idle_poll,
                    backoff_base=args.backoff_base,
                )
                deadline = time.perf_counter() + args.max_wall
                started, cpu_before = time.perf_counter(), cpu_seconds()
                await dispatcher.start()
                await wait_until_drained(db, dispatcher, args.recipients, deadline)
                wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu_before
                await dispatcher.stop()
            async with db.read() as session:
                statuses = await outbox.counts(session=session)
        finally:
            await db.dispose()
            if schema:
                await drop_schema(schema)
    parent_end.send("stop")
    report: dict[str, Any] = await loop.run_in_executor(None, parent_end.recv)
    emulator.join(10)

    delivered = Counter({(chat, text): n for chat, text, n in report.pop("delivered")})
    expected = {(FIRST_CHAT + i, text_for(i)) for i in range(args.recipients)}
    lost = sum(1 for key in expected if delivered[key] == 0)
    duplicated = sum(n - 1 for key, n in delivered.items() if n > 1)
    unexpected = sum(n for key, n in delivered.items() if key not in expected)
    injected = Counter(report.pop("injected"))
    limit_hits = Counter(report.pop("limit_hits"))
    send_span = report["last_send"] - report["first_send"]
    return {
        "backend": args.backend, "recipients": args.recipients, "limit": args.limit,
        "wall_s": wall, "ideal_s": args.recipients / args.limit,
        "rate": (args.recipients - lost) / wall,
        "send_span_s": send_span, "send_calls": report["send_calls"],
        "lost": lost, "duplicated": duplicated, "unexpected": unexpected,
        "injected_429": injected["429"], "injected_5xx": injected["5xx"],
        "timeouts_before": injected["timeout_before"], "timeouts_after": injected["timeout_after"],
        "limiter_429": limit_hits.total(), "limiter_scopes": dict(limit_hits),
        "dead": statuses.get("dead", 0), "failed": statuses.get("failed", 0),
        "unfinished": statuses.get("pending", 0) + statuses.get("sending", 0),
        "throttled": dispatcher.stats["throttled"], "retried": dispatcher.stats["retried"],
        "timeline": report["timeline"],
        "rss_mb": peak_rss_mb(), "emulator_rss_mb": report["rss_mb"],
        "cpu_s": cpu, "emulator_cpu_s": report["cpu_s"],
    }  # fmt: skip


# -- reporting -----------------------------------------------------------------------------------

ROWS: list[tuple[str, str]] = [
    ("recipients", "{recipients:,}"),
    ("limit (msg/s)", "{limit:g}"),
    ("wall s", "{wall_s:.2f}"),
    ("ideal s (recipients / limit)", "{ideal_s:.2f}"),
    ("achieved rate (msg/s)", "{rate:.1f}"),
    ("  % of the limit (goal >= 95)", "{pct:.1f}"),
    ("lost (goal 0)", "{lost}"),
    ("duplicated (goal 0)", "{duplicated}"),
    ("injected 429", "{injected_429}"),
    ("injected 5xx", "{injected_5xx}"),
    ("injected timeouts before/after", "{timeouts_before}/{timeouts_after}"),
    ("limiter 429s (the bot's own pace)", "{limiter_429}"),
    ("dead-lettered rows", "{dead}"),
    ("failed / unfinished rows", "{failed}/{unfinished}"),
    ("sendMessage calls", "{send_calls:,}"),
    ("first to last send at the emulator s", "{send_span_s:.2f}"),
    ("dispatcher throttled/retried", "{throttled}/{retried}"),
    ("CPU s, bot process (during the run)", "{cpu_s:.1f}"),
    ("CPU s, emulator process", "{emulator_cpu_s:.1f}"),
    ("peak RSS, bot process (MB)", "{rss_mb:.1f}"),
    ("peak RSS, emulator process (MB)", "{emulator_rss_mb:.1f}"),
]


def print_table(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    faults = f"{args.rate_429:.0%} 429 (retry_after 1), {args.rate_5xx:.0%} 5xx"
    if args.timeouts:
        faults += f", {args.timeouts:.1%} timeouts ({args.timeout_mode})"
    print(f"fanout benchmark ({results[0]['backend']}): faults {faults}; "
          f"max_in_flight={args.max_in_flight} batch={args.batch} idle_poll={args.idle_poll} "
          f"backoff_base={args.backoff_base} burst={args.burst} pace={args.pace} "
          f"seed={args.seed}")  # fmt: skip
    width = max(len(label) for label, _ in ROWS)
    for label, template in ROWS:
        cells = [template.format(**r, pct=100 * r["rate"] / r["limit"]) for r in results]
        print(f"  {label:<{width}}  " + "  ".join(f"{c:>12}" for c in cells))
    for r in results:
        if r["limiter_scopes"]:
            print(f"  limiter 429s by scope ({r['recipients']} @ {r['limit']:g}/s): "
                  f"{r['limiter_scopes']}")  # fmt: skip
        if r["timeouts_after"] and r["duplicated"]:
            print(
                f"  duplicates vs timeouts 'after' ({r['recipients']} @ {r['limit']:g}/s): "
                f"{r['duplicated']} of {r['timeouts_after']} (delivered, answer lost, retried)"
            )
        if r["unexpected"]:
            print(f"  unexpected deliveries: {r['unexpected']}")
        if args.timeline:
            print(f"  sendMessage calls per second at the emulator ({r['recipients']} @ "
                  f"{r['limit']:g}/s): second: outcome counts")  # fmt: skip
            for second, counts in sorted(r["timeline"].items(), key=lambda kv: int(kv[0])):
                print(f"    {int(second):>4}: {sum(counts.values()):>4}  {counts}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, help="default: both runs, 5000@300 and 600@30")
    parser.add_argument("--limit", type=float, default=300.0, help="messages per second")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rate-429", type=float, default=0.05)
    parser.add_argument("--rate-5xx", type=float, default=0.01)
    parser.add_argument("--timeouts", type=float, default=0.0, help="e.g. 0.005")
    parser.add_argument("--timeout-mode", choices=["before", "after", "mixed"], default="mixed")
    parser.add_argument("--timeout-seconds", type=float, default=10.0,
                        help="how long the emulator withholds a timed-out answer")  # fmt: skip
    parser.add_argument("--read-timeout", type=float, default=5.0, help="the client's")
    parser.add_argument("--burst", type=float, default=1.0, help="emulator limit tolerance")
    parser.add_argument(
        "--pace", type=float, default=1.0, help="the dispatcher's rate / the enforced limit"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-in-flight", type=int, default=32)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--idle-poll", type=float, default=1.0)
    parser.add_argument("--backoff-base", type=float, default=1.0)
    parser.add_argument("--max-wall", type=float, default=900.0, help="give up after (s)")
    parser.add_argument("--timeline", action="store_true", help="sends per second, by outcome")
    parser.add_argument("--json", action="store_true", help="print one JSON result line")
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    if args.backend == "postgres" and (reason := asyncio.run(postgres_unavailable())):
        print(f"skipped: {reason}")
        return
    if args.recipients is not None:
        result = asyncio.run(run(args))
        if args.json:
            print(json.dumps(result))
        else:
            print_table([result], args)
        return
    # Both default runs, each in a fresh process so that peak RSS is the run's own.
    results = []
    passthrough = [a for a in sys.argv[1:] if a != "--json"]
    for recipients, limit in DEFAULT_RUNS:
        command = [sys.executable, __file__, *passthrough, "--recipients", str(recipients),
                   "--limit", str(limit), "--json"]  # fmt: skip
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(output.strip().splitlines()[-1]))
    print_table(results, args)


if __name__ == "__main__":
    main()
