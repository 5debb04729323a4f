"""Update processing: different chats in parallel, each chat strictly in order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

log = logging.getLogger(__name__)

DoneCallback = Callable[[int], Awaitable[None]]


def chat_key(update: object) -> object:
    """What must stay in order: the chat (or, failing that, the user) an update belongs to."""
    if isinstance(update, Update):
        if update.effective_chat is not None:
            return ("chat", update.effective_chat.id)
        if update.effective_user is not None:
            return ("user", update.effective_user.id)
    return ("other", None)


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Runs updates concurrently, but one chat's updates one at a time, in arrival order.

    A conversation needs its steps in order; a slow Bot API round trip in one chat must not
    hold up the others. Before each update `on_start(update_id)` is awaited (the inbox counts
    an attempt at a replayed one), after it `on_done(update_id)` (the inbox marks it processed).
    """

    def __init__(self, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[object, tuple[asyncio.Lock, int]] = {}
        self.on_start: DoneCallback | None = None
        self.on_done: DoneCallback | None = None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = chat_key(update)
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                if self.on_start is not None and isinstance(update, Update):
                    try:
                        await self.on_start(update.update_id)
                    except Exception:
                        log.exception("could not count an attempt at update %s", update.update_id)
                await coroutine
                if self.on_done is not None and isinstance(update, Update):
                    try:
                        await self.on_done(update.update_id)
                    except Exception:
                        log.exception("could not mark update %s processed", update.update_id)
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""
