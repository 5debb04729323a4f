"""SQLite for the async engine without a thread per connection: aiosqlite's interface, run
inline on the event loop.

aiosqlite runs each call (cursor, execute, fetch, close, commit) in the connection's own
thread and wakes the event loop for its answer: three to four thread hops per statement,
measured as the largest single cost per update (issue 9). SQLite's calls on a WAL database
take microseconds, so this adapter makes them directly: the "coroutines" below never
suspend. SQLAlchemy's aiosqlite dialect drives it unchanged (`async_creator`).

What it gives up: a call that must wait for SQLite's lock blocks the event loop for that
wait. In this process writers never wait for each other (`Database` queues them on an
asyncio lock) and WAL readers never wait for writers, so only a write by another process at
the same instant (a `thidua` command while the bot runs) can hold the loop, for as long as
that other transaction lasts (milliseconds). `[database] sqlite_threads = true` restores
aiosqlite's threads.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any


class _Now:
    """Stands for aiosqlite's job queue: runs a job at once (SQLAlchemy uses it to set the
    isolation level)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def put_nowait(self, item: tuple[Any, Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:
            future.set_exception(error)


class InlineCursor:
    """An aiosqlite-style cursor whose calls complete without suspending."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        self._cursor.execute(sql, () if parameters is None else parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size or self._cursor.arraysize)

    async def close(self) -> None:
        self._cursor.close()

    async def nextset(self) -> None:
        return None

    async def setinputsizes(self, *sizes: Any) -> None:
        return None

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class InlineConnection:
    """An aiosqlite-style connection over a plain sqlite3 connection."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        self._connection: sqlite3.Connection | None = connection
        self._tx = _Now(connection)

    def cursor(self) -> InlineCursor:
        assert self._connection is not None
        return InlineCursor(self._connection.cursor())

    async def commit(self) -> None:
        assert self._connection is not None
        self._connection.commit()

    async def rollback(self) -> None:
        assert self._connection is not None
        self._connection.rollback()

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def stop(self) -> None:
        """aiosqlite's forced close."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        assert self._connection is not None
        self._connection.create_function(*args, **kwargs)

    @property
    def isolation_level(self) -> str | None:
        assert self._connection is not None
        return self._connection.isolation_level


def creator(database: str, *, timeout: float) -> Callable[[], Any]:
    """An `async_creator` for `create_async_engine`: opens `database` inline."""

    async def connect() -> InlineConnection:
        # Connections move between the event loop's tasks but never between threads;
        # check_same_thread=False because SQLAlchemy may close one from the GC.
        raw = sqlite3.connect(
            database, timeout=timeout, check_same_thread=False, isolation_level=None
        )
        return InlineConnection(raw)

    return connect
