"""Fault injection: answer upcoming Bot API calls with scripted errors."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.emulator.errors import ApiError


@dataclass
class Fault:
    """One scripted error for a method (``None`` = any method except getUpdates)."""

    method: str | None
    status: int
    description: str
    retry_after: int | None = None
    remaining: int = 1

    def matches(self, method: str) -> bool:
        """Tell whether this fault applies to a call of ``method``."""
        if self.remaining <= 0:
            return False
        if self.method is None:
            return method.lower() != "getupdates"
        return self.method.lower() == method.lower()

    def to_error(self) -> ApiError:
        """Build the Telegram-shaped error this fault answers with."""
        params = {"retry_after": self.retry_after} if self.retry_after is not None else None
        return ApiError(self.status, self.description, params)


@dataclass
class FaultPlan:
    """Ordered list of pending faults consumed by incoming calls."""

    faults: list[Fault] = field(default_factory=list)

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

    def take(self, method: str) -> ApiError | None:
        """Consume and return the error for this call, if a fault is scheduled."""
        for fault in self.faults:
            if fault.matches(method):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
                return fault.to_error()
        return None

    def clear(self) -> None:
        """Drop every pending fault."""
        self.faults.clear()

    @property
    def pending(self) -> int:
        """Number of faulted answers still scheduled."""
        return sum(f.remaining for f in self.faults)
