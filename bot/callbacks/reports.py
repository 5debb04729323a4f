"""Payloads of the report conversation (/baocao) and of the buttons that open it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.callbacks import Payload


class ReportButton(StrEnum):
    """What a button of the report conversation does."""

    YES = "y"
    NO = "n"
    CHOICE = "c"
    DONE = "done"
    SKIP = "skip"
    KEEP = "keep"
    BACK = "back"
    CANCEL = "cancel"
    EDIT = "edit"
    SUBMIT = "submit"


@dataclass(frozen=True)
class ReportPeriodPick(Payload, prefix="rpp"):
    """Opens (or resumes) the caller's unit's report of a period: the period picker,
    reminders and a returned report's notice."""

    period_id: int


@dataclass(frozen=True)
class ReportAction(Payload, prefix="rpa"):
    """A button under a question or the preview: the action, the submission and the
    question it was shown for (and, for a choice, the option)."""

    action: ReportButton
    submission_id: int
    index: int
    option: int = 0
