"""Logging set-up. Secrets (the bot token) are scrubbed from every record."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactingFilter(logging.Filter):
    """Replaces each secret in a record's message and arguments with a placeholder."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = self._scrub(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._scrub(record.exc_text)
        if redacted != message or record.args:
            record.msg, record.args = redacted, None
        return True

    def _scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[REDACTED]")
            # The numeric bot id before the colon is public; the part after it is the secret.
            _, _, tail = secret.partition(":")
            if len(tail) >= 10:
                text = text.replace(tail, "[REDACTED]")
        return text


# python-telegram-bot logs an ERROR with a traceback for every answer that is not JSON (an
# HTML error page from a proxy in front of the Bot API) and then raises a NetworkError, which
# the caller retries: a passing hiccup, not a fault of ours.
_PTB_REQUEST_LOGGER = "telegram.request.BaseRequest"
_PTB_INVALID_JSON = "Can not load invalid JSON data"
_SNIPPET = 80  # characters of the page kept in the warning


class NonJsonAnswerFilter(logging.Filter):
    """Turns python-telegram-bot's "invalid JSON" ERROR traceback into a one-line WARNING."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(_PTB_INVALID_JSON):
            return True
        page = " ".join(str(record.args[0] if record.args else "").split())  # type: ignore[index]
        if len(page) > _SNIPPET:
            page = page[:_SNIPPET] + "…"
        record.msg = "the Bot API answered with a page that is not JSON (%r); the call is retried"
        record.args = (page,)
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def quiet_library_noise() -> None:
    """Installs the filters for the libraries' own records (once; safe to call again)."""
    logger = logging.getLogger(_PTB_REQUEST_LOGGER)
    if not any(isinstance(f, NonJsonAnswerFilter) for f in logger.filters):
        logger.addFilter(NonJsonAnswerFilter())


def setup_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> RedactingFilter:
    """Configures the root logger to stderr, redacting secrets; returns the filter."""
    redactor = RedactingFilter(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(redactor)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    quiet_library_noise()
    # httpx logs every request URL, which contains the token, at INFO; python-telegram-bot
    # logs whole updates and call parameters (people's messages, invite tokens) at DEBUG.
    quiet = {
        "httpx": logging.WARNING,
        "httpcore": logging.WARNING,
        "aiosqlite": logging.WARNING,
        "asyncio": logging.WARNING,
        "alembic": logging.WARNING,
        "apscheduler": logging.WARNING,
        "telegram": logging.INFO,
    }
    for name, floor in quiet.items():
        logging.getLogger(name).setLevel(max(floor, logging.getLevelName(level)))
    return redactor


def add_secret(redactor: RedactingFilter, secret: str) -> None:
    """Adds a secret learnt after start-up."""
    if secret and secret not in redactor.secrets:
        redactor.secrets.append(secret)
