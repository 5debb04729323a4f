"""/duyet and the `rv:` buttons: parse, call one service, render."""

from __future__ import annotations

import html

from telegram import Update

from bot.callbacks import BadPayload
from bot.callbacks.review import ReviewAction, ReviewButton
from bot.context import BotContext
from bot.services import review as service
from bot.services.work import Outgoing
from bot.text import CAPTION_LIMIT, shorten_html
from handlers import replies
from handlers.permissions import Caller, admin_only, get_caller
from handlers.review import views
from handlers.review.flow import FLOW, STEP, CommentState
from handlers.status import choose_period


@admin_only
async def review_command(update: Update, context: BotContext) -> None:
    """/duyet: choose a period, then a unit."""
    caller = await get_caller(update, context)
    assert caller is not None
    period = await choose_period(
        update,
        context,
        caller,
        lambda period_id: ReviewButton(ReviewAction.PERIOD, period_id).pack(),
    )
    if period is not None:
        await _unit_list(update, context, caller, period.id or 0, page=0)


@admin_only
async def on_button(update: Update, context: BotContext) -> None:
    """Every review button."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    caller = await get_caller(update, context)
    assert caller is not None
    try:
        button = ReviewButton.unpack(query.data)
    except BadPayload:
        await replies.reply(update, context, caller, "common.stale_button")
        return
    action = button.action
    if action in (ReviewAction.PERIOD, ReviewAction.PAGE):
        await _unit_list(update, context, caller, button.target, page=button.number)
    elif action in (ReviewAction.UNIT, ReviewAction.VERSION):
        number = button.number if action is ReviewAction.VERSION else None
        await _show(update, context, caller, button.target, number)
    elif action is ReviewAction.FILES:
        await _send_files(update, context, caller, button.target, button.number)
    elif action is ReviewAction.ACCEPT:
        await service.decide(
            context.services,
            update_id=update.update_id,
            actor=caller,
            submission_id=button.target,
            version=button.number,
            revision=button.revision,
            accept=True,
            render=lambda result: views.decision(update, context, caller, result),
        )
    elif action is ReviewAction.RETURN:
        await service.ask_comment(
            context.services,
            update_id=update.update_id,
            actor=caller,
            chat_id=replies.chat_id(update),
            submission_id=button.target,
            version=button.number,
            revision=button.revision,
            flow=lambda page: FLOW.place(
                STEP,
                CommentState(
                    submission_id=page.submission.id or 0,
                    version=page.submission.version,
                    revision=page.submission.revision,
                ),
            ),
            render=lambda result: views.decision(update, context, caller, result),
        )


async def _unit_list(
    update: Update, context: BotContext, caller: Caller, period_id: int, page: int
) -> None:
    found = await service.unit_list(context.services, actor=caller, period_id=period_id)
    if found is None:
        await replies.reply(update, context, caller, "common.stale_button")
        return
    await replies.commit(update, context, views.unit_list(update, context, caller, found, page))


async def _show(
    update: Update, context: BotContext, caller: Caller, submission_id: int, number: int | None
) -> None:
    shown = await service.page(
        context.services, actor=caller, submission_id=submission_id, version=number
    )
    if shown is None:
        await replies.reply(update, context, caller, "common.stale_button")
        return
    await replies.commit(update, context, *views.page(update, context, caller, shown))


async def _send_files(
    update: Update, context: BotContext, caller: Caller, submission_id: int, number: int
) -> None:
    """Sends the version's attachments to the admin (by Telegram file id)."""
    found = await service.files(
        context.services, actor=caller, submission_id=submission_id, version=number
    )
    chat_id = replies.chat_id(update)
    await replies.commit(
        update,
        context,
        *(
            Outgoing(
                chat_id=chat_id,
                # The caption is sent as HTML: the contact's file name is escaped text.
                text=shorten_html(html.escape(attachment.file_name, quote=False), CAPTION_LIMIT),
                photo_file_id=attachment.file_id if attachment.kind == "photo" else None,
                document_file_id=None if attachment.kind == "photo" else attachment.file_id,
            )
            for attachment in found
        ),
    )
