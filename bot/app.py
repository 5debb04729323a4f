"""Building the python-telegram-bot Application and its services."""

from __future__ import annotations

import logging
from typing import Any

from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
)
from telegram.constants import ParseMode
from telegram.ext import Application, ContextTypes, Defaults

from bot.config import Config
from bot.context import BotContext, Services
from bot.conversations import Conversations
from bot.files import FileStore
from bot.i18n import LANGUAGES, Translator
from bot.logs import quiet_library_noise
from bot.processor import ChatOrderedProcessor
from bot.request import make_request
from bot.services.work import UnitOfWork
from bot.throttle import Throttle
from handlers.menu import COMMANDS, GROUP_COMMANDS, description_key
from handlers.permissions import Role
from handlers.registry import register
from storage import settings
from storage.db import Database

log = logging.getLogger(__name__)

AppType = Application[Any, BotContext, dict[Any, Any], dict[Any, Any], dict[Any, Any], Any]


def build_application(config: Config, services: Services) -> AppType:
    """The Application wired to the configured Bot API server, handlers and services.

    Updates are not fetched by PTB's Updater: `bot.inbox` stores each one durably first.
    HTTP goes through `[telegram] http_client` (aiohttp or httpx): one pool for the API
    calls, and a one-connection pool for getUpdates, whose long poll waits longer.
    """
    token = config.require_token()
    quiet_library_noise()
    base = config.telegram.base_url
    processor = ChatOrderedProcessor(256)
    client = config.telegram.http_client
    request = make_request(client, connection_pool_size=64, pool_timeout=30)
    get_updates_request = make_request(
        client, connection_pool_size=1, read_timeout=config.telegram.poll_timeout + 10
    )
    app = (
        Application.builder()
        .token(token)
        .base_url(f"{base}/bot")
        .base_file_url(f"{base}/file/bot")
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=config.bloc.tz))
        .context_types(ContextTypes(context=BotContext))
        .concurrent_updates(processor)
        .updater(None)
        .request(request)
        .get_updates_request(get_updates_request)
        .build()
    )
    app.bot_data["services"] = services
    register(app)
    return app  # type: ignore[return-value]


def make_services(config: Config, db: Database | None = None) -> Services:
    """Services for a run: the database and translator."""
    db = db or Database(
        config.database.url,
        echo=config.database.echo,
        sqlite_threads=config.database.sqlite_threads,
    )
    conversations = Conversations(db)
    services = Services(
        config=config,
        db=db,
        translator=Translator(),
        conversations=conversations,
        files=FileStore(config.files.dir),
        work=UnitOfWork(db, conversations),
        throttle=Throttle(*config.throttle.rules()),
    )
    # The unit of work reads the clock through the services (tests move it).
    services.work.clock = lambda: services.clock()
    return services


async def learn_username(app: AppType, services: Services) -> None:
    """Asks getMe for the bot's username and remembers it (for invite links)."""
    me = await app.bot.get_me()
    services.bot_username = me.username or services.config.telegram.username
    async with services.db.session() as session:
        await settings.set_value(session=session, key="bot_username", value=services.bot_username)


async def set_command_menus(app: AppType, services: Services) -> None:
    """Publishes each role's commands to Telegram's menu; failures are logged, not fatal."""
    translate = services.translator
    default_language = services.config.bloc.language

    def commands(names: tuple[str, ...], language: str) -> list[BotCommand]:
        return [BotCommand(n, translate(language, description_key(n))) for n in names]

    calls: list[tuple[str, list[BotCommand], Any, str | None]] = []
    for language in LANGUAGES:
        code = None if language == default_language else language
        calls.append(
            (
                "private",
                commands(COMMANDS[Role.CONTACT], language),
                BotCommandScopeAllPrivateChats(),
                code,
            )
        )
        calls.append(
            ("groups", commands(GROUP_COMMANDS, language), BotCommandScopeAllGroupChats(), code)
        )
        for admin_id in services.config.bloc.admins:
            calls.append(
                (
                    f"admin {admin_id}",
                    commands(COMMANDS[Role.ADMIN], language),
                    BotCommandScopeChat(admin_id),
                    code,
                )
            )
    for label, menu, scope, code in calls:
        try:
            await app.bot.set_my_commands(menu, scope=scope, language_code=code)
        except Exception as exc:
            log.warning("could not set the %s command menu (%s): %s", label, code or "-", exc)
