"""Routing a person's plain messages to the multi-step flow they are in."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import BaseHandler

from bot.context import BotContext, Services
from bot.conversations import Flow


class InFlow(BaseHandler[Update, BotContext, Any]):
    """Matches a private, non-command message from someone in the middle of `flow`."""

    def __init__(self, flow: str, callback: Any, services: Services) -> None:
        super().__init__(callback)
        self.flow = flow
        self.services = services

    def check_update(self, update: object) -> Flow | None:
        if not isinstance(update, Update) or update.message is None:
            return None
        message = update.message
        if message.chat.type != message.chat.PRIVATE or message.from_user is None:
            return None
        if message.text and message.text.startswith("/"):
            return None
        state = self.services.conversations.get(message.chat.id, message.from_user.id)
        return state if state is not None and state.flow == self.flow else None

    def collect_additional_context(
        self, context: BotContext, update: Update, application: Any, check_result: Any
    ) -> None:
        context.cache["flow"] = check_result


def current_flow(context: BotContext) -> Flow:
    """The flow state InFlow matched for this update."""
    flow = context.cache.get("flow")
    assert isinstance(flow, Flow)
    return flow
