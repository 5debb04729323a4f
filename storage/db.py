"""The async engine, sessions and schema migrations."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, inspect
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import sqlite_inline

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"
READ_ONLY_OPTION = "thidua_read_only"
SQLITE_BUSY_TIMEOUT_MS = 10_000


def create_engine(
    url: str,
    *,
    echo: bool = False,
    connect_args: dict[str, Any] | None = None,
    sqlite_threads: bool = False,
) -> AsyncEngine:
    """Creates the engine; SQLite gets WAL, a busy timeout and enforced foreign keys, and
    runs inline on the event loop unless `sqlite_threads` (see `storage.sqlite_inline`)."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {
        "echo": echo,
        "connect_args": dict(connect_args or {}),
        "json_serializer": _RepeatingJsonSerializer(),
    }
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"].setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
        if database and database != ":memory:":
            # One writer at a time anyway; readers in WAL mode do not need many connections.
            kwargs.update(pool_size=4, max_overflow=4)
            if not sqlite_threads:
                timeout = float(kwargs["connect_args"].pop("timeout"))
                kwargs["async_creator"] = sqlite_inline.creator(database, timeout=timeout)
    else:
        kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
    engine = create_async_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin_immediate)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, decide when transactions begin (see _sqlite_begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin_immediate(conn: Connection) -> None:
    # BEGIN IMMEDIATE takes the write lock up front, so two writers wait on the busy timeout
    # instead of failing with "database is locked" when a read transaction upgrades to a write.
    # Read-only sessions (Database.read) begin deferred: in WAL mode readers never wait.
    if conn.get_execution_options().get(READ_ONLY_OPTION):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class _RepeatingJsonSerializer:
    """json.dumps that reuses its last result when handed the very same object again.

    A reminder or announcement fan-out writes thousands of rows sharing one reply_markup
    dict; serialising it once instead of per row is a measurable share of the fan-out.
    Holding a reference to the last object keeps identity checks safe (no id reuse).
    """

    def __init__(self) -> None:
        self._last: tuple[object, str] | None = None

    def __call__(self, value: object) -> str:
        last = self._last
        if last is not None and last[0] is value:
            return last[1]
        encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        if isinstance(value, dict | list):
            self._last = (value, encoded)
        return encoded


class Database:
    """The engine plus a session factory; one per process."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        connect_args: dict[str, Any] | None = None,
        sqlite_threads: bool = False,
    ) -> None:
        self.url = url
        self.engine = create_engine(
            url, echo=echo, connect_args=connect_args, sqlite_threads=sqlite_threads
        )
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )
        self._read_sessions = async_sessionmaker(
            self.engine.execution_options(**{READ_ONLY_OPTION: True}),
            class_=AsyncSession,
            expire_on_commit=False,
        )
        # SQLite has one writer at a time. Queueing our own writers here, in FIFO order,
        # is fairer and faster than letting them poll SQLite's busy handler.
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    @property
    def is_sqlite(self) -> bool:
        """Whether this is the embedded SQLite backend."""
        return self.engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A read-write transaction: committed on success, rolled back on error."""
        if self._write_lock is None:
            async with self._sessions() as session, session.begin():
                yield session
            return
        async with self._write_lock, self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only transaction (on SQLite it does not queue behind writers)."""
        async with self._read_sessions() as session, session.begin():
            yield session

    async def upgrade(self, revision: str = "head") -> None:
        """Creates or upgrades the schema with Alembic.

        A database already at the newest migration is left as it is without importing
        Alembic at all: `thidua run` upgrades at every start, and Alembic with what it loads
        for an upgrade is about 12 MB of the bot's memory for the rest of its run.
        """
        if revision == "head":
            head = schema_head()
            if head is not None and await self.current_revision() == head:
                return
        async with self.engine.begin() as conn:
            await conn.run_sync(_run_upgrade, revision)

    async def current_revision(self) -> str | None:
        """The schema revision the database is at, or None if it was never initialised."""
        reader = self.engine.execution_options(**{READ_ONLY_OPTION: True})
        async with reader.connect() as conn:
            return await conn.run_sync(_read_revision)

    async def is_current(self) -> bool:
        """Whether the schema is at the newest migration (else `thidua init` is needed)."""
        head = schema_head()
        if head is None:
            from alembic.script import ScriptDirectory

            head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        return await self.current_revision() == head

    async def dispose(self) -> None:
        """Closes every pooled connection."""
        await self.engine.dispose()


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    """An Alembic config pointing at our migrations, optionally bound to a connection."""
    # Alembic (and Mako under it) is imported here, not at the top: `thidua run` needs it
    # only for the start-up upgrade, and keeping it off the import path saves memory.
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


_REVISION_LINE = re.compile(
    r"^(revision|down_revision)\b[^=\n]*=\s*(?:['\"]([^'\"\n]+)['\"]|None)\s*$", re.MULTILINE
)


def schema_head(versions: Path = MIGRATIONS / "versions") -> str | None:
    """The newest migration's revision, read from the migration files without Alembic.

    Each file names its `revision` and its `down_revision` (a single parent or None); the
    head is the one revision no other names as its parent. None if the files do not read
    that simply (a merge, an unusual spelling): then Alembic decides, as it always did.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in versions.glob("*.py"):
        found = dict(_REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        if not found.get("revision") or "down_revision" not in found:
            return None
        revisions.add(found["revision"])
        if found["down_revision"]:
            parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def _read_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    value = connection.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalar()
    return str(value) if value is not None else None


def _run_upgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), revision)
