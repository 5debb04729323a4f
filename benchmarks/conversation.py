"""Benchmark: many contacts fill in a six-question report at the same time.

N simulated contacts (default 500), each the contact of its own unit, go through the whole
report conversation at once, over real HTTP, against the in-repo Bot API emulator: `/baocao`,
six typed answers, then the "✅ Nộp báo cáo" button on the preview. That is 8 updates per
contact. The bot is the real one, run as `thidua run` in its own OS process as in
production (durable inbox, per-chat ordering, database-backed conversation state); the
emulator and the simulated contacts live in the benchmark's process, as Telegram and its users
live elsewhere.

For every update the latency is measured from the moment the emulator enqueues it
(`time.monotonic()` just before `send_text` / `press_button_text`) to the moment the emulator
receives the bot's reply (the `at` timestamp of the matching `sendMessage` call, i.e. after the
emulated network latency of that call). Throughput is the number of updates divided by the wall
time of the timed phase (first update enqueued to last reply received). Setting up the
database, the units, the contacts and the period is not timed. There are no admins (so no
admin notices) and scheduled reminders are off, as in the end-to-end harness: otherwise the
"period opened" reminder would go out to every contact during the timed phase.

Each (backend, latency) combination runs in a fresh child process with a fresh bot process;
the memory figure is the bot process's peak resident set (VmHWM). Both processes share this
machine's two cores. The emulator's call log is not kept during the run (a hook counts each
call and drops it); the Bot API calls per method and the getUpdates batch sizes are printed.

After each run, storage is checked: every unit must have a submitted report, version 1, with
the six answers as typed. The script exits non-zero if one is missing.

Usage (from the repository root):

    .venv/bin/python benchmarks/conversation.py [--contacts 500]
        [--backend sqlite|postgres|all] [--latency 0,0.05] [--think 0]

`--think S` makes each contact pause about S seconds before each update (between 0.5 S and
1.5 S), to measure latency at a lower offered load; by default contacts go flat out.

PostgreSQL: THIDUA_BENCH_POSTGRES_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/test);
each run uses a fresh database, dropped afterwards. It is skipped, with the reason, if
unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import logging
import math
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `tests` is not an installed package

import asyncpg  # noqa: E402
from sqlmodel import select  # noqa: E402

from bot.config import Config  # noqa: E402
from bot.emulator import BotApiEmulator  # noqa: E402
from bot.emulator.server import ApiCall  # noqa: E402
from bot.emulator.state import User  # noqa: E402
from bot.runner import prepare_database  # noqa: E402
from storage import periods  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import Contact, Submission, SubmissionVersion, Unit, utcnow  # noqa: E402
from tests.factories import TOKEN, make_config, write_config  # noqa: E402

POSTGRES_URL = os.environ.get(
    "THIDUA_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
BOT_USERNAME = "thidua_bench_bot"
QUESTIONS = 6
UPDATES_PER_CONTACT = QUESTIONS + 2  # /baocao, six answers, the submit button
SUBMIT = "✅ Nộp báo cáo"
SUBMITTED = "Đã nộp"
FIRST_USER_ID = 7_000_000
WAIT_TIMEOUT = 120.0
RESULT_PREFIX = "RESULT "

Message = dict[str, Any]
Predicate = Callable[[Message], bool]


# --- what a run produces ------------------------------------------------------------------


@dataclass
class RunResult:
    """Figures of one (backend, latency) run, as the child process reports them."""

    backend: str
    latency: float
    contacts: int
    think: float = 0.0
    updates: int = 0
    wall_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    cpu_s: float = 0.0  # the bot process's CPU time (user + system) in the timed phase
    submissions_ok: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def cpu_ms_per_update(self) -> float:
        """Bot CPU per update handled: steadier than wall time on a shared machine."""
        return 1000 * self.cpu_s / self.updates if self.updates else math.nan

    @property
    def rate(self) -> float:
        """Updates handled per second."""
        return self.updates / self.wall_s if self.wall_s else 0.0

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the latencies, in ms."""
        if not self.latencies_ms:
            return math.nan
        ordered = sorted(self.latencies_ms)
        return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)]

    @property
    def ok(self) -> bool:
        """Every contact finished and every submission is stored as expected."""
        return not self.failures and self.submissions_ok == self.contacts


# --- waiting for replies -------------------------------------------------------------------


class _CallLog(list[ApiCall]):
    """Stands in for `BotApiEmulator.calls`: hands each call to a hook instead of keeping it."""

    def __init__(self, hook: Callable[[ApiCall], None]) -> None:
        super().__init__()
        self._hook = hook

    def append(self, call: ApiCall) -> None:
        self._hook(call)


class ReplyWatcher:
    """Resolves one waiter per chat when the bot's expected message to that chat arrives.

    `BotApiEmulator.wait_for_message` wakes every waiter on every emulator change; with
    hundreds of chats waiting at once that is quadratic work in the measuring process. This
    hooks the emulator's call log instead and wakes only the chat the message went to.
    """

    def __init__(self, emu: BotApiEmulator) -> None:
        self._waiting: dict[int, tuple[Predicate, asyncio.Future[ApiCall]]] = {}
        self.unexpected: dict[int, list[str]] = {}
        self.methods: collections.Counter[str] = collections.Counter()
        self.batches: list[int] = []
        emu.calls = _CallLog(self._on_call)

    def expect(self, chat_id: int, predicate: Predicate) -> asyncio.Future[ApiCall]:
        """A future for the next sendMessage to `chat_id` whose message matches `predicate`."""
        future: asyncio.Future[ApiCall] = asyncio.get_running_loop().create_future()
        self._waiting[chat_id] = (predicate, future)
        return future

    def _on_call(self, call: ApiCall) -> None:
        self.methods[call.method] += 1
        if call.method.lower() == "getupdates" and call.response.get("ok"):
            self.batches.append(len(call.response["result"]))
        if call.method.lower() != "sendmessage" or not call.response.get("ok"):
            return
        message: Message = call.response["result"]
        chat_id = int(message["chat"]["id"])
        waiting = self._waiting.get(chat_id)
        if waiting is not None and not waiting[1].done() and waiting[0](message):
            del self._waiting[chat_id]
            waiting[1].set_result(call)
        else:
            self.unexpected.setdefault(chat_id, []).append(str(message.get("text", ""))[:120])


def has_text(fragment: str) -> Predicate:
    """Matches a message whose text contains `fragment`."""
    return lambda message: fragment in str(message.get("text", ""))


def has_button(label: str) -> Predicate:
    """Matches a message with an inline button labelled `label`."""

    def predicate(message: Message) -> bool:
        rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        return any(button.get("text") == label for row in rows for button in row)

    return predicate


# --- one contact ---------------------------------------------------------------------------


@dataclass
class ContactOutcome:
    """What one simulated contact saw."""

    latencies_ms: list[float] = field(default_factory=list)
    error: str | None = None


def answer_text(unit_code: str, number: int) -> str:
    """The answer a contact types for question `number` (checked in storage afterwards)."""
    return f"Đơn vị {unit_code} trả lời câu {number}: hoàn thành 100% kế hoạch."


async def converse(
    emu: BotApiEmulator,
    watcher: ReplyWatcher,
    user: User,
    unit_code: str,
    think: float = 0.0,
) -> ContactOutcome:
    """/baocao, six answers, submit: each step waits for the bot's reply in this chat.

    With `think` > 0 the contact pauses between 0.5 and 1.5 times `think` seconds after each
    reply (and before its first update), like a person typing; the pauses are not counted in
    the latencies.
    """
    outcome = ContactOutcome()
    pauses = random.Random(user.id)

    async def exchange(act: Callable[[], object], expected: Predicate) -> Message:
        if think > 0:
            await asyncio.sleep(think * pauses.uniform(0.5, 1.5))
        reply = watcher.expect(user.id, expected)
        sent = time.monotonic()
        act()
        call = await asyncio.wait_for(reply, WAIT_TIMEOUT)
        outcome.latencies_ms.append((call.at - sent) * 1000)
        result: Message = call.response["result"]
        return result

    step = "/baocao"
    try:
        await exchange(lambda: emu.send_text(user, "/baocao"), has_text(f"Câu 1/{QUESTIONS}."))
        preview: Message = {}
        for number in range(1, QUESTIONS + 1):
            step = f"answer {number}"
            expected = (
                has_text(f"Câu {number + 1}/{QUESTIONS}.")
                if number < QUESTIONS
                else has_button(SUBMIT)
            )
            text = answer_text(unit_code, number)
            preview = await exchange(lambda text=text: emu.send_text(user, text), expected)
        step = "submit"
        await exchange(lambda: emu.press_button_text(user, preview, SUBMIT), has_text(SUBMITTED))
    except Exception as exc:
        seen = watcher.unexpected.get(user.id, [])[-3:]
        outcome.error = f"chat {user.id}, {step}: {type(exc).__name__} {exc} (other: {seen})"
    return outcome


# --- setting up a run ------------------------------------------------------------------------


def unit_codes(contacts: int) -> list[str]:
    """One unit per contact (at least two: leader and deputy must differ)."""
    return [f"U{i:04d}" for i in range(max(contacts, 2))]


def bloc_overrides(codes: list[str]) -> dict[str, Any]:
    """[bloc] settings replacing the example's 15 units by `codes`, all in one department."""
    return {
        "departments": [{"code": "BENCH", "name": "Sở thử tải"}],
        "units": [
            {"code": code, "name": f"Đơn vị thử tải {code}", "department": "BENCH"}
            for code in codes
        ],
        "leader": codes[0],
        "deputy": codes[1],
    }


def six_questions() -> list[dict[str, Any]]:
    """The period's questions: six required long-text questions."""
    return [
        {"key": f"q{n}", "type": "long_text", "text": f"Câu hỏi {n}", "text_en": f"Question {n}"}
        for n in range(1, QUESTIONS + 1)
    ]


async def postgres_unavailable() -> str | None:
    """None if the benchmark PostgreSQL answers, else why not."""
    try:
        conn = await asyncpg.connect(_asyncpg_dsn(), timeout=3)
    except Exception as exc:
        return f"PostgreSQL not reachable at {POSTGRES_URL} ({type(exc).__name__}: {exc})"
    await conn.close()
    return None


def _asyncpg_dsn() -> str:
    return POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")


@contextlib.asynccontextmanager
async def database(backend: str, tmp: Path) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """A fresh, empty database: (url, connect_args). PostgreSQL: a new schema, dropped after."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp / 'bench.db'}", {}
        return
    # A database of its own (not a schema): the bot process gets it from the URL alone.
    name = f"thidua_bench_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(_asyncpg_dsn())
    await conn.execute(f"CREATE DATABASE {name}")
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}", {}
    finally:
        await conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
        await conn.close()


async def seed(db: Database, emu: BotApiEmulator, codes: list[str], contacts: int) -> int:
    """Binds one emulator user to each of the first `contacts` units; opens the period.

    Contacts are inserted directly rather than through invites: setup is not measured.
    Returns the period id.
    """
    async with db.session() as session:
        units = {u.code: u for u in (await session.exec(select(Unit))).all()}
        for index, code in enumerate(codes[:contacts]):
            user = emu.add_user(FIRST_USER_ID + index, f"Cán bộ {index}", last_name=code)
            session.add(
                Contact(
                    unit_id=units[code].id, telegram_user_id=user.id, full_name=f"Cán bộ {code}"
                )
            )
        now = utcnow()
        period = await periods.create_period(
            session=session,
            kind="adhoc",
            title="Báo cáo thử tải",
            year=2023,
            opens_at=now - timedelta(hours=1),
            deadline_at=now + timedelta(days=7),
            questions=six_questions(),
            late_days=30,
        )
        assert period.id is not None
        return period.id


async def verify(db: Database, period_id: int, codes: list[str]) -> tuple[int, list[str]]:
    """How many units have a version-1 submission with all six answers; what is wrong else."""
    async with db.session() as session:
        units = {u.id: u.code for u in (await session.exec(select(Unit))).all()}
        subs = (
            await session.exec(select(Submission).where(Submission.period_id == period_id))
        ).all()
        versions = {v.submission_id: v for v in (await session.exec(select(SubmissionVersion)))}
    by_code = {units[s.unit_id]: s for s in subs}
    good, problems = 0, []
    for code in codes:
        sub = by_code.get(code)
        version = versions.get(sub.id) if sub is not None and sub.id is not None else None
        expected = {f"q{n}": answer_text(code, n) for n in range(1, QUESTIONS + 1)}
        if sub is None or version is None:
            problems.append(f"{code}: no submitted version")
        elif sub.status != "submitted" or sub.version != 1 or version.version != 1:
            problems.append(f"{code}: status {sub.status}, version {sub.version}")
        elif {k: (v or {}).get("v") for k, v in version.answers.items()} != expected:
            problems.append(f"{code}: answers differ: {version.answers}")
        else:
            good += 1
    return good, problems


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (from /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_peak_rss_mb(pid: int) -> float:
    """Peak resident set size of the bot's process (VmHWM, in KiB, from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return math.nan


async def start_bot_process(
    config: Config, tmp: Path, emu: BotApiEmulator
) -> asyncio.subprocess.Process:
    """Runs the bot as `thidua run` in its own process, as in production, against the
    emulator (which, like Telegram, lives elsewhere: here, in the benchmark's process)."""
    raw = config.model_dump(mode="json", exclude={"path"}, exclude_none=True)
    raw["reports"] = {"late_days": config.reports.late_days}
    path = write_config(tmp / "config.toml", raw)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    bot = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        "--config",
        str(path),
        "--log-level",
        "WARNING",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    for _ in range(600):
        if any(call.method.lower() == "getupdates" for call in emu.calls):
            return bot
        if bot.returncode is not None:
            break
        await asyncio.sleep(0.05)
    bot.kill()
    _, errors = await bot.communicate()
    raise RuntimeError(f"the bot did not start: {errors.decode()[-1000:]}")


async def run_once(backend: str, latency: float, contacts: int, think: float = 0.0) -> RunResult:
    """Sets up a bot with `contacts` contacts, runs the timed phase, checks storage."""
    result = RunResult(backend, latency, contacts, think)
    codes = unit_codes(contacts)
    with tempfile.TemporaryDirectory(prefix="thidua-bench-") as tmp_name:
        tmp = Path(tmp_name)
        async with (
            database(backend, tmp) as (url, connect_args),
            BotApiEmulator(token=TOKEN, bot_username=BOT_USERNAME, latency=latency) as emu,
        ):
            config = make_config(
                database_url=url,
                base_url=emu.base_url,
                admins=[],
                files={"dir": str(tmp / "files")},
                reminders={"enabled": False},
                **bloc_overrides(codes),
            )
            own_db = Database(url, connect_args=connect_args)
            await prepare_database(config, own_db)
            period_id = await seed(own_db, emu, codes, contacts)
            users = [emu.state.users[FIRST_USER_ID + i] for i in range(contacts)]

            bot = await start_bot_process(config, tmp, emu)

            watcher = ReplyWatcher(emu)
            _log(f"{backend}, latency {latency * 1000:.0f} ms: {contacts} contacts start")
            begin = time.monotonic()
            cpu_before = process_cpu_seconds(bot.pid)
            outcomes = await asyncio.gather(
                *(
                    converse(emu, watcher, user, code, think)
                    for user, code in zip(users, codes, strict=False)
                )
            )
            result.wall_s = time.monotonic() - begin
            result.cpu_s = process_cpu_seconds(bot.pid) - cpu_before
            result.peak_rss_mb = process_peak_rss_mb(bot.pid)
            batches = watcher.batches or [0]
            _log(
                f"Bot API calls: {dict(watcher.methods)}; getUpdates batches: mean "
                f"{sum(batches) / len(batches):.1f}, max {max(batches)}"
            )
            bot.terminate()
            _, errors = await asyncio.wait_for(bot.communicate(), timeout=30)
            if bot.returncode not in (0, -signal.SIGTERM):
                result.failures.append(f"bot exited {bot.returncode}: {errors.decode()[-500:]}")
            for outcome in outcomes:
                result.latencies_ms.extend(outcome.latencies_ms)
                if outcome.error:
                    result.failures.append(outcome.error)
            result.updates = len(result.latencies_ms)
            result.submissions_ok, problems = await verify(own_db, period_id, codes[:contacts])
            result.failures.extend(problems[:20])
            await own_db.dispose()
    return result


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --- the command line ------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description="Simulated contacts fill in a six-question report at once."
    )
    parser.add_argument("--contacts", type=int, default=500, help="simulated contacts (500)")
    parser.add_argument(
        "--backend", choices=["sqlite", "postgres", "all"], default="all", help="database (all)"
    )
    parser.add_argument(
        "--latency",
        default="0,0.05",
        help="comma-separated emulated Bot API latencies in seconds (0,0.05)",
    )
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="seconds a contact pauses before each update, on average (0: none, flat out)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.contacts < 1:
        parser.error("--contacts must be at least 1")
    try:
        args.latencies = [float(x) for x in str(args.latency).split(",") if x.strip()]
    except ValueError:
        parser.error("--latency: expected numbers such as 0,0.05")
    return args


def run_child(backend: str, latency: float, contacts: int, think: float) -> RunResult:
    """Runs one combination in a fresh interpreter (so its peak RSS is its own)."""
    command = [
        sys.executable, str(Path(__file__).resolve()), "--child", "--backend", backend,
        "--latency", str(latency), "--contacts", str(contacts), "--think", str(think),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return RunResult(**json.loads(line.removeprefix(RESULT_PREFIX)))
    failed = RunResult(backend, latency, contacts, think)
    failed.failures.append(f"child process exited with {done.returncode} and no result")
    return failed


def table(results: Iterable[RunResult]) -> str:
    """The figures as a fixed-width table."""
    head = (
        f"{'backend':<9}{'latency':>8}{'contacts':>9}{'updates':>8}{'wall s':>8}"
        f"{'upd/s':>8}{'CPU ms/upd':>11}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'max ms':>8}"
        f"{'peak RSS MB':>12}{'subs OK':>10}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r.backend:<9}{f'{r.latency * 1000:.0f} ms':>8}{r.contacts:>9}{r.updates:>8}"
            f"{r.wall_s:>8.2f}{r.rate:>8.0f}{r.cpu_ms_per_update:>11.2f}{r.percentile(50):>8.0f}{r.percentile(95):>8.0f}"
            f"{r.percentile(99):>8.0f}{max(r.latencies_ms, default=math.nan):>8.0f}"
            f"{r.peak_rss_mb:>12.0f}{f'{r.submissions_ok}/{r.contacts}':>10}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Runs every requested (backend, latency) combination and prints the table."""
    args = parse_args(argv)
    if args.child:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        result = asyncio.run(run_once(args.backend, args.latencies[0], args.contacts, args.think))
        print(RESULT_PREFIX + json.dumps(asdict(result)), flush=True)
        return 0 if result.ok else 1

    backends = ["sqlite", "postgres"] if args.backend == "all" else [args.backend]
    if "postgres" in backends and (reason := asyncio.run(postgres_unavailable())):
        print(f"skipping PostgreSQL: {reason}", flush=True)
        backends.remove("postgres")
    results = [
        run_child(backend, latency, args.contacts, args.think)
        for backend in backends
        for latency in args.latencies
    ]
    pacing = f"pausing ~{args.think:g} s before each" if args.think > 0 else "no pauses"
    print(
        f"\n{args.contacts} contacts x {UPDATES_PER_CONTACT} updates each "
        f"(/baocao, 6 answers, submit; {pacing}).\n"
        "Latency: update enqueued -> the bot's reply (sendMessage) received by the emulator.\n"
        "The bot runs as `thidua run` in its own process; peak RSS is the bot's."
    )
    print(table(results))
    for r in results:
        for failure in r.failures[:10]:
            print(f"FAILED {r.backend} {r.latency * 1000:.0f} ms: {failure}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
