"""What `thidua run` loads at start-up: Alembic only when the schema needs an upgrade, and
neither aiohttp's web server (polling) nor httpx's command-line client (click, rich, pygments)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory

from storage.db import Database, alembic_config, schema_head
from tests.factories import ROOT

HEAVY = ("alembic", "mako", "aiohttp.web", "rich", "click", "pygments")


def _loaded_after(code: str) -> list[str]:
    """Runs code in a fresh interpreter; the HEAVY packages it left in sys.modules."""
    probe = (
        f"{code}\nimport json, sys\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({HEAVY!r}))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_run_path_imports_neither_alembic_nor_the_web_server() -> None:
    assert _loaded_after("import bot.runner, bot.cli") == []


async def test_starting_on_a_current_schema_does_not_load_alembic(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    db = Database(url)
    await db.upgrade()
    await db.dispose()
    start = (
        "import asyncio\n"
        "from bot.runner import prepare_database\n"
        "from storage.db import Database\n"
        "from tests.factories import make_config\n"
        "async def main():\n"
        f"    db = Database({url!r})\n"
        f"    await prepare_database(make_config(database_url={url!r}), db)\n"
        "    assert await db.is_current()\n"
        "    await db.dispose()\n"
        "asyncio.run(main())\n"
    )
    assert _loaded_after(start) == []


async def test_an_older_schema_is_still_upgraded(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    try:
        assert await db.current_revision() is None
        await db.upgrade("0004")
        assert await db.current_revision() == "0004" and not await db.is_current()
        await db.upgrade()
        assert await db.current_revision() == schema_head() and await db.is_current()
    finally:
        await db.dispose()


def test_schema_head_is_alembics_head(tmp_path: Path) -> None:
    assert schema_head() == ScriptDirectory.from_config(alembic_config()).get_current_head()
    # Files that do not read simply (here a merge) leave the decision to Alembic.
    (tmp_path / "a.py").write_text("revision = 'a'\ndown_revision = None\n")
    (tmp_path / "b.py").write_text("revision = 'b'\ndown_revision = 'a'\n")
    assert schema_head(tmp_path) == "b"
    (tmp_path / "c.py").write_text("revision = 'c'\ndown_revision = 'a'\n")
    assert schema_head(tmp_path) is None  # two heads
    (tmp_path / "d.py").write_text("revision = 'd'\ndown_revision = ('b', 'c')\n")
    assert schema_head(tmp_path) is None  # a merge


def test_httpx_cli_still_runs_when_called() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import bot, httpx\ntry:\n    httpx.main(['--help'])\nexcept SystemExit:\n    pass",
        ],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "HTTPX" in done.stdout or "Usage" in done.stdout
