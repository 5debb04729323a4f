"""Who an account is: its contact binding, unit and language (cached for a short while)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.i18n import LANGUAGES
from bot.services.errors import ServiceError
from bot.services.work import Outgoing
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


async def set_language(
    services: Services,
    *,
    update_id: int | None,
    user_id: int,
    language: str,
    render: Callable[[str], Sequence[Outgoing]],
) -> str:
    """Stores the account's language; the confirmation (rendered in it) commits with it."""
    if language not in LANGUAGES:
        raise ServiceError("common.stale_button")
    async with services.work(update_id) as work:
        await settings.set_language(
            session=work.session, telegram_user_id=user_id, language=language
        )
        work.send(*render(language))
        work.after_commit(lambda: services.forget_user(user_id))
    return language
