"""The report conversation (/baocao): a unit's contact answers the period's questions.

Every answer is saved as it arrives; the person's place is kept in the database (`Flow`),
so after a restart, or days later, /baocao resumes at the next unanswered question.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatType
from telegram.helpers import create_deep_linked_url

from bot.context import BotContext
from bot.conversations import Flow
from bot.i18n import Html, format_datetime
from bot.questions import MAX_FILE_BYTES, AnswerError, Question, QuestionType, parse_text_answer
from handlers import callback_data as cb
from handlers import replies
from handlers.flows import current_flow
from handlers.permissions import Caller, get_caller, registered_only
from handlers.render import render_answers, split_message
from storage import contacts, inbox, periods, submissions
from storage.models import ReportPeriod, Submission
from storage.submissions import NotEditable, RevisionConflict, SubmissionStatus

log = logging.getLogger(__name__)

FLOW = "report"
DEEP_LINK = "baocao"


class Step(StrEnum):
    """Where a contact is in the report flow."""

    ASK = "ask"
    PREVIEW = "preview"


class Action(StrEnum):
    """What a button in the report flow does (second part of its callback data)."""

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


def questions_of(period: ReportPeriod) -> list[Question]:
    """The period's questions (copied in when the period was created)."""
    return [Question.model_validate(q) for q in period.questions]


async def _questions(context: BotContext, period_id: int) -> list[Question] | None:
    """A period's questions, cached: they never change once the period exists."""
    cache: dict[int, list[Question]] = context.services.questions
    if period_id not in cache:
        async with context.services.db.read() as session:
            period = await periods.get_period(session=session, period_id=period_id)
        if period is None:
            return None
        cache[period_id] = questions_of(period)
    return cache[period_id]


# --- entry points ----------------------------------------------------------------------


async def report_command(update: Update, context: BotContext) -> None:
    """/baocao: in a group, points to the private chat; in private, starts or resumes."""
    chat = update.effective_chat
    if chat is not None and chat.type != ChatType.PRIVATE:
        caller = await get_caller(update, context)
        link = create_deep_linked_url(context.services.bot_username, DEEP_LINK)
        label = replies.text(context, caller, "report.open_private_button")
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(label, url=link)]])
        await replies.reply(update, context, caller, "report.use_private", markup=markup)
        return
    await start_report(update, context)


@registered_only
async def start_report(update: Update, context: BotContext) -> None:
    """Offers the open periods, or goes straight to the only one."""
    caller = await get_caller(update, context)
    assert caller is not None
    if caller.unit is None:
        await replies.reply(update, context, caller, "report.no_unit")
        return
    async with context.services.db.read() as session:
        open_now = await periods.open_periods(session=session, now=context.services.clock())
    if not open_now:
        await replies.reply(update, context, caller, "report.no_open_period")
        return
    if len(open_now) == 1:
        await _open(update, context, caller, open_now[0].id or 0)
        return
    buttons = [
        [InlineKeyboardButton(p.title, callback_data=cb.build(cb.Prefix.REPORT_PERIOD, p.id))]
        for p in open_now
    ]
    await replies.reply(
        update, context, caller, "report.pick_period", markup=InlineKeyboardMarkup(buttons)
    )


@registered_only
async def period_picked(update: Update, context: BotContext) -> None:
    """Opens the chosen period's report (also the target of reminder buttons)."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    caller = await get_caller(update, context)
    assert caller is not None
    if caller.unit is None:
        await replies.reply(update, context, caller, "report.no_unit")
        return
    try:
        period_id = cb.parse(query.data).int_arg()
    except (ValueError, IndexError):
        period_id = -1
    await _open(update, context, caller, period_id, new_message=True)


async def _open(
    update: Update, context: BotContext, caller: Caller, period_id: int, new_message: bool = False
) -> None:
    """Loads (or creates) the unit's submission and resumes where it stands."""
    services = context.services
    now = services.clock()
    assert caller.unit is not None and caller.unit.id is not None
    async with services.db.session() as session:
        period = await periods.get_period(session=session, period_id=period_id)
        if period is None or periods.status_of(period, now) is not periods.PeriodStatus.OPEN:
            period = None
        else:
            submission = await submissions.get_or_create(
                session=session, period_id=period_id, unit_id=caller.unit.id
            )
            editor = (
                await contacts.name_of(session=session, telegram_user_id=submission.updated_by)
                if submission.updated_by not in (None, caller.user_id)
                else None
            )
    if period is None:
        await _send(update, context, caller, "report.period_closed")
        return
    if editor and submission.answers:
        await _send(
            update,
            context,
            caller,
            "report.shared_notice",
            name=editor,
            time=format_datetime(submission.updated_at, services.config.bloc.tz, caller.language),
        )
    if submission.status == SubmissionStatus.ACCEPTED:
        await _show_preview(update, context, caller, submission, period, read_only=True)
        return
    if submission.status == SubmissionStatus.RETURNED and submission.review_comment:
        await _send(
            update, context, caller, "report.returned_notice", comment=submission.review_comment
        )
    await _resume(update, context, caller, submission, period)


async def _resume(
    update: Update,
    context: BotContext,
    caller: Caller,
    submission: Submission,
    period: ReportPeriod,
) -> None:
    """Asks the first unanswered question, or shows the preview when all are answered."""
    questions = questions_of(period)
    for index, question in enumerate(questions):
        if question.key not in submission.answers:
            await _ask(update, context, caller, submission, period, index)
            return
    await _show_preview(update, context, caller, submission, period)


# --- asking ---------------------------------------------------------------------------


async def _ask(
    update: Update,
    context: BotContext,
    caller: Caller,
    submission: Submission,
    period: ReportPeriod,
    index: int,
    *,
    editing: bool = False,
    prefix: str = "",
    remembered: bool = False,
) -> None:
    """Asks question `index`, remembering the place in the database first."""
    questions = questions_of(period)
    question = questions[index]
    if not remembered:
        await _remember(update, context, submission, period, Step.ASK, index, editing)
    language = caller.language
    entry = submission.answers.get(question.key)
    lines = [
        replies.text(
            context,
            caller,
            "report.question",
            number=index + 1,
            total=len(questions),
            question=question.label(language),
        )
    ]
    if question.optional:
        lines.append(replies.text(context, caller, "report.optional"))
    lines.append(replies.text(context, caller, f"report.hint_{question.type.value}"))
    if entry is not None:
        async with context.services.db.read() as session:
            current = await render_answers(
                session, [question], {question.key: entry}, language, context.services.translator
            )
        lines.append(replies.text(context, caller, "report.current_answer", answer=current[0]))
    body = Html((prefix + "\n\n" if prefix else "") + "\n".join(lines))
    markup = _question_keyboard(context, caller, submission, question, index, entry, editing)
    await replies.send_text(update, context, body, markup=markup, new_message=True)


async def _ask_again(
    update: Update,
    context: BotContext,
    caller: Caller,
    flow: Flow,
    submission: Submission,
    period: ReportPeriod,
    error_key: str | None = None,
    **details: Any,
) -> None:
    """Asks the current question again, after saying what was wrong with the answer."""
    prefix = replies.text(context, caller, error_key, **details) if error_key else ""
    await _ask(
        update,
        context,
        caller,
        submission,
        period,
        int(flow.data["i"]),
        editing=bool(flow.data.get("edit")),
        prefix=prefix,
    )


def _question_keyboard(
    context: BotContext,
    caller: Caller,
    submission: Submission,
    question: Question,
    index: int,
    entry: dict[str, Any] | None,
    editing: bool,
) -> InlineKeyboardMarkup:
    def button(key: str, action: Action, *extra: object) -> InlineKeyboardButton:
        data = cb.build(cb.Prefix.REPORT_ACTION, action.value, submission.id, index, *extra)
        return InlineKeyboardButton(replies.text(context, caller, key), callback_data=data)

    rows: list[list[InlineKeyboardButton]] = []
    if question.type is QuestionType.YES_NO:
        rows.append([button("report.yes", Action.YES), button("report.no", Action.NO)])
    elif question.type is QuestionType.CHOICE:
        for option, label in enumerate(question.choice_labels(caller.language)):
            data = cb.build(
                cb.Prefix.REPORT_ACTION, Action.CHOICE.value, submission.id, index, option
            )
            rows.append([InlineKeyboardButton(label, callback_data=data)])
    elif question.type is QuestionType.ATTACHMENTS:
        rows.append([button("report.done_button", Action.DONE)])
    navigation: list[InlineKeyboardButton] = []
    if entry is not None and question.type is not QuestionType.ATTACHMENTS:
        navigation.append(button("report.keep_button", Action.KEEP))
    if question.optional:
        navigation.append(button("report.skip_button", Action.SKIP))
    if index > 0 or editing:
        navigation.append(button("report.back_button", Action.BACK))
    navigation.append(button("report.cancel_button", Action.CANCEL))
    rows.append(navigation)
    return InlineKeyboardMarkup(rows)


async def on_message(update: Update, context: BotContext) -> None:
    """Takes a typed answer or a file for the current question, or explains what fits."""
    flow = current_flow(context)
    caller = await get_caller(update, context)
    message = update.message
    assert caller is not None and message is not None
    if flow.step != Step.ASK:
        await replies.reply(update, context, caller, "report.use_buttons")
        return
    # Fast path: a well-formed typed answer goes straight to the write, which checks the
    # period, the unit's right to edit and the revision itself.
    questions = await _questions(context, int(flow.data["pid"]))
    index = int(flow.data["i"])
    if questions is not None and index < len(questions) and message.text:
        question = questions[index]
        if question.type is not QuestionType.ATTACHMENTS:
            try:
                value = parse_text_answer(question, message.text)
            except AnswerError:
                pass  # explained below, with the question asked again
            else:
                await _store_and_advance(update, context, caller, flow, question.key, value)
                return
    loaded = await _load(update, context, caller, flow)
    if loaded is None:
        return
    submission, period = loaded
    index = int(flow.data["i"])
    question = questions_of(period)[index]
    if question.type is QuestionType.ATTACHMENTS:
        await _take_file(update, context, caller, flow, submission, period, question, message)
        return
    if not message.text:
        await _ask_again(
            update, context, caller, flow, submission, period, "report.error_need_text"
        )
        return
    try:
        value = parse_text_answer(question, message.text)
    except AnswerError as exc:
        await _ask_again(update, context, caller, flow, submission, period, exc.key, **exc.details)
        return
    await _store_and_advance(update, context, caller, flow, question.key, value)


async def _take_file(
    update: Update,
    context: BotContext,
    caller: Caller,
    flow: Flow,
    submission: Submission,
    period: ReportPeriod,
    question: Question,
    message: Message,
) -> None:
    """Downloads a document or photo, stores it by SHA-256 and attaches it."""
    index = int(flow.data["i"])
    editing = bool(flow.data.get("edit"))
    if message.document is not None:
        item: Any = message.document
        name = message.document.file_name or f"tep-{item.file_unique_id}"
        mime, kind = message.document.mime_type, "document"
    elif message.photo:
        item = message.photo[-1]
        name, mime, kind = f"anh-{item.file_unique_id}.jpg", "image/jpeg", "photo"
    else:
        await _ask_again(
            update, context, caller, flow, submission, period, "report.error_need_file"
        )
        return
    size = item.file_size or 0
    if size > MAX_FILE_BYTES:
        await _ask_again(
            update,
            context,
            caller,
            flow,
            submission,
            period,
            "report.error_file_too_big",
            name=name,
            limit=MAX_FILE_BYTES // (1024 * 1024),
        )
        return
    services = context.services
    telegram_file = await context.bot.get_file(item.file_id)
    data = bytes(await telegram_file.download_as_bytearray())
    digest = services.files.save(data)
    try:
        async with services.db.session() as session:
            _, fresh = await submissions.add_attachment(
                session=session,
                submission_id=submission.id or 0,
                expected_revision=int(flow.data["rev"]),
                key=question.key,
                user_id=caller.user_id,
                now=services.clock(),
                file_id=item.file_id,
                file_unique_id=item.file_unique_id,
                file_name=name,
                mime_type=mime,
                size=len(data),
                kind=kind,
                sha256=digest,
            )
    except (RevisionConflict, NotEditable) as exc:
        await _handle_write_error(update, context, caller, exc)
        return
    flow.data["rev"] = fresh.revision
    await context.services.conversations.save(_chat_id(update), caller.user_id, flow)
    count = len(fresh.answers.get(question.key, {}).get("v") or [])
    markup = _question_keyboard(
        context, caller, fresh, question, index, fresh.answers.get(question.key), editing
    )
    await replies.reply(
        update,
        context,
        caller,
        "report.file_received",
        name=name,
        size=_size_label(len(data)),
        count=count,
        markup=markup,
    )


def _size_label(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


async def _store_and_advance(
    update: Update,
    context: BotContext,
    caller: Caller,
    flow: Flow,
    key: str,
    value: Any,
    *,
    skipped: bool = False,
) -> None:
    """Saves one answer and moves on (back to the preview when editing one answer)."""
    services = context.services
    chat_id = _chat_id(update)
    try:
        async with services.db.session() as session:
            fresh = await submissions.save_answer(
                session=session,
                submission_id=int(flow.data["sid"]),
                expected_revision=int(flow.data["rev"]),
                key=key,
                value=value,
                user_id=caller.user_id,
                now=services.clock(),
                skipped=skipped,
            )
            period = await periods.get_period(session=session, period_id=fresh.period_id)
            assert period is not None
            # The answer and the person's next place are saved in one transaction.
            index = int(flow.data["i"])
            to_preview = bool(flow.data.get("edit")) or index + 1 >= len(period.questions)
            step, index = (Step.PREVIEW, 0) if to_preview else (Step.ASK, index + 1)
            place = _place(fresh, period, step, index, editing=False)
            await services.conversations.save(chat_id, caller.user_id, place, session=session)
            # Marked handled in the same transaction: replayed after a crash, this update
            # must not be taken as the answer to the next question.
            await inbox.mark_processed(session=session, update_ids=[update.update_id])
    except (RevisionConflict, NotEditable) as exc:
        await _handle_write_error(update, context, caller, exc)
        return
    services.conversations.cache(chat_id, caller.user_id, place)
    if to_preview:
        await _show_preview(update, context, caller, fresh, period, remembered=True)
    else:
        await _ask(update, context, caller, fresh, period, index, remembered=True)


async def _advance(
    update: Update,
    context: BotContext,
    caller: Caller,
    flow: Flow,
    submission: Submission,
    period: ReportPeriod,
) -> None:
    index = int(flow.data["i"])
    if flow.data.get("edit") or index + 1 >= len(period.questions):
        await _show_preview(update, context, caller, submission, period)
    else:
        await _ask(update, context, caller, submission, period, index + 1)


# --- buttons ----------------------------------------------------------------------------


@registered_only
async def on_button(update: Update, context: BotContext) -> None:
    """Handles every button of the report flow, refusing stale ones."""
    query = update.callback_query
    assert query is not None
    caller = await get_caller(update, context)
    assert caller is not None
    parsed = cb.parse(query.data)
    flow = context.services.conversations.get(_chat_id(update), caller.user_id)
    try:
        action = Action(parsed.args[0])
        submission_id, index = int(parsed.args[1]), int(parsed.args[2])
    except (ValueError, IndexError):
        action, submission_id, index = None, -1, -1
    current = (
        flow is not None
        and flow.flow == FLOW
        and int(flow.data.get("sid", -2)) == submission_id
        and (flow.step == Step.PREVIEW or int(flow.data.get("i", -2)) == index)
    )
    if action is None or flow is None or not current:
        await query.answer(replies.text(context, caller, "common.stale_button"), show_alert=True)
        return
    await query.answer()
    if action is Action.CANCEL:
        await context.services.conversations.end(_chat_id(update), caller.user_id)
        await replies.send_text(
            update, context, replies.text(context, caller, "report.cancelled"), new_message=True
        )
        return
    loaded = await _load(update, context, caller, flow)
    if loaded is None:
        return
    submission, period = loaded
    if flow.step == Step.PREVIEW:
        await _preview_button(update, context, caller, flow, submission, period, action, parsed)
        return
    question = questions_of(period)[index]
    if action is Action.BACK:
        if flow.data.get("edit"):
            await _show_preview(update, context, caller, submission, period)
        else:
            await _ask(update, context, caller, submission, period, max(index - 1, 0))
    elif action is Action.KEEP or action is Action.DONE:
        if action is Action.DONE and question.key not in submission.answers:
            if not question.optional:
                await _ask_again(
                    update, context, caller, flow, submission, period, "report.error_need_file"
                )
                return
            await _store_and_advance(update, context, caller, flow, question.key, [], skipped=True)
            return
        await _advance(update, context, caller, flow, submission, period)
    elif action is Action.SKIP and question.optional:
        await _store_and_advance(update, context, caller, flow, question.key, None, skipped=True)
    elif action in (Action.YES, Action.NO) and question.type is QuestionType.YES_NO:
        await _store_and_advance(update, context, caller, flow, question.key, action is Action.YES)
    elif action is Action.CHOICE and question.type is QuestionType.CHOICE:
        option = int(parsed.args[3]) if len(parsed.args) > 3 else -1
        if not 0 <= option < len(question.choices):
            await query.answer(replies.text(context, caller, "common.stale_button"))
            return
        await _store_and_advance(update, context, caller, flow, question.key, option)
    else:
        await _ask_again(update, context, caller, flow, submission, period)


async def _preview_button(
    update: Update,
    context: BotContext,
    caller: Caller,
    flow: Flow,
    submission: Submission,
    period: ReportPeriod,
    action: Action,
    parsed: cb.CallbackData,
) -> None:
    if action is Action.EDIT:
        index = int(parsed.args[2])
        if 0 <= index < len(period.questions):
            await _ask(update, context, caller, submission, period, index, editing=True)
        return
    if action is not Action.SUBMIT:
        return
    services = context.services
    required = [q.key for q in questions_of(period) if not q.optional]
    try:
        async with services.db.session() as session:
            version = await submissions.submit(
                session=session,
                submission_id=submission.id or 0,
                expected_revision=int(flow.data["rev"]),
                required_keys=required,
                user_id=caller.user_id,
                now=services.clock(),
            )
    except (RevisionConflict, NotEditable) as exc:
        await _handle_write_error(update, context, caller, exc)
        return
    await services.conversations.end(_chat_id(update), caller.user_id)
    tz = services.config.bloc.tz
    timing = _timing(context, caller.language, version.days_late)
    await replies.send_text(
        update,
        context,
        replies.text(
            context,
            caller,
            "report.submitted",
            period=period.title,
            time=format_datetime(version.submitted_at, tz, caller.language),
            version=version.version,
            timing=timing,
        ),
        new_message=True,
    )
    assert caller.unit is not None
    await replies.notify_admins(
        context,
        "report.admin_notice",
        exclude=caller.user_id,
        unit=caller.unit.name,
        period=period.title,
        version=version.version,
        timing=lambda language: _timing(context, language, version.days_late),
    )


def _timing(context: BotContext, language: str, late_days: int) -> str:
    if late_days <= 0:
        return context.services.translator(language, "report.on_time")
    return context.services.translator(language, "report.late_by", days=late_days)


# --- preview ----------------------------------------------------------------------------


async def _show_preview(
    update: Update,
    context: BotContext,
    caller: Caller,
    submission: Submission,
    period: ReportPeriod,
    *,
    read_only: bool = False,
    remembered: bool = False,
) -> None:
    """The whole submission, split to fit Telegram, with edit and submit buttons."""
    services = context.services
    questions = questions_of(period)
    language = caller.language
    if read_only:
        await services.conversations.end(_chat_id(update), caller.user_id)
    elif not remembered:
        await _remember(update, context, submission, period, Step.PREVIEW, 0, False)
    async with services.db.read() as session:
        rendered = await render_answers(
            session, questions, submission.answers, language, services.translator
        )
    unit_name = caller.unit.name if caller.unit else ""
    header = replies.text(
        context,
        caller,
        "report.preview_header",
        period=period.title,
        unit=unit_name,
        deadline=format_datetime(period.deadline_at, services.config.bloc.tz, language),
    )
    status_line = _status_line(context, caller, submission)
    blocks = [header + ("\n" + status_line if status_line else "")]
    for number, (question, answer) in enumerate(zip(questions, rendered, strict=True), start=1):
        blocks.append(
            replies.text(
                context,
                caller,
                "report.preview_item",
                number=number,
                question=question.label(language),
                answer=Html(answer),
            )
        )
    chunks = split_message(blocks)
    markup = None if read_only else _preview_keyboard(context, caller, submission, len(questions))
    for position, chunk in enumerate(chunks):
        last = position == len(chunks) - 1
        await replies.send_text(
            update, context, chunk, markup=markup if last else None, new_message=True
        )


def _status_line(context: BotContext, caller: Caller, submission: Submission) -> str:
    if submission.version == 0:
        return replies.text(context, caller, "report.status_draft")
    key = "report.status_changed" if submission.dirty else f"report.status_{submission.status}"
    return replies.text(context, caller, key, version=submission.version)


def _preview_keyboard(
    context: BotContext, caller: Caller, submission: Submission, count: int
) -> InlineKeyboardMarkup:
    def data(action: Action, index: int = 0) -> str:
        return cb.build(cb.Prefix.REPORT_ACTION, action.value, submission.id, index)

    edit_label = replies.text(context, caller, "report.edit_button")
    edits = [
        InlineKeyboardButton(f"{edit_label} {i + 1}", callback_data=data(Action.EDIT, i))
        for i in range(count)
    ]
    rows = [edits[i : i + 4] for i in range(0, len(edits), 4)]
    final: list[InlineKeyboardButton] = []
    if submission.version == 0 or submission.dirty or submission.status == "returned":
        final.append(
            InlineKeyboardButton(
                replies.text(context, caller, "report.submit_button"),
                callback_data=data(Action.SUBMIT),
            )
        )
    final.append(
        InlineKeyboardButton(
            replies.text(context, caller, "report.close_button"), callback_data=data(Action.CANCEL)
        )
    )
    rows.append(final)
    return InlineKeyboardMarkup(rows)


# --- shared -----------------------------------------------------------------------------


def _chat_id(update: Update) -> int:
    chat = update.effective_chat
    assert chat is not None
    return chat.id


async def _remember(
    update: Update,
    context: BotContext,
    submission: Submission,
    period: ReportPeriod,
    step: Step,
    index: int,
    editing: bool,
) -> None:
    user = update.effective_user
    assert user is not None
    place = _place(submission, period, step, index, editing)
    await context.services.conversations.save(_chat_id(update), user.id, place)


def _place(
    submission: Submission, period: ReportPeriod, step: Step, index: int, editing: bool
) -> Flow:
    """The flow state for a place in the report."""
    data = {
        "sid": submission.id,
        "pid": period.id,
        "i": index,
        "rev": submission.revision,
        "edit": editing,
    }
    return Flow(FLOW, step, data)


async def _load(
    update: Update, context: BotContext, caller: Caller, flow: Flow
) -> tuple[Submission, ReportPeriod] | None:
    """The flow's submission and period, or None (after telling the user) if gone."""
    services = context.services
    async with services.db.read() as session:
        submission = await submissions.get_submission(
            session=session, submission_id=int(flow.data["sid"])
        )
        period = (
            await periods.get_period(session=session, period_id=submission.period_id)
            if submission
            else None
        )
    if (
        submission is None
        or period is None
        or caller.unit is None
        or (submission.unit_id != caller.unit.id)
    ):
        await services.conversations.end(_chat_id(update), caller.user_id)
        await _send(update, context, caller, "report.gone")
        return None
    try:
        submissions.check_editable(submission, period, services.clock())
    except NotEditable as exc:
        await services.conversations.end(_chat_id(update), caller.user_id)
        await _send(update, context, caller, exc.reason)
        return None
    return submission, period


async def _handle_write_error(
    update: Update, context: BotContext, caller: Caller, error: Exception
) -> None:
    """Someone else changed the report, or it can no longer change: say so, show the state."""
    services = context.services
    if isinstance(error, NotEditable):
        if error.reason != "report.missing_answers":
            await services.conversations.end(_chat_id(update), caller.user_id)
        await _send(update, context, caller, error.reason)
        return
    assert isinstance(error, RevisionConflict)
    async with services.db.session() as session:
        current = await submissions.get_submission(
            session=session, submission_id=error.submission_id
        )
        assert current is not None
        name = await contacts.name_of(session=session, telegram_user_id=current.updated_by)
        period = await periods.get_period(session=session, period_id=current.period_id)
    assert period is not None
    await _send(
        update,
        context,
        caller,
        "report.conflict",
        name=name or "?",
        time=format_datetime(current.updated_at, services.config.bloc.tz, caller.language),
    )
    await _show_preview(update, context, caller, current, period)


async def _send(update: Update, context: BotContext, caller: Caller, key: str, **kw: Any) -> None:
    await replies.send_text(
        update, context, replies.text(context, caller, key, **kw), new_message=True
    )


@registered_only
async def cancel_command(update: Update, context: BotContext) -> None:
    """/huy: leaves whatever flow the person is in; drafts stay saved."""
    caller = await get_caller(update, context)
    assert caller is not None
    flow = context.services.conversations.get(_chat_id(update), caller.user_id)
    await context.services.conversations.end(_chat_id(update), caller.user_id)
    key = "report.cancelled" if flow and flow.flow == FLOW else "common.cancelled"
    await replies.reply(update, context, caller, key)
