"""Typed inline-button payloads: one class per payload, packed and unpacked only here.

This package is neutral (no Telegram, no handlers): `bot.callbacks.<domain>` holds each
domain's payload classes, so services that queue a message with buttons (reminders,
announcements) and the handlers that answer the press use the same class.

A payload is a frozen dataclass with a unique `prefix` and typed fields (int, str, bool or
a StrEnum), packed as `prefix:field:field` within Telegram's 64 bytes. Unpacking never
trusts the text: a wrong prefix, a missing or extra field, a non-number or a number out of
bounds raises `BadPayload`, so no oversized id ever reaches the database. What a payload
names is still re-checked against the database by the service that acts on it.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from enum import Enum
from typing import Any, ClassVar, Self

MAX_BYTES = 64  # Telegram's limit on callback_data
MAX_INT = 2**53  # ids and numbers beyond this are forged (Telegram ids fit in 52 bits)
SEPARATOR = ":"


class BadPayload(ValueError):
    """Callback data that is not a well-formed payload of the expected kind."""


class Payload:
    """Base of every payload class; subclasses say `class X(Payload, prefix="x")`."""

    prefix: ClassVar[str]
    _registry: ClassVar[dict[str, type[Payload]]] = {}

    def __init_subclass__(cls, prefix: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not prefix:
            return
        if SEPARATOR in prefix or prefix in Payload._registry:
            raise TypeError(f"callback prefix {prefix!r} is invalid or already taken")
        cls.prefix = prefix
        Payload._registry[prefix] = cls

    def pack(self) -> str:
        """The callback_data string; raises ValueError past Telegram's 64 bytes."""
        parts = [self.prefix]
        for item in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, item.name)
            if isinstance(value, bool):
                parts.append("1" if value else "0")
            elif isinstance(value, Enum):
                parts.append(str(value.value))
            else:
                text = str(value)
                if SEPARATOR in text:
                    raise ValueError(f"{item.name} may not contain {SEPARATOR!r}")
                parts.append(text)
        data = SEPARATOR.join(parts)
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"callback data too long: {data!r}")
        return data

    @classmethod
    def unpack(cls, data: str | None) -> Self:
        """The payload in `data`; BadPayload if it is not one of this class."""
        parts = (data or "").split(SEPARATOR)
        if parts[0] != cls.prefix:
            raise BadPayload(f"not a {cls.__name__}")
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        args = parts[1:]
        required = sum(
            1
            for f in fields
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        )
        if not required <= len(args) <= len(fields):
            raise BadPayload(f"{cls.__name__} takes {len(fields)} fields, got {len(args)}")
        hints = _hints(cls)
        values = {
            f.name: _convert(hints[f.name], raw) for f, raw in zip(fields, args, strict=False)
        }
        return cls(**values)

    @classmethod
    def pattern(cls) -> str:
        """A CallbackQueryHandler pattern matching exactly this prefix."""
        return rf"^{cls.prefix}(:|$)"


_NUMBER = re.compile(r"-?[0-9]{1,17}")


def parse_int(raw: str) -> int:
    """A number as `pack` writes it (ASCII digits, an optional minus, within MAX_INT);
    BadPayload for anything else ("²", "٣", "--1", 25 digits)."""
    if not _NUMBER.fullmatch(raw):
        raise BadPayload(f"not a number: {raw!r}")
    number = int(raw)
    if abs(number) > MAX_INT:
        raise BadPayload(f"number out of bounds: {raw!r}")
    return number


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _convert(kind: Any, raw: str) -> Any:
    """One field from text, by its annotation."""
    if kind is bool:
        if raw not in ("0", "1"):
            raise BadPayload(f"not a flag: {raw!r}")
        return raw == "1"
    if kind is int:
        return parse_int(raw)
    if isinstance(kind, type) and issubclass(kind, Enum):
        try:
            return kind(raw)
        except ValueError as exc:
            raise BadPayload(f"not a {kind.__name__}: {raw!r}") from exc
    if kind is str:
        return raw
    raise TypeError(f"unsupported payload field type {kind!r}")


def prefixes() -> dict[str, type[Payload]]:
    """Every payload class by its prefix (for tests and the button router)."""
    return dict(Payload._registry)
