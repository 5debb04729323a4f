"""The bloc group: /nhom registers it; migrations and removals are followed
(`bot.services.groups` does each in one unit of work)."""

from __future__ import annotations

import logging

from telegram import ChatMember, Update
from telegram.constants import ChatType

from bot.context import BotContext
from bot.services import groups
from bot.services.errors import ServiceError
from handlers import replies
from handlers.permissions import get_caller

log = logging.getLogger(__name__)


async def register_group(update: Update, context: BotContext) -> None:
    """/nhom in a group, by an admin: this group receives announcements and digests."""
    caller = await get_caller(update, context)
    chat = update.effective_chat
    if caller is None or chat is None:
        return
    if chat.type == ChatType.PRIVATE:
        await replies.reply(update, context, caller, "group.use_in_group")
        return
    if not caller.is_admin:
        await replies.reply(update, context, caller, "common.not_allowed")
        return
    try:
        await groups.register(
            context.services,
            update_id=update.update_id,
            actor=caller,
            chat_id=chat.id,
            title=chat.title or "",
            render=lambda group: [
                replies.rendered(update, context, caller, "group.registered", title=group.title)
            ],
        )
    except ServiceError as refusal:
        await replies.reply(update, context, caller, refusal.key)


async def migrated(update: Update, context: BotContext) -> None:
    """Telegram turned the group into a supergroup: the stored chat id follows."""
    message = update.effective_message
    if message is None or not message.migrate_to_chat_id:
        return
    await groups.migrate(
        context.services,
        update_id=update.update_id,
        old_chat_id=message.chat.id,
        new_chat_id=message.migrate_to_chat_id,
    )


async def membership_changed(update: Update, context: BotContext) -> None:
    """The bot was removed from (or left) a group: recorded, and the admins are told."""
    change = update.my_chat_member
    if change is None or change.chat.type == ChatType.PRIVATE:
        return
    if change.new_chat_member.status not in (ChatMember.LEFT, ChatMember.BANNED):
        return
    await groups.removed(context.services, update_id=update.update_id, chat_id=change.chat.id)
