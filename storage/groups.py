"""The bloc's Telegram group: registered, followed through migrations, retired when left."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import audit
from storage.models import BlocChat


async def active_group(*, session: AsyncSession) -> BlocChat | None:
    """The registered group, if the bot is still in it."""
    query = select(BlocChat).where(col(BlocChat.active).is_(True)).order_by(col(BlocChat.id).desc())
    return (await session.exec(query)).first()


async def register_group(
    *, session: AsyncSession, chat_id: int, title: str, by: int, now: datetime
) -> BlocChat:
    """Makes this chat the bloc group (any earlier one stops receiving)."""
    await session.exec(
        update(BlocChat).where(col(BlocChat.chat_id) != chat_id).values(active=False)
    )
    group = (await session.exec(select(BlocChat).where(BlocChat.chat_id == chat_id))).first()
    if group is None:
        group = BlocChat(chat_id=chat_id, title=title, registered_by=by, registered_at=now)
    group.title, group.active, group.removed_at = title, True, None
    group.registered_by, group.registered_at = by, now
    session.add(group)
    await audit.record(
        session=session,
        action="group.register",
        actor_user_id=by,
        target=str(chat_id),
        title=title,
    )
    return group


async def migrate_group(*, session: AsyncSession, old_chat_id: int, new_chat_id: int) -> bool:
    """Follows Telegram's group → supergroup migration; True if it was our group."""
    group = (await session.exec(select(BlocChat).where(BlocChat.chat_id == old_chat_id))).first()
    if group is None:
        return False
    clash = (await session.exec(select(BlocChat).where(BlocChat.chat_id == new_chat_id))).first()
    if clash is not None and clash.id != group.id:
        await session.delete(clash)
        await session.flush()
    group.chat_id, group.migrated_from = new_chat_id, old_chat_id
    session.add(group)
    await audit.record(
        session=session, action="group.migrate", target=str(new_chat_id), old=old_chat_id
    )
    return True


async def remove_group(*, session: AsyncSession, chat_id: int, now: datetime) -> BlocChat | None:
    """Records that the bot is no longer in the group; returns it if it was the bloc group."""
    group = (await session.exec(select(BlocChat).where(BlocChat.chat_id == chat_id))).first()
    if group is None or not group.active:
        return None
    group.active, group.removed_at = False, now
    session.add(group)
    await audit.record(session=session, action="group.removed", target=str(chat_id))
    return group
