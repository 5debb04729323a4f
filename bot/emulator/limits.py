"""Telegram's sending limits, enforced: over the limit a send is answered 429.

Sliding windows of the moments sends were accepted, one per scope:

- ``global``: all chats together, ``per_second`` in any 1 s window;
- ``chat``: each private chat, ``per_chat_per_second`` in any 1 s window;
- ``group``: each group/supergroup, ``per_group_per_minute`` in any 60 s window.

A window holds ``floor(rate × length × burst)`` sends (at least one; ``burst`` 1.0 is exact,
1.1 tolerates 10 % more). A rate too low for one send per window stretches the window
instead (``per_chat_per_second=0.25``: one send per 4 s). ``None`` lifts a scope's limit.
Only sendMessage, sendDocument and sendPhoto are limited, and only sends that were carried
out count (a 400/403 answer sends nothing).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from bot.emulator.errors import ApiError

LIMITED_METHODS = frozenset({"sendmessage", "senddocument", "sendphoto"})
_KEEP_CHATS = 4096  # prune idle chat windows beyond this many


@dataclass
class RateLimits:
    """The limits the emulator enforces (``enabled=False``: none)."""

    per_second: float | None = 30.0
    per_chat_per_second: float | None = 1.0
    per_group_per_minute: float | None = 20.0
    burst: float = 1.0
    enabled: bool = True

    def window(self, scope: str) -> tuple[int, float] | None:
        """(capacity, window seconds) of a scope; None if unlimited."""
        per_window, length = {
            "global": (self.per_second, 1.0),
            "chat": (self.per_chat_per_second, 1.0),
            "group": (self.per_group_per_minute, 60.0),
        }[scope]
        if per_window is None or per_window <= 0 or math.isinf(per_window):
            return None
        if per_window < 1.0:
            return 1, length / per_window
        return max(1, math.floor(per_window * self.burst + 1e-9)), length

    def horizon(self) -> float:
        """The longest window: older sends no longer matter."""
        windows = [w for s in ("global", "chat", "group") if (w := self.window(s))]
        return max((length for _, length in windows), default=0.0)


class LimitExceeded(ApiError):
    """A 429 of the enforced limits (``scope``: "global", "chat" or "group")."""

    def __init__(self, scope: str, retry_after: int) -> None:
        error = too_many_requests(retry_after)
        super().__init__(error.status, error.description, error.parameters)
        self.scope = scope


def too_many_requests(retry_after: int) -> ApiError:
    """Telegram's flood-control answer."""
    return ApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


class SlidingWindows:
    """When were sends accepted, globally and per chat; who may send now."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._global: deque[float] = deque()
        self._chats: dict[int, deque[float]] = {}
        self._prune_at = _KEEP_CHATS

    @staticmethod
    def _wait(stamps: deque[float], capacity: int, length: float, now: float) -> float:
        while stamps and stamps[0] <= now - length:
            stamps.popleft()
        if len(stamps) < capacity:
            return 0.0
        return stamps[len(stamps) - capacity] + length - now

    def check(self, limits: RateLimits, chat_id: int, group: bool) -> tuple[str, int] | None:
        """None if a send to ``chat_id`` may go now, else (scope, retry_after seconds) of the
        scope that frees last."""
        now = self.clock()
        worst: tuple[float, str] | None = None
        scopes = (("global", self._global), ("group" if group else "chat",
                  self._chats.get(chat_id, deque())))  # fmt: skip
        for scope, stamps in scopes:
            window = limits.window(scope)
            if window is None:
                continue
            wait = self._wait(stamps, *window, now)
            if wait > 0 and (worst is None or wait > worst[0]):
                worst = (wait, scope)
        if worst is None:
            return None
        return worst[1], max(1, math.ceil(worst[0] - 1e-9))

    def record(self, limits: RateLimits, chat_id: int) -> None:
        """A send to ``chat_id`` was carried out now."""
        now = self.clock()
        self._global.append(now)
        self._chats.setdefault(chat_id, deque()).append(now)
        if len(self._chats) > self._prune_at:  # forget chats idle for longer than any window
            since = now - limits.horizon()
            self._chats = {c: s for c, s in self._chats.items() if s and s[-1] > since}
            self._prune_at = max(_KEEP_CHATS, 2 * len(self._chats))
        while len(self._global) > 100_000:  # an unlimited global scope is never pruned
            self._global.popleft()

    def clear(self) -> None:
        """Forget every send (a fresh start for the limits)."""
        self._global.clear()
        self._chats.clear()
