"""Property tests (hypothesis) for every parser of user input and the text splitting."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import html
import re
import tomllib
import typing
from datetime import UTC, datetime, time
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import bot.callbacks.announcements
import bot.callbacks.common
import bot.callbacks.events
import bot.callbacks.people
import bot.callbacks.periods
import bot.callbacks.reports
import bot.callbacks.review  # noqa: F401 - every payload class registered
from bot.callbacks import MAX_INT, BadPayload, Payload, prefixes
from bot.callbacks.events import EventPayload
from bot.callbacks.periods import TARGET_PERIOD, PeriodAction, PeriodButton
from bot.config import Config, load_config
from bot.dates import DateError, parse_local_datetime
from bot.emulator.markup import parse_html
from bot.errors import ConfigError
from bot.questions import (
    LONG_TEXT_MAX,
    SHORT_TEXT_MAX,
    AnswerError,
    PeriodKind,
    Question,
    QuestionType,
    format_number,
    parse_number,
    parse_text_answer,
)
from bot.text import shorten_html, split_html, utf16_len
from handlers.render import split_message
from tests.factories import EXAMPLE_CONFIG, example_raw

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- splitting and shortening ----------------------------------------------------------------

_PIECES = st.sampled_from(
    ["&amp;", "&lt;", "&#128512;", "&#x1F600;", "<b>", "</b>", '<a href="https://x.vn">', "</a>"]
)
_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs",))
html_soup = st.lists(
    st.one_of(_PIECES, _CHARS, st.sampled_from(["\n", " ", "😀", "đ"])), max_size=400
).map("".join)
_REF = re.compile(r"<[^<>]*>|&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{0,31});")


def _inside_a_token(text: str, cut: int) -> bool:
    return any(m.start() < cut < m.end() for m in _REF.finditer(text))


@SETTINGS
@given(text=html_soup, limit=st.integers(min_value=30, max_value=300))
def test_split_html_parts_fit_add_up_and_break_no_tag_or_reference(text: str, limit: int) -> None:
    parts = split_html(text, limit)
    assert "".join(parts) == text
    assert all(part and utf16_len(part) <= limit for part in parts)
    cut = 0
    for part in parts[:-1]:
        cut += len(part)
        assert not _inside_a_token(text, cut)


escaped_text = st.text(_CHARS, max_size=600).map(
    lambda t: t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
)


@SETTINGS
@given(
    blocks=st.lists(
        st.tuples(st.text(_CHARS, max_size=30), escaped_text).map(
            lambda pair: (
                "<b>" + pair[0].replace("&", "&amp;").replace("<", "&lt;") + "</b>\n" + pair[1]
            )
        ),
        max_size=8,
    ),
    limit=st.integers(min_value=40, max_value=500),
)
def test_split_message_parts_are_valid_telegram_html_within_the_limit(
    blocks: list[str], limit: int
) -> None:
    for message in split_message(blocks, limit):
        assert message.strip() and utf16_len(message) <= limit
        parse_html(message)  # the emulator parses as Telegram does: raises on a broken tag


@SETTINGS
@given(text=escaped_text, limit=st.integers(min_value=0, max_value=700))
def test_shorten_html_fits_is_a_prefix_and_stays_valid(text: str, limit: int) -> None:
    short = shorten_html(text, limit)
    assert utf16_len(short) <= limit
    if short != text:
        assert text.startswith(short.removesuffix("…"))
    parse_html(short)


@SETTINGS
@given(
    lines=st.lists(
        st.tuples(st.booleans(), st.text(_CHARS, max_size=50).map(html.escape)).map(
            lambda pair: f"<b>{pair[1]}</b>" if pair[0] else f"• {pair[1]}"
        ),
        max_size=40,
    ),
    limit=st.integers(min_value=1, max_value=800),
)
def test_shorten_html_never_leaves_an_element_open(lines: list[str], limit: int) -> None:
    text = "\n".join(lines)
    short = shorten_html(text, limit)
    assert utf16_len(short) <= limit
    parse_html(short)


def test_a_long_line_without_breaks_is_cut_between_characters_not_inside_amp() -> None:
    text = "&amp;" * 2000
    parts = split_html(text, 4096)
    assert "".join(parts) == text and all(p.endswith("&amp;") for p in parts)
    assert all(utf16_len(p) <= 4096 for p in parts)


def test_emoji_count_two_units() -> None:
    text = "😀" * 3000  # 3,000 code points, 6,000 UTF-16 units
    parts = split_message([text], 4096)
    assert len(parts) == 2 and all(utf16_len(p) <= 4096 for p in parts)


# -- dates -----------------------------------------------------------------------------------


@SETTINGS
@given(text=st.text(max_size=40))
def test_any_text_is_a_date_or_a_date_error(text: str) -> None:
    try:
        parsed = parse_local_datetime(text, tz=TZ, now=NOW)
    except DateError as exc:
        assert exc.key in ("date.error_format", "date.error_invalid")
    else:
        assert parsed.tzinfo is UTC


date_like = st.builds(
    lambda d, m, y, h, mi, sep: f"{d}{sep}{m}{sep}{y} {h}:{mi}",
    st.integers(0, 40).map(str),
    st.integers(0, 14).map(str),
    st.sampled_from(["0000", "0001", "99", "2026", "9999"]),
    st.integers(0, 30).map(str),
    st.integers(0, 70).map(lambda n: f"{n:02d}"),
    st.sampled_from(["/", ".", "-"]),
)


@SETTINGS
@given(text=date_like)
def test_date_like_text_never_crashes(text: str) -> None:
    with contextlib.suppress(DateError):
        parse_local_datetime(text, tz=TZ, now=NOW)


@SETTINGS
@given(moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)))
def test_a_written_date_and_time_round_trips(moment: datetime) -> None:
    moment = moment.replace(second=0, microsecond=0)
    text = f"{moment.day}/{moment.month}/{moment.year} {moment.hour}:{moment.minute:02d}"
    parsed = parse_local_datetime(text, tz=TZ, now=NOW).astimezone(TZ)
    assert parsed.replace(tzinfo=None) == moment


@SETTINGS
@given(day=st.dates(min_value=datetime(2000, 1, 1).date(), max_value=datetime(2099, 12, 31).date()))
def test_a_date_without_time_is_the_end_of_that_day(day: Any) -> None:
    parsed = parse_local_datetime(f"{day.day:02d}/{day.month:02d}/{day.year}", tz=TZ, now=NOW)
    local = parsed.astimezone(TZ)
    assert local.date() == day and local.time() == time(23, 59)


# -- typed answers ---------------------------------------------------------------------------


def _question(kind: QuestionType) -> Question:
    extra: dict[str, Any] = {}
    if kind is QuestionType.CHOICE:
        extra = {"choices": ["Có", "Không", "Tạm hoãn"], "choices_en": ["Yes", "No", "Later"]}
    return Question(key="q", type=kind, text="Câu hỏi", text_en="Question", **extra)


@SETTINGS
@given(kind=st.sampled_from(list(QuestionType)), text=st.text(max_size=5000))
def test_any_typed_answer_is_a_value_or_an_answer_error(kind: QuestionType, text: str) -> None:
    question = _question(kind)
    try:
        value = parse_text_answer(question, text)
    except AnswerError as exc:
        assert exc.key.startswith("report.error_")
        return
    if kind is QuestionType.LONG_TEXT:
        assert isinstance(value, str) and 0 < utf16_len(value) <= LONG_TEXT_MAX
    elif kind is QuestionType.SHORT_TEXT:
        assert isinstance(value, str) and 0 < utf16_len(value) <= SHORT_TEXT_MAX
    elif kind is QuestionType.NUMBER:
        assert Decimal(value).is_finite()
    elif kind is QuestionType.YES_NO:
        assert isinstance(value, bool)
    elif kind is QuestionType.CHOICE:
        assert value in range(3)
    else:
        pytest.fail("an attachment question takes no typed answer")


numbers = st.decimals(
    min_value=Decimal("-999999999999.999"),
    max_value=Decimal("999999999999.999"),
    places=3,
    allow_nan=False,
    allow_infinity=False,
)


@SETTINGS
@given(value=numbers, language=st.sampled_from(["vi", "en"]))
def test_a_number_as_the_bot_writes_it_reads_back_the_same(value: Decimal, language: str) -> None:
    stored = format(value.normalize(), "f")
    written = format_number(stored, language)
    assert Decimal(parse_number(written, language)) == value


@SETTINGS
@given(text=st.text(st.sampled_from("0123456789.,- \u00a0eE+٣²"), max_size=30))
@example(text="1E1000000")  # decimal.Overflow before the fix
@example(text="1e-99999999")
def test_number_like_text_never_crashes(text: str) -> None:
    with contextlib.suppress(AnswerError):
        parse_number(text)


# -- callback data ---------------------------------------------------------------------------


def _field_values(cls: type[Payload]) -> st.SearchStrategy[dict[str, Any]]:
    if cls is PeriodButton:  # its target depends on the action
        return st.one_of(
            st.builds(
                lambda a, n: {"action": a, "target": str(n)},
                st.sampled_from(sorted(TARGET_PERIOD)),
                st.integers(0, MAX_INT),
            ),
            st.sampled_from(list(PeriodKind)).map(
                lambda k: {"action": PeriodAction.KIND, "target": k.value}
            ),
            st.sampled_from(
                [a for a in PeriodAction if a not in TARGET_PERIOD and a is not PeriodAction.KIND]
            ).map(lambda a: {"action": a}),
        )
    hints = typing.get_type_hints(cls)
    strategies: dict[str, st.SearchStrategy[Any]] = {}
    for item in dataclasses.fields(cls):  # type: ignore[arg-type]
        kind = hints[item.name]
        if kind is bool:
            strategies[item.name] = st.booleans()
        elif kind is int:
            strategies[item.name] = st.integers(-MAX_INT, MAX_INT)
        elif isinstance(kind, type) and issubclass(kind, Enum):
            strategies[item.name] = st.sampled_from(list(kind))
        else:
            strategies[item.name] = st.text(
                st.characters(codec="utf-8", exclude_characters=":"), max_size=20
            )
    return st.fixed_dictionaries(strategies)


PAYLOADS = sorted(
    {*prefixes().values(), *EventPayload._actions.values()} - {EventPayload},
    key=lambda c: c.__name__,
)


@pytest.mark.parametrize("cls", PAYLOADS, ids=lambda c: c.__name__)
@SETTINGS
@given(data=st.data())
def test_every_payload_round_trips(cls: type[Payload], data: st.DataObject) -> None:
    values = data.draw(_field_values(cls))
    try:
        payload = cls(**values)
        packed = payload.pack()
    except ValueError:  # refused when built (BadPayload) or too long for Telegram
        assume(False)
        return
    assert len(packed.encode()) <= 64
    assert cls.unpack(packed) == payload


callback_text = st.one_of(
    st.text(max_size=64),
    st.lists(
        st.one_of(
            st.sampled_from([*prefixes(), "e", "s", "1", "0", "-1", "--1", "²", "٣", "", "x"]),
            st.integers(-(10**30), 10**30).map(str),
            st.text(max_size=5),
        ),
        max_size=6,
    ).map(":".join),
).filter(lambda data: len(data.encode()) <= 64)  # Telegram's limit on callback data


def _touch(payload: Payload) -> None:
    """Reads every property, as the handlers do."""
    for name in dir(type(payload)):
        if isinstance(getattr(type(payload), name, None), property):
            with contextlib.suppress(BadPayload):
                getattr(payload, name)


@pytest.mark.parametrize("cls", [*PAYLOADS, EventPayload], ids=lambda c: c.__name__)
@SETTINGS
@given(text=callback_text)
@example(text="ack:²")  # str.isdigit() says yes, int() says no
@example(text="ack:--1")
@example(text="ack:٣")  # an Arabic-Indic three is not a number we wrote
@example(text="bc:show:²")
@example(text="bc:show:--5")
@example(text="kp:ext:²")
@example(text="ev:show:" + "9" * 25)
def test_unpacking_anything_gives_a_payload_or_bad_payload(cls: type[Payload], text: str) -> None:
    try:
        payload = cls.unpack(text)
    except BadPayload:
        return
    _touch(payload)
    assert payload.pack() == text or cls.unpack(payload.pack()) == payload
    for value in dataclasses.asdict(payload).values():  # type: ignore[call-overload]
        if isinstance(value, int) and not isinstance(value, bool):
            assert abs(value) <= MAX_INT


# -- configuration ---------------------------------------------------------------------------

_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.lists(st.one_of(st.integers(-5, 5), st.text(max_size=5)), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _paths(raw: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    items = (
        raw.items() if isinstance(raw, dict) else enumerate(raw) if isinstance(raw, list) else []
    )
    for key, value in items:
        found.append((*prefix, key))
        found.extend(_paths(value, (*prefix, key)))
    return found


PATHS = _paths(example_raw())


@SETTINGS
@given(changes=st.lists(st.tuples(st.sampled_from(PATHS), _VALUES), min_size=1, max_size=3))
@example(changes=[(("bloc", "timezone"), "/etc/localtime")])
@example(changes=[(("bloc", "timezone"), "a\x00b")])
@example(changes=[(("bloc", "year"), 10**20)])
@example(changes=[(("reminders", "time"), "24:00")])
@example(changes=[(("outbox", "per_second"), float("nan"))])
def test_a_wrong_config_value_is_a_validation_error_never_a_crash(
    changes: list[tuple[tuple[Any, ...], Any]],
) -> None:
    raw = copy.deepcopy(example_raw())
    for path, value in changes:
        target = raw
        try:
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change replaced a parent
    try:
        config = Config.model_validate(raw)
    except ValidationError:
        return
    config.bloc.spec()  # what start-up derives from a valid config works too
    assert config.bloc.tz
    config.outbox.limits()
    config.throttle.rules()
    for kind in ("six_month", "annual", "adhoc"):
        config.reminders.policy(kind)
        config.reports.template(kind)


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=200))
def test_a_config_file_of_any_text_is_loaded_or_a_config_error(text: str, tmp_path_factory) -> None:
    path = Path(tmp_path_factory.mktemp("cfg")) / "config.toml"
    path.write_text(EXAMPLE_CONFIG.read_text(encoding="utf-8") + "\n" + text, encoding="utf-8")
    with contextlib.suppress(ConfigError):
        load_config(path, env={})


def test_the_example_config_is_valid() -> None:
    assert tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    assert Config.model_validate(example_raw())


def test_answer_limits_count_utf16_units_like_telegram() -> None:
    long_question, short_question = (
        _question(QuestionType.LONG_TEXT),
        _question(QuestionType.SHORT_TEXT),
    )
    assert parse_text_answer(long_question, "😀" * 2000) == "😀" * 2000  # 4,000 units
    with pytest.raises(AnswerError):
        parse_text_answer(long_question, "😀" * 2001)  # 2,001 code points, 4,002 units
    with pytest.raises(AnswerError):
        parse_text_answer(short_question, "😀" * 151)
