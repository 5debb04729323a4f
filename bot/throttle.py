"""Inbound throttling: how many updates one account may send before the bot stops listening.

Pure bookkeeping over a monotonic clock (unit-tested with a fake one). Each account has a
sliding window of the updates it was allowed; over its rule's `limit` within `window`
seconds, the account is told once to slow down (`Verdict.WARN`), then ignored
(`Verdict.DROP`) for `mute` seconds. Strangers (no role in the bloc) get a stricter rule
than contacts and admins. Dropped updates are not counted, so once the mute ends the
account starts afresh.

Knowing whether an account is a stranger takes a database read, so `check` asks for it
only when it matters: called with `known=None`, it answers `Verdict.ASK` when the stranger
rule would refuse the update (nothing is counted); the caller looks the account up and calls
again with `known=True` or `False`.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum


class Verdict(StrEnum):
    """What to do with an update."""

    ALLOW = "allow"
    WARN = "warn"  # refuse it, and say once that the account is going too fast
    DROP = "drop"  # refuse it silently
    ASK = "ask"  # call again saying whether the account is known


@dataclass(frozen=True)
class Rule:
    """At most `limit` updates within `window` seconds; over it, `mute` seconds of silence."""

    limit: int
    window: float
    mute: float


MEMBERS = Rule(limit=20, window=10.0, mute=30.0)  # an album of 10 files fits easily
STRANGERS = Rule(limit=5, window=30.0, mute=120.0)


@dataclass
class _Account:
    allowed: deque[float] = field(default_factory=deque)  # when updates were allowed
    muted_until: float = 0.0
    last: float = 0.0


class Throttle:
    """Per-account sliding windows; `check` says what to do with each update."""

    def __init__(
        self,
        members: Rule = MEMBERS,
        strangers: Rule = STRANGERS,
        *,
        clock: Callable[[], float] = time.monotonic,
        keep: int = 10_000,
    ) -> None:
        self.members, self.strangers = members, strangers
        self.clock = clock
        self.keep = keep  # prune idle accounts beyond this many
        self._accounts: dict[int, _Account] = {}
        self.stats = {"warned": 0, "dropped": 0}

    def _over(self, account: _Account, rule: Rule, now: float) -> bool:
        recent = sum(1 for moment in account.allowed if moment > now - rule.window)
        return recent >= rule.limit

    def check(self, account_id: int, *, known: bool | None = None) -> Verdict:
        """The verdict on one more update from `account_id` (counted if allowed)."""
        now = self.clock()
        account = self._accounts.get(account_id)
        if account is None:
            self._prune(now)
            account = self._accounts[account_id] = _Account()
        account.last = now
        if now < account.muted_until:
            self.stats["dropped"] += 1
            return Verdict.DROP
        horizon = max(self.members.window, self.strangers.window)
        while account.allowed and account.allowed[0] <= now - horizon:
            account.allowed.popleft()
        over_as_stranger = self._over(account, self.strangers, now)
        if known is None and over_as_stranger:
            return Verdict.ASK
        rule = self.members if known else self.strangers
        if self._over(account, rule, now):
            account.muted_until = now + rule.mute
            account.allowed.clear()
            self.stats["warned"] += 1
            return Verdict.WARN
        account.allowed.append(now)
        while len(account.allowed) > max(self.members.limit, self.strangers.limit):
            account.allowed.popleft()
        return Verdict.ALLOW

    def _prune(self, now: float) -> None:
        if len(self._accounts) < self.keep:
            return
        horizon = max(self.members.window, self.strangers.window)
        for account_id, account in list(self._accounts.items()):
            if account.last <= now - horizon and account.muted_until <= now:
                del self._accounts[account_id]

    def muted(self, account_id: int) -> bool:
        """Whether the account is being ignored right now."""
        account = self._accounts.get(account_id)
        return account is not None and self.clock() < account.muted_until
