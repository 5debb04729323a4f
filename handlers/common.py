"""/help, /toi (who am I), /ngonngu (language) and replies to anything unrecognised."""

from __future__ import annotations

from dataclasses import replace

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType

from bot.callbacks import BadPayload
from bot.callbacks.common import LanguagePick
from bot.context import BotContext
from bot.i18n import LANGUAGES, Html
from bot.services import people
from bot.services.errors import ServiceError
from handlers import keyboards, replies
from handlers.menu import COMMANDS, GROUP_COMMANDS, description_key
from handlers.permissions import Caller, Role, get_caller


def command_list(context: BotContext, caller: Caller, *, group: bool = False) -> Html:
    """The commands the caller may use, one per line with its description."""
    commands = GROUP_COMMANDS if group else COMMANDS[caller.role]
    lines = [
        f"/{name} — {replies.text(context, caller, description_key(name))}" for name in commands
    ]
    return Html("\n".join(lines))


async def help_command(update: Update, context: BotContext) -> None:
    """Lists what the caller may do."""
    caller = await get_caller(update, context)
    chat = update.effective_chat
    if caller is None or chat is None:
        return
    group = chat.type != ChatType.PRIVATE
    if caller.role is Role.STRANGER and not group:
        await replies.reply(
            update, context, caller, "help.stranger", commands=command_list(context, caller)
        )
        return
    key = "help.group" if group else f"help.{caller.role.value}"
    await replies.reply(
        update, context, caller, key, commands=command_list(context, caller, group=group)
    )


async def whoami(update: Update, context: BotContext) -> None:
    """Shows the caller's role, unit and Telegram id; in a group only a pointer to the
    private chat (no personal detail is posted where everyone reads)."""
    caller = await get_caller(update, context)
    chat = update.effective_chat
    if caller is None or chat is None:
        return
    if chat.type != ChatType.PRIVATE:
        link = f"https://t.me/{context.services.bot_username}"
        label = replies.text(context, caller, "whoami.open_private_button")
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(label, url=link)]])
        await replies.reply(update, context, caller, "whoami.use_private", markup=markup)
        return
    unit = caller.unit.name if caller.unit else replies.text(context, caller, "whoami.no_unit")
    role = replies.text(context, caller, f"role.{caller.role.value}")
    await replies.reply(
        update,
        context,
        caller,
        "whoami.card",
        name=caller.full_name,
        role=role,
        unit=unit,
        user_id=caller.user_id,
        language=replies.text(context, caller, f"language.{caller.language}"),
    )


async def language_menu(update: Update, context: BotContext) -> None:
    """Offers the languages as buttons."""
    caller = await get_caller(update, context)
    if caller is None:
        return
    buttons = [
        (replies.text(context, caller, f"language.{code}"), LanguagePick(code).pack())
        for code in LANGUAGES
    ]
    await replies.reply(
        update, context, caller, "language.choose", markup=keyboards.choices(buttons)
    )


async def language_chosen(update: Update, context: BotContext) -> None:
    """Stores the chosen language and confirms in it."""
    query = update.callback_query
    assert query is not None and query.from_user is not None
    await query.answer()
    caller = await get_caller(update, context)
    if caller is None:
        return
    try:
        code = LanguagePick.unpack(query.data).code
        await people.set_language(
            context.services,
            update_id=update.update_id,
            user_id=caller.user_id,
            language=code,
            render=lambda chosen: [
                replies.rendered(update, context, replace(caller, language=chosen), "language.set")
            ],
        )
    except (BadPayload, ServiceError):
        await replies.reply(update, context, caller, "common.stale_button")


async def cancel(update: Update, context: BotContext) -> None:
    """Closes a menu the caller no longer wants."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    caller = await get_caller(update, context)
    await replies.reply(update, context, caller, "common.cancelled")


async def stale_button(update: Update, context: BotContext) -> None:
    """Answers a press on a button from an old or unknown menu."""
    query = update.callback_query
    assert query is not None
    caller = await get_caller(update, context)
    await query.answer(replies.text(context, caller, "common.stale_button"), show_alert=True)


async def fallback(update: Update, context: BotContext) -> None:
    """Anything else in a private chat: strangers are told to get an invite."""
    caller = await get_caller(update, context)
    if caller is None:
        return
    key = "stranger.not_registered" if caller.role is Role.STRANGER else "common.unknown"
    await replies.reply(update, context, caller, key)
