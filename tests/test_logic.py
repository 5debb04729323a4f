"""Pure logic: dates typed the Vietnamese way, answer parsing, message splitting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.dates import DateError, check_period_times, parse_local_datetime
from bot.questions import AnswerError, Question, format_number, parse_number, parse_text_answer
from bot.services.periods import far_future
from handlers.render import split_message
from storage.submissions import days_late

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2023, 5, 10, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected_local"),
    [
        ("15/6", datetime(2023, 6, 15, 23, 59)),
        ("15/06/2023", datetime(2023, 6, 15, 23, 59)),
        ("15/6/2023 17:00", datetime(2023, 6, 15, 17, 0)),
        ("15/6 17h", datetime(2023, 6, 15, 17, 0)),
        ("15/6/2023 lúc 8h30", datetime(2023, 6, 15, 8, 30)),
        ("1-7-23", datetime(2023, 7, 1, 23, 59)),
        (" 31.12.2023 ", datetime(2023, 12, 31, 23, 59)),
    ],
)
def test_vietnamese_dates(text: str, expected_local: datetime) -> None:
    parsed = parse_local_datetime(text, tz=TZ, now=NOW)
    assert parsed.tzinfo is UTC
    assert parsed == expected_local.replace(tzinfo=TZ).astimezone(UTC)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("ngày mai", "date.error_format"),
        ("31/2", "date.error_invalid"),
        ("15/13/2023", "date.error_invalid"),
        ("15/6 25:00", "date.error_invalid"),
        ("", "date.error_format"),
    ],
)
def test_bad_dates(text: str, key: str) -> None:
    with pytest.raises(DateError) as caught:
        parse_local_datetime(text, tz=TZ, now=NOW)
    assert caught.value.key == key


def test_period_time_checks() -> None:
    assert check_period_times(NOW, NOW + timedelta(days=1), NOW) is None
    assert check_period_times(NOW, NOW - timedelta(minutes=1), NOW) == "date.error_deadline_past"
    later = NOW + timedelta(days=5)
    assert check_period_times(later, later - timedelta(days=1), NOW) == (
        "date.error_deadline_before_open"
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12", "12"),
        ("1.234", "1234"),
        ("1.234,5", "1234.5"),
        ("1,234.5", "1234.5"),
        ("3,5", "3.5"),
        ("-2", "-2"),
        ("0", "0"),
        ("1 000", "1000"),
    ],
)
def test_numbers_both_ways(text: str, value: str) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize("text", ["abc", "12a", "1e5x", "--1", "NaN", "Infinity", "9" * 20])
def test_not_numbers(text: str) -> None:
    with pytest.raises(AnswerError):
        parse_number(text)


def test_number_display() -> None:
    assert format_number("1234.5", "vi") == "1.234,5"
    assert format_number("1234.5", "en") == "1,234.5"


def _q(kind: str, **extra: object) -> Question:
    return Question(key="k", type=kind, text="Câu", text_en="Q", **extra)  # type: ignore[arg-type]


def test_answer_types() -> None:
    assert parse_text_answer(_q("long_text"), "  Nội dung  ") == "Nội dung"
    assert parse_text_answer(_q("yes_no"), "Có") is True
    assert parse_text_answer(_q("yes_no"), "không") is False
    choice = _q("choice", choices=["Tốt", "Khá"], choices_en=["Good", "Fair"])
    assert parse_text_answer(choice, "khá") == 1 and parse_text_answer(choice, "1") == 0
    for question, text, key in [
        (_q("short_text"), "x" * 301, "report.error_too_long"),
        (_q("long_text"), "   ", "report.error_empty"),
        (_q("yes_no"), "có lẽ", "report.error_yes_no"),
        (choice, "Xuất sắc", "report.error_choice"),
        (_q("attachments"), "tệp", "report.error_need_file"),
    ]:
        with pytest.raises(AnswerError) as caught:
            parse_text_answer(question, text)
        assert caught.value.key == key


def test_choice_questions_need_matching_choices() -> None:
    with pytest.raises(ValueError, match="choices_en"):
        _q("choice", choices=["A", "B"], choices_en=["A"])
    with pytest.raises(ValueError, match="only type 'choice'"):
        _q("number", choices=["A", "B"])


def test_days_late_rounds_up() -> None:
    assert days_late(NOW, NOW) == 0
    assert days_late(NOW + timedelta(minutes=1), NOW) == 1
    assert days_late(NOW + timedelta(days=2, seconds=1), NOW) == 3


@given(st.lists(st.text(alphabet="abc đê\n", min_size=0, max_size=900), min_size=1, max_size=30))
def test_split_keeps_everything_under_the_limit(blocks: list[str]) -> None:
    messages = split_message(blocks, limit=1000)
    assert all(len(m) <= 1000 for m in messages)
    assert "".join("".join(messages).split()) == "".join("".join(blocks).split())


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2024, 2, 29, 9, 30, tzinfo=UTC), datetime(2025, 2, 28, 9, 30, tzinfo=UTC)),
        (datetime(2023, 2, 28, 23, 0, tzinfo=UTC), datetime(2024, 2, 28, 23, 0, tzinfo=UTC)),
        (datetime(2023, 5, 10, 3, 0, tzinfo=UTC), datetime(2024, 5, 10, 3, 0, tzinfo=UTC)),
    ],
)
def test_a_year_later_survives_29_february(now: datetime, expected: datetime) -> None:
    # The period flow checks a typed title against a deadline a year away.
    assert far_future(now) == expected
