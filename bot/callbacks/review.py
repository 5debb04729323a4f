"""Payloads of the review (/duyet) and status board (/tinhhinh) buttons.

Review buttons keep the old shape `rv:<action>:<id>[:<number>[:<revision>]]`, so buttons in
messages already sent still parse. «Chấp nhận» and «Trả lại» carry the version and the
revision the admin was shown; an old button without them is refused as "changed".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.callbacks import SEPARATOR, Payload

NO_REVISION = -1  # an accept/return button from before the revision was carried


class ReviewAction(StrEnum):
    """What a review button does."""

    PERIOD = "p"  # target: period id — the units that submitted
    PAGE = "pg"  # target: period id, number: page of that list
    UNIT = "u"  # target: submission id — its latest version
    VERSION = "v"  # target: submission id, number: the version to show
    FILES = "f"  # target: submission id, number: the version whose files to send
    ACCEPT = "a"  # target: submission id, number: version shown, revision: revision shown
    RETURN = "r"  # as ACCEPT


@dataclass(frozen=True)
class ReviewButton(Payload, prefix="rv"):
    """Every review button."""

    action: ReviewAction
    target: int
    number: int = 0
    revision: int = NO_REVISION

    def pack(self) -> str:
        """As `Payload.pack`, leaving out trailing fields at their defaults (the old shape)."""
        data = super().pack()
        if self.revision == NO_REVISION:
            data = data.rsplit(SEPARATOR, 1)[0]
            if self.number == 0:
                data = data.rsplit(SEPARATOR, 1)[0]
        return data

    @classmethod
    def page(cls, period_id: int, page: int) -> ReviewButton:
        """A page of a period's unit list (`rv:pg:<period>:<page>`)."""
        return cls(ReviewAction.PAGE, period_id, page)


@dataclass(frozen=True)
class StatusPeriod(Payload, prefix="st"):
    """A period button of /tinhhinh."""

    period_id: int
