"""Who is calling: admin, contact or stranger; and guards for handlers."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from telegram import Update

from bot.context import BotContext
from bot.i18n import DEFAULT_LANGUAGE
from bot.permissions import Caller, Role
from bot.services import people
from handlers.replies import refuse

__all__ = [
    "Caller",
    "Role",
    "admin_only",
    "forget_caller",
    "get_caller",
    "registered_only",
    "require",
]


async def get_caller(update: Update, context: BotContext) -> Caller | None:
    """Resolves (once per update) who sent it; None for updates without a user."""
    if "caller" in context.cache:
        return context.cache["caller"]  # type: ignore[no-any-return]
    user = update.effective_user
    caller: Caller | None = None
    if user is not None and not user.is_bot:
        services = context.services
        found = await people.membership(services, user.id)
        contact, unit, language = found.contact, found.unit, found.language
        if services.is_admin(user.id):
            role = Role.ADMIN
        elif contact is not None:
            role = Role.CONTACT
        else:
            role = Role.STRANGER
        caller = Caller(
            user_id=user.id,
            full_name=user.full_name,
            username=user.username,
            role=role,
            language=language or services.config.bloc.language or DEFAULT_LANGUAGE,
            contact=contact,
            unit=unit,
        )
    context.cache["caller"] = caller
    return caller


def forget_caller(context: BotContext, user_id: int) -> None:
    """Drops the cached caller after the update changed who they are."""
    context.cache.pop("caller", None)
    context.services.forget_user(user_id)


Handler = TypeVar("Handler", bound=Callable[..., Awaitable[Any]])


def require(*roles: Role, private: bool = True) -> Callable[[Handler], Handler]:
    """Lets the handler run only for callers with one of roles (and in a private chat).

    A refusal in a group is short and public-safe (see `handlers.replies.refuse`)."""

    def decorator(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(update: Update, context: BotContext) -> Any:
            caller = await get_caller(update, context)
            if caller is None:
                return None
            admins = Role.ADMIN in roles and len(roles) == 1
            if caller.role not in roles:
                return await refuse(update, context, caller, "not_allowed", admins=admins)
            chat = update.effective_chat
            if private and chat is not None and chat.type != chat.PRIVATE:
                return await refuse(update, context, caller, "private_only", admins=admins)
            return await handler(update, context)

        return guarded  # type: ignore[return-value]

    return decorator


admin_only = require(Role.ADMIN)
registered_only = require(Role.ADMIN, Role.CONTACT)
