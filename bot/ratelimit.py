"""Telegram's sending limits as a schedule: when may the next message to a chat go out.

Pure bookkeeping over a monotonic clock, so it is unit-tested without sleeping. The
dispatcher asks `reserve(chat_id)` for a start time, sleeps until then, and sends.

Answers of 429 (retry_after) are handled in two tiers. A lone 429 holds that chat for
`retry_after` and slows the overall pace (multiplicative decrease, then a slow additive
recovery with every success); a burst of them from several chats within a second is
Telegram's flood control for the whole bot, and holds every chat for `retry_after`.
The pace runs a little below the nominal limit (`headroom`), because a sender exactly at
the limit trips the server's sliding window on the slightest network jitter.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from telegram.error import RetryAfter
from telegram.warnings import PTBDeprecationWarning


@dataclass(frozen=True)
class Limits:
    """Telegram's documented limits (configurable; the emulator can enforce them too)."""

    per_second: float = 30.0  # all chats together
    private_interval: float = 1.0  # one message per second per private chat
    group_interval: float = 3.0  # twenty messages per minute per group
    headroom: float = 0.97  # pace at 97 % of per_second
    flood_burst: int = 3  # this many 429s within a second pause everything


def is_group(chat_id: int) -> bool:
    """Groups, supergroups and channels have negative ids."""
    return chat_id < 0


class RateLimiter:
    """Spaces messages evenly: globally by 1/per_second, per chat by its interval."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self._next_global = 0.0
        self._next_chat: dict[int, float] = {}
        self._paused_until = 0.0
        self._recent_429: list[float] = []
        self.factor = 1.0  # share of the pace in use, lowered by 429s

    def reserve(self, chat_id: int) -> float:
        """Books the earliest moment a message to chat_id may start; returns that moment."""
        now = self.clock()
        start = max(now, self._next_global, self._next_chat.get(chat_id, 0.0), self._paused_until)
        rate = self.limits.per_second * self.limits.headroom * self.factor
        self._next_global = start + 1.0 / rate
        interval = self.limits.group_interval if is_group(chat_id) else self.limits.private_interval
        self._next_chat[chat_id] = start + interval
        if len(self._next_chat) > 10_000:
            self._forget_past(now)
        return start

    def delay(self, chat_id: int) -> float:
        """Seconds until a message to chat_id could start (without booking it)."""
        now = self.clock()
        return max(0.0, self._next_global - now, self._next_chat.get(chat_id, 0.0) - now)

    def pause(self, seconds: float) -> None:
        """Holds every chat for `seconds`."""
        now = self.clock()
        self._paused_until = max(self._paused_until, now + seconds)
        self._next_global = max(self._next_global, now + seconds)

    def paused_for(self) -> float:
        """Seconds left of a pause for every chat (sends booked earlier re-check this)."""
        return max(0.0, self._paused_until - self.clock())

    def throttled(self, chat_id: int, seconds: float) -> bool:
        """Telegram answered 429 for chat_id: holds that chat, slows down, and pauses
        everything if 429s come in a burst. Returns whether everything was paused."""
        now = self.clock()
        self._next_chat[chat_id] = max(self._next_chat.get(chat_id, 0.0), now + seconds)
        self.factor = max(0.25, self.factor * 0.8)
        self._recent_429 = [t for t in self._recent_429 if t > now - 1.0] + [now]
        if len(self._recent_429) >= self.limits.flood_burst:
            self.pause(seconds)
            self._recent_429.clear()
            return True
        return False

    def succeeded(self) -> None:
        """A send went through: win back some of the pace lost to 429s."""
        if self.factor < 1.0:
            self.factor = min(1.0, self.factor + 0.01)

    def _forget_past(self, now: float) -> None:
        self._next_chat = {c: t for c, t in self._next_chat.items() if t > now}


def retry_after_seconds(error: RetryAfter) -> float:
    """The wait Telegram asked for (PTB 22 warns that the attribute's type will change)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: object = error.retry_after
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]
