"""Telegram's sending limits as a schedule: when may the next message to a chat go out.

Pure bookkeeping over a monotonic clock, so it is unit-tested without sleeping. The
dispatcher asks `reserve(chat_id)` for a start time, sleeps until then, and sends.

Answers of 429 (retry_after) are handled in two tiers. A lone 429 holds that chat for
`retry_after`; when a large share of the last second's sends were answered 429, that is
Telegram's flood control for the whole bot, and every chat is held for `retry_after`.
The pace runs 2 % below the nominal limit (`headroom`), because a sender exactly at
the limit trips the server's sliding window on the slightest network jitter.
"""

from __future__ import annotations

import time
import warnings
from collections import deque
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
    headroom: float = 0.98  # pace at 98 % of per_second
    flood_min: int = 3  # at least this many 429s within a second...
    flood_share: float = 0.3  # ...and this share of the second's answers: pause everything


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
        # (when, was a 429) over the last second, oldest first; `_hits` counts the 429s in it.
        self._recent: deque[tuple[float, bool]] = deque()
        self._hits = 0

    def reserve(self, chat_id: int) -> float:
        """Books the earliest moment a message to chat_id may start; returns that moment."""
        now = self.clock()
        # The global slot is booked on its own: a chat held for a while (1/s per person,
        # or a 429) must not push every other chat's messages back with it.
        slot = max(now, self._next_global, self._paused_until)
        self._next_global = slot + 1.0 / (self.limits.per_second * self.limits.headroom)
        start = max(slot, self._next_chat.get(chat_id, 0.0))
        interval = self.limits.group_interval if is_group(chat_id) else self.limits.private_interval
        self._next_chat[chat_id] = start + interval
        if len(self._next_chat) > 10_000:
            self._forget_past(now)
        return start

    def note_interactive(self, chat_id: int) -> None:
        """A reply went out at once: paced messages to that chat keep their distance from it,
        and it takes its share of the global rate."""
        now = self.clock()
        self._next_global = max(self._next_global, now) + 1.0 / (
            self.limits.per_second * self.limits.headroom
        )
        interval = self.limits.group_interval if is_group(chat_id) else self.limits.private_interval
        self._next_chat[chat_id] = max(self._next_chat.get(chat_id, 0.0), now + interval)

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
        """Telegram answered 429 for chat_id: holds that chat, and everything if 429s have
        become a large share of the answers. Returns whether everything was paused."""
        now = self.clock()
        self._next_chat[chat_id] = max(self._next_chat.get(chat_id, 0.0), now + seconds)
        self._note(now, throttled=True)
        hits = self._hits
        if hits >= self.limits.flood_min and hits >= self.limits.flood_share * len(self._recent):
            self.pause(seconds)
            self._recent.clear()
            self._hits = 0
            return True
        return False

    def succeeded(self) -> None:
        """A send went through (counts towards the share of 429s)."""
        self._note(self.clock(), throttled=False)

    def _note(self, now: float, *, throttled: bool) -> None:
        # The clock is monotonic, so the entries older than a second are at the left end.
        recent = self._recent
        horizon = now - 1.0
        while recent and recent[0][0] <= horizon:
            if recent.popleft()[1]:
                self._hits -= 1
        recent.append((now, throttled))
        if throttled:
            self._hits += 1

    def _forget_past(self, now: float) -> None:
        self._next_chat = {c: t for c, t in self._next_chat.items() if t > now}


def retry_after_seconds(error: RetryAfter) -> float:
    """The wait Telegram asked for (PTB 22 warns that the attribute's type will change)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: object = error.retry_after
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]
