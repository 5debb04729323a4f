"""Contacts of units: revoking one (and, as they move here, invites and joining)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.permissions import Caller
from bot.services import notices
from bot.services.errors import NotAllowed
from bot.services.work import Outgoing
from storage import bloc, contacts
from storage import conversations as flow_store
from storage.models import Contact, Unit

if TYPE_CHECKING:
    from bot.context import Services


@dataclass(frozen=True)
class Revoked:
    """What revoking found: the contact and unit, or None if it was no longer active."""

    contact: Contact | None
    unit: Unit | None


async def revoke(
    services: Services,
    *,
    update_id: int | None,
    actor: Caller,
    contact_id: int,
    render: Callable[[Revoked], Sequence[Outgoing]],
) -> Revoked:
    """Revokes a contact: the change, the admin's reply and the person's notice commit
    together, and the person's unfinished flows end with it."""
    if not actor.is_admin:
        raise NotAllowed()
    async with services.work(update_id) as work:
        contact = await contacts.revoke_contact(
            session=work.session, contact_id=contact_id, actor_user_id=actor.user_id
        )
        unit = None
        if contact is not None:
            unit = await bloc.get_unit(session=work.session, unit_id=contact.unit_id)
        result = Revoked(contact, unit if contact is not None else None)
        work.send(*render(result))
        if contact is not None and unit is not None:
            user_id = contact.telegram_user_id
            await notices.to_users(work, services, [user_id], "revoke.notice", unit=unit.name)
            for chat_id in await flow_store.chats_of(session=work.session, user_id=user_id):
                await work.end_flow(chat_id, user_id)
            work.after_commit(lambda: services.forget_user(user_id))
    return result
