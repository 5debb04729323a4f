"""Untyped `prefix:arg:arg` payloads, kept while flows move to the typed classes of
`bot.callbacks` (new code: a `Payload` subclass, never these)."""

from __future__ import annotations

from dataclasses import dataclass

MAX_BYTES = 64  # Telegram's limit on callback_data


class Prefix:
    """Every callback prefix in use, so two flows never collide."""

    INVITE_UNIT = "inv"
    INVITE_PAGE = "invp"
    REVOKE_PICK = "rev"
    REVOKE_PAGE = "revp"
    REVOKE_CONFIRM = "revok"
    CANCEL = "cancel"
    PERIOD = "kp"
    STATUS = "st"
    REVIEW = "rv"
    REMIND = "nh"
    REPORT_PERIOD = "rpp"
    REPORT_ACTION = "rpa"
    EVENT = "ev"
    BROADCAST = "bc"
    ACK = "ack"  # «Đã nhận» on an announcement (built by bot.services.announcements)


@dataclass(frozen=True)
class CallbackData:
    """A parsed payload."""

    prefix: str
    args: tuple[str, ...]

    def int_arg(self, index: int = 0) -> int:
        """The argument at index as an int (ValueError if absent or not a number)."""
        return int(self.args[index])


def build(prefix: str, *args: object) -> str:
    """Encodes a payload; raises if it would exceed Telegram's 64 bytes."""
    data = ":".join([prefix, *(str(a) for a in args)])
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data too long: {data!r}")
    return data


def parse(data: str | None) -> CallbackData:
    """Decodes a payload (never raises; an empty payload has prefix '')."""
    parts = (data or "").split(":")
    return CallbackData(prefix=parts[0], args=tuple(parts[1:]))


def pattern(prefix: str) -> str:
    """A CallbackQueryHandler pattern matching exactly this prefix."""
    return rf"^{prefix}(:|$)"
