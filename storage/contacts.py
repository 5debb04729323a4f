"""Contacts (cán bộ đầu mối): Telegram accounts bound to units."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import audit
from storage.models import Contact, Department, Unit, utcnow


async def get_active_contact(*, session: AsyncSession, telegram_user_id: int) -> Contact | None:
    """The account's current binding, if any."""
    query = select(Contact).where(
        Contact.telegram_user_id == telegram_user_id, col(Contact.active).is_(True)
    )
    return (await session.exec(query)).first()


async def get_contact(*, session: AsyncSession, contact_id: int) -> Contact | None:
    """A contact by id."""
    return await session.get(Contact, contact_id)


async def list_contacts(
    *, session: AsyncSession, unit_id: int | None = None
) -> list[tuple[Contact, Unit]]:
    """Active contacts with their units, in department and unit order."""
    query = (
        select(Contact, Unit)
        .join(Unit, col(Unit.id) == Contact.unit_id)
        .join(Department, col(Department.id) == Unit.department_id)
        .where(col(Contact.active).is_(True))
        .order_by(col(Department.id), col(Unit.position), col(Contact.joined_at))
    )
    if unit_id is not None:
        query = query.where(Contact.unit_id == unit_id)
    return [(c, u) for c, u in (await session.exec(query)).all()]


async def count_contacts_by_unit(*, session: AsyncSession) -> dict[int, int]:
    """Active contacts per unit id."""
    query = (
        select(Contact.unit_id, func.count())
        .where(col(Contact.active).is_(True))
        .group_by(col(Contact.unit_id))
    )
    return {unit_id: int(n) for unit_id, n in (await session.exec(query)).all()}


async def revoke_contact(
    *, session: AsyncSession, contact_id: int, actor_user_id: int | None
) -> Contact | None:
    """Deactivates a contact; returns it, or None if it was not active."""
    contact = await session.get(Contact, contact_id)
    if contact is None or not contact.active:
        return None
    contact.active, contact.revoked_at, contact.revoked_by = False, utcnow(), actor_user_id
    unit = await session.get(Unit, contact.unit_id)
    await audit.record(
        session=session,
        action="contact.revoke",
        actor_user_id=actor_user_id,
        target=unit.code if unit else str(contact.unit_id),
        contact_id=contact.id,
        full_name=contact.full_name,
    )
    return contact


async def update_profile(
    *, session: AsyncSession, contact: Contact, full_name: str, username: str | None
) -> None:
    """Keeps the stored name and username in step with Telegram."""
    if contact.full_name != full_name or contact.username != username:
        contact.full_name, contact.username = full_name, username
        session.add(contact)


async def name_of(*, session: AsyncSession, telegram_user_id: int | None) -> str | None:
    """The name a Telegram account was last known by here (active or not)."""
    if telegram_user_id is None:
        return None
    query = (
        select(Contact.full_name)
        .where(Contact.telegram_user_id == telegram_user_id)
        .order_by(col(Contact.joined_at).desc())
        .limit(1)
    )
    return (await session.exec(query)).first()
