"""Rendering catalogue text for the person who wrote, and committing it as their reply.

Nothing here calls Telegram's send methods: a reply is an `Outgoing` row written by a unit
of work (`bot.services.work`), so it commits with what the update changed and is sent once.
A button press edits the message it came from, unless the flow reads as a transcript.
"""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup, Message, Update

from bot.context import BotContext
from bot.permissions import Caller, Role
from bot.services import flows as flow_service
from bot.services.work import Outgoing


def text(context: BotContext, caller: Caller | None, key: str, /, **kwargs: Any) -> str:
    """The message key in the caller's language."""
    language = caller.language if caller else context.services.config.bloc.language
    return context.services.translator(language, key, **kwargs)


def chat_id(update: Update) -> int:
    """The chat the update came from (every update a handler answers has one)."""
    chat = update.effective_chat
    if chat is None:
        raise ValueError(f"update {update.update_id} has no chat")
    return chat.id


def markup_dict(markup: InlineKeyboardMarkup | dict[str, Any] | None) -> dict[str, Any] | None:
    """A keyboard as the outbox stores it."""
    if markup is None or isinstance(markup, dict):
        return markup
    return markup.to_dict()


def outgoing(
    update: Update,
    body: str,
    *,
    markup: InlineKeyboardMarkup | dict[str, Any] | None = None,
    new_message: bool = False,
) -> Outgoing:
    """The reply to this update: an edit of the pressed button's message, or a new one."""
    query = update.callback_query
    edit: int | None = None
    if query is not None and not new_message and isinstance(query.message, Message):
        edit = query.message.message_id
    return Outgoing(
        chat_id=chat_id(update), text=body, markup=markup_dict(markup), edit_message_id=edit
    )


def rendered(
    update: Update,
    context: BotContext,
    caller: Caller | None,
    key: str,
    /,
    *,
    markup: InlineKeyboardMarkup | dict[str, Any] | None = None,
    new_message: bool = False,
    **kwargs: Any,
) -> Outgoing:
    """Catalogue message `key` as the reply to this update."""
    body = text(context, caller, key, **kwargs)
    return outgoing(update, body, markup=markup, new_message=new_message)


async def commit(update: Update, context: BotContext, *messages: Outgoing) -> None:
    """Commits replies that follow from no change (a menu, a refusal): the update's inbox
    mark and the rows in one unit of work, then sent."""
    await flow_service.reply(context.services, update_id=update.update_id, messages=messages)


async def reply(
    update: Update,
    context: BotContext,
    caller: Caller | None,
    key: str,
    /,
    *,
    markup: InlineKeyboardMarkup | None = None,
    **kwargs: Any,
) -> None:
    """Answers in the chat the update came from (editing the message if it was a button)."""
    await commit(update, context, rendered(update, context, caller, key, markup=markup, **kwargs))


async def send_text(
    update: Update,
    context: BotContext,
    body: str,
    *,
    markup: InlineKeyboardMarkup | None = None,
    new_message: bool = False,
) -> None:
    """Sends body in the update's chat; a button press edits the message it came from
    (unless `new_message`, for flows that read as a transcript)."""
    await commit(update, context, outgoing(update, body, markup=markup, new_message=new_message))


async def refuse(
    update: Update, context: BotContext, caller: Caller, reason: str, *, admins: bool = False
) -> None:
    """Explains politely why the caller cannot do this; changes nothing.

    In a group the answer is public: it stays short and says nothing about the person (a
    stranger is not told they are unregistered): "for admins only" for an admin command
    (`admins`), else "use a private chat"."""
    chat = update.effective_chat
    in_group = chat is not None and chat.type != chat.PRIVATE
    if in_group:
        admin_command = admins and caller.role is not Role.ADMIN
        key = "common.not_allowed" if admin_command else "common.private_only"
    elif caller.role is Role.STRANGER:
        key = "stranger.not_registered"
    elif reason == "private_only":
        key = "common.private_only"
    else:
        key = "common.not_allowed"
    query = update.callback_query
    if query is not None:
        # A toast on the button changes nothing and needs no record: answered directly.
        await query.answer(text(context, caller, key), show_alert=True)
        return
    await reply(update, context, caller, key)
