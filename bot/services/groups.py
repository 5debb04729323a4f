"""The bloc's Telegram group: registering it, following its migration, noting its loss.

Each public function is one unit of work: the change, the reply and the admins' notice
commit together.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.permissions import Caller
from bot.services import notices
from bot.services.errors import NotAllowed
from bot.services.work import Outgoing
from storage import groups as group_store

if TYPE_CHECKING:
    from bot.context import Services

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Group:
    """The bloc group as a service reports it."""

    chat_id: int
    title: str


async def register(
    services: Services,
    *,
    update_id: int | None,
    actor: Caller,
    chat_id: int,
    title: str,
    render: Callable[[Group], Sequence[Outgoing]],
) -> Group:
    """Makes this chat the bloc group (announcements and digests go here); admins only."""
    if not (actor.is_admin and services.is_admin(actor.user_id)):
        raise NotAllowed()
    async with services.work(update_id) as work:
        stored = await group_store.register_group(
            session=work.session, chat_id=chat_id, title=title, by=actor.user_id, now=work.now
        )
        result = Group(stored.chat_id, stored.title)
        work.send(*render(result))
    return result


async def migrate(
    services: Services, *, update_id: int | None, old_chat_id: int, new_chat_id: int
) -> bool:
    """Telegram turned the group into a supergroup: the stored chat id follows. True if it
    was the bloc group."""
    async with services.work(update_id) as work:
        moved = await group_store.migrate_group(
            session=work.session, old_chat_id=old_chat_id, new_chat_id=new_chat_id
        )
    if moved:
        log.info("bloc group %s migrated to %s", old_chat_id, new_chat_id)
    return moved


async def removed(services: Services, *, update_id: int | None, chat_id: int) -> Group | None:
    """The bot was removed from (or left) a chat: if it was the bloc group, it is retired
    and every admin is told, in the same unit of work. None if it was not the bloc group."""
    async with services.work(update_id) as work:
        stored = await group_store.remove_group(session=work.session, chat_id=chat_id, now=work.now)
        result = Group(stored.chat_id, stored.title) if stored is not None else None
        if result is not None:
            await notices.to_admins(work, services, "group.removed_notice", title=result.title)
    if result is not None:
        log.warning("the bot was removed from the bloc group %s", chat_id)
    return result
