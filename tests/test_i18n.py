"""The catalogues stay in step, and formatting follows Vietnamese conventions."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.i18n import LANGUAGES, Html, Translator, format_datetime, load_catalogue, placeholders
from handlers.menu import ALIASES, COMMANDS, description_key

CATALOGUES = {lang: load_catalogue(lang) for lang in LANGUAGES}
VI, EN = CATALOGUES["vi"], CATALOGUES["en"]
_TAG = re.compile(r"</?(b|i|u|s|code|pre|a|tg-spoiler|blockquote)\b[^>]*>")
_VI_LETTERS = re.compile(r"[ăâđêôơưĂÂĐÊÔƠƯàáạảãèéẹẻẽìíịỉĩòóọỏõùúụủũỳýỵỷỹ]")


def test_same_keys_in_every_language() -> None:
    assert set(VI) == set(EN)
    assert len(VI) > 50


@pytest.mark.parametrize("key", sorted(VI))
def test_message_is_consistent(key: str) -> None:
    vi, en = VI[key], EN[key]
    assert vi.strip() and en.strip()
    assert placeholders(vi) == placeholders(en), key
    assert _tags(vi) == _tags(en), key
    assert unicodedata.normalize("NFC", vi) == vi


def test_vietnamese_is_written_with_diacritics() -> None:
    # Language names and a few symbols are the same in both languages; real sentences are not.
    def words(text: str) -> str:
        return re.sub(r"\{[a-z_]+\}", "", _TAG.sub("", text))

    prose = [text for text in VI.values() if len(words(text)) > 25]
    with_marks = [text for text in prose if _VI_LETTERS.search(text)]
    assert len(with_marks) == len(prose), set(prose) - set(with_marks)


def test_every_command_has_a_description() -> None:
    for commands in COMMANDS.values():
        for name in commands:
            assert description_key(name) in VI
            assert name in ALIASES


def test_every_key_used_in_code_exists() -> None:
    root = Path(__file__).resolve().parent.parent
    used: set[str] = set()
    pattern = re.compile(
        r'"((?:cli|common|stranger|start|admin|help|cmd|whoami|role|language|'
        r'invite|units|revoke|event|broadcast|group)\.[a-z_]+)"'
    )
    for folder in ("bot", "handlers"):
        for path in (root / folder).rglob("*.py"):
            used |= set(pattern.findall(path.read_text(encoding="utf-8")))
    assert used, "no keys found: the pattern is stale"
    assert used <= set(VI), used - set(VI)


def test_arguments_are_escaped_unless_marked_html() -> None:
    translate = Translator()
    text = translate("vi", "revoke.done", name="<b>A & B</b>", unit=Html("<i>X</i>"))
    assert "&lt;b&gt;A &amp; B&lt;/b&gt;" in text and "<i>X</i>" in text
    assert translate.plain("vi", "cli.failed", details="a & b") == "Không thực hiện được: a & b"


def test_unknown_language_falls_back_to_vietnamese() -> None:
    assert Translator()("fr", "common.cancelled") == "Đã hủy."


def test_dates_are_day_month_year_in_bloc_time() -> None:
    moment = datetime(2023, 6, 30, 10, 0, tzinfo=UTC)
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    assert format_datetime(moment, tz, "vi") == "30/06/2023 17:00"
    assert format_datetime(moment, tz, "en") == "30/06/2023 17:00"


def _tags(text: str) -> list[str]:
    return sorted(_TAG.findall(text))
