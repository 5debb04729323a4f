"""Where each person is in a multi-step flow (so a crash or restart resumes it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ConversationState, utcnow


async def all_states(*, session: AsyncSession) -> list[ConversationState]:
    """Every stored conversation (loaded once at start-up)."""
    return list((await session.exec(select(ConversationState))).all())


async def save_state(
    *,
    session: AsyncSession,
    chat_id: int,
    user_id: int,
    flow: str,
    step: str,
    data: dict[str, Any],
) -> ConversationState:
    """Creates or replaces a person's conversation."""
    state = await session.get(ConversationState, (chat_id, user_id))
    if state is None:
        state = ConversationState(chat_id=chat_id, user_id=user_id, flow=flow, step=step)
    state.flow, state.step, state.data, state.updated_at = flow, step, dict(data), utcnow()
    session.add(state)
    return state


async def delete_state(*, session: AsyncSession, chat_id: int, user_id: int) -> None:
    """Ends a person's conversation."""
    await session.exec(
        delete(ConversationState).where(
            col(ConversationState.chat_id) == chat_id, col(ConversationState.user_id) == user_id
        )
    )
