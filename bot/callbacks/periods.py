"""Payloads of report periods (/kybaocao, prefix "kp") and manual reminders (/nhac, "nh").

The packed forms are those of the buttons already sent: `kp:<action>[:<kind or period>]`
and `nh:<action>:<period>[:<page or unit>]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.callbacks import BadPayload, Payload, parse_int
from bot.questions import PeriodKind


class PeriodAction(StrEnum):
    """What a /kybaocao button does."""

    NEW = "new"  # start the create flow
    KIND = "kind"  # the kind of the new period (target: a PeriodKind)
    TITLE = "title"  # take the suggested title
    NOW = "now"  # open it now
    CREATE = "create"  # create it as confirmed
    CANCEL = "cancel"  # leave the flow
    EXTEND = "ext"  # ask for a new deadline (target: a period id)
    CLOSE = "close"  # ask to confirm closing (target: a period id)
    CLOSE_YES = "close_yes"  # close it (target: a period id)


TARGET_PERIOD = frozenset({PeriodAction.EXTEND, PeriodAction.CLOSE, PeriodAction.CLOSE_YES})


@dataclass(frozen=True)
class PeriodButton(Payload, prefix="kp"):
    """A button of /kybaocao. `target` is the period kind for KIND, the period id for
    EXTEND/CLOSE/CLOSE_YES, and empty otherwise (checked when built and when unpacked)."""

    action: PeriodAction
    target: str = ""

    def __post_init__(self) -> None:
        if self.action is PeriodAction.KIND:
            if self.target not in set(PeriodKind):
                raise BadPayload(f"not a period kind: {self.target!r}")
        elif self.action in TARGET_PERIOD:
            if parse_int(self.target) < 0:
                raise BadPayload(f"not a period id: {self.target!r}")
        elif self.target:
            raise BadPayload(f"{self.action} takes no target")

    def pack(self) -> str:
        """As the buttons already sent: no trailing separator when there is no target."""
        return PeriodButton.prefix + ":" + self.action.value if not self.target else super().pack()

    @classmethod
    def of_period(cls, action: PeriodAction, period_id: int) -> PeriodButton:
        """A button acting on one period."""
        return cls(action, str(period_id))

    @classmethod
    def of_kind(cls, kind: PeriodKind) -> PeriodButton:
        """The button choosing the new period's kind."""
        return cls(PeriodAction.KIND, kind.value)

    @property
    def period_id(self) -> int:
        """The period an EXTEND/CLOSE/CLOSE_YES button names."""
        if self.action not in TARGET_PERIOD:
            raise BadPayload(f"{self.action} names no period")
        return int(self.target)

    @property
    def kind(self) -> PeriodKind:
        """The kind a KIND button names."""
        if self.action is not PeriodAction.KIND:
            raise BadPayload(f"{self.action} names no kind")
        return PeriodKind(self.target)


class RemindAction(StrEnum):
    """What a /nhac button does."""

    PERIOD = "p"  # show the period's missing units (arg: the page)
    ALL = "all"  # remind every missing unit
    UNIT = "u"  # remind one unit (arg: the unit id)


@dataclass(frozen=True)
class RemindButton(Payload, prefix="nh"):
    """A button of /nhac: a period's menu page, "remind all", or one unit."""

    action: RemindAction
    period_id: int
    arg: int = 0

    def __post_init__(self) -> None:
        if self.period_id < 0 or self.arg < 0:
            raise BadPayload("negative id or page")

    @classmethod
    def page(cls, period_id: int, page: int = 0) -> RemindButton:
        """A page of the period's menu."""
        return cls(RemindAction.PERIOD, period_id, page)

    @classmethod
    def unit(cls, period_id: int, unit_id: int) -> RemindButton:
        """Remind one unit."""
        return cls(RemindAction.UNIT, period_id, unit_id)

    @classmethod
    def everyone(cls, period_id: int) -> RemindButton:
        """Remind every unit still missing."""
        return cls(RemindAction.ALL, period_id)

    @property
    def page_number(self) -> int:
        """The menu page a PERIOD button shows."""
        return self.arg if self.action is RemindAction.PERIOD else 0

    @property
    def unit_id(self) -> int | None:
        """The unit a UNIT button names (None for the others)."""
        return self.arg if self.action is RemindAction.UNIT else None
