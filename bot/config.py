"""Loading and validating the TOML configuration."""

from __future__ import annotations

import os
import re
import tomllib
import unicodedata
from datetime import date
from datetime import time as dt_time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.errors import ConfigError, MissingTokenError
from bot.planning import EventPolicy, Policy
from bot.questions import PeriodKind, Template, default_templates
from bot.ratelimit import Limits
from bot.throttle import Rule
from storage.bloc import BlocSpec, DepartmentSpec, UnitSpec
from storage.invites import INVITE_DAYS_MAX, INVITE_DAYS_MIN

TOKEN_ENV = "TELEGRAM_BOT_TOKEN"
_TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]{10,}$")
_PLACEHOLDER_TOKENS = {"", "changeme", "your-token-here", "PUT-YOUR-TOKEN-HERE"}
_CODE_RE = r"^[A-Za-z0-9_-]{1,32}$"


def nfc(text: str) -> str:
    """Returns text in Unicode NFC, the form every stored string uses."""
    return unicodedata.normalize("NFC", text).strip()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebhookConfig(_Strict):
    """Settings for webhook mode (Telegram pushes updates to us)."""

    url: str = Field(pattern=r"^https://", description="public HTTPS URL Telegram posts to")
    listen: str = "0.0.0.0"
    port: int = Field(default=8443, ge=1, le=65535)
    secret_token: str = Field(min_length=16, max_length=256, pattern=r"^[A-Za-z0-9_-]+$")


class TelegramConfig(_Strict):
    """How to reach the Bot API."""

    token: str = ""
    base_url: str = "https://api.telegram.org"
    username: str = Field(default="", description="bot username, used when getMe is unreachable")
    mode: Literal["polling", "webhook"] = "polling"
    poll_timeout: int = Field(default=30, ge=0, le=50)
    http_client: Literal["aiohttp", "httpx"] = "aiohttp"
    webhook: WebhookConfig | None = None

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _webhook_needs_settings(self) -> TelegramConfig:
        if self.mode == "webhook" and self.webhook is None:
            raise ValueError("mode = 'webhook' needs a [telegram.webhook] table")
        return self


class DatabaseConfig(_Strict):
    """Where the data lives."""

    url: str = "sqlite+aiosqlite:///data/thidua.db"
    echo: bool = False
    # SQLite runs inline on the event loop (storage.sqlite_inline); true: aiosqlite's threads.
    sqlite_threads: bool = False

    @field_validator("url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if value.startswith(("sqlite:", "sqlite+pysqlite:")):
            raise ValueError("use the async driver: sqlite+aiosqlite:///path/to/file.db")
        if value.startswith(("postgresql:", "postgres:", "postgresql+psycopg")):
            raise ValueError("use the async driver: postgresql+asyncpg://user@host/dbname")
        if not value.startswith(("sqlite+aiosqlite:", "postgresql+asyncpg:")):
            raise ValueError("expected sqlite+aiosqlite:///... or postgresql+asyncpg://...")
        return value


class DepartmentConfig(_Strict):
    """A provincial department (Sở) whose units belong to the bloc."""

    code: str = Field(pattern=_CODE_RE)
    name: str = Field(min_length=1, max_length=200)

    _nfc = field_validator("name")(lambda cls, v: nfc(v))


class UnitConfig(_Strict):
    """A member unit (đơn vị)."""

    code: str = Field(pattern=_CODE_RE)
    name: str = Field(min_length=1, max_length=200)
    department: str = Field(pattern=_CODE_RE)
    short_name: str = Field(default="", max_length=60)

    _nfc = field_validator("name", "short_name")(lambda cls, v: nfc(v))


class BlocConfig(_Strict):
    """The bloc itself, its year, its admins and its members."""

    name: str = Field(min_length=1, max_length=200)
    year: int = Field(ge=2000, le=2100)
    timezone: str = "Asia/Ho_Chi_Minh"
    language: Literal["vi", "en"] = "vi"
    admins: list[int] = Field(default_factory=list)
    leader: str = Field(pattern=_CODE_RE)
    deputy: str = Field(pattern=_CODE_RE)
    invite_ttl_days: int = Field(default=7, ge=INVITE_DAYS_MIN, le=INVITE_DAYS_MAX)
    departments: list[DepartmentConfig] = Field(min_length=1)
    units: list[UnitConfig] = Field(min_length=1)

    _nfc = field_validator("name")(lambda cls, v: nfc(v))

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. 'Asia/Ho_Chi_Minh')") from None
        return value

    def spec(self) -> BlocSpec:
        """The bloc as storage's `sync_bloc` takes it."""
        return BlocSpec(
            name=self.name,
            year=self.year,
            timezone=self.timezone,
            leader=self.leader,
            deputy=self.deputy,
            departments=tuple(DepartmentSpec(d.code, d.name) for d in self.departments),
            units=tuple(UnitSpec(u.code, u.name, u.department, u.short_name) for u in self.units),
        )

    @model_validator(mode="after")
    def _consistent(self) -> BlocConfig:
        dept_codes = [d.code for d in self.departments]
        _no_duplicates("departments", dept_codes)
        unit_codes = [u.code for u in self.units]
        _no_duplicates("units", unit_codes)
        for unit in self.units:
            if unit.department not in dept_codes:
                raise ValueError(
                    f"unit {unit.code!r} names department {unit.department!r}, "
                    f"expected one of {', '.join(dept_codes)}"
                )
        for role in ("leader", "deputy"):
            if getattr(self, role) not in unit_codes:
                raise ValueError(f"{role} {getattr(self, role)!r} is not one of the unit codes")
        if self.leader == self.deputy:
            raise ValueError("leader and deputy must be different units")
        return self

    @property
    def tz(self) -> ZoneInfo:
        """The bloc's time zone."""
        return ZoneInfo(self.timezone)


def _no_duplicates(what: str, codes: list[str]) -> None:
    seen: set[str] = set()
    for code in codes:
        if code in seen:
            raise ValueError(f"{what}: code {code!r} appears twice")
        seen.add(code)


class ReportsConfig(_Strict):
    """Report questions per period kind (the shipped defaults unless replaced) and late rules."""

    six_month: Template | None = None
    annual: Template | None = None
    adhoc: Template | None = None
    late_days: int = Field(default=30, ge=0, le=365, description="days late reports are taken")

    def template(self, kind: str) -> Template:
        """The questions for a period kind."""
        return getattr(self, PeriodKind(kind).value) or default_templates()[kind]


class ReminderPolicyConfig(_Strict):
    """When units are reminded of a report deadline."""

    on_open: bool = True
    days_before: list[int] = Field(default_factory=lambda: [7, 3, 1])
    deadline_morning: bool = True
    overdue_every_working_days: int = Field(default=2, ge=0, le=30)
    overdue_max: int = Field(default=3, ge=0, le=20)
    digest: bool = True

    @field_validator("days_before")
    @classmethod
    def _positive(cls, value: list[int]) -> list[int]:
        if any(not 1 <= d <= 60 for d in value):
            raise ValueError("days_before: each value must be 1 to 60")
        return value

    def policy(self) -> Policy:
        """The planner's view of this policy."""
        return Policy(
            on_open=self.on_open,
            days_before=tuple(self.days_before),
            deadline_morning=self.deadline_morning,
            overdue_every=self.overdue_every_working_days,
            overdue_max=self.overdue_max,
            digest=self.digest,
        )


class RemindersConfig(_Strict):
    """Deadline and event reminders."""

    enabled: bool = True
    time: str = Field(default="08:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    # At least an hour: the scheduler only looks every tick_seconds.
    grace_hours: int = Field(default=12, ge=1, le=168)
    tick_seconds: float = Field(default=30, gt=0, le=3600)
    holidays: list[date] = Field(default_factory=list)
    six_month: ReminderPolicyConfig = ReminderPolicyConfig()
    annual: ReminderPolicyConfig = ReminderPolicyConfig()
    adhoc: ReminderPolicyConfig = ReminderPolicyConfig()
    event_unanswered_days_before: list[int] = Field(default_factory=lambda: [2])
    event_day_before: bool = True
    event_hours_before: int = Field(default=2, ge=0, le=48)

    @property
    def hour(self) -> dt_time:
        """The local time of day reminders go out."""
        hours, minutes = self.time.split(":")
        return dt_time(int(hours), int(minutes))

    def policy(self, kind: str) -> Policy:
        """The policy for a period kind."""
        config: ReminderPolicyConfig = getattr(self, PeriodKind(kind).value)
        return config.policy()

    def event_policy(self) -> EventPolicy:
        """The planner's view of the event reminders."""
        return EventPolicy(
            unanswered_days_before=tuple(self.event_unanswered_days_before),
            day_before=self.event_day_before,
            hours_before=self.event_hours_before,
        )


class OutboxConfig(_Strict):
    """How fast the dispatcher may send (Telegram's limits) and how long it keeps trying."""

    per_second: float = Field(default=30, gt=0, le=1000)
    private_interval: float = Field(default=1.0, ge=0, le=60)
    group_per_minute: float = Field(default=20, gt=0, le=600)
    max_attempts: int = Field(default=6, ge=1, le=20)

    def limits(self) -> Limits:
        """The rate limiter's view."""
        return Limits(
            per_second=self.per_second,
            private_interval=self.private_interval,
            group_interval=60.0 / self.group_per_minute,
        )


class ThrottleConfig(_Strict):
    """Inbound throttling per account: over `limit` updates within `window` seconds, the
    account is told once to slow down and then ignored for `mute` seconds (bot.throttle)."""

    enabled: bool = True
    member_limit: int = Field(default=20, ge=1, le=1000)
    member_window: float = Field(default=10, gt=0, le=3600)
    member_mute: float = Field(default=30, gt=0, le=86400)
    stranger_limit: int = Field(default=5, ge=1, le=1000)
    stranger_window: float = Field(default=30, gt=0, le=3600)
    stranger_mute: float = Field(default=120, gt=0, le=86400)

    def rules(self) -> tuple[Rule, Rule]:
        """(members' rule, strangers' rule)."""
        return (
            Rule(self.member_limit, self.member_window, self.member_mute),
            Rule(self.stranger_limit, self.stranger_window, self.stranger_mute),
        )


class RetentionConfig(_Strict):
    """How long finished bookkeeping rows are kept before the scheduler deletes them."""

    inbox_days: int = Field(
        default=30, ge=1, le=3650, description="days handled Telegram updates are kept"
    )
    outbox_days: int = Field(
        default=180, ge=1, le=3650, description="days messages the bot sent are kept"
    )


class FilesConfig(_Strict):
    """Where attachments are kept (content-addressed by SHA-256)."""

    dir: str = "data/files"


class Config(_Strict):
    """The whole configuration file."""

    telegram: TelegramConfig = TelegramConfig()
    database: DatabaseConfig = DatabaseConfig()
    files: FilesConfig = FilesConfig()
    reports: ReportsConfig = ReportsConfig()
    reminders: RemindersConfig = RemindersConfig()
    outbox: OutboxConfig = OutboxConfig()
    retention: RetentionConfig = RetentionConfig()
    throttle: ThrottleConfig = ThrottleConfig()
    bloc: BlocConfig
    path: Path | None = Field(default=None, exclude=True)

    def require_token(self) -> str:
        """Returns the bot token or raises MissingTokenError."""
        token = self.telegram.token.strip()
        if token in _PLACEHOLDER_TOKENS:
            raise MissingTokenError("no bot token configured")
        if not _TOKEN_RE.match(token):
            raise ConfigError(
                "telegram.token: expected the form 123456789:AA... as given by @BotFather"
            )
        return token


def load_config(path: str | Path, env: dict[str, str] | None = None) -> Config:
    """Reads, validates and returns the configuration at path.

    `TELEGRAM_BOT_TOKEN` in the environment overrides `[telegram] token`; a relative SQLite
    path is resolved against the config file's folder.
    """
    env = os.environ if env is None else env
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    if env.get(TOKEN_ENV):
        raw.setdefault("telegram", {})["token"] = env[TOKEN_ENV]
    db = raw.setdefault("database", {})
    if isinstance(db, dict) and isinstance(db.get("url"), str):
        db["url"] = _resolve_sqlite(db["url"], path.parent)
    elif isinstance(db, dict) and "url" not in db:
        db["url"] = _resolve_sqlite(DatabaseConfig().url, path.parent)
    files = raw.setdefault("files", {})
    if isinstance(files, dict):
        folder = Path(str(files.get("dir", FilesConfig().dir)))
        files["dir"] = str(folder if folder.is_absolute() else (path.parent / folder).resolve())
    try:
        return Config.model_validate({**raw, "path": path})
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(path, exc)) from None


def _resolve_sqlite(url: str, base: Path) -> str:
    prefix = "sqlite+aiosqlite:///"
    if not url.startswith(prefix) or url == prefix + ":memory:":
        return url
    file = Path(url[len(prefix) :])
    if not file.is_absolute():
        file = (base / file).resolve()
    return prefix + str(file)


def describe_validation_error(path: Path, exc: ValidationError) -> str:
    """Turns a pydantic error into lines naming each bad key and what was expected."""
    lines = [f"{path}: invalid configuration"]
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            lines.append(f"  {where}: unknown key (check the spelling against config.example.toml)")
        elif err["type"] == "missing":
            lines.append(f"  {where}: required but missing")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"  {where}: {msg}{_shown_input(err['loc'], err.get('input'))}")
    return "\n".join(lines)


# Keys whose value is a secret: a start-up error names the key, never what it holds.
_SECRET_KEYS = frozenset({"token", "secret_token", "password"})
_URL_PASSWORD_RE = re.compile(r"(?<=://)([^/@:]*):[^/@]*@")


def _shown_input(loc: tuple[int | str, ...], got: object) -> str:
    """What a start-up error shows of the bad value: nothing for a secret or a table, a
    URL without its password, anything else as written."""
    if isinstance(got, dict | list):
        return ""
    if loc and str(loc[-1]).lower() in _SECRET_KEYS:
        return " (value hidden: it is a secret)"
    if isinstance(got, str):
        got = _URL_PASSWORD_RE.sub(r"\1:***@", got)
    return f" (got {got!r})"
