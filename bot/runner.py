"""Running the bot: schema up to date, bloc synced, Application started, updates flowing."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from bot.app import build_application, learn_username, make_services, set_command_menus
from bot.config import Config
from bot.context import Services
from bot.dispatch import Dispatcher
from bot.inbox import Inbox, Poller
from bot.processor import ChatOrderedProcessor
from bot.scheduler import Scheduler
from bot.services.announcements import auto_resend, handle_unreachable, record_sent
from bot.services.events import EventReminders
from bot.services.reminders import Reminders
from storage import bloc
from storage.db import Database

if TYPE_CHECKING:
    from bot.webhook import WebhookServer

log = logging.getLogger(__name__)


async def prepare_database(config: Config, db: Database) -> bloc.SyncReport:
    """Creates or upgrades the schema and loads the bloc, departments and units."""
    await db.upgrade()
    async with db.session() as session:
        return await bloc.sync_bloc(session=session, bloc_config=config.bloc.spec())


async def serve(
    config: Config,
    *,
    stop: asyncio.Event | None = None,
    services: Services | None = None,
    started: asyncio.Event | None = None,
) -> None:
    """Runs until `stop` is set (or polling gives up); the path `thidua run` takes."""
    stop = stop or asyncio.Event()
    services = services or make_services(config)
    await prepare_database(config, services.db)
    in_progress = await services.conversations.load()
    if in_progress:
        log.info("%d conversation(s) in progress resumed from the database", in_progress)
    app = build_application(config, services)
    inbox = Inbox(app, services.db)
    inbox.marked = services.work.marked
    processor = app.update_processor
    assert isinstance(processor, ChatOrderedProcessor)
    processor.on_start = inbox.mark_started
    processor.on_done = inbox.mark_done
    dispatcher = Dispatcher(
        app.bot,
        services.db,
        limits=config.outbox.limits(),
        clock=lambda: services.clock(),
        max_attempts=config.outbox.max_attempts,
    )
    dispatcher.on_permanent_failure = lambda chat_id, reason: handle_unreachable(
        services, chat_id, reason
    )
    dispatcher.on_sent = lambda row, message: record_sent(services, row, message.message_id)
    reminders = Reminders(services, wake=dispatcher.wake)
    event_reminders = EventReminders(services, wake=dispatcher.wake)
    services.dispatcher = dispatcher
    services.reminders = reminders
    services.event_reminders = event_reminders
    services.work.sender = dispatcher.send_now
    services.work.wake = dispatcher.wake
    scheduler = Scheduler(
        reminders,
        event_reminders,
        config.reminders.tick_seconds,
        extra=[lambda: auto_resend(services)],
    )
    try:
        async with app:
            await learn_username(app, services)
            await set_command_menus(app, services)
            await app.start()
            await dispatcher.start()
            scheduler.start()  # reminders only if enabled; pruning always
            await inbox.replay()
            receiver: Poller | WebhookServer
            if config.telegram.mode == "webhook":
                assert config.telegram.webhook is not None
                # aiohttp's server (about 14 MB) is imported only when it serves a webhook.
                from bot.webhook import WebhookServer

                receiver = WebhookServer(inbox, config.telegram.webhook)
            else:
                receiver = Poller(inbox, timeout=config.telegram.poll_timeout)
            await receiver.start()
            log.info("bot @%s is running (%s)", services.bot_username, config.telegram.mode)
            if started is not None:
                started.set()
            try:
                await _wait(stop, receiver)
            finally:
                await receiver.stop()
                await scheduler.stop()
                await dispatcher.stop()
                await app.stop()
                await inbox.close()
                await services.work.close()
    finally:
        await services.db.dispose()
    log.info("bot stopped")


async def _wait(stop: asyncio.Event, receiver: Poller | WebhookServer) -> None:
    stopper = asyncio.create_task(stop.wait())
    watched: set[asyncio.Future[object]] = {stopper}  # type: ignore[arg-type]
    if isinstance(receiver, Poller) and receiver.task is not None:
        watched.add(receiver.task)  # type: ignore[arg-type]
    done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    for task in done:
        if task is not stopper and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
