"""The review pages and the replies to a decision, rendered from the catalogue."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.callbacks.review import ReviewAction, ReviewButton
from bot.context import BotContext
from bot.i18n import Html, format_datetime
from bot.services.review import Decision, Outcome, ReviewPage, UnitList
from bot.services.work import Outgoing
from handlers import keyboards, replies
from handlers.permissions import Caller
from handlers.render import answers_html, split_message
from handlers.status import ICONS


def unit_list(
    update: Update, context: BotContext, caller: Caller, found: UnitList, page: int
) -> Outgoing:
    """The units that submitted, a page at a time."""
    period = found.period
    if not found.units:
        return replies.rendered(
            update, context, caller, "review.none_submitted", title=period.title
        )
    items = [
        (
            keyboards.button_label(f"{ICONS[unit.state]} {unit.unit_name}"),
            ReviewButton(ReviewAction.UNIT, unit.submission_id).pack(),
        )
        for unit in found.units
    ]
    markup = keyboards.paged(
        items,
        page=page,
        to_page=lambda n: ReviewButton.page(period.id or 0, n).pack(),
        cancel_label=replies.text(context, caller, "common.cancel_button"),
    )
    return replies.rendered(
        update,
        context,
        caller,
        "review.pick_unit",
        title=period.title,
        count=len(items),
        markup=markup,
    )


def page(update: Update, context: BotContext, caller: Caller, shown: ReviewPage) -> list[Outgoing]:
    """One version in full (new messages), with accept/return buttons on the latest."""
    services = context.services
    submission, period, version = shown.submission, shown.period, shown.version
    language = caller.language
    timing = (
        replies.text(context, caller, "report.late_by", days=version.days_late)
        if version.late
        else replies.text(context, caller, "report.on_time")
    )
    state = shown.state
    header = replies.text(
        context,
        caller,
        "review.header",
        unit=shown.unit.name,
        period=period.title,
        version=version.version,
        total=shown.total,
        by=shown.submitted_by or "?",
        time=format_datetime(version.submitted_at, services.config.bloc.tz, language),
        timing=timing,
        state=f"{ICONS[state]} " + replies.text(context, caller, f"status.state_{state.value}"),
    )
    blocks = [header]
    if submission.review_comment and shown.latest:
        blocks.append(
            replies.text(context, caller, "review.last_comment", comment=submission.review_comment)
        )
    questions = shown.questions
    rendered = answers_html(questions, version.answers, shown.files, language, services.translator)
    for index, (question, answer) in enumerate(zip(questions, rendered, strict=True)):
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
    sid = submission.id or 0
    rows: list[list[InlineKeyboardButton]] = []
    if shown.decidable:
        rows.append(
            [
                InlineKeyboardButton(
                    replies.text(context, caller, "review.accept_button"),
                    callback_data=ReviewButton(
                        ReviewAction.ACCEPT, sid, submission.version, submission.revision
                    ).pack(),
                ),
                InlineKeyboardButton(
                    replies.text(context, caller, "review.return_button"),
                    callback_data=ReviewButton(
                        ReviewAction.RETURN, sid, submission.version, submission.revision
                    ).pack(),
                ),
            ]
        )
    extra: list[InlineKeyboardButton] = []
    if version.version > 1:
        extra.append(
            InlineKeyboardButton(
                replies.text(context, caller, "review.older_button", version=version.version - 1),
                callback_data=ReviewButton(ReviewAction.VERSION, sid, version.version - 1).pack(),
            )
        )
    if shown.file_ids:
        extra.append(
            InlineKeyboardButton(
                replies.text(context, caller, "review.files_button"),
                callback_data=ReviewButton(ReviewAction.FILES, sid, version.version).pack(),
            )
        )
    if extra:
        rows.append(extra)
    chunks = split_message(blocks)
    return [
        replies.outgoing(
            update,
            chunk,
            markup=InlineKeyboardMarkup(rows) if position == len(chunks) - 1 and rows else None,
            new_message=True,
        )
        for position, chunk in enumerate(chunks)
    ]


def decision(
    update: Update, context: BotContext, caller: Caller, result: Decision
) -> list[Outgoing]:
    """The admin's reply to accept, return (asked or done), or a refusal."""
    if result.outcome is Outcome.GONE or result.unit is None or result.period is None:
        return [replies.rendered(update, context, caller, result.reason)]
    names = {"unit": result.unit.name, "period": result.period.title}
    if result.outcome is Outcome.CHANGED:
        assert result.page is not None
        refusal = replies.rendered(
            update, context, caller, "review.changed", new_message=True, **names
        )
        return [refusal, *page(update, context, caller, result.page)]
    key = {
        Outcome.ACCEPTED: "review.accepted",
        Outcome.RETURNED: "review.returned",
        Outcome.ASKED: "review.ask_comment",
    }[result.outcome]
    return [replies.rendered(update, context, caller, key, new_message=True, **names)]
