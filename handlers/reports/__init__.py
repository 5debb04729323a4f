"""The report conversation (/baocao): a unit's contact answers the period's questions.

Every answer is saved as it arrives; the person's place is kept in the database (the
`report` flow), so after a restart, or days later, /baocao resumes at the next unanswered
question. `flow` declares the flow and its entry points, `buttons` answers the presses,
`views` renders; the units of work are in `bot.services.reports`.
"""

from bot.services.reports import questions_of
from handlers.reports.buttons import on_button, period_picked
from handlers.reports.flow import (
    DEEP_LINK,
    FLOW,
    SPEC,
    ReportState,
    cancel_command,
    report_command,
    start_report,
)

__all__ = [
    "DEEP_LINK",
    "FLOW",
    "SPEC",
    "ReportState",
    "cancel_command",
    "on_button",
    "period_picked",
    "questions_of",
    "report_command",
    "start_report",
]
