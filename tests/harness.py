"""End-to-end harness: the real bot (the `thidua run` code path) against the emulator."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, or_
from sqlmodel import col, select

from bot.app import make_services
from bot.config import Config
from bot.context import Services
from bot.emulator import BotApiEmulator
from bot.runner import serve
from storage import bloc, invites, periods
from storage.db import Database
from storage.models import InboxUpdate, OutboxMessage, ReportPeriod
from tests.factories import ADMIN_ID, SECOND_ADMIN_ID, TOKEN, make_config

BOT_USERNAME = "thidua_test_bot"


@dataclass
class Harness:
    """A running bot, its emulator, and a second database handle for the test's own use."""

    emu: BotApiEmulator
    config: Config
    db: Database
    services: Services
    stop: asyncio.Event
    task: asyncio.Task[None]
    users: dict[int, Any] = field(default_factory=dict)

    @property
    def admin(self) -> Any:
        """The first configured admin, as an emulator user."""
        return self.emu.state.users[ADMIN_ID]

    def user(self, user_id: int, first_name: str, **kwargs: Any) -> Any:
        """An emulator user, created on first use."""
        if user_id not in self.users:
            self.users[user_id] = self.emu.add_user(user_id, first_name, **kwargs)
        return self.users[user_id]

    async def say(self, user: Any, text: str, *, contains: str | None = None) -> dict[str, Any]:
        """Sends text as user in their private chat and returns the bot's next reply there."""
        mark = self.emu.mark(user.id)
        update = self.emu.send_text(user, text)
        reply = await self.emu.wait_for_message(user.id, contains=contains, after=mark)
        if contains is None:  # the whole answer, not just its first message
            await self.settle(int(update["update_id"]), {user.id})
            return self.emu.last_message(user.id) or reply
        return reply

    async def settle(self, update_id: int, chats: set[int]) -> None:
        """Waits (up to 5 s) until the bot has finished the update and sent everything due
        to these chats (the update marked handled, no row to them waiting or being sent)."""
        for _ in range(250):
            async with self.db.read() as session:
                handled = await session.get(InboxUpdate, update_id)
                busy = (
                    await session.exec(
                        select(func.count()).where(
                            col(OutboxMessage.chat_id).in_(chats),
                            or_(
                                col(OutboxMessage.status) == "sending",
                                and_(
                                    col(OutboxMessage.status) == "pending",
                                    col(OutboxMessage.not_before) <= self.services.clock(),
                                ),
                            ),
                        )
                    )
                ).one()
            # Marked by a unit of work, the update may still be running (another reply to
            # come): the processor takes it out of `marked` when its handler has finished.
            finished = update_id not in self.services.work.marked
            if handled is not None and handled.processed_at is not None and finished and not busy:
                await self.emu.wait_until_delivered()
                return
            await asyncio.sleep(0.02)

    async def press(self, user: Any, message: dict[str, Any], label: str) -> dict[str, Any]:
        """Presses the inline button labelled `label` and returns the chat's resulting state:
        waits for the bot to answer this press, then for the edit or the new message it
        brings (up to 2 s: a press may only be answered with a toast)."""
        chats = {user.id, message["chat"]["id"]}
        mark = self.emu.mark(user.id)
        calls_before = len(self.emu.calls)
        pressed = self.emu.press_button_text(user, message, label)
        query_id = pressed["callback_query"]["id"]
        await self.emu.wait_for_call(
            "answerCallbackQuery",
            lambda c: str(c.params.get("callback_query_id")) == query_id,
            timeout=5,
        )

        def edited() -> bool:
            return any(
                c.method == "editMessageText" and c.params.get("chat_id") in chats
                for c in self.emu.calls[calls_before:]
            )

        for _ in range(100):
            if edited() or self.emu.mark(user.id) > mark:
                break
            await asyncio.sleep(0.02)
        await self.settle(int(pressed["update_id"]), chats)
        return self.emu.last_message(user.id) or {}

    async def invite(self, unit_code: str, ttl: timedelta = timedelta(days=7)) -> str:
        """Creates an invite exactly as `thidua invite` does and returns its token."""
        async with self.db.session() as session:
            unit = await bloc.get_unit_by_code(session=session, code=unit_code)
            assert unit is not None
            issued = await invites.create_invite(session=session, unit=unit, ttl=ttl)
        return issued.token

    async def open_period(
        self,
        kind: str = "six_month",
        *,
        opens: timedelta = timedelta(hours=-1),
        deadline: timedelta = timedelta(days=7),
        title: str | None = None,
        questions: list[dict[str, Any]] | None = None,
    ) -> ReportPeriod:
        """A period relative to the bot's clock (times may lie in the past, unlike in chat)."""
        now = self.services.clock()
        template = self.config.reports.template(kind)
        async with self.db.session() as session:
            return await periods.create_period(
                session=session,
                kind=kind,
                title=title or f"Kỳ thử {kind}",
                year=self.config.bloc.year,
                opens_at=now + opens,
                deadline_at=now + deadline,
                questions=questions or [q.model_dump(mode="json") for q in template.questions],
                late_days=self.config.reports.late_days,
            )

    async def join(self, user: Any, unit_code: str) -> dict[str, Any]:
        """Makes user a contact of the unit through a real invite link."""
        token = await self.invite(unit_code)
        marks = {admin: self.emu.mark(admin) for admin in self.config.bloc.admins}
        welcome = await self.say(user, f"/start {token}", contains="Xin chào")
        for admin, mark in marks.items():
            if admin != user.id:
                await self.emu.wait_for_message(admin, after=mark)
        return welcome


@contextlib.asynccontextmanager
async def running_bot(
    tmp_path: Path,
    *,
    latency: float = 0.0,
    database_url: str | None = None,
    first_update_id: int = 1,
    clock: Any = None,
    **overrides: Any,
) -> AsyncIterator[Harness]:
    """Starts the emulator and the bot; stops both afterwards."""
    async with BotApiEmulator(
        token=TOKEN, bot_username=BOT_USERNAME, latency=latency, first_update_id=first_update_id
    ) as emu:
        url = database_url or f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
        overrides.setdefault("files", {"dir": str(tmp_path / "files")})
        # Scheduled reminders only where a test asks for them (they would interleave).
        overrides.setdefault("reminders", {"enabled": False})
        # Telegram's pacing (1 message/s per person) would only slow the tests down; tests
        # of the pacing itself set their own.
        overrides.setdefault("outbox", {"per_second": 1000, "private_interval": 0.0})
        # Tests type far faster than people; tests of the throttling itself turn it on.
        overrides.setdefault("throttle", {"enabled": False})
        config = make_config(database_url=url, base_url=emu.base_url, **overrides)
        for admin_id in config.bloc.admins:
            emu.add_user(admin_id, f"Admin {admin_id}")
        services = make_services(config)
        if clock is not None:
            services.clock = clock
        stop, started = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(serve(config, stop=stop, services=services, started=started))
        waiter = asyncio.create_task(started.wait())
        await asyncio.wait({task, waiter}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            waiter.cancel()
            task.result()  # raises the start-up error
        assert started.is_set(), "bot did not start"
        db = Database(url)
        harness = Harness(emu, config, db, services, stop, task)
        try:
            yield harness
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=30)
            await db.dispose()


__all__ = ["ADMIN_ID", "SECOND_ADMIN_ID", "Harness", "running_bot"]
