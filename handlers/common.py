"""/help, /toi (who am I), /ngonngu (language) and replies to anything unrecognised."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType

from bot.context import BotContext
from bot.i18n import LANGUAGES, Html
from handlers import callback_data as cb
from handlers import keyboards, replies
from handlers.menu import COMMANDS, GROUP_COMMANDS, description_key
from handlers.permissions import Caller, Role, forget_caller, get_caller
from storage import settings


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
    """Shows the caller's role, unit and Telegram id."""
    caller = await get_caller(update, context)
    if caller is None:
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
        (replies.text(context, caller, f"language.{code}"), cb.build(cb.Prefix.LANGUAGE, code))
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
    code = cb.parse(query.data).args[:1]
    caller = await get_caller(update, context)
    if caller is None:
        return
    if not code or code[0] not in LANGUAGES:
        await replies.reply(update, context, caller, "common.stale_button")
        return
    async with context.services.db.session() as session:
        await settings.set_language(
            session=session, telegram_user_id=query.from_user.id, language=code[0]
        )
    forget_caller(context, query.from_user.id)
    caller = await get_caller(update, context)
    await replies.reply(update, context, caller, "language.set")


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
