"""Submissions: drafts saved answer by answer, versioned submits, reviews, attachments.

Every write names the `revision` the writer last saw. If someone else changed the submission
in between, `RevisionConflict` is raised with the current state instead of overwriting it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import audit
from storage.models import (
    Attachment,
    Contact,
    Department,
    ReportPeriod,
    Submission,
    SubmissionVersion,
    Unit,
)
from storage.periods import PeriodStatus, status_of


class SubmissionStatus(StrEnum):
    """A submission's review state."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    ACCEPTED = "accepted"


class BoardState(StrEnum):
    """A unit's state on the status board."""

    NOT_STARTED = "not_started"
    DRAFT = "draft"
    ON_TIME = "on_time"
    LATE = "late"
    RETURNED = "returned"
    ACCEPTED = "accepted"


class RevisionConflict(Exception):
    """Someone else changed the submission since the writer last looked.

    The transaction is rolled back, so the caller reloads the submission to show it.
    """

    def __init__(self, submission_id: int) -> None:
        super().__init__(f"submission {submission_id} changed meanwhile")
        self.submission_id = submission_id


class ReviewConflict(RevisionConflict):
    """The submission has a newer version, or was edited or reviewed, since the admin's
    page was shown: the decision is refused and nothing is written."""


class NotEditable(Exception):
    """The submission cannot change now; `reason` is a catalogue key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class BoardRow:
    """One unit on the status board."""

    department: Department
    unit: Unit
    submission: Submission | None
    state: BoardState


def days_late(submitted_at: datetime, deadline_at: datetime) -> int:
    """Whole days (rounded up) past the deadline; 0 when on time."""
    if submitted_at <= deadline_at:
        return 0
    return math.ceil((submitted_at - deadline_at).total_seconds() / 86400)


def answered_keys(submission: Submission) -> set[str]:
    """Questions with an answer (or a deliberate skip)."""
    return set(submission.answers)


def board_state(submission: Submission | None) -> BoardState:
    """Where a unit stands for the status board."""
    if submission is None or (submission.version == 0 and not submission.answers):
        return BoardState.NOT_STARTED
    status = SubmissionStatus(submission.status)
    if status is SubmissionStatus.ACCEPTED:
        return BoardState.ACCEPTED
    if status is SubmissionStatus.RETURNED:
        return BoardState.RETURNED
    if status is SubmissionStatus.SUBMITTED:
        return BoardState.LATE if submission.late else BoardState.ON_TIME
    return BoardState.DRAFT


async def get_or_create(*, session: AsyncSession, period_id: int, unit_id: int) -> Submission:
    """The unit's submission for the period, created empty on first use."""
    query = select(Submission).where(
        Submission.period_id == period_id, Submission.unit_id == unit_id
    )
    existing = (await session.exec(query)).first()
    if existing is not None:
        return existing
    try:
        async with session.begin_nested():
            submission = Submission(period_id=period_id, unit_id=unit_id)
            session.add(submission)
    except IntegrityError:  # another contact of the unit created it a moment ago
        return (await session.exec(query)).one()
    return submission


async def get_submission(*, session: AsyncSession, submission_id: int) -> Submission | None:
    """A submission by id, fresh from the database."""
    return await session.get(Submission, submission_id, populate_existing=True)


def check_editable(submission: Submission, period: ReportPeriod, now: datetime) -> None:
    """Raises NotEditable unless contacts may change the submission now."""
    status = status_of(period, now)
    if status is PeriodStatus.SCHEDULED:
        raise NotEditable("report.period_not_open")
    if status is PeriodStatus.CLOSED:
        raise NotEditable("report.period_closed")
    if submission.status == SubmissionStatus.ACCEPTED:
        raise NotEditable("report.already_accepted")


@dataclass(frozen=True)
class Loaded:
    """A submission, its period, and whether the account is an active contact of its unit."""

    submission: Submission
    period: ReportPeriod
    contact_of_unit: bool


async def load_for(*, session: AsyncSession, submission_id: int, user_id: int) -> Loaded | None:
    """The submission with its period and the account's standing, in one query."""
    query = (
        select(Submission, ReportPeriod, Contact.id)
        .join(ReportPeriod, col(ReportPeriod.id) == Submission.period_id)
        .outerjoin(
            Contact,
            and_(
                col(Contact.unit_id) == Submission.unit_id,
                col(Contact.telegram_user_id) == user_id,
                col(Contact.active).is_(True),
            ),
        )
        .where(col(Submission.id) == submission_id)
        .execution_options(populate_existing=True)
    )
    row = (await session.exec(query)).first()
    if row is None:
        return None
    submission, period, contact_id = row
    return Loaded(submission, period, contact_id is not None)


class NotAContact(Exception):
    """The account writing is not an active contact of the submission's unit (nor was it
    vouched for as an admin): nothing is written."""

    def __init__(self, submission_id: int, user_id: int) -> None:
        super().__init__(f"user {user_id} may not write submission {submission_id}")
        self.submission_id, self.user_id = submission_id, user_id


async def _load_for_write(
    session: AsyncSession,
    submission_id: int,
    expected_revision: int,
    now: datetime,
    loaded: Loaded | None,
    user_id: int,
    as_admin: bool,
) -> tuple[Submission, ReportPeriod]:
    """The submission and its period, if `user_id` may change it now: an active contact of
    its unit (as this transaction sees it), or an admin (`as_admin`, the caller's word)."""
    if loaded is None:
        loaded = await load_for(session=session, submission_id=submission_id, user_id=user_id)
        if loaded is None:
            raise NotEditable("report.gone")
    if not loaded.contact_of_unit and not as_admin:
        raise NotAContact(submission_id, user_id)
    submission, period = loaded.submission, loaded.period
    check_editable(submission, period, now)
    if submission.revision != expected_revision:
        raise RevisionConflict(submission_id)
    return submission, period


async def _bump(
    session: AsyncSession, submission: Submission, expected_revision: int, **values: Any
) -> Submission:
    """Writes values only if the revision is still the expected one (compare-and-set)."""
    result = await session.exec(
        update(Submission)
        .where(col(Submission.id) == submission.id, col(Submission.revision) == expected_revision)
        .values(revision=expected_revision + 1, **values)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise RevisionConflict(submission.id or 0)
    # The ORM applied the same values to the loaded object (synchronize_session).
    return submission


async def _write_answer(
    session: AsyncSession,
    submission: Submission,
    expected_revision: int,
    key: str,
    value: Any,
    user_id: int,
    now: datetime,
    *,
    skipped: bool = False,
) -> Submission:
    """Sets one answer (who, when) on a loaded submission, compare-and-set on its revision."""
    answers = dict(submission.answers)
    answers[key] = {"v": value, "by": user_id, "at": now.isoformat(), "skipped": skipped}
    return await _bump(
        session,
        submission,
        expected_revision,
        answers=answers,
        updated_by=user_id,
        updated_at=now,
        dirty=True,
    )


async def save_answer(
    *,
    session: AsyncSession,
    submission_id: int,
    expected_revision: int,
    key: str,
    value: Any,
    user_id: int,
    now: datetime,
    skipped: bool = False,
    loaded: Loaded | None = None,
    as_admin: bool = False,
) -> Submission:
    """Stores one answer (or a skip) and returns the submission at its new revision.
    NotAContact unless `user_id` is an active contact of its unit (or `as_admin`)."""
    submission, _ = await _load_for_write(
        session, submission_id, expected_revision, now, loaded, user_id, as_admin
    )
    fresh = await _write_answer(
        session, submission, expected_revision, key, value, user_id, now, skipped=skipped
    )
    await audit.record(
        session=session,
        action="submission.answer",
        actor_user_id=user_id,
        target=f"submission:{submission_id}",
        key=key,
        skipped=skipped,
    )
    return fresh


async def add_attachment(
    *,
    session: AsyncSession,
    submission_id: int,
    expected_revision: int,
    key: str,
    user_id: int,
    now: datetime,
    file_id: str,
    file_unique_id: str,
    file_name: str,
    mime_type: str | None,
    size: int,
    kind: str,
    sha256: str,
    loaded: Loaded | None = None,
    as_admin: bool = False,
) -> tuple[Attachment, Submission]:
    """Records a stored file and appends it to the answer of an attachments question
    (NotAContact as for `save_answer`)."""
    submission, _ = await _load_for_write(
        session, submission_id, expected_revision, now, loaded, user_id, as_admin
    )
    attachment = Attachment(
        submission_id=submission_id,
        question_key=key,
        file_id=file_id,
        file_unique_id=file_unique_id,
        file_name=file_name,
        mime_type=mime_type,
        size=size,
        kind=kind,
        sha256=sha256,
        uploaded_by=user_id,
        created_at=now,
    )
    session.add(attachment)
    await session.flush()
    previous = submission.answers.get(key, {}).get("v") or []
    fresh = await _write_answer(
        session, submission, expected_revision, key, [*previous, attachment.id], user_id, now
    )
    await audit.record(
        session=session,
        action="submission.attach",
        actor_user_id=user_id,
        target=f"submission:{submission_id}",
        key=key,
        file_name=file_name,
        sha256=sha256,
    )
    return attachment, fresh


async def submit(
    *,
    session: AsyncSession,
    submission_id: int,
    expected_revision: int,
    required_keys: list[str],
    user_id: int,
    now: datetime,
    loaded: Loaded | None = None,
    as_admin: bool = False,
) -> SubmissionVersion:
    """Freezes the current answers as a new version; late if past the deadline
    (NotAContact as for `save_answer`)."""
    submission, period = await _load_for_write(
        session, submission_id, expected_revision, now, loaded, user_id, as_admin
    )
    missing = [key for key in required_keys if key not in submission.answers]
    if missing:
        raise NotEditable("report.missing_answers")
    version_no = submission.version + 1
    late_by = days_late(now, period.deadline_at)
    version = SubmissionVersion(
        submission_id=submission_id,
        version=version_no,
        answers=dict(submission.answers),
        submitted_by=user_id,
        submitted_at=now,
        late=late_by > 0,
        days_late=late_by,
    )
    session.add(version)
    await _bump(
        session,
        submission,
        expected_revision,
        status=SubmissionStatus.SUBMITTED.value,
        version=version_no,
        submitted_at=now,
        late=late_by > 0,
        dirty=False,
        updated_by=user_id,
        updated_at=now,
    )
    await audit.record(
        session=session,
        action="submission.submit",
        actor_user_id=user_id,
        target=f"submission:{submission_id}",
        version=version_no,
        days_late=late_by,
    )
    return version


async def review(
    *,
    session: AsyncSession,
    submission_id: int,
    expected_version: int,
    expected_revision: int | None = None,
    accept: bool,
    admin_id: int,
    now: datetime,
    comment: str | None = None,
) -> Submission:
    """Accepts the submission, or returns it for revision with a comment.

    The decision is about the version the admin was shown: compare-and-set on the version
    (and, when given, the revision, which any edit or review moves on). If the submission
    changed meanwhile, `ReviewConflict` is raised and nothing is written.
    """
    status = SubmissionStatus.ACCEPTED if accept else SubmissionStatus.RETURNED
    condition = [
        col(Submission.id) == submission_id,
        col(Submission.version) == expected_version,
        col(Submission.version) > 0,
    ]
    if expected_revision is not None:
        condition.append(col(Submission.revision) == expected_revision)
    result = await session.exec(
        update(Submission)
        .where(*condition)
        .values(
            revision=Submission.revision + 1,
            status=status.value,
            reviewed_by=admin_id,
            reviewed_at=now,
            review_comment=comment,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        current = await get_submission(session=session, submission_id=submission_id)
        if current is None or current.version == 0:
            raise NotEditable("review.nothing_submitted")
        raise ReviewConflict(submission_id)
    await audit.record(
        session=session,
        action=f"submission.{status.value}",
        actor_user_id=admin_id,
        target=f"submission:{submission_id}",
        version=expected_version,
        comment=comment,
    )
    fresh = await get_submission(session=session, submission_id=submission_id)
    assert fresh is not None
    return fresh


async def versions(*, session: AsyncSession, submission_id: int) -> list[SubmissionVersion]:
    """Every submitted version, newest first."""
    query = (
        select(SubmissionVersion)
        .where(SubmissionVersion.submission_id == submission_id)
        .order_by(col(SubmissionVersion.version).desc())
    )
    return list((await session.exec(query)).all())


async def attachments(*, session: AsyncSession, ids: list[int]) -> list[Attachment]:
    """Attachments by id, in the given order."""
    if not ids:
        return []
    rows = (await session.exec(select(Attachment).where(col(Attachment.id).in_(ids)))).all()
    by_id = {a.id: a for a in rows}
    return [by_id[i] for i in ids if i in by_id]


async def board(*, session: AsyncSession, period_id: int) -> list[BoardRow]:
    """Every active unit with its submission state, in department order."""
    units = (
        await session.exec(
            select(Unit, Department)
            .join(Department, col(Department.id) == Unit.department_id)
            .where(col(Unit.active).is_(True))
            .order_by(col(Department.id), col(Unit.position))
        )
    ).all()
    subs = {
        s.unit_id: s
        for s in (
            await session.exec(select(Submission).where(Submission.period_id == period_id))
        ).all()
    }
    return [
        BoardRow(dept, unit, subs.get(unit.id or 0), board_state(subs.get(unit.id or 0)))
        for unit, dept in units
    ]
