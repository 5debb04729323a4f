"""Working days in the bloc's time zone: weekends and configured holidays are off."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class WorkCalendar:
    """Which days are working days, and how to place a local time on them."""

    tz: ZoneInfo
    holidays: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def of(cls, tz: ZoneInfo, holidays: Iterable[date] = ()) -> WorkCalendar:
        """A calendar with these holidays."""
        return cls(tz, frozenset(holidays))

    def is_working_day(self, day: date) -> bool:
        """Monday to Friday, and not a holiday."""
        return day.weekday() < 5 and day not in self.holidays

    def previous_working_day(self, day: date) -> date:
        """The day itself if it is a working day, else the nearest working day before it."""
        while not self.is_working_day(day):
            day -= timedelta(days=1)
        return day

    def next_working_day(self, day: date) -> date:
        """The day itself if it is a working day, else the nearest working day after it."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def add_working_days(self, day: date, count: int) -> date:
        """The working day `count` working days after `day` (count ≥ 1)."""
        while count > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                count -= 1
        return day

    def local_date(self, moment: datetime) -> date:
        """The calendar date of a UTC moment in the bloc's zone."""
        return moment.astimezone(self.tz).date()

    def at(self, day: date, clock: time) -> datetime:
        """A local wall-clock time on a day, as an aware UTC datetime."""
        return datetime.combine(day, clock, tzinfo=self.tz).astimezone(UTC)
