"""Payloads of announcements: the admin's `bc:` buttons and the «Đã nhận» (`ack:`) button
every copy carries (built by `bot.services.announcements`, answered by `handlers.broadcast`).

The prefixes are those of the untyped builder they replace, so buttons in messages already
sent keep working: `bc:<action>[:<arg>[:<page>]]` and `ack:<announcement id>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.callbacks import BadPayload, Payload, parse_int


class Audience(StrEnum):
    """Who an announcement goes to (the kinds `bot.services.announcements` knows)."""

    ALL = "all"
    DEPARTMENTS = "departments"
    UNITS = "units"
    GROUP = "group"
    ADMINS = "admins"


class Action(StrEnum):
    """What a `bc:` button asks for."""

    LIST = "list"
    SHOW = "show"
    AGAIN = "again"
    NEW = "new"
    SKIP = "skip"
    AUDIENCE = "aud"
    REPICK = "repick"
    TOGGLE = "tg"
    PAGE = "pg"
    DONE = "done"
    NOW = "now"
    LATER = "later"
    AUTO = "auto"
    SEND = "send"
    CANCEL = "cancel"


@dataclass(frozen=True)
class BroadcastButton(Payload, prefix="bc"):
    """An admin's button: the action, its argument (an id, a count of hours, a page or an
    audience kind, by action) and, for a picker toggle, the page it was on.

    Build with the constructors below; read the argument with `number` or `audience`, which
    raise `BadPayload` when it is not what the action takes."""

    action: Action
    arg: str = ""
    page: int = 0

    @classmethod
    def of(cls, action: Action, number: int | None = None) -> BroadcastButton:
        """A button with no argument, or a number (an id, hours, a page)."""
        return cls(action, "" if number is None else str(number))

    @classmethod
    def audience_choice(cls, kind: Audience) -> BroadcastButton:
        """One audience button."""
        return cls(Action.AUDIENCE, kind.value)

    @classmethod
    def toggle(cls, option: int, page: int) -> BroadcastButton:
        """A picker's toggle of `option`, pressed on `page`."""
        return cls(Action.TOGGLE, str(option), page)

    @property
    def number(self) -> int:
        """The argument as a number (an id, hours, a page)."""
        return parse_int(self.arg)

    @property
    def audience(self) -> Audience:
        """The argument as an audience kind."""
        try:
            return Audience(self.arg)
        except ValueError as exc:
            raise BadPayload(f"not an audience: {self.arg!r}") from exc


@dataclass(frozen=True)
class Ack(Payload, prefix="ack"):
    """«Đã nhận» on one copy of an announcement."""

    announcement_id: int
