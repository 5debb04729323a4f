"""The global error handler: log with context, tell the user to retry, never crash."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from bot.context import BotContext
from handlers import replies
from handlers.permissions import get_caller

log = logging.getLogger(__name__)

# Harmless races with the user (double taps, a menu already closed): not worth a reply.
_IGNORED_BAD_REQUESTS = (
    "message is not modified",
    "query is too old",
    "message to edit not found",
    "message can't be edited",
)


async def on_error(update: object, context: BotContext) -> None:
    """Logs the failure with the update's context and apologises to the user."""
    error = context.error
    if isinstance(error, BadRequest) and any(
        text in str(error).lower() for text in _IGNORED_BAD_REQUESTS
    ):
        log.debug("ignored harmless BadRequest: %s", error)
        return
    where = _describe(update)
    if isinstance(error, RetryAfter):
        # Telegram's flood control: an apology would be refused too. Replies go through the
        # outbox, which waits retry_after on its own; this was a direct call (a toast).
        log.warning("Telegram asked to wait %s s while handling %s", error.retry_after, where)
        return
    if isinstance(error, Forbidden):
        log.warning("cannot reach the user (%s): %s", where, error)
        return
    # BadRequest subclasses NetworkError in python-telegram-bot, but it is our request that
    # Telegram refused (a bug to fix), not the network: it gets the traceback.
    if isinstance(error, NetworkError) and not isinstance(error, BadRequest):
        log.warning("network error while handling %s: %s", where, error)
    else:
        log.error("error while handling %s", where, exc_info=error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    try:
        await _apologise(update, context)
    except Exception:  # the error handler itself must never raise
        log.warning("could not tell the user about the error (%s)", where, exc_info=True)


async def _apologise(update: Update, context: BotContext) -> None:
    """«Đã có lỗi»: a toast on a button (changes nothing, answered directly), else a reply
    committed through the outbox. With the database down the caller is unknown (the bloc's
    language is used) and the reply cannot be written: then nothing is sent."""
    try:
        caller = await get_caller(update, context)
    except Exception:  # the database itself may be what failed
        caller = None
    if update.callback_query is not None:
        await update.callback_query.answer(
            replies.text(context, caller, "common.error"), show_alert=True
        )
        return
    await replies.reply(update, context, caller, "common.error")


def _describe(update: object) -> str:
    """update id, chat, user and kind, for the log; never the message text."""
    if not isinstance(update, Update):
        return repr(type(update).__name__)
    chat = update.effective_chat
    user = update.effective_user
    kind = "callback" if update.callback_query else "message" if update.message else "other"
    return (
        f"update {update.update_id} ({kind}, chat {chat.id if chat else '-'}, "
        f"user {user.id if user else '-'})"
    )
