"""Shared fixtures: databases (SQLite file, PostgreSQL schema) and the seeded bloc."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest

from bot.config import Config
from bot.runner import prepare_database
from storage.db import Database
from tests.factories import make_config

POSTGRES_URL = os.environ.get(
    "THIDUA_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


async def _postgres_available() -> str | None:
    """None if the test PostgreSQL answers, else why not."""
    dsn = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
    try:
        conn = await asyncpg.connect(dsn, timeout=3)
    except Exception as exc:
        return f"PostgreSQL not reachable at {POSTGRES_URL} ({type(exc).__name__})"
    await conn.close()
    return None


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[tuple[str, dict]]:
    """A fresh, empty database on each backend: (url, connect_args)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'thidua.db'}", {}
        return
    reason = await _postgres_available()
    if reason:
        if os.environ.get("THIDUA_REQUIRE_POSTGRES"):
            pytest.fail(reason)
        pytest.skip(reason)
    schema = f"t_{secrets.token_hex(6)}"
    dsn = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    await conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield POSTGRES_URL, {"server_settings": {"search_path": schema}}
    finally:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await conn.close()


@pytest.fixture
async def database(db_url: tuple[str, dict]) -> AsyncIterator[Database]:
    """A migrated but empty database."""
    url, connect_args = db_url
    db = Database(url, connect_args=connect_args)
    await db.upgrade()
    yield db
    await db.dispose()


@pytest.fixture
def config(db_url: tuple[str, dict]) -> Config:
    """The shipped example configuration, pointed at the test database."""
    return make_config(database_url=db_url[0])


@pytest.fixture
async def seeded(database: Database, config: Config) -> Database:
    """A database holding the example bloc's 15 units."""
    await prepare_database(config, database)
    return database
