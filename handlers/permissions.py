"""Who is calling: admin, contact or stranger; and guards for handlers."""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from telegram import Update

from bot.context import BotContext
from bot.i18n import DEFAULT_LANGUAGE
from storage import contacts, settings
from storage.models import Contact, Unit

CALLER_TTL_SECONDS = 30.0


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
        contact, unit, language = await _membership(services, user.id)
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


async def _membership(
    services: Any, user_id: int
) -> tuple[Contact | None, Unit | None, str | None]:
    """The account's contact binding, unit and language, cached for a short while.

    Changes made by this process drop the entry at once (`Services.forget_user`); the TTL
    bounds how long a change made by another process sharing the database goes unseen.
    """
    cache: dict[int, tuple[float, Any]] = services.extras.setdefault("callers", {})
    hit = cache.get(user_id)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]  # type: ignore[no-any-return]
    async with services.db.read() as session:
        contact = await contacts.get_active_contact(session=session, telegram_user_id=user_id)
        unit = await session.get(Unit, contact.unit_id) if contact else None
        language = await settings.get_language(session=session, telegram_user_id=user_id)
    if len(cache) > 5000:
        cache.clear()
    cache[user_id] = (now + CALLER_TTL_SECONDS, (contact, unit, language))
    return contact, unit, language


def forget_caller(context: BotContext, user_id: int) -> None:
    """Drops the cached caller after the update changed who they are."""
    context.cache.pop("caller", None)
    context.services.forget_user(user_id)


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
