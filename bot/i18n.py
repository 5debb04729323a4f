"""Message catalogues (gettext .po files read with Babel) and locale-aware formatting.

Messages are keyed by a stable id (`start.joined`) rather than by English source text, so
the Vietnamese and English catalogues are peers and a test can hold them in step.
Messages are Telegram HTML; every argument is escaped unless wrapped in `Html`.
"""

from __future__ import annotations

import html
import string
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime as babel_format_datetime
from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).parent / "locales"
LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
DOMAIN = "messages"


class Html(str):
    """A string that is already valid Telegram HTML and must not be escaped again."""

    __slots__ = ()


def load_catalogue(language: str, locales_dir: Path = LOCALES_DIR) -> dict[str, str]:
    """Reads one language's .po file into {message id: text}."""
    path = locales_dir / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    return {
        str(message.id): str(message.string)
        for message in catalog
        if message.id and isinstance(message.id, str) and message.string
    }


def placeholders(text: str) -> set[str]:
    """The `{name}` fields a message uses."""
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


class Translator:
    """Looks up and formats messages in a user's language, falling back to Vietnamese."""

    def __init__(self, catalogues: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self.catalogues = dict(catalogues or {lang: load_catalogue(lang) for lang in LANGUAGES})

    def __call__(self, language: str | None, key: str, /, **kwargs: Any) -> str:
        """The message `key` in `language` as Telegram HTML, its arguments escaped."""
        safe = {name: _escape(value) for name, value in kwargs.items()}
        return self.template(language, key).format(**safe)

    def plain(self, language: str | None, key: str, /, **kwargs: Any) -> str:
        """The message `key` for a console, arguments as they are."""
        return self.template(language, key).format(**kwargs)

    def template(self, language: str | None, key: str) -> str:
        """The raw message, falling back to the default language."""
        catalogue = self.catalogues.get(language or DEFAULT_LANGUAGE) or {}
        template = catalogue.get(key) or self.catalogues[DEFAULT_LANGUAGE].get(key)
        if template is None:
            raise KeyError(f"no message {key!r} in any catalogue")
        return template

    def has(self, key: str) -> bool:
        """Whether the default catalogue defines key."""
        return key in self.catalogues[DEFAULT_LANGUAGE]


def _escape(value: Any) -> Any:
    if isinstance(value, Html) or not isinstance(value, str):
        return value
    return html.escape(value, quote=False)


@lru_cache(maxsize=1)
def default_translator() -> Translator:
    """The translator over the shipped catalogues, loaded once."""
    return Translator()


def normalise_language(code: str | None) -> str:
    """Maps a Telegram language_code to one we speak (Vietnamese unless clearly English)."""
    if code and code.lower().startswith("en"):
        return "en"
    return DEFAULT_LANGUAGE


def format_datetime(moment: datetime, tz: ZoneInfo, language: str | None = None) -> str:
    """dd/mm/yyyy HH:MM in the bloc's time zone (the Vietnamese administrative form)."""
    locale = "vi_VN" if (language or DEFAULT_LANGUAGE) == "vi" else "en_GB"
    return babel_format_datetime(moment.astimezone(tz), "dd/MM/yyyy HH:mm", locale=locale)


def format_date(moment: datetime, tz: ZoneInfo) -> str:
    """dd/mm/yyyy in the bloc's time zone."""
    return moment.astimezone(tz).strftime("%d/%m/%Y")
