"""Units of work for steps that change only where a person is (and what they are told):
the next question of a flow, leaving a flow, a menu shown in reply."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.services.work import Outgoing

if TYPE_CHECKING:
    from bot.context import Services
    from bot.conversations import Flow


async def move(
    services: Services,
    *,
    update_id: int | None,
    chat_id: int,
    user_id: int,
    place: Flow | None,
    messages: Sequence[Outgoing] = (),
) -> None:
    """Puts the person at `place` (None: out of any flow); the messages commit with it."""
    async with services.work(update_id) as work:
        if place is None:
            await work.end_flow(chat_id, user_id)
        else:
            await work.save_flow(chat_id, user_id, place)
        work.send(*messages)


async def reply(services: Services, *, update_id: int | None, messages: Sequence[Outgoing]) -> None:
    """Commits replies that follow from no change (a menu, a page, a refusal) with the
    update's inbox mark, so a crash after it neither loses nor repeats them."""
    async with services.work(update_id) as work:
        work.send(*messages)
