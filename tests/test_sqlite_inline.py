"""Engines: the inline SQLite driver (statements on the loop, lock waits never block it),
and both engines opening with and without a pool."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from sqlalchemy import text

from inlier.db.engine import Database
from inlier.settings import Settings


async def test_a_locked_database_is_waited_for_off_the_event_loop(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    db = Database(Settings(database_url=f"sqlite:///{path}"))
    async with db.session() as s:
        await s.execute(text("CREATE TABLE t (x INTEGER)"))

    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES (1)")

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def write() -> None:
        async with db.session() as s:
            await s.execute(text("INSERT INTO t VALUES (2)"))

    tick_task = asyncio.create_task(ticker())
    write_task = asyncio.create_task(write())
    await asyncio.sleep(0.3)
    assert not write_task.done()  # it waits for the other writer ...
    assert ticks >= 10  # ... and the loop keeps running meanwhile
    started = time.perf_counter()
    other.execute("COMMIT")
    await asyncio.wait_for(write_task, 5)
    assert time.perf_counter() - started < 2
    tick_task.cancel()
    other.close()

    async with db.session() as s:
        rows = (await s.execute(text("SELECT x FROM t ORDER BY x"))).scalars().all()
    assert rows == [1, 2]
    await db.dispose()


async def test_statements_inside_a_transaction_see_its_own_writes(tmp_path: Path) -> None:
    db = Database(Settings(database_url=f"sqlite:///{tmp_path / 'tx.db'}"))
    async with db.session() as s:
        await s.execute(text("CREATE TABLE t (x INTEGER)"))
    try:
        async with db.session() as s:
            await s.execute(text("INSERT INTO t VALUES (1)"))
            assert (await s.execute(text("SELECT count(*) FROM t"))).scalar() == 1
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    async with db.session() as s:
        assert (await s.execute(text("SELECT count(*) FROM t"))).scalar() == 0
    await db.dispose()


async def test_both_engines_open_with_and_without_a_pool(db_url: str) -> None:
    from conftest import make_settings

    for null_pool in (False, True):
        db = Database(make_settings(db_url), null_pool=null_pool)
        async with db.session() as s:
            assert (await s.execute(text("SELECT 1"))).scalar() == 1
        await db.dispose()
