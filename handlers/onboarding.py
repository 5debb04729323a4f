"""Joining the bloc: `/start <token>` from an invite link, and `/start` on its own."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType

from bot.config import nfc
from bot.context import BotContext
from handlers import replies
from handlers.common import command_list
from handlers.permissions import Role, forget_caller, get_caller
from handlers.reports import DEEP_LINK, start_report
from storage import invites
from storage.invites import InviteOutcome

log = logging.getLogger(__name__)

_OUTCOME_KEYS = {
    InviteOutcome.MALFORMED: "start.token_malformed",
    InviteOutcome.UNKNOWN: "start.token_unknown",
    InviteOutcome.USED: "start.token_used",
    InviteOutcome.EXPIRED: "start.token_expired",
    InviteOutcome.REVOKED: "start.token_revoked",
    InviteOutcome.UNIT_RETIRED: "start.unit_retired",
    InviteOutcome.RATE_LIMITED: "start.rate_limited",
}


async def start(update: Update, context: BotContext) -> None:
    """Redeems an invite token if one came with /start, else greets by role."""
    caller = await get_caller(update, context)
    chat = update.effective_chat
    if caller is None or chat is None:
        return
    if chat.type != ChatType.PRIVATE:
        await replies.reply(update, context, caller, "common.private_only")
        return
    if context.args and context.args[0] == DEEP_LINK:
        await start_report(update, context)
        return
    if context.args:
        await _join(update, context, context.args[0])
        return
    if caller.role is Role.STRANGER:
        await replies.reply(update, context, caller, "stranger.not_registered")
        return
    key = "start.admin" if caller.is_admin else "start.contact"
    unit_name = caller.unit.name if caller.unit else ""
    await replies.reply(
        update,
        context,
        caller,
        key,
        name=caller.full_name,
        unit=unit_name,
        commands=command_list(context, caller),
    )


async def _join(update: Update, context: BotContext, token: str) -> None:
    """Binds the caller's account to the invite's unit and welcomes them."""
    user = update.effective_user
    assert user is not None
    services = context.services
    async with services.db.session() as session:
        result = await invites.redeem_invite(
            session=session,
            token=token.strip(),
            telegram_user_id=user.id,
            full_name=nfc(user.full_name)[:200],
            username=user.username,
        )
    forget_caller(context, user.id)
    caller = await get_caller(update, context)
    assert caller is not None
    if result.outcome is InviteOutcome.JOINED:
        assert result.unit is not None
        log.info("user %s joined unit %s", user.id, result.unit.code)
        await replies.reply(
            update,
            context,
            caller,
            "start.joined",
            name=caller.full_name,
            unit=result.unit.name,
            commands=command_list(context, caller),
        )
        await replies.notify_admins(
            context,
            "admin.contact_joined",
            exclude=user.id,
            name=caller.full_name,
            unit=result.unit.name,
        )
        return
    if result.outcome is InviteOutcome.ALREADY_MEMBER:
        unit_name = result.unit.name if result.unit else ""
        await replies.reply(update, context, caller, "start.already_member", unit=unit_name)
        return
    log.info("user %s presented a bad invite token: %s", user.id, result.outcome.value)
    await replies.reply(update, context, caller, _OUTCOME_KEYS[result.outcome])
