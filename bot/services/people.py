"""Who an account is: its contact binding, unit and language (cached for a short while)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from storage import contacts, settings
from storage.models import Contact, Unit

if TYPE_CHECKING:
    from bot.context import Services

CALLER_TTL_SECONDS = 30.0


@dataclass(frozen=True)
class Membership:
    """What the database says about an account."""

    contact: Contact | None
    unit: Unit | None
    language: str | None


async def membership(services: Services, user_id: int) -> Membership:
    """The account's contact binding, unit and language.

    Changes made by this process drop the entry at once (`Services.forget_user`); the TTL
    bounds how long a change made by another process sharing the database goes unseen.
    """
    cache = services.callers
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
    found = Membership(contact, unit, language)
    cache[user_id] = (now + CALLER_TTL_SECONDS, found)
    return found
