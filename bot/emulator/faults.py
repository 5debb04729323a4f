"""Fault injection: answer Bot API calls with scripted or random errors and lost connections.

Two sources, consulted in this order for each call:

- scripted faults (``FaultPlan.add`` / ``add_timeout`` / ``add_reset``): the next ``times``
  calls of a method get exactly this outcome;
- random faults (``FaultPlan.random``): every call of the listed methods independently draws
  one outcome from a seeded ``random.Random``, so a benchmark run can be reproduced.

An outcome is either an ``ApiError`` (answered as Telegram would: 429 with ``retry_after``,
500, 502, ...) or a ``Drop`` (no HTTP response at all):

- ``reset``: the connection is closed at once; the request has no effect.
- ``timeout_before``: the request never reaches "Telegram" (no effect) and no answer comes
  until the client gives up (or ``hold`` seconds pass), then the connection is closed.
- ``timeout_after``: the request IS carried out (the message is delivered), but the answer
  is withheld the same way: the client cannot tell this from ``timeout_before``.
"""

from __future__ import annotations

import random as _random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from bot.emulator.errors import ApiError
from bot.emulator.limits import too_many_requests

DropKind = Literal["reset", "timeout_before", "timeout_after"]
TimeoutMode = Literal["before", "after", "mixed"]
DEFAULT_METHODS = (
    "sendMessage", "sendDocument", "sendPhoto", "editMessageText", "editMessageReplyMarkup",
)  # fmt: skip
SERVER_ERRORS = ((500, "Internal Server Error"), (502, "Bad Gateway"))


@dataclass(frozen=True)
class Drop:
    """An answer that never comes: the connection is closed (after up to ``hold`` seconds)."""

    kind: DropKind
    hold: float = 0.0

    @property
    def has_effect(self) -> bool:
        """Whether the call is carried out although the client sees no answer."""
        return self.kind == "timeout_after"


Outcome = ApiError | Drop


def fault_kind(outcome: Outcome) -> str:
    """Counter key of an injected outcome: "429", "5xx", "reset", "timeout_before", ..."""
    if isinstance(outcome, Drop):
        return outcome.kind
    if outcome.status >= 500:
        return "5xx"
    return str(outcome.status)


def _matches(pattern: str | None, method: str) -> bool:
    if pattern is None:
        return method.lower() != "getupdates"
    return pattern.lower() == method.lower()


@dataclass
class Fault:
    """One scripted outcome for a method (``None`` = any method except getUpdates).

    ``kind`` is "error" (answer ``status``/``description``) or a ``Drop`` kind, whose
    connection is held for up to ``hold`` seconds.
    """

    method: str | None
    status: int
    description: str
    retry_after: int | None = None
    remaining: int = 1
    kind: str = "error"
    hold: float = 0.0
    html: bool = False

    def matches(self, method: str) -> bool:
        """Tell whether this fault applies to a call of ``method``."""
        return self.remaining > 0 and _matches(self.method, method)

    def to_error(self) -> ApiError:
        """Build the Telegram-shaped error this fault answers with."""
        params = {"retry_after": self.retry_after} if self.retry_after is not None else None
        return ApiError(self.status, self.description, params, html=self.html)

    def to_outcome(self) -> Outcome:
        """The error, or the dropped connection, this fault stands for."""
        if self.kind == "error":
            return self.to_error()
        return Drop(self.kind, self.hold)  # type: ignore[arg-type]


@dataclass
class RandomFaults:
    """Independent per-call fault draws (rates are probabilities per matching call)."""

    rate_429: float = 0.0
    retry_after: int = 1
    rate_5xx: float = 0.0
    rate_timeout: float = 0.0
    rate_reset: float = 0.0
    methods: tuple[str, ...] = DEFAULT_METHODS
    timeout_mode: TimeoutMode = "before"
    timeout_seconds: float = 10.0
    seed: int | None = None
    rng: _random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rates = (self.rate_429, self.rate_5xx, self.rate_timeout, self.rate_reset)
        if any(r < 0 for r in rates) or sum(rates) > 1.0 + 1e-9:
            raise ValueError(f"fault rates must be >= 0 and sum to at most 1, got {rates}")
        if self.timeout_mode not in ("before", "after", "mixed"):
            raise ValueError(f"timeout_mode must be before, after or mixed: {self.timeout_mode!r}")
        self.methods = tuple(self.methods)
        self._lower = {m.lower() for m in self.methods}
        self.rng = _random.Random(self.seed)

    def applies_to(self, method: str) -> bool:
        """Whether calls of ``method`` draw a fault at all."""
        return method.lower() in self._lower

    def draw(self) -> Outcome | None:
        """One call's fate: None (answered normally), an ApiError or a Drop."""
        roll = self.rng.random()
        if roll < (edge := self.rate_429):
            return too_many_requests(self.retry_after)
        if roll < (edge := edge + self.rate_5xx):
            status, description = self.rng.choice(SERVER_ERRORS)
            return ApiError(status, description)
        if roll < (edge := edge + self.rate_timeout):
            mode = self.timeout_mode
            if mode == "mixed":
                mode = self.rng.choice(("before", "after"))
            return Drop("timeout_before" if mode == "before" else "timeout_after",
                        self.timeout_seconds)  # fmt: skip
        if roll < edge + self.rate_reset:
            return Drop("reset")
        return None


@dataclass
class FaultPlan:
    """Scripted faults (consumed in order) plus optional random ones, with counters."""

    faults: list[Fault] = field(default_factory=list)
    randomly: RandomFaults | None = None
    # Every outcome injected so far, by fault_kind: "429", "5xx", "reset", "timeout_before"...
    injected: Counter[str] = field(default_factory=Counter)

    def add(
        self,
        method: str | None,
        *,
        status: int,
        description: str,
        retry_after: int | None = None,
        times: int = 1,
    ) -> Fault:
        """Answer the next ``times`` calls of ``method`` with the given error."""
        fault = Fault(method, status, description, retry_after, times)
        self.faults.append(fault)
        return fault

    def add_html_error(
        self,
        method: str | None,
        *,
        status: int = 502,
        description: str = "Bad Gateway",
        times: int = 1,
    ) -> Fault:
        """Answer the next ``times`` calls of ``method`` with a proxy's HTML error page (not
        JSON), as nginx in front of the Bot API does when Telegram is unreachable."""
        fault = Fault(method, status, description, None, times, html=True)
        self.faults.append(fault)
        return fault

    def add_timeout(
        self,
        method: str | None,
        *,
        mode: Literal["before", "after"] = "before",
        seconds: float = 10.0,
        times: int = 1,
    ) -> Fault:
        """Leave the next ``times`` calls unanswered for up to ``seconds`` (see ``Drop``);
        ``mode="after"`` carries them out first."""
        if mode not in ("before", "after"):
            raise ValueError(f"mode must be 'before' or 'after', got {mode!r}")
        fault = Fault(method, 0, f"timeout {mode}", None, times, f"timeout_{mode}", seconds)
        self.faults.append(fault)
        return fault

    def add_reset(self, method: str | None, *, times: int = 1) -> Fault:
        """Close the connection of the next ``times`` calls without answering (no effect)."""
        fault = Fault(method, 0, "connection reset", None, times, "reset")
        self.faults.append(fault)
        return fault

    def random(
        self,
        rate_429: float = 0.0,
        retry_after: int = 1,
        rate_5xx: float = 0.0,
        rate_timeout: float = 0.0,
        rate_reset: float = 0.0,
        methods: Iterable[str] = DEFAULT_METHODS,
        seed: int | None = None,
        *,
        timeout_mode: TimeoutMode = "before",
        timeout_seconds: float = 10.0,
    ) -> RandomFaults:
        """From now on, each call of ``methods`` independently fails with these probabilities
        (429 with ``retry_after``; 500 or 502; a timeout; a connection reset). Replaces an
        earlier random plan; ``clear()`` ends it."""
        self.randomly = RandomFaults(
            rate_429, retry_after, rate_5xx, rate_timeout, rate_reset, tuple(methods),
            timeout_mode, timeout_seconds, seed,
        )  # fmt: skip
        return self.randomly

    def take(self, method: str) -> Outcome | None:
        """Consume and return the outcome for this call: a scripted fault first, else a
        random draw; None if the call is to be answered normally."""
        outcome: Outcome | None = None
        for fault in self.faults:
            if fault.matches(method):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
                outcome = fault.to_outcome()
                break
        else:
            if self.randomly is not None and self.randomly.applies_to(method):
                outcome = self.randomly.draw()
        if outcome is not None:
            self.injected[fault_kind(outcome)] += 1
        return outcome

    def clear(self) -> None:
        """Drop every pending scripted fault and stop random ones (counters are kept)."""
        self.faults.clear()
        self.randomly = None

    @property
    def pending(self) -> int:
        """Number of scripted faulted answers still scheduled."""
        return sum(f.remaining for f in self.faults)
