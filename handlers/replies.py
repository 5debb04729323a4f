"""Sending catalogue text back to the person who wrote: the one place replies are rendered."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, TelegramError

from bot.context import BotContext
from handlers.permissions import Caller, Role
from storage import settings

log = logging.getLogger(__name__)


def text(context: BotContext, caller: Caller | None, key: str, /, **kwargs: Any) -> str:
    """The message key in the caller's language."""
    language = caller.language if caller else context.services.config.bloc.language
    return context.services.translator(language, key, **kwargs)


async def reply(
    update: Update,
    context: BotContext,
    caller: Caller | None,
    key: str,
    /,
    *,
    markup: InlineKeyboardMarkup | None = None,
    **kwargs: Any,
) -> Message | None:
    """Answers in the chat the update came from (editing the message if it was a button)."""
    body = text(context, caller, key, **kwargs)
    return await send_text(update, body, markup=markup)


async def send_text(
    update: Update,
    body: str,
    *,
    markup: InlineKeyboardMarkup | None = None,
    new_message: bool = False,
) -> Message | None:
    """Sends body in the update's chat; a button press edits the message it came from
    (unless `new_message`, for flows that read as a transcript)."""
    query = update.callback_query
    if query is not None and isinstance(query.message, Message) and not new_message:
        try:
            result = await query.message.edit_text(body, reply_markup=markup)
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return query.message
            raise
        return result if isinstance(result, Message) else None
    chat = update.effective_chat
    if chat is None:
        return None
    return await chat.send_message(body, reply_markup=markup)


async def refuse(update: Update, context: BotContext, caller: Caller, reason: str) -> None:
    """Explains politely why the caller cannot do this; changes nothing."""
    if caller.role is Role.STRANGER:
        key = "stranger.not_registered"
    elif reason == "private_only":
        key = "common.private_only"
    else:
        key = "common.not_allowed"
    query = update.callback_query
    if query is not None:
        await query.answer(text(context, caller, key), show_alert=True)
        return
    await reply(update, context, caller, key)


async def language_of(context: BotContext, user_id: int) -> str:
    """The language of someone other than the caller (for notices sent to them)."""
    async with context.services.db.read() as session:
        chosen = await settings.get_language(session=session, telegram_user_id=user_id)
    return chosen or context.services.config.bloc.language


async def notify_admins(
    context: BotContext, key: str, /, *, exclude: int | None = None, **kwargs: Any
) -> None:
    """Tells every admin (in their own language); a value may be a function of the language.

    Best effort: an admin who never opened the bot cannot be messaged.
    """
    services = context.services
    for admin_id in services.config.bloc.admins:
        if admin_id == exclude:
            continue
        language = await language_of(context, admin_id)
        values = {k: v(language) if isinstance(v, Callable) else v for k, v in kwargs.items()}
        try:
            await context.bot.send_message(admin_id, services.translator(language, key, **values))
        except TelegramError as exc:
            log.warning("could not notify admin %s (%s): %s", admin_id, key, exc)
