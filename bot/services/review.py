"""Reviewing submissions (/duyet): the pages an admin reads, and accept / return.

A decision is about the version the admin was shown: «Chấp nhận» and «Trả lại» carry its
version and revision, and `storage.submissions.review` compares and sets on them. If the
submission changed since the page opened (a newer version, an edit, another admin's
decision), nothing changes; the admin is told so and shown the submission as it is now,
in the same unit of work. A decision, the admin's reply and the notices to the unit's
contacts commit together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.callbacks.reports import ReportPeriodPick
from bot.conversations import Flow
from bot.permissions import Caller
from bot.questions import Question
from bot.services import notices
from bot.services.errors import ServiceError
from bot.services.status import check_admin
from bot.services.work import Outgoing, Work
from bot.text import utf16_len
from storage import bloc, contacts, periods, submissions
from storage.models import Attachment, ReportPeriod, Submission, SubmissionVersion, Unit
from storage.submissions import (
    BoardState,
    NotEditable,
    ReviewConflict,
    SubmissionStatus,
    board_state,
)

if TYPE_CHECKING:
    from bot.context import Services

COMMENT_LENGTH = (3, 2000)


@dataclass(frozen=True)
class Submitted:
    """A unit that has submitted at least one version for the period."""

    submission_id: int
    unit_name: str
    state: BoardState


@dataclass(frozen=True)
class UnitList:
    """The units to review for a period."""

    period: ReportPeriod
    units: list[Submitted]


@dataclass(frozen=True)
class ReviewPage:
    """One version of a submission, as the admin is shown it."""

    submission: Submission
    period: ReportPeriod
    unit: Unit
    version: SubmissionVersion
    total: int  # versions submitted so far
    submitted_by: str | None
    files: dict[int, Attachment]  # the version's attachments by id

    @property
    def questions(self) -> list[Question]:
        """The period's questions (copied in when it was created)."""
        return [Question.model_validate(q) for q in self.period.questions]

    @property
    def latest(self) -> bool:
        """Whether this is the newest version (the one a decision is about)."""
        return self.version.version == self.submission.version

    @property
    def decidable(self) -> bool:
        """Whether «Chấp nhận» / «Trả lại» are offered on this page."""
        return self.latest and self.submission.status != SubmissionStatus.ACCEPTED

    @property
    def state(self) -> BoardState:
        """Where the unit stands on the status board."""
        return board_state(self.submission)

    @property
    def file_ids(self) -> list[int]:
        """The version's attachment ids, in answer order."""
        return file_ids(self.version)


class Outcome(StrEnum):
    """How a decision (or the press of «Trả lại») ended."""

    ACCEPTED = "accepted"
    RETURNED = "returned"
    ASKED = "asked"  # «Trả lại» pressed: the comment is asked for
    CHANGED = "changed"  # the submission changed since the page opened: nothing done
    GONE = "gone"  # the submission (or its period or unit) no longer exists


@dataclass(frozen=True)
class Decision:
    """The outcome, and the submission as it now is (`page`, for CHANGED and ASKED)."""

    outcome: Outcome
    period: ReportPeriod | None = None
    unit: Unit | None = None
    page: ReviewPage | None = None
    comment: str | None = None
    reason: str = "common.stale_button"  # the catalogue key explaining GONE


def file_ids(version: SubmissionVersion) -> list[int]:
    """The attachment ids in a version's answers."""
    ids: list[int] = []
    for entry in version.answers.values():
        value = entry.get("v")
        if isinstance(value, list):
            ids.extend(int(v) for v in value)
    return ids


async def unit_list(services: Services, *, actor: Caller, period_id: int) -> UnitList | None:
    """The units that submitted for the period, or None if there is no such period."""
    check_admin(services, actor)
    async with services.db.read() as session:
        period = await periods.get_period(session=session, period_id=period_id)
        if period is None:
            return None
        rows = await submissions.board(session=session, period_id=period_id)
    units = [
        Submitted(row.submission.id or 0, row.unit.name, row.state)
        for row in rows
        if row.submission is not None and row.submission.version > 0
    ]
    return UnitList(period, units)


async def page(
    services: Services, *, actor: Caller, submission_id: int, version: int | None = None
) -> ReviewPage | None:
    """A version of a submission (the latest when `version` is None or unknown)."""
    check_admin(services, actor)
    async with services.db.read() as session:
        return await _page(session, submission_id, version)


async def files(
    services: Services, *, actor: Caller, submission_id: int, version: int
) -> list[Attachment]:
    """The attachments of one version, in answer order (empty if it has none or is gone)."""
    check_admin(services, actor)
    async with services.db.read() as session:
        found = await _page(session, submission_id, version)
        if found is None:
            return []
        return await submissions.attachments(session=session, ids=found.file_ids)


async def ask_comment(
    services: Services,
    *,
    update_id: int | None,
    actor: Caller,
    chat_id: int,
    submission_id: int,
    version: int,
    revision: int,
    flow: Callable[[ReviewPage], Flow],
    render: Callable[[Decision], Sequence[Outgoing]],
) -> Decision:
    """«Trả lại» pressed: if the page is still current, the admin enters the comment flow
    (`flow(page)`, saved with the question); else CHANGED with the page as it is now."""
    check_admin(services, actor)
    async with services.work(update_id) as work:
        current = await _page(work.session, submission_id, None)
        if current is None:
            result = Decision(Outcome.GONE)
        elif not _still(current, version, revision):
            result = Decision(Outcome.CHANGED, current.period, current.unit, current)
        else:
            await work.save_flow(chat_id, actor.user_id, flow(current))
            result = Decision(Outcome.ASKED, current.period, current.unit, current)
        work.send(*render(result))
    return result


async def decide(
    services: Services,
    *,
    update_id: int | None,
    actor: Caller,
    submission_id: int,
    version: int,
    revision: int,
    accept: bool,
    comment: str | None = None,
    flow_chat: int | None = None,
    render: Callable[[Decision], Sequence[Outgoing]],
) -> Decision:
    """Accepts, or returns with `comment`, the version the admin was shown.

    In one unit of work: the decision, the admin's reply (`render(result)`), the notice to
    each contact of the unit, and the end of the admin's comment flow (in `flow_chat`).
    If the submission changed since the page opened, nothing is decided: CHANGED, with the
    page as it now is for `render` to show. A return's comment (spaces folded) must be
    3 to 2000 characters, else ServiceError("review.comment_length") and nothing changes.
    """
    check_admin(services, actor)
    if not accept:
        comment = " ".join((comment or "").split())
        if not COMMENT_LENGTH[0] <= utf16_len(comment) <= COMMENT_LENGTH[1]:
            raise ServiceError("review.comment_length")
    async with services.work(update_id) as work:
        if flow_chat is not None:
            await work.end_flow(flow_chat, actor.user_id)
        result = await _decide(
            work, services, actor, submission_id, version, revision, accept, comment
        )
        work.send(*render(result))
        if result.outcome in (Outcome.ACCEPTED, Outcome.RETURNED):
            assert result.unit is not None and result.period is not None
            await _notify(work, services, result.unit, result.period, accept, comment)
    return result


async def _decide(
    work: Work,
    services: Services,
    actor: Caller,
    submission_id: int,
    version: int,
    revision: int,
    accept: bool,
    comment: str | None,
) -> Decision:
    session = work.session
    submission = await submissions.get_submission(session=session, submission_id=submission_id)
    if submission is None:
        return Decision(Outcome.GONE)
    period = await periods.get_period(session=session, period_id=submission.period_id)
    unit = await bloc.get_unit(session=session, unit_id=submission.unit_id)
    if period is None or unit is None:
        return Decision(Outcome.GONE)
    try:
        await submissions.review(
            session=session,
            submission_id=submission_id,
            expected_version=version,
            expected_revision=revision,
            accept=accept,
            admin_id=actor.user_id,
            now=services.clock(),
            comment=comment,
        )
    except NotEditable as exc:
        return Decision(Outcome.GONE, period, unit, reason=exc.reason)
    except ReviewConflict:  # nothing was written: show the submission as it is now
        current = await _page(session, submission_id, None)
        if current is None:
            return Decision(Outcome.GONE)
        return Decision(Outcome.CHANGED, period, unit, current)
    outcome = Outcome.ACCEPTED if accept else Outcome.RETURNED
    return Decision(outcome, period, unit, comment=comment)


async def _notify(
    work: Work,
    services: Services,
    unit: Unit,
    period: ReportPeriod,
    accept: bool,
    comment: str | None,
) -> None:
    """The decision, to every active contact of the unit, in their language."""

    def reopen(language: str) -> dict[str, Any] | None:
        if accept:
            return None
        label = services.translator(language, "review.open_report_button")
        data = ReportPeriodPick(period.id or 0).pack()
        return {"inline_keyboard": [[{"text": label, "callback_data": data}]]}

    people = await contacts.list_contacts(session=work.session, unit_id=unit.id)
    await notices.to_users(
        work,
        services,
        [c.telegram_user_id for c, _ in people],
        "review.accepted_notice" if accept else "review.returned_notice",
        markup=reopen,
        period=period.title,
        comment=comment or "",
    )


def _still(current: ReviewPage, version: int, revision: int) -> bool:
    """Whether the submission is as the admin's page showed it."""
    return current.submission.version == version and current.submission.revision == revision


async def _page(session: AsyncSession, submission_id: int, number: int | None) -> ReviewPage | None:
    submission = await submissions.get_submission(session=session, submission_id=submission_id)
    if submission is None:
        return None
    period = await periods.get_period(session=session, period_id=submission.period_id)
    unit = await bloc.get_unit(session=session, unit_id=submission.unit_id)
    history = await submissions.versions(session=session, submission_id=submission_id)
    if period is None or unit is None or not history:
        return None
    version = next((v for v in history if v.version == number), history[0])
    by = await contacts.name_of(session=session, telegram_user_id=version.submitted_by)
    attached = await submissions.attachments(session=session, ids=file_ids(version))
    return ReviewPage(
        submission=submission,
        period=period,
        unit=unit,
        version=version,
        total=len(history),
        submitted_by=by,
        files={a.id or 0: a for a in attached},
    )
