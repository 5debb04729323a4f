"""The report conversation (/baocao): a unit's contact answers the period's questions.

Each public function is one unit of work: the answer (compare-and-set on the submission's
revision), the person's next place in the flow, the update's inbox mark and every message
the step causes (the next question or the preview, the "submitted" reply, the admins'
notice) commit together. The handler passes a `Ui`: it renders what the step shows and
turns a `Place` into the stored flow state.

Inside the work the caller is re-checked: they must still be an active contact of the
submission's unit (or an admin). A refusal (`NotAllowed`, `ServiceError`) changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from bot.callbacks.reports import ReportButton
from bot.conversations import Flow
from bot.permissions import Caller
from bot.questions import AnswerError, Question, QuestionType, parse_text_answer
from bot.services import notices
from bot.services.errors import NotAllowed, ServiceError
from bot.services.work import Outgoing, Work
from storage import bloc, contacts, periods, submissions
from storage.models import Attachment, ReportPeriod, Submission, SubmissionVersion
from storage.submissions import (
    Loaded,
    NotAContact,
    NotEditable,
    RevisionConflict,
    SubmissionStatus,
)

if TYPE_CHECKING:
    from bot.context import Services

STALE = "common.stale_button"


class Step(StrEnum):
    """Where a contact is in the report flow."""

    ASK = "ask"
    PREVIEW = "preview"


@dataclass(frozen=True)
class Place:
    """The person's place in the flow: the step, and the revision they last saw."""

    step: Step
    submission_id: int
    period_id: int
    index: int
    revision: int
    editing: bool = False


@dataclass(frozen=True)
class Note:
    """A catalogue message shown before the screen (a datetime value is shown in the
    person's time zone and language)."""

    key: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Asking:
    """Question `index`, with the current answer if there is one."""

    submission: Submission
    questions: list[Question]
    index: int
    editing: bool
    files: dict[int, Attachment]
    error: Note | None = None

    @property
    def question(self) -> Question:
        return self.questions[self.index]


@dataclass(frozen=True)
class Previewing:
    """The whole submission, with edit and submit buttons unless `read_only`."""

    submission: Submission
    period: ReportPeriod
    questions: list[Question]
    files: dict[int, Attachment]
    read_only: bool = False


@dataclass(frozen=True)
class FileReceived:
    """A file was attached to the current question."""

    asking: Asking
    name: str
    size: int
    count: int


@dataclass(frozen=True)
class Submitted:
    """The report was submitted as `version`."""

    period: ReportPeriod
    version: SubmissionVersion


@dataclass(frozen=True)
class PeriodChoice:
    """Several periods are open: the person picks one."""

    periods: list[ReportPeriod]


Screen = Asking | Previewing | FileReceived | Submitted | PeriodChoice


@dataclass(frozen=True)
class Shown:
    """What a step showed and where it left the person.

    `place` is their new place (None: unchanged, or out of the flow when `ended`)."""

    notes: tuple[Note, ...] = ()
    screen: Screen | None = None
    place: Place | None = None
    ended: bool = False


class Ui(Protocol):
    """What the handler gives a step: rendering, and the stored form of a place."""

    def render(self, shown: Shown) -> Sequence[Outgoing]: ...

    def flow(self, place: Place) -> Flow: ...


@dataclass(frozen=True)
class Upload:
    """A file the handler has downloaded from Telegram and stored by its SHA-256."""

    file_id: str
    file_unique_id: str
    name: str
    mime_type: str | None
    size: int
    kind: str
    sha256: str


# --- questions --------------------------------------------------------------------------


def questions_of(period: ReportPeriod) -> list[Question]:
    """The period's questions (copied in when the period was created)."""
    return [Question.model_validate(q) for q in period.questions]


def _cached(services: Services, period: ReportPeriod) -> list[Question]:
    cache: dict[int, list[Question]] = services.questions
    if period.id not in cache:
        cache[period.id or 0] = questions_of(period)
    return cache[period.id or 0]


async def questions(services: Services, period_id: int) -> list[Question] | None:
    """A period's questions, cached: they never change once the period exists."""
    cache: dict[int, list[Question]] = services.questions
    if period_id not in cache:
        async with services.db.read() as session:
            period = await periods.get_period(session=session, period_id=period_id)
        if period is None:
            return None
        cache[period_id] = questions_of(period)
    return cache[period_id]


def timing(services: Services, language: str, late_days: int) -> str:
    """The "on time" or "late by N days" note, in `language`."""
    if late_days <= 0:
        return services.translator(language, "report.on_time")
    return services.translator(language, "report.late_by", days=late_days)


# --- units of work ----------------------------------------------------------------------


async def start(
    services: Services,
    *,
    update_id: int | None,
    actor: Caller,
    chat_id: int,
    period_id: int | None,
    ui: Ui,
) -> Shown:
    """Opens (or resumes) the caller's unit's report of `period_id`; with no period given,
    of the only open period, or offers the open periods to pick from."""
    async with services.work(update_id) as work:
        session = work.session
        contact = await contacts.get_active_contact(session=session, telegram_user_id=actor.user_id)
        if contact is None:
            raise NotAllowed("report.no_unit")
        if period_id is None:
            open_now = await periods.open_periods(session=session, now=work.now)
            if not open_now:
                return await _show(
                    work, ui, chat_id, actor, Shown((Note("report.no_open_period"),))
                )
            if len(open_now) > 1:
                return await _show(work, ui, chat_id, actor, Shown(screen=PeriodChoice(open_now)))
            period: ReportPeriod | None = open_now[0]
        else:
            period = await periods.get_period(session=session, period_id=period_id)
        if period is None or periods.status_of(period, work.now) is not periods.PeriodStatus.OPEN:
            return await _show(work, ui, chat_id, actor, Shown((Note("report.period_closed"),)))
        submission = await submissions.get_or_create(
            session=session, period_id=period.id or 0, unit_id=contact.unit_id
        )
        notes: list[Note] = []
        if submission.answers and submission.updated_by not in (None, actor.user_id):
            editor = await contacts.name_of(session=session, telegram_user_id=submission.updated_by)
            if editor:
                notes.append(
                    Note("report.shared_notice", {"name": editor, "time": submission.updated_at})
                )
        qs = _cached(services, period)
        if submission.status == SubmissionStatus.ACCEPTED:
            files = await _files(work, qs, submission.answers)
            screen = Previewing(submission, period, qs, files, read_only=True)
            return await _show(work, ui, chat_id, actor, Shown(tuple(notes), screen, ended=True))
        if submission.status == SubmissionStatus.RETURNED and submission.review_comment:
            notes.append(Note("report.returned_notice", {"comment": submission.review_comment}))
        index = next((i for i, q in enumerate(qs) if q.key not in submission.answers), None)
        if index is None:
            shown = await _preview(work, submission, period, qs, tuple(notes))
        else:
            shown = await _asking(work, submission, period, qs, index, notes=tuple(notes))
        return await _show(work, ui, chat_id, actor, shown)


async def answer(
    services: Services,
    *,
    update_id: int | None,
    actor: Caller,
    chat_id: int,
    place: Place,
    text: str | None,
    ui: Ui,
) -> Shown:
    """A typed answer to the current question: stored, and the next question (or the
    preview) shown; a malformed one asks the same question again, saying what was wrong."""
    qs = await questions(services, place.period_id)
    async with services.work(update_id) as work:
        if qs is None or not 0 <= place.index < len(qs):
            return await _show(work, ui, chat_id, actor, _gone())
        question = qs[place.index]
        if question.type is QuestionType.ATTACHMENTS:
            return await _reask(work, services, ui, chat_id, actor, place, "report.error_need_file")
        if text is None:
            return await _reask(work, services, ui, chat_id, actor, place, "report.error_need_text")
        try:
            value = parse_text_answer(question, text, actor.language)
        except AnswerError as exc:
            return await _reask(work, services, ui, chat_id, actor, place, exc.key, **exc.details)
        shown = await _store(work, services, actor, place, qs, question.key, value)
        return await _show(work, ui, chat_id, actor, shown)


async def reask(
    services: Services,
    *,
    update_id: int | None,
    actor: Caller,
    chat_id: int,
    place: Place,
    error: str | None,
    ui: Ui,
    **details: Any,
) -> Shown:
    """Asks the current question again after saying what was wrong (a file too big, not a
    file): nothing changes but the reply."""
    async with services.work(update_id) as work:
        return await _reask(work, services, ui, chat_id, actor, place, error, **details)


async def attach(
    services: Services,
    *,
    update_id: int | None,
    actor: Caller,
    chat_id: int,
    place: Place,
    upload: Upload,
    ui: Ui,
) -> Shown:
    """Records a downloaded file as part of the current (attachments) question's answer."""
    qs = await questions(services, place.period_id)
    async with services.work(update_id) as work:
        if qs is None or not 0 <= place.index < len(qs):
            return await _show(work, ui, chat_id, actor, _gone())
        question = qs[place.index]
        if question.type is not QuestionType.ATTACHMENTS:
            return await _reask(work, services, ui, chat_id, actor, place, "report.error_need_text")
        loaded = await _load(work, services, actor, place)
        if loaded is None:
            return await _show(work, ui, chat_id, actor, _gone())
        try:
            async with work.session.begin_nested():  # the file row goes with the answer, or not
                _, fresh = await submissions.add_attachment(
                    session=work.session,
                    submission_id=place.submission_id,
                    expected_revision=place.revision,
                    key=question.key,
                    user_id=actor.user_id,
                    now=work.now,
                    file_id=upload.file_id,
                    file_unique_id=upload.file_unique_id,
                    file_name=upload.name,
                    mime_type=upload.mime_type,
                    size=upload.size,
                    kind=upload.kind,
                    sha256=upload.sha256,
                    loaded=loaded,
                    as_admin=services.is_admin(actor.user_id),
                )
        except NotAContact as exc:
            raise NotAllowed("report.no_unit") from exc
        except (RevisionConflict, NotEditable) as exc:
            return await _show(work, ui, chat_id, actor, await _refused(work, exc))
        asking = await _asking(work, fresh, loaded.period, qs, place.index, editing=place.editing)
        assert isinstance(asking.screen, Asking)
        count = len(fresh.answers.get(question.key, {}).get("v") or [])
        shown = Shown(
            screen=FileReceived(asking.screen, upload.name, upload.size, count),
            place=asking.place,
        )
        return await _show(work, ui, chat_id, actor, shown)


async def choose(
    services: Services,
    *,
    update_id: int | None,
    actor: Caller,
    chat_id: int,
    place: Place,
    action: ReportButton,
    option: int = 0,
    ui: Ui,
) -> Shown:
    """A button under a question: yes/no, a choice, skip, keep the current answer, or
    done with the files. Raises ServiceError("common.stale_button") for an unknown choice."""
    qs = await questions(services, place.period_id)
    async with services.work(update_id) as work:
        if qs is None or not 0 <= place.index < len(qs):
            return await _show(work, ui, chat_id, actor, _gone())
        question = qs[place.index]
        kind = question.type
        if action is ReportButton.CHOICE and kind is QuestionType.CHOICE:
            if not 0 <= option < len(question.choices):
                raise ServiceError(STALE)
            shown = await _store(work, services, actor, place, qs, question.key, option)
        elif action in (ReportButton.YES, ReportButton.NO) and kind is QuestionType.YES_NO:
            value = action is ReportButton.YES
            shown = await _store(work, services, actor, place, qs, question.key, value)
        elif action is ReportButton.SKIP and question.optional:
            shown = await _store(work, services, actor, place, qs, question.key, None, True)
        elif action in (ReportButton.KEEP, ReportButton.DONE):
            loaded = await _load(work, services, actor, place)
            if loaded is None:
                shown = _gone()
            elif action is ReportButton.DONE and question.key not in loaded.submission.answers:
                if not question.optional:
                    return await _reask(
                        work, services, ui, chat_id, actor, place, "report.error_need_file"
                    )
                shown = await _store(work, services, actor, place, qs, question.key, [], True)
            else:
                shown = await _checked(work, loaded) or await _next(work, loaded, place, qs)
        else:
            return await _reask(work, services, ui, chat_id, actor, place, None)
        return await _show(work, ui, chat_id, actor, shown)


async def go_to(
    services: Services,
    *,
    update_id: int | None,
    actor: Caller,
    chat_id: int,
    place: Place,
    action: ReportButton,
    index: int = 0,
    ui: Ui,
) -> Shown:
    """«Quay lại» under a question (the previous one, or the preview when editing one
    answer), or «Sửa câu N» under the preview."""
    qs = await questions(services, place.period_id)
    async with services.work(update_id) as work:
        loaded = await _load(work, services, actor, place) if qs is not None else None
        if qs is None or loaded is None:
            return await _show(work, ui, chat_id, actor, _gone())
        refused = await _checked(work, loaded)
        if refused is not None:
            return await _show(work, ui, chat_id, actor, refused)
        submission, period = loaded.submission, loaded.period
        if action is ReportButton.EDIT:
            if not 0 <= index < len(qs):
                return Shown()
            shown = await _asking(work, submission, period, qs, index, editing=True)
        elif place.editing:
            shown = await _preview(work, submission, period, qs)
        else:
            shown = await _asking(work, submission, period, qs, max(place.index - 1, 0))
        return await _show(work, ui, chat_id, actor, shown)


async def submit(
    services: Services,
    *,
    update_id: int | None,
    actor: Caller,
    chat_id: int,
    place: Place,
    ui: Ui,
) -> Shown:
    """Submits the report as a new version; the reply and the admins' notice commit with it."""
    qs = await questions(services, place.period_id)
    async with services.work(update_id) as work:
        loaded = await _load(work, services, actor, place) if qs is not None else None
        if qs is None or loaded is None:
            return await _show(work, ui, chat_id, actor, _gone())
        required = [q.key for q in qs if not q.optional]
        try:
            version = await submissions.submit(
                session=work.session,
                submission_id=place.submission_id,
                expected_revision=place.revision,
                required_keys=required,
                user_id=actor.user_id,
                now=work.now,
                loaded=loaded,
                as_admin=services.is_admin(actor.user_id),
            )
        except NotAContact as exc:
            raise NotAllowed("report.no_unit") from exc
        except (RevisionConflict, NotEditable) as exc:
            return await _show(work, ui, chat_id, actor, await _refused(work, exc))
        period = loaded.period
        shown = await _show(
            work, ui, chat_id, actor, Shown(screen=Submitted(period, version), ended=True)
        )
        unit = await bloc.get_unit(session=work.session, unit_id=loaded.submission.unit_id)
        late = version.days_late
        await notices.to_admins(
            work,
            services,
            "report.admin_notice",
            exclude=actor.user_id,
            unit=unit.name if unit is not None else "?",
            period=period.title,
            version=version.version,
            timing=lambda language: timing(services, language, late),
        )
        return shown


async def cancel(
    services: Services,
    *,
    update_id: int | None,
    actor: Caller,
    chat_id: int,
    key: str = "report.cancelled",
    ui: Ui,
) -> Shown:
    """Leaves the flow (the draft stays saved): «Dừng» in the flow, or /huy."""
    async with services.work(update_id) as work:
        return await _show(work, ui, chat_id, actor, Shown((Note(key),), ended=True))


# --- the steps' common parts --------------------------------------------------------------


async def _show(work: Work, ui: Ui, chat_id: int, actor: Caller, shown: Shown) -> Shown:
    """Moves the person to the shown place (or out of the flow) and queues what they see."""
    if shown.place is not None:
        await work.save_flow(chat_id, actor.user_id, ui.flow(shown.place))
    elif shown.ended:
        await work.end_flow(chat_id, actor.user_id)
    work.send(*ui.render(shown))
    return shown


def _gone() -> Shown:
    return Shown((Note("report.gone"),), ended=True)


async def _load(work: Work, services: Services, actor: Caller, place: Place) -> Loaded | None:
    """The flow's submission and period (None if gone); NotAllowed unless the caller is
    still an active contact of its unit, or an admin."""
    loaded = await submissions.load_for(
        session=work.session, submission_id=place.submission_id, user_id=actor.user_id
    )
    if loaded is None:
        return None
    if not loaded.contact_of_unit and not services.is_admin(actor.user_id):
        raise NotAllowed("report.no_unit")
    return loaded


async def _checked(work: Work, loaded: Loaded) -> Shown | None:
    """The refusal if the submission cannot change now (the flow ends), else None."""
    try:
        submissions.check_editable(loaded.submission, loaded.period, work.now)
    except NotEditable as exc:
        return Shown((Note(exc.reason),), ended=True)
    return None


async def _store(
    work: Work,
    services: Services,
    actor: Caller,
    place: Place,
    qs: list[Question],
    key: str,
    value: Any,
    skipped: bool = False,
) -> Shown:
    """Saves one answer and moves on (back to the preview when editing one answer)."""
    loaded = await _load(work, services, actor, place)
    if loaded is None:
        return _gone()
    try:
        fresh = await submissions.save_answer(
            session=work.session,
            submission_id=place.submission_id,
            expected_revision=place.revision,
            key=key,
            value=value,
            user_id=actor.user_id,
            now=work.now,
            skipped=skipped,
            loaded=loaded,
            as_admin=services.is_admin(actor.user_id),
        )
    except NotAContact as exc:
        raise NotAllowed("report.no_unit") from exc
    except (RevisionConflict, NotEditable) as exc:
        return await _refused(work, exc)
    return await _next(work, Loaded(fresh, loaded.period, True), place, qs)


async def _next(work: Work, loaded: Loaded, place: Place, qs: list[Question]) -> Shown:
    """The question after the current one, or the preview after the last (or an edit)."""
    submission, period = loaded.submission, loaded.period
    if place.editing or place.index + 1 >= len(qs):
        return await _preview(work, submission, period, qs)
    return await _asking(work, submission, period, qs, place.index + 1)


async def _reask(
    work: Work,
    services: Services,
    ui: Ui,
    chat_id: int,
    actor: Caller,
    place: Place,
    error: str | None,
    **details: Any,
) -> Shown:
    qs = await questions(services, place.period_id)
    loaded = await _load(work, services, actor, place)
    if qs is None or loaded is None or not 0 <= place.index < len(qs):
        return await _show(work, ui, chat_id, actor, _gone())
    refused = await _checked(work, loaded)
    if refused is not None:
        return await _show(work, ui, chat_id, actor, refused)
    shown = await _asking(
        work,
        loaded.submission,
        loaded.period,
        qs,
        place.index,
        editing=place.editing,
        error=Note(error, details) if error else None,
    )
    # Nothing changed: the place stays as it is (not rewritten).
    return await _show(work, ui, chat_id, actor, Shown(shown.notes, shown.screen))


async def _refused(work: Work, error: Exception) -> Shown:
    """Someone else changed the report (say so, show it as it is now), or it can no
    longer change (say why; the flow ends unless answers are missing)."""
    if isinstance(error, NotEditable):
        return Shown((Note(error.reason),), ended=error.reason != "report.missing_answers")
    assert isinstance(error, RevisionConflict)
    session = work.session
    current = await submissions.get_submission(session=session, submission_id=error.submission_id)
    assert current is not None
    period = await periods.get_period(session=session, period_id=current.period_id)
    assert period is not None
    name = await contacts.name_of(session=session, telegram_user_id=current.updated_by)
    note = Note("report.conflict", {"name": name or "?", "time": current.updated_at})
    qs = questions_of(period)
    return await _preview(work, current, period, qs, (note,))


async def _asking(
    work: Work,
    submission: Submission,
    period: ReportPeriod,
    qs: list[Question],
    index: int,
    *,
    editing: bool = False,
    error: Note | None = None,
    notes: tuple[Note, ...] = (),
) -> Shown:
    question = qs[index]
    entry = submission.answers.get(question.key)
    files = await _files(work, [question], {question.key: entry} if entry else {})
    place = _place(submission, period, Step.ASK, index, editing)
    return Shown(notes, Asking(submission, qs, index, editing, files, error), place)


async def _preview(
    work: Work,
    submission: Submission,
    period: ReportPeriod,
    qs: list[Question],
    notes: tuple[Note, ...] = (),
) -> Shown:
    files = await _files(work, qs, submission.answers)
    place = _place(submission, period, Step.PREVIEW, 0, False)
    return Shown(notes, Previewing(submission, period, qs, files), place)


def _place(
    submission: Submission, period: ReportPeriod, step: Step, index: int, editing: bool
) -> Place:
    return Place(step, submission.id or 0, period.id or 0, index, submission.revision, editing)


async def _files(
    work: Work, qs: Iterable[Question], answers: dict[str, Any]
) -> dict[int, Attachment]:
    """The attachments named by the answers (no query when there are none)."""
    ids = [
        i
        for q in qs
        if q.type is QuestionType.ATTACHMENTS
        for i in ((answers.get(q.key) or {}).get("v") or [])
    ]
    if not ids:
        return {}
    found = await submissions.attachments(session=work.session, ids=ids)
    return {a.id: a for a in found if a.id is not None}


__all__ = [
    "Asking",
    "FileReceived",
    "Note",
    "PeriodChoice",
    "Place",
    "Previewing",
    "Shown",
    "Step",
    "Submitted",
    "Ui",
    "Upload",
    "answer",
    "attach",
    "cancel",
    "choose",
    "go_to",
    "questions",
    "questions_of",
    "reask",
    "start",
    "submit",
    "timing",
]
