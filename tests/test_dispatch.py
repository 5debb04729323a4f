"""The outbox dispatcher against the emulator: order, limits, retries, failures, recovery."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlmodel import select
from telegram import Bot

from bot.dispatch import Dispatcher
from bot.emulator import BotApiEmulator
from bot.ratelimit import Limits, RateLimiter
from storage import outbox
from storage.db import Database
from storage.models import OutboxMessage
from storage.outbox import Priority
from tests.factories import TOKEN

FAST = Limits(per_second=1000, private_interval=0.0, group_interval=0.0)


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TOKEN) as emulator:
        for user_id in (101, 102, 103):
            emulator.add_user(user_id, f"U{user_id}")
        yield emulator


@pytest.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[Bot]:
    telegram = Bot(TOKEN, base_url=f"{emu.base_url}/bot", base_file_url=f"{emu.base_url}/file/bot")
    async with telegram:
        yield telegram


async def _enqueue(db: Database, *rows: dict) -> list[int]:
    async with db.session() as session:
        return await outbox.enqueue_many(
            session=session, rows=[{"source": "test", **row} for row in rows]
        )


async def _rows(db: Database) -> dict[int, OutboxMessage]:
    async with db.session() as session:
        return {r.id: r for r in (await session.exec(select(OutboxMessage))).all()}


async def _drain(dispatcher: Dispatcher, rounds: int = 40) -> None:
    for _ in range(rounds):
        if await dispatcher.drain_once() == 0:
            async with dispatcher.db.session() as session:
                if (await outbox.counts(session=session)).get("pending", 0) == 0:
                    return
            await asyncio.sleep(0.02)


def _dispatcher(bot: Bot, db: Database, **kwargs) -> Dispatcher:
    return Dispatcher(bot, db, limits=kwargs.pop("limits", FAST), backoff_base=0.01, **kwargs)


async def test_sends_in_priority_order_and_records_message_ids(database, emu, bot) -> None:
    await _enqueue(
        database,
        {"chat_id": 101, "text": "bulk", "priority": Priority.BULK},
        {"chat_id": 101, "text": "urgent <b>now</b>", "priority": Priority.URGENT},
        {
            "chat_id": 102,
            "text": "notice",
            "reply_markup": {"inline_keyboard": [[{"text": "OK", "callback_data": "x:1"}]]},
        },
    )
    dispatcher = _dispatcher(bot, database)
    await _drain(dispatcher)
    assert [m["text"] for m in emu.sent_messages(101)] == ["urgent now", "bulk"]
    assert emu.sent_messages(102)[0]["reply_markup"]["inline_keyboard"][0][0]["text"] == "OK"
    rows = await _rows(database)
    assert all(r.status == "sent" and r.message_id and r.sent_at for r in rows.values())


async def test_dedup_key_makes_enqueueing_idempotent(database) -> None:
    first = await _enqueue(database, {"chat_id": 101, "text": "a", "dedup_key": "k1"})
    again = await _enqueue(database, {"chat_id": 101, "text": "a", "dedup_key": "k1"})
    assert len(first) == 1 and again == []


async def test_a_429_holds_its_chat_and_does_not_cost_an_attempt(database, emu, bot) -> None:
    emu.faults.add(
        "sendMessage", status=429, description="Too Many Requests: retry after 1", retry_after=1
    )
    await _enqueue(database, {"chat_id": 101, "text": "one"}, {"chat_id": 102, "text": "two"})
    dispatcher = _dispatcher(bot, database)
    started = asyncio.get_running_loop().time()
    await _drain(dispatcher, rounds=200)
    assert len(emu.sent_messages(101)) == 1 and len(emu.sent_messages(102)) == 1
    assert dispatcher.stats["throttled"] == 1
    assert asyncio.get_running_loop().time() - started >= 0.9  # honoured retry_after
    assert {r.attempts for r in (await _rows(database)).values()} == {1}


async def test_a_burst_of_429s_pauses_every_send(database, emu, bot) -> None:
    emu.faults.add(
        "sendMessage",
        status=429,
        description="Too Many Requests: retry after 1",
        retry_after=1,
        times=3,
    )
    await _enqueue(database, *({"chat_id": c, "text": f"to {c}"} for c in (101, 102, 103)))
    dispatcher = _dispatcher(bot, database)
    await dispatcher.drain_once()  # three sends, three 429s: flood control
    assert dispatcher.stats["floods"] == 1 and dispatcher.stats["throttled"] == 3
    await _drain(dispatcher, rounds=200)
    assert all(len(emu.sent_messages(c)) == 1 for c in (101, 102, 103))


async def test_transient_errors_are_retried_with_backoff(database, emu, bot) -> None:
    emu.faults.add("sendMessage", status=500, description="Internal Server Error", times=2)
    await _enqueue(database, {"chat_id": 101, "text": "eventually"})
    dispatcher = _dispatcher(bot, database)
    await _drain(dispatcher, rounds=200)
    row = next(iter((await _rows(database)).values()))
    assert row.status == "sent" and row.attempts == 3 and row.last_error is None
    assert len(emu.sent_messages(101)) == 1 and dispatcher.stats["retried"] == 2


async def test_gives_up_after_the_last_attempt(database, emu, bot) -> None:
    emu.faults.add("sendMessage", status=502, description="Bad Gateway", times=10)
    await _enqueue(database, {"chat_id": 101, "text": "never"})
    dispatcher = _dispatcher(bot, database, max_attempts=3)
    await _drain(dispatcher, rounds=200)
    row = next(iter((await _rows(database)).values()))
    assert row.status == "dead" and row.attempts == 3 and "Bad Gateway" in row.last_error


async def test_permanent_failures_are_recorded_and_reported(database, emu, bot) -> None:
    emu.block_bot(102)
    await _enqueue(
        database,
        {"chat_id": 101, "text": "fine"},
        {"chat_id": 102, "text": "blocked"},
        {"chat_id": 999, "text": "nobody"},
        {"chat_id": 103, "text": "also fine"},
    )
    reported: list[tuple[int, str]] = []

    async def hook(chat_id: int, reason: str) -> None:
        reported.append((chat_id, reason))

    dispatcher = _dispatcher(bot, database)
    dispatcher.on_permanent_failure = hook
    await _drain(dispatcher)
    rows = {r.chat_id: r for r in (await _rows(database)).values()}
    assert rows[101].status == rows[103].status == "sent"
    assert rows[102].status == "failed" and "blocked" in rows[102].last_error
    assert rows[999].status == "failed" and "chat not found" in rows[999].last_error.lower()
    assert sorted(chat for chat, _ in reported) == [102, 999]


async def test_rows_caught_mid_send_are_sent_after_a_restart(database, emu, bot) -> None:
    ids = await _enqueue(database, {"chat_id": 101, "text": "interrupted"})
    async with database.session() as session:
        claimed = await outbox.claim(session=session, now=outbox.utcnow(), limit=10)
    assert [r.id for r in claimed] == ids  # now "sending", as a crash would leave it
    dispatcher = _dispatcher(bot, database)
    await dispatcher.start()
    try:
        await emu.wait_for_message(101, contains="interrupted")
    finally:
        await dispatcher.stop()
    assert (await _rows(database))[ids[0]].status == "sent"


async def test_background_loop_drains_and_wakes(database, emu, bot) -> None:
    dispatcher = _dispatcher(bot, database, idle_poll=5.0)
    await dispatcher.start()
    try:
        await _enqueue(database, {"chat_id": 103, "text": "woken"})
        dispatcher.wake()
        await emu.wait_for_message(103, contains="woken", timeout=2)
    finally:
        await dispatcher.stop()


def test_rate_limiter_spaces_globally_and_per_chat() -> None:
    now = [100.0]
    limiter = RateLimiter(
        Limits(per_second=10, private_interval=1.0, group_interval=3.0, headroom=1.0),
        clock=lambda: now[0],
    )
    starts = [limiter.reserve(chat) for chat in (1, 2, 3, 1, -5, -5)]
    assert starts[:3] == [100.0, 100.1, pytest.approx(100.2)]
    assert starts[3] == pytest.approx(101.0)  # same private chat: one per second
    assert starts[5] - starts[4] == pytest.approx(3.0)  # a group: twenty per minute
    limiter.pause(30)
    assert limiter.reserve(2) == pytest.approx(130.0)
    assert limiter.delay(2) == pytest.approx(31.0)


def test_rate_limiter_tells_a_lone_429_from_flood_control() -> None:
    now = [0.0]
    limiter = RateLimiter(Limits(per_second=10, headroom=1.0), clock=lambda: now[0])
    for _ in range(20):
        limiter.succeeded()
    assert limiter.throttled(7, 5.0) is False  # one 429 among many sends: that chat waits
    assert limiter.reserve(7) == pytest.approx(5.0)
    assert limiter.reserve(8) == pytest.approx(0.1)  # the others go on at full pace
    assert limiter.throttled(1, 2.0) is False and limiter.throttled(2, 2.0) is False
    now[0] = 1.5  # a second later, most answers are 429s: flood control
    assert limiter.throttled(3, 2.0) is False and limiter.throttled(4, 2.0) is False
    assert limiter.throttled(5, 2.0) is True
    assert limiter.paused_for() == pytest.approx(2.0)


class _ListShareOf429:
    """The share-of-429 bookkeeping as it was before the deque: the reference."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.recent: list[tuple[float, bool]] = []

    def note(self, now: float, *, throttled: bool) -> bool:
        self.recent = [(t, h) for t, h in self.recent if t > now - 1.0]
        self.recent.append((now, throttled))
        if not throttled:
            return False
        hits = sum(1 for _, was_429 in self.recent if was_429)
        if hits >= self.limits.flood_min and hits >= self.limits.flood_share * len(self.recent):
            self.recent.clear()
            return True
        return False


def test_rate_limiter_share_of_429s_matches_the_list_reference() -> None:
    import random

    rng = random.Random(9)
    limits = Limits(per_second=10, headroom=1.0)
    for _ in range(50):
        now = [0.0]
        limiter = RateLimiter(limits, clock=lambda now=now: now[0])
        reference = _ListShareOf429(limits)
        share = rng.choice((0.05, 0.3, 0.6))
        for _ in range(400):
            # Steps on a coarse grid so that entries exactly one second old occur too.
            now[0] += rng.choice((0.0, 0.0, 0.05, 0.25, 0.5, 1.0, 1.25))
            if rng.random() < share:
                assert limiter.throttled(rng.randrange(5), 0.0) is reference.note(
                    now[0], throttled=True
                )
            else:
                limiter.succeeded()
                reference.note(now[0], throttled=False)
            assert list(limiter._recent) == reference.recent
