"""The bloc group: /nhom registers it; migrations and removals are followed."""

from __future__ import annotations

import logging

from telegram import ChatMember, Update
from telegram.constants import ChatType

from bot.context import BotContext
from bot.services.announcements import notify_admins
from handlers import replies
from handlers.permissions import get_caller
from storage import groups

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
    services = context.services
    async with services.db.session() as session:
        await groups.register_group(
            session=session,
            chat_id=chat.id,
            title=chat.title or "",
            by=caller.user_id,
            now=services.clock(),
        )
    await replies.reply(update, context, caller, "group.registered", title=chat.title or "")


async def migrated(update: Update, context: BotContext) -> None:
    """Telegram turned the group into a supergroup: the stored chat id follows."""
    message = update.effective_message
    if message is None or not message.migrate_to_chat_id:
        return
    async with context.services.db.session() as session:
        moved = await groups.migrate_group(
            session=session, old_chat_id=message.chat.id, new_chat_id=message.migrate_to_chat_id
        )
    if moved:
        log.info("bloc group %s migrated to %s", message.chat.id, message.migrate_to_chat_id)


async def membership_changed(update: Update, context: BotContext) -> None:
    """The bot was removed from (or left) a group: recorded, and the admins are told."""
    change = update.my_chat_member
    if change is None or change.chat.type == ChatType.PRIVATE:
        return
    if change.new_chat_member.status not in (ChatMember.LEFT, ChatMember.BANNED):
        return
    services = context.services
    async with services.work(update.update_id) as work:
        group = await groups.remove_group(
            session=work.session, chat_id=change.chat.id, now=services.clock()
        )
        if group is not None:
            await notify_admins(work, services, "group.removed_notice", title=group.title)
    if group is not None:
        log.warning("the bot was removed from the bloc group %s", change.chat.id)
