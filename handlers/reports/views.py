"""Rendering the report conversation: questions, the preview, keyboards, notes.

Pure functions of what a step of `bot.services.reports` showed; every message of the flow
is a new message in the chat (the conversation reads as a transcript).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.callbacks.reports import ReportAction, ReportButton, ReportPeriodPick
from bot.context import BotContext
from bot.i18n import Html, format_datetime
from bot.permissions import Caller
from bot.questions import QuestionType
from bot.services.reports import (
    Asking,
    FileReceived,
    Note,
    PeriodChoice,
    Previewing,
    Shown,
    Submitted,
    timing,
)
from bot.services.work import Outgoing
from bot.text import SAFE_LIMIT, shorten_html, utf16_len
from handlers import replies
from handlers.render import answers_html, split_message
from storage.models import Submission


def render(update: Update, context: BotContext, caller: Caller, shown: Shown) -> list[Outgoing]:
    """The messages a step shows, in order."""
    out = [_new(update, note_text(context, caller, note)) for note in shown.notes]
    screen = shown.screen
    if isinstance(screen, Asking):
        out.append(question_message(update, context, caller, screen))
    elif isinstance(screen, FileReceived):
        body = replies.text(
            context,
            caller,
            "report.file_received",
            name=screen.name,
            size=size_label(screen.size),
            count=screen.count,
        )
        out.append(_new(update, body, question_keyboard(context, caller, screen.asking)))
    elif isinstance(screen, Previewing):
        out.extend(preview_messages(update, context, caller, screen))
    elif isinstance(screen, Submitted):
        out.append(_new(update, submitted_text(context, caller, screen)))
    elif isinstance(screen, PeriodChoice):
        buttons = [
            [InlineKeyboardButton(p.title, callback_data=ReportPeriodPick(p.id or 0).pack())]
            for p in screen.periods
        ]
        body = replies.text(context, caller, "report.pick_period")
        out.append(_new(update, body, InlineKeyboardMarkup(buttons)))
    return out


def _new(update: Update, body: str, markup: InlineKeyboardMarkup | None = None) -> Outgoing:
    return replies.outgoing(update, body, markup=markup, new_message=True)


def note_text(context: BotContext, caller: Caller, note: Note) -> str:
    """A note in the caller's language (times in the bloc's time zone)."""
    tz = context.services.config.bloc.tz
    values: dict[str, Any] = {
        k: format_datetime(v, tz, caller.language) if isinstance(v, datetime) else v
        for k, v in note.values.items()
    }
    return replies.text(context, caller, note.key, **values)


def question_message(
    update: Update, context: BotContext, caller: Caller, asking: Asking
) -> Outgoing:
    """Question `index` with its hint, the current answer and its buttons."""
    language = caller.language
    question = asking.question
    entry = asking.submission.answers.get(question.key)
    lines = [
        replies.text(
            context,
            caller,
            "report.question",
            number=asking.index + 1,
            total=len(asking.questions),
            question=question.label(language),
        )
    ]
    if question.optional:
        lines.append(replies.text(context, caller, "report.optional"))
    lines.append(replies.text(context, caller, f"report.hint_{question.type.value}"))
    if entry is not None:
        current = answers_html(
            [question],
            {question.key: entry},
            asking.files,
            language,
            context.services.translator,
        )
    prefix = note_text(context, caller, asking.error) if asking.error else ""
    head = (prefix + "\n\n" if prefix else "") + "\n".join(lines)
    if entry is not None:
        # The quoted answer is shortened so that the whole message fits (Telegram's rule).
        frame = replies.text(context, caller, "report.current_answer", answer=Html(""))
        room = SAFE_LIMIT - utf16_len(head) - 1 - utf16_len(frame)
        answer = Html(shorten_html(current[0], max(room, 0)))
        head += "\n" + replies.text(context, caller, "report.current_answer", answer=answer)
    return _new(update, Html(head), question_keyboard(context, caller, asking))


def question_keyboard(context: BotContext, caller: Caller, asking: Asking) -> InlineKeyboardMarkup:
    """The buttons under a question."""
    submission_id = asking.submission.id or 0
    index, question = asking.index, asking.question
    entry = asking.submission.answers.get(question.key)

    def button(key: str, action: ReportButton) -> InlineKeyboardButton:
        data = ReportAction(action, submission_id, index).pack()
        return InlineKeyboardButton(replies.text(context, caller, key), callback_data=data)

    rows: list[list[InlineKeyboardButton]] = []
    if question.type is QuestionType.YES_NO:
        rows.append([button("report.yes", ReportButton.YES), button("report.no", ReportButton.NO)])
    elif question.type is QuestionType.CHOICE:
        for option, label in enumerate(question.choice_labels(caller.language)):
            data = ReportAction(ReportButton.CHOICE, submission_id, index, option).pack()
            rows.append([InlineKeyboardButton(label, callback_data=data)])
    elif question.type is QuestionType.ATTACHMENTS:
        rows.append([button("report.done_button", ReportButton.DONE)])
    navigation: list[InlineKeyboardButton] = []
    if entry is not None and question.type is not QuestionType.ATTACHMENTS:
        navigation.append(button("report.keep_button", ReportButton.KEEP))
    if question.optional:
        navigation.append(button("report.skip_button", ReportButton.SKIP))
    if index > 0 or asking.editing:
        navigation.append(button("report.back_button", ReportButton.BACK))
    navigation.append(button("report.cancel_button", ReportButton.CANCEL))
    rows.append(navigation)
    return InlineKeyboardMarkup(rows)


def preview_messages(
    update: Update, context: BotContext, caller: Caller, preview: Previewing
) -> list[Outgoing]:
    """The whole submission, split to fit Telegram; the buttons go under the last part."""
    services = context.services
    language = caller.language
    period, submission, questions = preview.period, preview.submission, preview.questions
    rendered = answers_html(
        questions, submission.answers, preview.files, language, services.translator
    )
    header = replies.text(
        context,
        caller,
        "report.preview_header",
        period=period.title,
        unit=caller.unit.name if caller.unit else "",
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
    markup = (
        None if preview.read_only else preview_keyboard(context, caller, submission, len(questions))
    )
    return [
        _new(update, chunk, markup if position == len(chunks) - 1 else None)
        for position, chunk in enumerate(chunks)
    ]


def _status_line(context: BotContext, caller: Caller, submission: Submission) -> str:
    if submission.version == 0:
        return replies.text(context, caller, "report.status_draft")
    key = "report.status_changed" if submission.dirty else f"report.status_{submission.status}"
    return replies.text(context, caller, key, version=submission.version)


def preview_keyboard(
    context: BotContext, caller: Caller, submission: Submission, count: int
) -> InlineKeyboardMarkup:
    """«Sửa câu N» for each question, then «Nộp báo cáo» (when there is something to
    submit) and «Đóng»."""

    def data(action: ReportButton, index: int = 0) -> str:
        return ReportAction(action, submission.id or 0, index).pack()

    edit_label = replies.text(context, caller, "report.edit_button")
    edits = [
        InlineKeyboardButton(f"{edit_label} {i + 1}", callback_data=data(ReportButton.EDIT, i))
        for i in range(count)
    ]
    rows = [edits[i : i + 4] for i in range(0, len(edits), 4)]
    final: list[InlineKeyboardButton] = []
    if submission.version == 0 or submission.dirty or submission.status == "returned":
        final.append(
            InlineKeyboardButton(
                replies.text(context, caller, "report.submit_button"),
                callback_data=data(ReportButton.SUBMIT),
            )
        )
    final.append(
        InlineKeyboardButton(
            replies.text(context, caller, "report.close_button"),
            callback_data=data(ReportButton.CANCEL),
        )
    )
    rows.append(final)
    return InlineKeyboardMarkup(rows)


def submitted_text(context: BotContext, caller: Caller, submitted: Submitted) -> str:
    """The reply to a submit."""
    services = context.services
    version = submitted.version
    return replies.text(
        context,
        caller,
        "report.submitted",
        period=submitted.period.title,
        time=format_datetime(version.submitted_at, services.config.bloc.tz, caller.language),
        version=version.version,
        timing=timing(services, caller.language, version.days_late),
    )


def size_label(size: int) -> str:
    """A file size for people."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{max(1, round(size / 1024))} KB"
