"""What every handler can reach: the services kept in `bot_data`, through a typed context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.config import Config
from bot.conversations import Conversations
from bot.files import FileStore
from bot.i18n import Translator
from bot.services.work import UnitOfWork
from bot.throttle import Throttle
from storage.db import Database
from storage.models import utcnow

if TYPE_CHECKING:
    from bot.dispatch import Dispatcher
    from bot.services.events import EventReminders
    from bot.services.reminders import Reminders


@dataclass
class Services:
    """Long-lived collaborators, created at start-up and closed at shutdown."""

    config: Config
    db: Database
    translator: Translator
    conversations: Conversations
    files: FileStore
    work: UnitOfWork
    clock: Callable[[], datetime] = utcnow
    bot_username: str = ""
    # Set by the runner once the Application exists (None in the CLI and in storage tests).
    dispatcher: Dispatcher | None = None
    reminders: Reminders | None = None
    event_reminders: EventReminders | None = None
    # Short-lived caches: who an account is (user id -> (expiry, membership)), and each
    # period's questions (they never change once the period exists).
    callers: dict[int, tuple[float, Any]] = field(default_factory=dict)
    questions: dict[int, Any] = field(default_factory=dict)
    # Inbound throttling per account (handlers/throttle.py).
    throttle: Throttle = field(default_factory=Throttle)

    def forget_user(self, user_id: int) -> None:
        """Drops what is cached about an account after its role or language changed."""
        self.callers.pop(user_id, None)

    def wake_dispatcher(self) -> None:
        """New outbox rows are waiting for the paced lane."""
        if self.dispatcher is not None:
            self.dispatcher.wake()

    def is_admin(self, user_id: int | None) -> bool:
        """Whether the Telegram user is one of the bloc's admins."""
        return user_id is not None and user_id in self.config.bloc.admins


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """CallbackContext with typed access to the services and a per-update cache."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self.cache: dict[str, Any] = {}

    @property
    def services(self) -> Services:
        """The application's services."""
        return self.bot_data["services"]  # type: ignore[no-any-return]
