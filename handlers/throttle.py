"""Inbound throttling, ahead of every other handler (group -2): see `bot.throttle`.

An account over its rule is told once to slow down (privately; in a group nothing is
said), then its updates are ignored for a while: no reply, no database change. Service
updates about chats (migrations, membership) are never throttled.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import ApplicationHandlerStop, filters

from bot.context import BotContext
from bot.throttle import Verdict
from handlers import replies
from handlers.permissions import Role, get_caller

log = logging.getLogger(__name__)


async def throttle(update: Update, context: BotContext) -> None:
    """Lets the update through, or stops it (`ApplicationHandlerStop`)."""
    user = update.effective_user
    if not context.services.config.throttle.enabled or user is None:
        return
    if update.message is None and update.callback_query is None:
        return
    if update.message is not None and filters.StatusUpdate.ALL.check_update(update):
        return
    limiter = context.services.throttle
    verdict = limiter.check(user.id)
    caller = None
    if verdict is Verdict.ASK:
        caller = await get_caller(update, context)
        verdict = limiter.check(user.id, known=caller is not None and caller.role != Role.STRANGER)
    if verdict is Verdict.ALLOW:
        return
    if verdict is Verdict.WARN:
        stranger = caller is None or caller.role == Role.STRANGER
        rule = limiter.strangers if stranger else limiter.members
        log.warning("user %s sends too fast: ignored for %.0f s", user.id, rule.mute)
        await _warn(update, context, int(rule.mute))
    raise ApplicationHandlerStop


async def _warn(update: Update, context: BotContext, seconds: int) -> None:
    """«Bạn đang gửi tin nhắn quá nhanh», once: a toast on a button, a reply in private."""
    caller = await get_caller(update, context)
    body = replies.text(context, caller, "common.slow_down", seconds=seconds)
    if update.callback_query is not None:
        await update.callback_query.answer(body, show_alert=True)
    elif update.effective_chat is not None and update.effective_chat.type == "private":
        await replies.send_text(update, context, body, new_message=True)
