"""SQLite inline on the event loop behaves as aiosqlite's threads do (same storage calls)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from storage import sqlite_inline
from storage.db import Database


@pytest.mark.parametrize("threads", [False, True])
async def test_both_sqlite_modes_commit_roll_back_and_keep_wal(tmp_path, threads: bool) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", sqlite_threads=threads)
    try:
        async with db.session() as session:
            await session.exec(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
            await session.exec(text("INSERT INTO t (v) VALUES ('a'), ('b')"))
        with pytest.raises(RuntimeError):
            async with db.session() as session:
                await session.exec(text("INSERT INTO t (v) VALUES ('rolled back')"))
                raise RuntimeError("boom")
        async with db.read() as session:
            rows = (await session.exec(text("SELECT v FROM t ORDER BY id"))).all()
            mode = (await session.exec(text("PRAGMA journal_mode"))).one()
            keys = (await session.exec(text("PRAGMA foreign_keys"))).one()
        assert [r[0] for r in rows] == ["a", "b"]
        assert mode[0] == "wal" and keys[0] == 1
        async with db.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            inline = isinstance(raw.driver_connection, sqlite_inline.InlineConnection)
        assert inline is (not threads)
    finally:
        await db.dispose()


async def test_inline_writers_queue_on_the_lock_and_all_commit(tmp_path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        async with db.session() as session:
            await session.exec(text("CREATE TABLE n (k INTEGER)"))

        async def write(k: int) -> None:
            async with db.session() as session:
                await session.exec(text("INSERT INTO n (k) VALUES (:k)"), params={"k": k})
                await asyncio.sleep(0)  # yield mid-transaction: others must wait their turn

        await asyncio.gather(*(write(k) for k in range(50)))
        async with db.read() as session:
            count = (await session.exec(text("SELECT count(*) FROM n"))).one()
        assert count[0] == 50
    finally:
        await db.dispose()
