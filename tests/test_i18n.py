"""The catalogues stay in step, and formatting follows Vietnamese conventions."""

from __future__ import annotations

import ast
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.i18n import LANGUAGES, Html, Translator, format_datetime, load_catalogue, placeholders
from bot.questions import PeriodKind, QuestionType
from bot.services.events import EventKind
from handlers.broadcast import PICKED, Audience
from handlers.menu import ALIASES, COMMANDS, description_key
from handlers.permissions import Role
from storage.periods import PeriodStatus
from storage.submissions import BoardState, SubmissionStatus

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


ROOT = Path(__file__).resolve().parent.parent
# Where the bot's own code lives (bot/services/ and the like are under bot/). The emulator
# is a stand-in for Telegram: its strings are Bot API names, never catalogue keys.
CODE_DIRS = ("bot", "handlers")
NOT_CODE = ("bot/emulator",)
NAMESPACES = sorted({key.split(".", 1)[0] for key in VI})
_NS = "|".join(re.escape(ns) for ns in NAMESPACES)
_KEY = re.compile(rf"(?:{_NS})\.[a-z0-9_]+")  # a whole literal that looks like a key
_KEY_START = re.compile(rf"(?:{_NS})\.[a-z0-9_]*")  # the constant head of a built key
_PART = "[a-z0-9_]+"  # what a formatted value stands for in a key


@dataclass
class KeysInCode:
    """Catalogue keys the code uses: literals, and patterns of keys it builds."""

    literals: dict[str, str] = field(default_factory=dict)  # key -> where
    built: dict[str, str] = field(default_factory=dict)  # "report.hint_{}" -> where


def _template(node: ast.expr) -> str | None:
    """f"report.hint_{q.type.value}" or "report.hint_" + x as "report.hint_{}", if it is
    a key being built."""
    if isinstance(node, ast.JoinedStr):
        text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        head = node.left
        if not (isinstance(head, ast.Constant) and isinstance(head.value, str)):
            return None
        text = head.value + "{}"
    else:
        return None
    return text if "{}" in text and _KEY_START.match(text) else None


def _scan(path: Path, keys: KeysInCode, *, raised_only: bool = False) -> None:
    """Adds the keys one file uses (only those in `raise` statements if `raised_only`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))

    def where(node: ast.AST) -> str:
        return f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"

    skip: set[int] = set()  # string nodes that are not keys, or part of a built key
    roots: list[ast.AST] = [tree]
    if raised_only:  # storage: only the keys its exceptions carry to the handlers
        roots = [n.exc for n in ast.walk(tree) if isinstance(n, ast.Raise) and n.exc]
    for root in roots:
        for node in ast.walk(root):
            if isinstance(node, ast.keyword) and node.arg == "action":
                # Audit log action names ("period.create", "reminder.manual") share the
                # namespaces but are not messages.
                skip.update(id(n) for n in ast.walk(node.value))
            elif (template := _template(node)) is not None:
                keys.built.setdefault(template, where(node))
                skip.update(id(n) for n in ast.walk(node))
        for node in ast.walk(root):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in skip
                and _KEY.fullmatch(node.value)
            ):
                keys.literals.setdefault(node.value, where(node))


@lru_cache(maxsize=1)
def keys_in_code() -> KeysInCode:
    """Every key the bot's code uses, and the keys storage raises errors with."""
    keys = KeysInCode()
    for folder in CODE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if not str(path.relative_to(ROOT)).startswith(NOT_CODE):
                _scan(path, keys)
    for path in sorted((ROOT / "storage").rglob("*.py")):
        _scan(path, keys, raised_only=True)
    return keys


def _pattern(template: str) -> re.Pattern[str]:
    """A built key as a regex: "report.hint_{}" matches report.hint_ and a name."""
    return re.compile(_PART.join(re.escape(part) for part in template.split("{}")))


# Keys built from a value, and every value the code can build them from.
BUILT_FROM = {
    "report.hint_{}": [t.value for t in QuestionType],
    "report.status_{}": [s.value for s in SubmissionStatus],
    "period.kind_{}": [k.value for k in PeriodKind],
    "period.default_title_{}": [k.value for k in PeriodKind],
    "period.status_{}": [s.value for s in PeriodStatus],
    "status.state_{}": [s.value for s in BoardState],
    "event.kind_{}": [k.value for k in EventKind],
    "event.cli_status_{}": ["upcoming", "past", "cancelled"],
    "cli.init_{}": ["added", "renamed", "moved", "retired", "restored"],
    "broadcast.audience_{}": [a.value for a in Audience],
    "broadcast.audience_{}_button": [a.value for a in Audience],
    "broadcast.ask_{}": [a.value for a in PICKED],
    "help.{}": [r.value for r in Role],
    "role.{}": [r.value for r in Role],
    "language.{}": list(LANGUAGES),
    "cmd.{}": [name for names in COMMANDS.values() for name in names],
}


def test_the_key_scan_sees_the_code() -> None:
    keys = keys_in_code()
    assert len(keys.literals) > 200, "the scan finds too few keys: is it stale?"
    assert {"report.optional", "event.error_closed", "date.error_format"} <= set(keys.literals)
    assert "period.create" not in keys.literals  # an audit action, not a message
    assert {"report.hint_{}", "status.state_{}", "cmd.{}"} <= set(keys.built)


def test_every_key_used_in_code_exists() -> None:
    missing = {key: where for key, where in keys_in_code().literals.items() if key not in VI}
    assert not missing, missing


def test_every_key_built_in_code_matches_a_catalogue_key() -> None:
    unmatched = {
        template: where
        for template, where in keys_in_code().built.items()
        if not any(_pattern(template).fullmatch(key) for key in VI)
    }
    assert not unmatched, unmatched


@pytest.mark.parametrize("template", sorted(BUILT_FROM))
def test_built_keys_exist_for_every_value(template: str) -> None:
    assert template in keys_in_code().built, f"{template} is no longer built in the code"
    missing = [template.format(v) for v in BUILT_FROM[template] if template.format(v) not in VI]
    assert not missing


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
