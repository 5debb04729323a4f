"""Report questions: their types, the shipped templates, and parsing a typed answer."""

from __future__ import annotations

import tomllib
import unicodedata
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.numbers import NumberFormatError, format_decimal, parse_decimal
from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.text import utf16_len

TEMPLATES = Path(__file__).parent / "templates" / "reports.toml"
SHORT_TEXT_MAX = 300  # UTF-16 units, as Telegram counts
LONG_TEXT_MAX = 4000
MAX_FILE_BYTES = 20 * 1024 * 1024  # the cloud Bot API's getFile limit


class PeriodKind(StrEnum):
    """The kinds of report period."""

    SIX_MONTH = "six_month"
    ANNUAL = "annual"
    ADHOC = "adhoc"


class QuestionType(StrEnum):
    """What kind of answer a question takes."""

    LONG_TEXT = "long_text"
    SHORT_TEXT = "short_text"
    NUMBER = "number"
    YES_NO = "yes_no"
    CHOICE = "choice"
    ATTACHMENTS = "attachments"


class Question(BaseModel):
    """One question of a report template."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[a-z0-9_]{1,40}$")
    type: QuestionType
    text: str = Field(min_length=1, max_length=500)
    text_en: str = Field(min_length=1, max_length=500)
    optional: bool = False
    choices: list[str] = Field(default_factory=list)
    choices_en: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _choices_fit(self) -> Question:
        if self.type is QuestionType.CHOICE:
            if not 2 <= len(self.choices) <= 10:
                raise ValueError(f"question {self.key!r}: a choice needs 2 to 10 choices")
            if len(self.choices_en) != len(self.choices):
                raise ValueError(f"question {self.key!r}: choices_en must match choices")
        elif self.choices:
            raise ValueError(f"question {self.key!r}: only type 'choice' takes choices")
        return self

    def label(self, language: str) -> str:
        """The question in the reader's language."""
        return self.text_en if language == "en" else self.text

    def choice_labels(self, language: str) -> list[str]:
        """The choices in the reader's language."""
        return self.choices_en if language == "en" else self.choices


class Template(BaseModel):
    """The questions of one period kind."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    questions: list[Question] = Field(min_length=1, max_length=30)

    @model_validator(mode="after")
    def _unique_keys(self) -> Template:
        keys = [q.key for q in self.questions]
        if len(keys) != len(set(keys)):
            raise ValueError("question keys must be unique within a template")
        return self


@lru_cache(maxsize=1)
def default_templates() -> dict[str, Template]:
    """The shipped templates, one per period kind."""
    raw = tomllib.loads(TEMPLATES.read_text(encoding="utf-8"))
    return {kind: Template.model_validate(raw[kind]) for kind in PeriodKind}


class AnswerError(ValueError):
    """The answer does not fit the question; `key` names the catalogue message explaining why."""

    def __init__(self, key: str, **details: Any) -> None:
        super().__init__(key)
        self.key = key
        self.details = details


_YES = {"có", "co", "c", "yes", "y", "đúng", "1", "x"}
_NO = {"không", "khong", "k", "ko", "no", "n", "0"}


def parse_text_answer(question: Question, text: str, language: str = "vi") -> Any:
    """Turns typed text into the stored value for question, or raises AnswerError.

    A number is read the way `language` writes it first (see `parse_number`)."""
    text = unicodedata.normalize("NFC", text).strip()
    if not text:
        raise AnswerError("report.error_empty")
    kind = question.type
    if kind is QuestionType.LONG_TEXT:
        if utf16_len(text) > LONG_TEXT_MAX:
            raise AnswerError("report.error_too_long", limit=LONG_TEXT_MAX)
        return text
    if kind is QuestionType.SHORT_TEXT:
        if utf16_len(text) > SHORT_TEXT_MAX:
            raise AnswerError("report.error_too_long", limit=SHORT_TEXT_MAX)
        return text
    if kind is QuestionType.NUMBER:
        return parse_number(text, language)
    if kind is QuestionType.YES_NO:
        lowered = text.lower()
        if lowered in _YES:
            return True
        if lowered in _NO:
            return False
        raise AnswerError("report.error_yes_no")
    if kind is QuestionType.CHOICE:
        lowered = text.lower()
        for index, (vi, en) in enumerate(zip(question.choices, question.choices_en, strict=True)):
            if lowered in (vi.lower(), en.lower(), str(index + 1)):
                return index
        raise AnswerError("report.error_choice")
    raise AnswerError("report.error_need_file")


def parse_number(text: str, language: str = "vi") -> str:
    """A number typed the Vietnamese way (1.234,5) or the English way (1,234.5); kept exact.

    When both separators appear, the last one is the decimal mark; with one kind only
    ("1.001"), the reader's `language` decides, so a number reads back as the bot wrote it.
    """
    cleaned = text.replace(" ", "").replace("\u00a0", "")
    candidates = ["en", "vi"] if language == "en" else ["vi", "en"]
    if "," in cleaned and "." in cleaned:
        candidates = ["en", "vi"] if cleaned.rfind(".") > cleaned.rfind(",") else ["vi", "en"]
    if "e" in cleaned.lower():  # no one types 1E5 in a report; 1E1000000 overflows
        raise AnswerError("report.error_number")
    for locale in candidates:
        try:
            value = parse_decimal(cleaned, locale=locale, strict=True)
            if value.is_finite() and abs(value) < Decimal(10) ** 15:
                return format(value.normalize(), "f")
        except (NumberFormatError, ArithmeticError):  # InvalidOperation, Overflow
            continue
    raise AnswerError("report.error_number")


def format_number(value: str, language: str) -> str:
    """A stored number written for the reader (1.234,5 in Vietnamese)."""
    return format_decimal(Decimal(value), locale="vi_VN" if language == "vi" else "en_GB")
