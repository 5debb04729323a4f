"""Payloads of the event buttons: `ev:<action>[:field...]`, one class per action.

Every event button shares the prefix "ev" (buttons in messages already sent keep working);
the action after it picks the class, whose typed fields follow. `EventPayload.unpack` reads
any of them, `ShowEvent.unpack` only its own action; both raise `BadPayload` otherwise, and
ids out of bounds never reach the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Self

from bot.callbacks import MAX_BYTES, SEPARATOR, BadPayload, Payload


class Action(StrEnum):
    """What an event button does (the part after `ev:` in its callback data)."""

    LIST = "list"
    SHOW = "show"
    NEW = "new"
    KIND = "kind"
    SKIP = "skip"
    DEFAULTS = "dflt"
    CREATE = "create"
    CANCEL = "cancel"
    REGISTER = "reg"
    DECLINE = "no"
    EDIT = "edit"
    TOGGLE = "d"
    DONE = "done"
    CHANGE = "chg"
    CHANGE_TIME = "chgt"
    CHANGE_PLACE = "chgp"
    DELETE = "del"
    DELETE_YES = "delok"


@dataclass(frozen=True)
class EventPayload(Payload, prefix="ev"):
    """Base of the event buttons; a subclass names its action: `class X(EventPayload,
    action=Action.SHOW)`."""

    action: ClassVar[Action]
    _actions: ClassVar[dict[Action, type[EventPayload]]] = {}

    def __init_subclass__(cls, action: Action | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if action is not None:
            if action in EventPayload._actions:
                raise TypeError(f"event action {action!r} is already taken")
            cls.action = action
            EventPayload._actions[action] = cls

    def pack(self) -> str:
        """`ev:<action>:<fields>`; ValueError past Telegram's 64 bytes."""
        fields = super().pack()[len(self.prefix) :]  # "" or ":a:b"
        data = f"{self.prefix}{SEPARATOR}{self.action.value}{fields}"
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"callback data too long: {data!r}")
        return data

    @classmethod
    def unpack(cls, data: str | None) -> Self:
        """The button in `data` (of this class's action, unless called on the base)."""
        parts = (data or "").split(SEPARATOR)
        if parts[0] != EventPayload.prefix or len(parts) < 2:
            raise BadPayload("not an event button")
        try:
            kind = EventPayload._actions[Action(parts[1])]
        except (ValueError, KeyError):
            raise BadPayload(f"unknown event action: {parts[1]!r}") from None
        if cls is not EventPayload and kind is not cls:
            raise BadPayload(f"not a {cls.__name__}")
        rest = SEPARATOR.join([EventPayload.prefix, *parts[2:]])
        return super(EventPayload, kind).unpack(rest)  # type: ignore[misc,return-value]


@dataclass(frozen=True)
class ListEvents(EventPayload, action=Action.LIST):
    """Back to the list of upcoming events."""


@dataclass(frozen=True)
class ShowEvent(EventPayload, action=Action.SHOW):
    """An event's page."""

    event_id: int


@dataclass(frozen=True)
class NewEvent(EventPayload, action=Action.NEW):
    """An admin starts creating an event."""


@dataclass(frozen=True)
class PickKind(EventPayload, action=Action.KIND):
    """The kind of the event being created (checked against the kinds by the flow)."""

    kind: str


@dataclass(frozen=True)
class SkipDescription(EventPayload, action=Action.SKIP):
    """No description for the event being created."""


@dataclass(frozen=True)
class UseDefaults(EventPayload, action=Action.DEFAULTS):
    """The default disciplines for the sports event being created."""


@dataclass(frozen=True)
class CreateEvent(EventPayload, action=Action.CREATE):
    """The admin confirms the preview: the event is created and announced."""


@dataclass(frozen=True)
class CancelFlow(EventPayload, action=Action.CANCEL):
    """Leaves whatever event flow the person is in."""


@dataclass(frozen=True)
class Register(EventPayload, action=Action.REGISTER):
    """A unit registers for an event (asks how many people)."""

    event_id: int


@dataclass(frozen=True)
class EditRegistration(EventPayload, action=Action.EDIT):
    """A unit changes its registration (asks how many people again)."""

    event_id: int


@dataclass(frozen=True)
class Decline(EventPayload, action=Action.DECLINE):
    """A unit answers that it will not take part."""

    event_id: int


@dataclass(frozen=True)
class ToggleDiscipline(EventPayload, action=Action.TOGGLE):
    """Picks or unpicks the discipline at `index` of the event's list."""

    event_id: int
    index: int


@dataclass(frozen=True)
class DonePicking(EventPayload, action=Action.DONE):
    """The disciplines are picked: the registration is stored."""

    event_id: int


@dataclass(frozen=True)
class ChangeMenu(EventPayload, action=Action.CHANGE):
    """An admin asks what to change about an event."""

    event_id: int


@dataclass(frozen=True)
class ChangeTime(EventPayload, action=Action.CHANGE_TIME):
    """An admin moves an event (asks the new start)."""

    event_id: int


@dataclass(frozen=True)
class ChangePlace(EventPayload, action=Action.CHANGE_PLACE):
    """An admin changes an event's place (asks the new place)."""

    event_id: int


@dataclass(frozen=True)
class DeleteEvent(EventPayload, action=Action.DELETE):
    """An admin asks to cancel an event (a confirmation follows)."""

    event_id: int


@dataclass(frozen=True)
class DeleteConfirmed(EventPayload, action=Action.DELETE_YES):
    """An admin confirms cancelling an event: the units taking part are told."""

    event_id: int


ADMIN_ACTIONS = frozenset(
    {
        Action.NEW,
        Action.KIND,
        Action.SKIP,
        Action.DEFAULTS,
        Action.CREATE,
        Action.CHANGE,
        Action.CHANGE_TIME,
        Action.CHANGE_PLACE,
        Action.DELETE,
        Action.DELETE_YES,
    }
)
