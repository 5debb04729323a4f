"""Who is calling: admin, contact or stranger; and guards for handlers."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from telegram import Update

from bot.context import BotContext
from bot.i18n import DEFAULT_LANGUAGE
from storage import contacts, settings
from storage.models import Contact, Unit


class Role(StrEnum):
    """What a Telegram account may do here."""

    ADMIN = "admin"
    CONTACT = "contact"
    STRANGER = "stranger"


@dataclass(frozen=True)
class Caller:
    """The account behind an update, with its role, unit and language."""

    user_id: int
    full_name: str
    username: str | None
    role: Role
    language: str
    contact: Contact | None = None
    unit: Unit | None = None

    @property
    def is_admin(self) -> bool:
        """Admins may do everything."""
        return self.role is Role.ADMIN

    @property
    def is_registered(self) -> bool:
        """Admins and contacts."""
        return self.role is not Role.STRANGER


async def get_caller(update: Update, context: BotContext) -> Caller | None:
    """Resolves (once per update) who sent it; None for updates without a user."""
    if "caller" in context.cache:
        return context.cache["caller"]  # type: ignore[no-any-return]
    user = update.effective_user
    caller: Caller | None = None
    if user is not None and not user.is_bot:
        services = context.services
        async with services.db.read() as session:
            contact = await contacts.get_active_contact(session=session, telegram_user_id=user.id)
            unit = await session.get(Unit, contact.unit_id) if contact else None
            language = await settings.get_language(session=session, telegram_user_id=user.id)
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


def forget_caller(context: BotContext) -> None:
    """Drops the cached caller after the update changed who they are."""
    context.cache.pop("caller", None)


Handler = TypeVar("Handler", bound=Callable[..., Awaitable[Any]])


def require(*roles: Role, private: bool = True) -> Callable[[Handler], Handler]:
    """Lets the handler run only for callers with one of roles (and in a private chat)."""

    def decorator(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(update: Update, context: BotContext) -> Any:
            from handlers.replies import refuse  # late: replies imports this module

            caller = await get_caller(update, context)
            if caller is None:
                return None
            if caller.role not in roles:
                return await refuse(update, context, caller, "not_allowed")
            chat = update.effective_chat
            if private and chat is not None and chat.type != chat.PRIVATE:
                return await refuse(update, context, caller, "private_only")
            return await handler(update, context)

        return guarded  # type: ignore[return-value]

    return decorator


admin_only = require(Role.ADMIN)
registered_only = require(Role.ADMIN, Role.CONTACT)
