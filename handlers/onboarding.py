"""Joining the bloc: `/start <token>` from an invite link, and `/start` on its own."""

from __future__ import annotations

import logging
from dataclasses import replace

from telegram import Update
from telegram.constants import ChatType

from bot.context import BotContext
from bot.inbox import REDACTED, start_token_hash
from bot.services import contacts
from bot.services.contacts import InviteOutcome
from bot.services.work import Outgoing
from handlers import replies
from handlers.common import command_list
from handlers.permissions import Caller, Role, get_caller
from handlers.reports import DEEP_LINK, start_report

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
        token = context.args[0]
        # A replay after a crash has "<redacted>" for the token, and the token's hash.
        hashed = start_token_hash(update) if token == REDACTED else None
        await _join(update, context, caller, token, hashed)
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


async def _join(
    update: Update, context: BotContext, caller: Caller, token: str, token_hash: str | None
) -> None:
    """Binds the caller's account to the invite's unit and welcomes them; the binding, the
    welcome and the admins' notice commit together (`bot.services.contacts.join`)."""
    user = update.effective_user
    assert user is not None

    def render(result: contacts.Joined) -> list[Outgoing]:
        if result.outcome is InviteOutcome.JOINED:
            assert result.unit is not None
            member = replace(
                caller,
                role=Role.ADMIN if caller.is_admin else Role.CONTACT,
                contact=result.contact,
                unit=result.unit,
            )
            return [
                replies.rendered(
                    update,
                    context,
                    member,
                    "start.joined",
                    name=member.full_name,
                    unit=result.unit.name,
                    commands=command_list(context, member),
                )
            ]
        if result.outcome is InviteOutcome.ALREADY_MEMBER:
            unit_name = result.unit.name if result.unit else ""
            return [
                replies.rendered(update, context, caller, "start.already_member", unit=unit_name)
            ]
        return [replies.rendered(update, context, caller, _OUTCOME_KEYS[result.outcome])]

    await contacts.join(
        context.services,
        update_id=update.update_id,
        user_id=user.id,
        full_name=user.full_name,
        username=user.username,
        token=token,
        token_hash=token_hash,
        render=render,
    )
    context.cache.pop("caller", None)
