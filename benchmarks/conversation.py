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

After each round, storage is checked: every unit must have a submitted report, version 1,
with the six answers as typed. The script exits non-zero if one is missing.

The peer (issue 9): the same run also drives `benchmarks/peer/bot.py`, a plain
python-telegram-bot bot (`/report`, six answers, one aiosqlite upsert each, a submit button,
per-chat locks, nothing else durable), in its own process against the same emulator with the
same contacts, pacing and latency: 8 updates per contact too. It runs once with PTB's default
httpx request and once with this project's aiohttp request class (`bot.request`, skipped
with the reason when absent). The table prints the rows side by side and the ratio of CPU ms
per update, this bot / the peer, at each latency. Its answers are checked as well.

Usage (from the repository root):

    .venv/bin/python benchmarks/conversation.py [--contacts 500]
        [--backend sqlite|postgres|all] [--latency 0,0.05] [--think 0 | --rate 0]
        [--rounds 1] [--peer httpx,aiohttp|none] [--http-client aiohttp|httpx]

`--think S` makes each contact pause about S seconds before each update (between 0.5 S and
1.5 S), to measure latency at a lower offered load; by default contacts go flat out.
`--rate R` offers about R updates/s in all: each contact sends its next update on its own
schedule (gaps of 0.5 to 1.5 times contacts / R seconds, like people answering at their own
pace), or at once when the reply comes later than that; the achieved offered rate (updates /
time from the first send to the last) is printed next to the throughput.
`--rounds N` repeats the timed phase N times against the same bot process: before each
round after the first, the round's period is closed and a new one opened, and the same
contacts report again. The bot's resident set (VmRSS) is printed right after start-up
(before any update) and after each round, so that a leak shows.
`--http-client` sets this bot's `[telegram] http_client` (where the setting exists); each
row names the HTTP client its bot used, and a ratio on the same client says so.

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
import sqlite3
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

from bot.config import Config, TelegramConfig  # noqa: E402
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
PEER_DB = "peer.db"
PEER_REQUESTS = ("httpx", "aiohttp")

Message = dict[str, Any]
Predicate = Callable[[Message], bool]


# --- what a run produces ------------------------------------------------------------------


@dataclass(frozen=True)
class Script:
    """What a contact sends and which reply it waits for, per bot."""

    start: str  # the command that starts the report
    question: str  # "...{n}..." : the text of the reply asking question n
    submit: str  # the preview's button
    submitted: str  # a fragment of the reply to the button

    def asks(self, number: int) -> str:
        """The fragment of the reply that asks question `number`."""
        return self.question.format(n=number)


THIS_BOT = Script("/baocao", f"Câu {{n}}/{QUESTIONS}.", SUBMIT, SUBMITTED)
PEER_BOT = Script("/report", f"Question {{n}}/{QUESTIONS}.", "Submit", "Submitted")


@dataclass
class RunResult:
    """Figures of one (backend, latency) run, as the child process reports them."""

    backend: str  # sqlite | postgres | peer-httpx | peer-aiohttp
    latency: float
    contacts: int
    think: float = 0.0
    offered: float = 0.0  # --rate: updates/s asked for (0: not paced by rate)
    rounds: int = 1
    client: str = ""  # the HTTP client (PTB request class): asked for, then the one used
    updates: int = 0
    wall_s: float = 0.0  # the timed phases together
    send_span_s: float = 0.0  # first update sent to last update sent, summed over rounds
    latencies_ms: list[float] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    start_rss_mb: float = 0.0  # VmRSS once the bot polls, before any update
    round_rss_mb: list[float] = field(default_factory=list)  # VmRSS after each round
    round_cpu_ms: list[float] = field(default_factory=list)  # CPU ms per update, per round
    round_rate: list[float] = field(default_factory=list)  # updates/s, per round
    cpu_s: float = 0.0  # the bot process's CPU time (user + system) in the timed phases
    submissions_ok: int = 0  # contacts x rounds when all is well
    failures: list[str] = field(default_factory=list)

    @property
    def is_peer(self) -> bool:
        """A row of the plain PTB peer bot."""
        return self.backend.startswith("peer")

    @property
    def label(self) -> str:
        """The row's name: whose bot, which database, which HTTP client."""
        if self.is_peer:
            return f"peer/{self.client}"
        return f"this/{self.backend}/{self.client or '?'}"

    @property
    def offered_rate(self) -> float:
        """Updates sent per second, first send to last (what the contacts really offered)."""
        return self.updates / self.send_span_s if self.send_span_s else math.nan

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
        return not self.failures and self.submissions_ok == self.contacts * self.rounds


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


@dataclass(frozen=True)
class Pacing:
    """How contacts space their updates: flat out, thinking after each reply, or by rate."""

    think: float = 0.0  # mean pause after each reply (0: none)
    gap: float = 0.0  # --rate: mean time between one contact's sends (contacts / rate)
    round: int = 0  # varies the random pauses from round to round


@dataclass
class ContactOutcome:
    """What one simulated contact saw."""

    latencies_ms: list[float] = field(default_factory=list)
    sent: list[float] = field(default_factory=list)  # monotonic time of each update
    error: str | None = None


def answer_text(unit_code: str, number: int) -> str:
    """The answer a contact types for question `number` (checked in storage afterwards)."""
    return f"Đơn vị {unit_code} trả lời câu {number}: hoàn thành 100% kế hoạch."


async def converse(
    emu: BotApiEmulator,
    watcher: ReplyWatcher,
    user: User,
    unit_code: str,
    pacing: Pacing = Pacing(),
    script: Script = THIS_BOT,
) -> ContactOutcome:
    """Start, six answers, submit: each step waits for the bot's reply in this chat.

    With `pacing.think` > 0 the contact pauses between 0.5 and 1.5 times `think` seconds
    after each reply (and before its first update), like a person typing. With `pacing.gap`
    > 0 it sends on its own schedule instead: the first update within one gap of the start,
    each next one 0.5 to 1.5 gaps after the previous send, or as soon as the reply is there
    if that is later. The pauses are not counted in the latencies.
    """
    outcome = ContactOutcome()
    pauses = random.Random(user.id * 1000 + pacing.round)
    next_at = time.monotonic() + pauses.uniform(0, pacing.gap)

    async def exchange(act: Callable[[], object], expected: Predicate) -> Message:
        nonlocal next_at
        if pacing.think > 0:
            await asyncio.sleep(pacing.think * pauses.uniform(0.5, 1.5))
        elif pacing.gap > 0 and (wait := next_at - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        reply = watcher.expect(user.id, expected)
        sent = time.monotonic()
        next_at = max(next_at, sent) + pacing.gap * pauses.uniform(0.5, 1.5)
        outcome.sent.append(sent)
        act()
        call = await asyncio.wait_for(reply, WAIT_TIMEOUT)
        outcome.latencies_ms.append((call.at - sent) * 1000)
        result: Message = call.response["result"]
        return result

    step = script.start
    try:
        await exchange(lambda: emu.send_text(user, script.start), has_text(script.asks(1)))
        preview: Message = {}
        for number in range(1, QUESTIONS + 1):
            step = f"answer {number}"
            expected = (
                has_text(script.asks(number + 1))
                if number < QUESTIONS
                else has_button(script.submit)
            )
            text = answer_text(unit_code, number)
            preview = await exchange(lambda text=text: emu.send_text(user, text), expected)
        step = "submit"
        await exchange(
            lambda: emu.press_button_text(user, preview, script.submit),
            has_text(script.submitted),
        )
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
    return await new_period(db)


async def new_period(db: Database, previous: int | None = None) -> int:
    """Opens a period (closing `previous` first, so that one period is open); its id."""
    async with db.session() as session:
        now = utcnow()
        if previous is not None:
            old = await periods.get_period(session=session, period_id=previous)
            assert old is not None
            await periods.close_period(session=session, period=old, now=now, actor_user_id=None)
        period = await periods.create_period(
            session=session,
            kind="adhoc",
            title=f"Báo cáo thử tải {now:%H%M%S%f}",
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
    return _status_mb(pid, "VmHWM:")


def process_rss_mb(pid: int) -> float:
    """Resident set size of the bot's process now (VmRSS, from /proc)."""
    return _status_mb(pid, "VmRSS:")


def _status_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
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
    return await polling(bot, emu)


async def start_peer_process(
    request: str, tmp: Path, emu: BotApiEmulator
) -> asyncio.subprocess.Process:
    """Runs the plain PTB peer bot (`benchmarks/peer/bot.py`) in its own process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    peer = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.peer.bot", "--token", TOKEN,
        "--base-url", emu.base_url, "--db", str(tmp / PEER_DB), "--request", request,
        cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    return await polling(peer, emu)


async def polling(
    bot: asyncio.subprocess.Process, emu: BotApiEmulator
) -> asyncio.subprocess.Process:
    """`bot` once it has asked for updates (started up); raises if it died first."""
    for _ in range(600):
        if any(call.method.lower() == "getupdates" for call in emu.calls):
            return bot
        if bot.returncode is not None:
            break
        await asyncio.sleep(0.05)
    bot.kill()
    _, errors = await bot.communicate()
    raise RuntimeError(f"the bot did not start: {errors.decode()[-1000:]}")


def pacing_of(result: RunResult, round_: int) -> Pacing:
    """The contacts' pacing for one round of `result`'s run."""
    gap = result.contacts / result.offered if result.offered > 0 else 0.0
    return Pacing(think=result.think, gap=gap, round=round_)


async def timed_round(
    result: RunResult,
    pid: int,
    emu: BotApiEmulator,
    watcher: ReplyWatcher,
    talks: list[tuple[User, str]],
    round_: int,
    script: Script,
) -> None:
    """One timed phase: every contact converses at once; adds its figures to `result`."""
    begin = time.monotonic()
    cpu_before = process_cpu_seconds(pid)
    pacing = pacing_of(result, round_)
    outcomes = await asyncio.gather(
        *(converse(emu, watcher, user, code, pacing, script) for user, code in talks)
    )
    wall = time.monotonic() - begin
    cpu = process_cpu_seconds(pid) - cpu_before
    updates = sum(len(o.latencies_ms) for o in outcomes)
    sent = [t for o in outcomes for t in o.sent]
    result.wall_s += wall
    result.cpu_s += cpu
    result.send_span_s += max(sent) - min(sent) if sent else 0.0
    result.round_rss_mb.append(process_rss_mb(pid))
    result.round_cpu_ms.append(1000 * cpu / updates if updates else math.nan)
    result.round_rate.append(updates / wall if wall else 0.0)
    for outcome in outcomes:
        result.latencies_ms.extend(outcome.latencies_ms)
        if outcome.error:
            result.failures.append(f"round {round_ + 1}: {outcome.error}")
    result.updates = len(result.latencies_ms)
    _log(
        f"{result.backend}, latency {result.latency * 1000:.0f} ms, round {round_ + 1}: "
        f"{updates} updates in {wall:.2f} s, {result.round_cpu_ms[-1]:.2f} CPU ms/update, "
        f"RSS {result.round_rss_mb[-1]:.1f} MB"
    )


async def stop_process(result: RunResult, bot: asyncio.subprocess.Process) -> None:
    """SIGTERM; a failure unless the process ends cleanly."""
    bot.terminate()
    _, errors = await asyncio.wait_for(bot.communicate(), timeout=30)
    if bot.returncode not in (0, -signal.SIGTERM):
        result.failures.append(f"bot exited {bot.returncode}: {errors.decode()[-500:]}")


def _log_calls(watcher: ReplyWatcher) -> None:
    batches = watcher.batches or [0]
    _log(
        f"Bot API calls: {dict(watcher.methods)}; getUpdates batches: mean "
        f"{sum(batches) / len(batches):.1f}, max {max(batches)}"
    )


async def run_peer_once(result: RunResult) -> RunResult:
    """The same conversation against the plain PTB peer bot; checks its answers each round."""
    request = result.client = result.backend.removeprefix("peer-")
    codes = unit_codes(result.contacts)[: result.contacts]
    with tempfile.TemporaryDirectory(prefix="thidua-bench-peer-") as tmp_name:
        tmp = Path(tmp_name)
        async with BotApiEmulator(
            token=TOKEN, bot_username=BOT_USERNAME, latency=result.latency
        ) as emu:
            users = [
                emu.add_user(FIRST_USER_ID + i, f"Cán bộ {i}", last_name=code)
                for i, code in enumerate(codes)
            ]
            peer = await start_peer_process(request, tmp, emu)
            result.start_rss_mb = process_rss_mb(peer.pid)
            watcher = ReplyWatcher(emu)
            _log(f"{result.backend}, latency {result.latency * 1000:.0f} ms: start")
            for round_ in range(result.rounds):
                talks = list(zip(users, codes, strict=True))
                await timed_round(result, peer.pid, emu, watcher, talks, round_, PEER_BOT)
                good, problems = verify_peer(tmp / PEER_DB, users, codes, round_ + 1)
                result.submissions_ok += good
                result.failures.extend(f"round {round_ + 1}: {p}" for p in problems[:20])
            result.peak_rss_mb = process_peak_rss_mb(peer.pid)
            _log_calls(watcher)
            await stop_process(result, peer)
    return result


def verify_peer(
    path: Path, users: list[User], codes: list[str], submitted: int
) -> tuple[int, list[str]]:
    """How many of the peer's contacts have their six answers and `submitted` submissions."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        answers: dict[int, dict[int, str]] = collections.defaultdict(dict)
        for chat_id, question, text in conn.execute("SELECT chat_id, question, text FROM answers"):
            answers[chat_id][question] = text
        counts = dict(conn.execute("SELECT chat_id, count FROM submissions").fetchall())
    good, problems = 0, []
    for user, code in zip(users, codes, strict=True):
        expected = {n: answer_text(code, n) for n in range(1, QUESTIONS + 1)}
        if answers.get(user.id) != expected:
            problems.append(f"peer {code}: answers differ: {answers.get(user.id)}")
        elif counts.get(user.id) != submitted:
            problems.append(f"peer {code}: {counts.get(user.id)} submissions, not {submitted}")
        else:
            good += 1
    return good, problems


async def run_once(result: RunResult) -> RunResult:
    """Sets up a bot with `contacts` contacts, runs the timed phases, checks storage."""
    if result.is_peer:
        return await run_peer_once(result)
    backend, latency, contacts = result.backend, result.latency, result.contacts
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
                telegram={"http_client": result.client} if result.client else None,
                **bloc_overrides(codes),
            )
            # The bot's request class: [telegram] http_client where the setting exists.
            result.client = str(getattr(config.telegram, "http_client", "httpx"))
            own_db = Database(url, connect_args=connect_args)
            await prepare_database(config, own_db)
            period_id = await seed(own_db, emu, codes, contacts)
            users = [emu.state.users[FIRST_USER_ID + i] for i in range(contacts)]

            bot = await start_bot_process(config, tmp, emu)
            result.start_rss_mb = process_rss_mb(bot.pid)

            watcher = ReplyWatcher(emu)
            _log(f"{backend}, latency {latency * 1000:.0f} ms: {contacts} contacts start")
            talks = list(zip(users, codes, strict=False))
            for round_ in range(result.rounds):
                if round_ > 0:
                    period_id = await new_period(own_db, period_id)
                await timed_round(result, bot.pid, emu, watcher, talks, round_, THIS_BOT)
                good, problems = await verify(own_db, period_id, codes[:contacts])
                result.submissions_ok += good
                result.failures.extend(f"round {round_ + 1}: {p}" for p in problems[:20])
            result.peak_rss_mb = process_peak_rss_mb(bot.pid)
            _log_calls(watcher)
            await stop_process(result, bot)
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
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="seconds a contact pauses before each update, on average (0: none, flat out)",
    )
    pace.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="updates/s offered in all, each contact on its own schedule (0: flat out)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="timed phases against the same bot process, a new period each (1)",
    )
    parser.add_argument(
        "--peer",
        default=",".join(PEER_REQUESTS),
        help="the plain PTB peer's request classes to run: httpx,aiohttp (default) or none",
    )
    parser.add_argument(
        "--http-client",
        choices=["aiohttp", "httpx"],
        help="this bot's [telegram] http_client (default: the config's default)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.contacts < 1:
        parser.error("--contacts must be at least 1")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.rate < 0 or args.think < 0:
        parser.error("--rate and --think cannot be negative")
    try:
        args.latencies = [float(x) for x in str(args.latency).split(",") if x.strip()]
    except ValueError:
        parser.error("--latency: expected numbers such as 0,0.05")
    if args.http_client and "http_client" not in TelegramConfig.model_fields:
        parser.error("--http-client: this bot has no [telegram] http_client setting here")
    args.peers = [x.strip() for x in str(args.peer).split(",") if x.strip() not in ("", "none")]
    if unknown := set(args.peers) - set(PEER_REQUESTS):
        parser.error(f"--peer: unknown request class {', '.join(sorted(unknown))}")
    return args


def aiohttp_request_missing() -> str | None:
    """None if this project's aiohttp request class can be imported, else why not."""
    try:
        from bot.request import AiohttpRequest  # type: ignore[import-not-found,unused-ignore]  # noqa: F401
    except ImportError as exc:
        return f"bot.request.AiohttpRequest is not there ({exc})"
    return None


def run_child(spec: RunResult) -> RunResult:
    """Runs one combination in a fresh interpreter (so its peak RSS is its own)."""
    command = [
        sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(asdict(spec)),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return RunResult(**json.loads(line.removeprefix(RESULT_PREFIX)))
    spec.failures.append(f"child process exited with {done.returncode} and no result")
    return spec


def table(results: Iterable[RunResult]) -> str:
    """The figures as a fixed-width table."""
    head = (
        f"{'bot':<22}{'latency':>8}{'contacts':>9}{'rounds':>7}{'updates':>8}{'wall s':>8}"
        f"{'upd/s':>8}{'offered/s':>10}{'CPU ms/upd':>11}{'p50 ms':>8}{'p95 ms':>8}"
        f"{'p99 ms':>8}{'max ms':>8}{'start RSS MB':>13}{'peak RSS MB':>12}{'subs OK':>12}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r.label:<22}{f'{r.latency * 1000:.0f} ms':>8}{r.contacts:>9}{r.rounds:>7}"
            f"{r.updates:>8}{r.wall_s:>8.2f}{r.rate:>8.0f}{r.offered_rate:>10.0f}"
            f"{r.cpu_ms_per_update:>11.2f}{r.percentile(50):>8.0f}{r.percentile(95):>8.0f}"
            f"{r.percentile(99):>8.0f}{max(r.latencies_ms, default=math.nan):>8.0f}"
            f"{r.start_rss_mb:>13.1f}{r.peak_rss_mb:>12.1f}"
            f"{f'{r.submissions_ok}/{r.contacts * r.rounds}':>12}"
        )
    return "\n".join(lines)


def per_round(results: Iterable[RunResult]) -> str:
    """RSS (after start-up, then after each round) and CPU per update, round by round."""
    lines = []
    for r in results:
        label = f"{r.label} {r.latency * 1000:.0f} ms"
        rss = " ".join(f"{mb:.1f}" for mb in r.round_rss_mb)
        cpu = " ".join(f"{ms:.2f}" for ms in r.round_cpu_ms)
        rates = " ".join(f"{x:.0f}" for x in r.round_rate)
        lines.append(f"{label:<28} RSS MB: start {r.start_rss_mb:.1f} | rounds {rss}")
        lines.append(f"{'':<28} CPU ms/upd: {cpu}; upd/s: {rates}")
    return "\n".join(lines)


def ratios(results: list[RunResult]) -> str:
    """This bot's CPU ms per update over the peer's, at the same latency."""
    lines = []
    for ours in (r for r in results if not r.is_peer):
        for peer in (r for r in results if r.is_peer and r.latency == ours.latency):
            same = " (same HTTP client)" if peer.client == ours.client else ""
            lines.append(
                f"{ours.label} / {peer.label} at {ours.latency * 1000:.0f} ms: "
                f"{ours.cpu_ms_per_update:.2f} / {peer.cpu_ms_per_update:.2f} CPU ms per update"
                f" = {ours.cpu_ms_per_update / peer.cpu_ms_per_update:.2f}{same}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Runs every requested (backend, latency) combination and prints the table."""
    args = parse_args(argv)
    if args.child:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        result = asyncio.run(run_once(RunResult(**json.loads(args.child))))
        print(RESULT_PREFIX + json.dumps(asdict(result)), flush=True)
        return 0 if result.ok else 1

    backends = ["sqlite", "postgres"] if args.backend == "all" else [args.backend]
    if "postgres" in backends and (reason := asyncio.run(postgres_unavailable())):
        print(f"skipping PostgreSQL: {reason}", flush=True)
        backends.remove("postgres")
    if "aiohttp" in args.peers and (reason := aiohttp_request_missing()):
        print(f"skipping the peer with aiohttp: {reason}", flush=True)
        args.peers.remove("aiohttp")
    bots = backends + [f"peer-{request}" for request in args.peers]
    results = [
        run_child(
            RunResult(
                bot, latency, args.contacts, think=args.think, offered=args.rate,
                rounds=args.rounds, client=args.http_client or "",
            )
        )
        for latency in args.latencies  # interleaved: this bot and its peers at each latency
        for bot in bots
    ]  # fmt: skip
    if args.think > 0:
        pacing = f"pausing ~{args.think:g} s before each"
    elif args.rate > 0:
        pacing = f"~{args.rate:g} updates/s offered, each contact on its own schedule"
    else:
        pacing = "no pauses"
    print(
        f"\n{args.contacts} contacts x {UPDATES_PER_CONTACT} updates each x {args.rounds} "
        f"round(s) (start, 6 answers, submit; {pacing}).\n"
        "Latency: update enqueued -> the bot's reply (sendMessage) received by the emulator.\n"
        "Each bot runs in its own process (this one as `thidua run`); CPU and RSS are the bot's.\n"
        "peer-*: the plain PTB bot of benchmarks/peer/ (aiosqlite, per-chat locks), "
        "by request class."
    )
    print(table(results))
    print("\nRound by round (RSS = VmRSS after start-up, then after each round):")
    print(per_round(results))
    if any(r.is_peer for r in results):
        print("\nCPU per update, this bot / the plain PTB peer:")
        print(ratios(results))
    for r in results:
        for failure in r.failures[:10]:
            print(f"FAILED {r.backend} {r.latency * 1000:.0f} ms: {failure}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
