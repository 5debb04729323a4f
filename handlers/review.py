"""Reviewing submissions (/duyet): read any version, accept, or return with a comment."""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.callbacks.reports import ReportPeriodPick
from bot.context import BotContext
from bot.conversations import Flow
from bot.i18n import Html, format_datetime
from bot.services import notices
from bot.services.work import Outgoing
from handlers import callback_data as cb
from handlers import keyboards, replies
from handlers.flows import current_flow
from handlers.permissions import Caller, admin_only, get_caller
from handlers.render import render_answers, split_message
from handlers.reports import questions_of
from handlers.status import ICONS, choose_period
from storage import bloc, contacts, periods, submissions
from storage.models import ReportPeriod, Submission, SubmissionVersion, Unit
from storage.submissions import NotEditable, board_state

log = logging.getLogger(__name__)

FLOW = "review"


class Action(StrEnum):
    """Review buttons: `rv:<action>:<id>[:<version>]`."""

    PERIOD = "p"
    UNIT = "u"
    PAGE = "pg"
    VERSION = "v"
    ACCEPT = "a"
    RETURN = "r"
    FILES = "f"


def _data(action: Action, *args: object) -> str:
    return cb.build(cb.Prefix.REVIEW, action.value, *args)


@admin_only
async def review_command(update: Update, context: BotContext) -> None:
    """/duyet: choose a period, then a unit."""
    caller = await get_caller(update, context)
    assert caller is not None
    period = await choose_period(update, context, caller, f"{cb.Prefix.REVIEW}:{Action.PERIOD}")
    if period is not None:
        await _unit_list(update, context, caller, period, page=0)


@admin_only
async def on_button(update: Update, context: BotContext) -> None:
    """Every review button."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    caller = await get_caller(update, context)
    assert caller is not None
    args = cb.parse(query.data).args
    try:
        action, first = Action(args[0]), int(args[1])
        second = int(args[2]) if len(args) > 2 else 0
    except (ValueError, IndexError):
        await replies.reply(update, context, caller, "common.stale_button")
        return
    if action in (Action.PERIOD, Action.PAGE):
        async with context.services.db.session() as session:
            period = await periods.get_period(session=session, period_id=first)
        if period is None:
            await replies.reply(update, context, caller, "common.stale_button")
            return
        await _unit_list(update, context, caller, period, page=second)
        return
    loaded = await _load(context, first)
    if loaded is None:
        await replies.reply(update, context, caller, "common.stale_button")
        return
    submission, period, unit, versions = loaded
    if action is Action.UNIT:
        await _show_version(update, context, caller, submission, period, unit, versions, None)
    elif action is Action.VERSION:
        await _show_version(update, context, caller, submission, period, unit, versions, second)
    elif action is Action.FILES:
        await _send_files(update, context, caller, versions, second)
    elif action is Action.ACCEPT:
        await _decide(update, context, caller, submission, period, unit, accept=True)
    elif action is Action.RETURN:
        flow = Flow(FLOW, "comment", {"sid": submission.id})
        await context.services.conversations.save(_chat(update), caller.user_id, flow)
        await replies.send_text(
            update,
            context,
            replies.text(context, caller, "review.ask_comment", unit=unit.name),
            new_message=True,
        )


async def _unit_list(
    update: Update, context: BotContext, caller: Caller, period: ReportPeriod, page: int
) -> None:
    async with context.services.db.session() as session:
        rows = await submissions.board(session=session, period_id=period.id or 0)
    items = [
        (
            keyboards.button_label(f"{ICONS[r.state]} {r.unit.name}"),
            _data(Action.UNIT, r.submission.id),
        )
        for r in rows
        if r.submission is not None and r.submission.version > 0
    ]
    if not items:
        await replies.reply(update, context, caller, "review.none_submitted", title=period.title)
        return
    markup = keyboards.paged(
        items,
        page=page,
        page_prefix=f"{cb.Prefix.REVIEW}:{Action.PAGE.value}:{period.id}",
        cancel_label=replies.text(context, caller, "common.cancel_button"),
    )
    await replies.reply(
        update,
        context,
        caller,
        "review.pick_unit",
        title=period.title,
        count=len(items),
        markup=markup,
    )


async def _load(
    context: BotContext, submission_id: int
) -> tuple[Submission, ReportPeriod, Unit, list[SubmissionVersion]] | None:
    async with context.services.db.session() as session:
        submission = await submissions.get_submission(session=session, submission_id=submission_id)
        if submission is None:
            return None
        period = await periods.get_period(session=session, period_id=submission.period_id)
        unit = await bloc.get_unit(session=session, unit_id=submission.unit_id)
        versions = await submissions.versions(session=session, submission_id=submission_id)
    if period is None or unit is None or not versions:
        return None
    return submission, period, unit, versions


async def _show_version(
    update: Update,
    context: BotContext,
    caller: Caller,
    submission: Submission,
    period: ReportPeriod,
    unit: Unit,
    versions: list[SubmissionVersion],
    number: int | None,
) -> None:
    """One version in full, with accept/return buttons on the latest."""
    services = context.services
    version = next((v for v in versions if v.version == number), versions[0])
    latest = version.version == versions[0].version
    tz, language = services.config.bloc.tz, caller.language
    async with services.db.session() as session:
        by = await contacts.name_of(session=session, telegram_user_id=version.submitted_by)
        rendered = await render_answers(
            session, questions_of(period), version.answers, language, services.translator
        )
    timing = (
        replies.text(context, caller, "report.late_by", days=version.days_late)
        if version.late
        else replies.text(context, caller, "report.on_time")
    )
    state = board_state(submission)
    header = replies.text(
        context,
        caller,
        "review.header",
        unit=unit.name,
        period=period.title,
        version=version.version,
        total=len(versions),
        by=by or "?",
        time=format_datetime(version.submitted_at, tz, language),
        timing=timing,
        state=f"{ICONS[state]} " + replies.text(context, caller, f"status.state_{state.value}"),
    )
    blocks = [header]
    if submission.review_comment and latest:
        blocks.append(
            replies.text(context, caller, "review.last_comment", comment=submission.review_comment)
        )
    for index, (question, answer) in enumerate(zip(questions_of(period), rendered, strict=True)):
        blocks.append(
            replies.text(
                context,
                caller,
                "report.preview_item",
                number=index + 1,
                question=question.label(language),
                answer=Html(answer),
            )
        )
    rows: list[list[InlineKeyboardButton]] = []
    if latest and submission.status not in ("accepted",):
        rows.append(
            [
                InlineKeyboardButton(
                    replies.text(context, caller, "review.accept_button"),
                    callback_data=_data(Action.ACCEPT, submission.id),
                ),
                InlineKeyboardButton(
                    replies.text(context, caller, "review.return_button"),
                    callback_data=_data(Action.RETURN, submission.id),
                ),
            ]
        )
    extra: list[InlineKeyboardButton] = []
    if version.version > 1:
        extra.append(
            InlineKeyboardButton(
                replies.text(context, caller, "review.older_button", version=version.version - 1),
                callback_data=_data(Action.VERSION, submission.id, version.version - 1),
            )
        )
    if _file_ids(version):
        extra.append(
            InlineKeyboardButton(
                replies.text(context, caller, "review.files_button"),
                callback_data=_data(Action.FILES, submission.id, version.version),
            )
        )
    if extra:
        rows.append(extra)
    chunks = split_message(blocks)
    for position, chunk in enumerate(chunks):
        last = position == len(chunks) - 1
        markup = InlineKeyboardMarkup(rows) if last and rows else None
        await replies.send_text(update, context, chunk, markup=markup, new_message=True)


def _file_ids(version: SubmissionVersion) -> list[int]:
    ids: list[int] = []
    for entry in version.answers.values():
        value = entry.get("v")
        if isinstance(value, list):
            ids.extend(int(v) for v in value)
    return ids


async def _send_files(
    update: Update,
    context: BotContext,
    caller: Caller,
    versions: list[SubmissionVersion],
    number: int,
) -> None:
    """Sends the version's attachments to the admin (by Telegram file id)."""
    version = next((v for v in versions if v.version == number), versions[0])
    async with context.services.db.read() as session:
        files = await submissions.attachments(session=session, ids=_file_ids(version))
    chat_id = replies.chat_id(update)
    await replies.commit(
        update,
        context,
        *(
            Outgoing(
                chat_id=chat_id,
                text=attachment.file_name,
                photo_file_id=attachment.file_id if attachment.kind == "photo" else None,
                document_file_id=None if attachment.kind == "photo" else attachment.file_id,
            )
            for attachment in files
        ),
    )


async def on_message(update: Update, context: BotContext) -> None:
    """The comment typed when returning a submission."""
    flow = current_flow(context)
    caller = await get_caller(update, context)
    message = update.message
    assert caller is not None and message is not None
    if not caller.is_admin:
        await context.services.conversations.end(_chat(update), caller.user_id)
        return
    comment = " ".join((message.text or "").split())
    if not 3 <= len(comment) <= 2000:
        await replies.reply(update, context, caller, "review.comment_length")
        return
    loaded = await _load(context, int(flow.data["sid"]))
    await context.services.conversations.end(_chat(update), caller.user_id)
    if loaded is None:
        await replies.reply(update, context, caller, "common.stale_button")
        return
    submission, period, unit, _ = loaded
    await _decide(update, context, caller, submission, period, unit, accept=False, comment=comment)


async def _decide(
    update: Update,
    context: BotContext,
    caller: Caller,
    submission: Submission,
    period: ReportPeriod,
    unit: Unit,
    *,
    accept: bool,
    comment: str | None = None,
) -> None:
    services = context.services
    key = "review.accepted" if accept else "review.returned"
    notice = "review.accepted_notice" if accept else "review.returned_notice"

    def reopen(language: str) -> dict[str, Any] | None:
        if accept:
            return None
        label = services.translator(language, "review.open_report_button")
        data = ReportPeriodPick(period.id or 0).pack()
        return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data)]]).to_dict()

    try:
        async with services.work(update.update_id) as work:
            await submissions.review(
                session=work.session,
                submission_id=submission.id or 0,
                accept=accept,
                admin_id=caller.user_id,
                now=services.clock(),
                comment=comment,
            )
            people = await contacts.list_contacts(session=work.session, unit_id=unit.id)
            work.send(
                replies.rendered(
                    update,
                    context,
                    caller,
                    key,
                    unit=unit.name,
                    period=period.title,
                    new_message=True,
                )
            )
            await notices.to_users(
                work,
                services,
                [c.telegram_user_id for c, _ in people],
                notice,
                markup=reopen,
                period=period.title,
                comment=comment or "",
            )
    except NotEditable as exc:
        await replies.reply(update, context, caller, exc.reason)
        return


def _chat(update: Update) -> int:
    chat = update.effective_chat
    assert chat is not None
    return chat.id
