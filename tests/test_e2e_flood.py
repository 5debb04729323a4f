"""A flood from one account is throttled; others are still answered at Telegram's limits."""

from __future__ import annotations

import asyncio
import logging

from bot.emulator.limits import RateLimits
from tests.harness import running_bot

SLOW_DOWN = "Bạn đang gửi tin nhắn quá nhanh"


async def test_a_flood_is_throttled_and_another_contact_is_still_answered(tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO)
    async with running_bot(
        tmp_path,
        throttle={"enabled": True},  # the shipped rules
        outbox={"per_second": 30, "private_interval": 1.0},  # Telegram's limits
    ) as bot:
        lan, hoa = bot.user(2001, "Lan"), bot.user(2002, "Hoa")  # Lan is no one's contact
        await bot.join(hoa, "GT-03")
        bot.emu.limits = RateLimits()  # 30 messages/s, 1 per second per chat: 429 beyond
        lan_mark, hoa_mark = bot.emu.mark(lan.id), bot.emu.mark(hoa.id)
        for n in range(200):
            bot.emu.send_text(lan, f"tin nhắn {n}")
            if n % 20 == 0:
                bot.emu.send_text(hoa, "/toi")
            if n % 10 == 0:
                await asyncio.sleep(0.05)

        def cards() -> int:
            sent = bot.emu.state.bot_messages(hoa.id, include_deleted=True)[hoa_mark:]
            return sum("Mã Telegram" in m.plain_text for m in sent)

        for _ in range(1500):  # up to 60 s: 429s make the replies wait their turn
            if cards() >= 10:
                break
            await asyncio.sleep(0.04)
        assert cards() == 10
        # Lan's replies wait their turn at one per second; the warning comes last.
        await bot.emu.wait_for_message(lan.id, contains=SLOW_DOWN, after=lan_mark, timeout=30)
        await asyncio.sleep(1.5)  # anything that would still follow
        to_lan = [m.plain_text for m in bot.emu.state.bot_messages(lan.id)[lan_mark:]]
        assert sum(SLOW_DOWN in text for text in to_lan) == 1
        assert len(to_lan) == 6  # the shipped rule for strangers: 5 within 30 s, the warning
        sends = bot.emu.calls_to("sendMessage")
        limited = [c for c in sends if (c.fault or "").startswith("limit")]
        assert limited  # the limits were met: some replies were answered 429, then sent
    tracebacks = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not tracebacks, [r.getMessage() for r in tracebacks]
