"""Test data: configurations and seeded databases."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from bot.config import Config

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "config.example.toml"
TOKEN = "123456789:AAHtest-token-SECRET_value_0123456789"
ADMIN_ID = 5000001
SECOND_ADMIN_ID = 5000002


def example_raw() -> dict[str, Any]:
    """config.example.toml as a dict."""
    return tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))


def make_config(
    *,
    database_url: str,
    base_url: str = "http://127.0.0.1:9",
    admins: list[int] | None = None,
    telegram: dict[str, Any] | None = None,
    files: dict[str, Any] | None = None,
    reminders: dict[str, Any] | None = None,
    outbox: dict[str, Any] | None = None,
    throttle: dict[str, Any] | None = None,
    **bloc_overrides: Any,
) -> Config:
    """A validated Config built from the shipped example, pointed at a test database."""
    raw = example_raw()
    raw["telegram"].update(token=TOKEN, base_url=base_url, poll_timeout=1, **(telegram or {}))
    raw["database"]["url"] = database_url
    raw["files"] = files or {"dir": "/nonexistent/thidua-files"}
    if reminders:
        raw["reminders"] = reminders
    if outbox:
        raw["outbox"] = outbox
    if throttle:
        raw["throttle"] = throttle
    raw["bloc"]["admins"] = [ADMIN_ID, SECOND_ADMIN_ID] if admins is None else admins
    raw["bloc"].update(bloc_overrides)
    return Config.model_validate(raw)


def write_config(path: Path, raw: dict[str, Any]) -> Path:
    """Writes a config dict as TOML (a tiny writer: enough for our flat tables)."""
    lines: list[str] = []

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return str(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        escaped = str(v).replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'

    def table(name: str, data: dict[str, Any]) -> None:
        lines.append(f"[{name}]")
        nested = []
        for k, v in data.items():
            if isinstance(v, dict) or (isinstance(v, list) and v and isinstance(v[0], dict)):
                nested.append((f"{name}.{k}", v))
            else:
                lines.append(f"{k} = {value(v)}")
        for sub, v in nested:
            if isinstance(v, dict):
                table(sub, v)
            else:
                for item in v:
                    lines.append(f"[[{sub}]]")
                    lines.extend(f"{k} = {value(x)}" for k, x in item.items())

    for name, data in raw.items():
        table(name, data)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class FakeClock:
    """A clock a test moves by hand (aware UTC)."""

    def __init__(self, now: Any) -> None:
        self.now = now

    def __call__(self) -> Any:
        return self.now

    def set_local(self, text: str, tz: str = "Asia/Ho_Chi_Minh") -> None:
        """Sets the time from a local 'YYYY-MM-DD HH:MM' in the bloc's zone."""
        from datetime import UTC, datetime
        from zoneinfo import ZoneInfo

        self.now = datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)
