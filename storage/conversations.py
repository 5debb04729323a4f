"""Where each person is in a multi-step flow (so a crash or restart resumes it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
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
) -> None:
    """Creates or replaces a person's conversation (one upsert statement)."""
    values = {
        "chat_id": chat_id,
        "user_id": user_id,
        "flow": flow,
        "step": step,
        "data": dict(data),
        "updated_at": utcnow(),
    }
    connection = await session.connection()
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = insert(ConversationState.__table__).values(**values)
    await connection.execute(
        statement.on_conflict_do_update(
            index_elements=["chat_id", "user_id"],
            set_={k: statement.excluded[k] for k in ("flow", "step", "data", "updated_at")},
        )
    )


async def delete_state(*, session: AsyncSession, chat_id: int, user_id: int) -> None:
    """Ends a person's conversation."""
    await session.exec(
        delete(ConversationState).where(
            col(ConversationState.chat_id) == chat_id, col(ConversationState.user_id) == user_id
        )
    )


async def chats_of(*, session: AsyncSession, user_id: int) -> list[int]:
    """The chats in which a person has a flow in progress."""
    query = select(ConversationState.chat_id).where(col(ConversationState.user_id) == user_id)
    return list((await session.exec(query)).all())
