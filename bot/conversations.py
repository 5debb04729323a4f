"""Multi-step flows that survive restarts: state in the database, a copy in memory.

The in-memory copy lets a handler decide synchronously (PTB's `check_update`) whether a
message belongs to a flow; every change is written to the database first.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from storage import conversations as store
from storage.db import Database


@dataclass
class Flow:
    """Where one person is in one flow."""

    flow: str
    step: str
    data: dict[str, Any] = field(default_factory=dict)


class Conversations:
    """Every person's current flow, keyed by (chat id, user id)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: dict[tuple[int, int], Flow] = {}

    async def load(self) -> int:
        """Fills the cache from the database; returns how many flows were in progress."""
        async with self.db.session() as session:
            rows = await store.all_states(session=session)
        self._cache = {(r.chat_id, r.user_id): Flow(r.flow, r.step, dict(r.data)) for r in rows}
        return len(self._cache)

    def get(self, chat_id: int, user_id: int) -> Flow | None:
        """A copy of the person's flow, or None."""
        flow = self._cache.get((chat_id, user_id))
        return _copy(flow) if flow else None

    async def save(
        self, chat_id: int, user_id: int, flow: Flow, *, session: AsyncSession | None = None
    ) -> None:
        """Stores the person's flow (database first). Given a session, the row is written in
        the caller's transaction and the caller calls `cache` once it has committed."""
        if session is not None:
            await store.save_state(
                session=session,
                chat_id=chat_id,
                user_id=user_id,
                flow=flow.flow,
                step=flow.step,
                data=flow.data,
            )
            return
        async with self.db.session() as own:
            await store.save_state(
                session=own,
                chat_id=chat_id,
                user_id=user_id,
                flow=flow.flow,
                step=flow.step,
                data=flow.data,
            )
        self.cache(chat_id, user_id, flow)

    def cache(self, chat_id: int, user_id: int, flow: Flow) -> None:
        """Updates the in-memory copy once the database has the new state."""
        self._cache[(chat_id, user_id)] = _copy(flow)

    def forget(self, chat_id: int, user_id: int) -> None:
        """Drops the in-memory copy once the database no longer has the flow."""
        self._cache.pop((chat_id, user_id), None)

    async def end(self, chat_id: int, user_id: int) -> None:
        """Forgets the person's flow."""
        if (chat_id, user_id) not in self._cache:
            return
        async with self.db.session() as session:
            await store.delete_state(session=session, chat_id=chat_id, user_id=user_id)
        self._cache.pop((chat_id, user_id), None)


def _copy(flow: Flow) -> Flow:
    """A deep copy of a flow; its data is JSON-shaped (it is stored as JSON), which copies
    several times faster by hand than through `copy.deepcopy`'s general machinery."""
    return Flow(flow.flow, flow.step, _copy_value(flow.data))


def _copy_value(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {key: _copy_value(item) for key, item in value.items()}
    if kind is list:
        return [_copy_value(item) for item in value]
    if kind in _IMMUTABLE:
        return value
    return copy.deepcopy(value)  # anything else (a tuple, a date): as before


_IMMUTABLE = frozenset({str, int, float, bool, type(None)})
