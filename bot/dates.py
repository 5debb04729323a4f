"""Dates as Vietnamese officials type them: 15/6, 15/06/2023, 15/6/2023 17:00."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

_DATE_RE = re.compile(
    r"^\s*(?P<d>\d{1,2})[/.-](?P<m>\d{1,2})(?:[/.-](?P<y>\d{2}|\d{4}))?"
    r"(?:\s+(?:lúc\s+)?(?P<H>\d{1,2})(?:[:hH](?P<M>\d{2})?)?)?\s*$",
    re.IGNORECASE,
)
END_OF_DAY = time(23, 59)
START_OF_DAY = time(0, 0)


class DateError(ValueError):
    """The text is not a date we understand; `key` is the catalogue message."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def parse_local_datetime(
    text: str, *, tz: ZoneInfo, now: datetime, default_time: time = END_OF_DAY
) -> datetime:
    """Parses `dd/mm[/yyyy] [HH[:MM]]` in the bloc's time zone and returns it in UTC.

    Without a year, the year of `now` (in the bloc's zone) is taken; without a time,
    `default_time` (a deadline means the end of that day).
    """
    match = _DATE_RE.match(text)
    if not match:
        raise DateError("date.error_format")
    day, month = int(match["d"]), int(match["m"])
    year = int(match["y"]) if match["y"] else now.astimezone(tz).year
    if year < 100:
        year += 2000
    hour = int(match["H"]) if match["H"] is not None else default_time.hour
    minute = (
        int(match["M"]) if match["M"] else (0 if match["H"] is not None else default_time.minute)
    )
    try:
        local = datetime(year, month, day, hour, minute, tzinfo=tz)
    except ValueError:
        raise DateError("date.error_invalid") from None
    return local.astimezone(UTC)


def check_period_times(opens_at: datetime, deadline_at: datetime, now: datetime) -> str | None:
    """None if a period's times make sense, else the catalogue key saying why not."""
    if deadline_at <= now:
        return "date.error_deadline_past"
    if deadline_at <= opens_at:
        return "date.error_deadline_before_open"
    return None
