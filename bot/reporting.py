"""Report period rules shared by the chat flow and the console: validating and creating."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.config import Config
from bot.dates import START_OF_DAY, DateError, check_period_times, parse_local_datetime
from bot.questions import PeriodKind
from storage import periods
from storage.db import Database
from storage.models import ReportPeriod


class PeriodError(ValueError):
    """A period cannot be created as asked; `key` is the catalogue message saying why."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True)
class PeriodRequest:
    """A validated request for a new period."""

    kind: PeriodKind
    title: str
    opens_at: datetime
    deadline_at: datetime


def default_title(kind: str, year: int, language: str, translate: object) -> str:
    """The usual title of a period of this kind, e.g. 'Sơ kết 6 tháng đầu năm 2023'."""
    return translate(language, f"period.default_title_{kind}", year=year)  # type: ignore[operator]


def parse_opening(text: str | None, config: Config, now: datetime) -> datetime:
    """The opening time typed by an admin (start of the day if no time); now if empty."""
    if not text or not text.strip():
        return now
    try:
        return parse_local_datetime(text, tz=config.bloc.tz, now=now, default_time=START_OF_DAY)
    except DateError as exc:
        raise PeriodError(exc.key) from None


def parse_deadline(text: str, config: Config, now: datetime) -> datetime:
    """A deadline typed by an admin (end of the day if no time)."""
    try:
        return parse_local_datetime(text, tz=config.bloc.tz, now=now)
    except DateError as exc:
        raise PeriodError(exc.key) from None


def validate(
    kind: str, title: str, opens_at: datetime, deadline_at: datetime, now: datetime
) -> PeriodRequest:
    """Checks a request; raises PeriodError with the reason."""
    try:
        period_kind = PeriodKind(kind)
    except ValueError:
        raise PeriodError("period.error_kind") from None
    title = " ".join(title.split())
    if not 3 <= len(title) <= 200:
        raise PeriodError("period.error_title")
    if reason := check_period_times(opens_at, deadline_at, now):
        raise PeriodError(reason)
    return PeriodRequest(period_kind, title, opens_at, deadline_at)


async def create(
    db: Database, config: Config, request: PeriodRequest, *, created_by: int | None
) -> ReportPeriod:
    """Creates the period with a copy of its kind's questions from the config."""
    template = config.reports.template(request.kind)
    async with db.session() as session:
        return await periods.create_period(
            session=session,
            kind=request.kind.value,
            title=request.title,
            year=config.bloc.year,
            opens_at=request.opens_at,
            deadline_at=request.deadline_at,
            questions=[q.model_dump(mode="json") for q in template.questions],
            late_days=config.reports.late_days,
            created_by=created_by,
        )
