"""The global error handler (handlers/errors.py)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from types import SimpleNamespace

from telegram import Chat, Message, Update, User
from telegram.error import RetryAfter

from handlers.errors import on_error


async def test_retry_after_is_one_warning_line_without_traceback_or_apology(caplog) -> None:
    chat = Chat(2001, "private")
    user = User(2001, "Lan", is_bot=False)
    message = Message(1, datetime.now(UTC), chat, from_user=user, text="/toi")
    update = Update(7, message=message)
    context = SimpleNamespace(error=RetryAfter(5))  # no services: an apology would fail
    caplog.set_level(logging.DEBUG, logger="handlers.errors")
    await on_error(update, context)  # type: ignore[arg-type]
    records = [r for r in caplog.records if r.name == "handlers.errors"]
    assert len(records) == 1 and records[0].levelno == logging.WARNING
    assert records[0].exc_info is None and "update 7" in records[0].getMessage()
