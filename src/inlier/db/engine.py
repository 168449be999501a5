"""Engines and transactions: SQLite (WAL, one writer at a time) or PostgreSQL (asyncpg)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from inlier.db import direct
from inlier.db.direct import Direct
from inlier.db.sqlite_inline import InlineConnection, is_busy, is_inline, make_connect
from inlier.settings import Settings, async_database_url, is_sqlite

# How long a statement waits for another process's write lock before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 10000


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Driver-level transactions lose updates under concurrency; we issue BEGIN ourselves.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    # The inline driver waits for locks itself, in async sleeps, never blocking the loop.
    busy = 0 if is_inline(dbapi_conn) else SQLITE_BUSY_TIMEOUT_MS
    for pragma in (
        "journal_mode=WAL",
        f"busy_timeout={busy}",
        "synchronous=NORMAL",
        "foreign_keys=ON",
        "cache_size=-65536",
        "temp_store=MEMORY",
    ):
        cur.execute(f"PRAGMA {pragma}")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # Take the write lock up front: a read-then-write never finds the data changed under it.
    driver = conn.connection.driver_connection
    raw = driver._connection if isinstance(driver, InlineConnection) else None
    if raw is not None:
        # Straight on sqlite3 when the lock is free (the usual case, ~60 µs less than through
        # the engine); when another process holds it, the engine's path waits for it.
        try:
            started = time.perf_counter()
            raw.execute("BEGIN IMMEDIATE")
            for observe in direct.statement_observers:
                observe("BEGIN IMMEDIATE", time.perf_counter() - started)
            return
        except sqlite3.OperationalError as error:
            if not is_busy(error):
                raise exc.DBAPIError.instance(
                    "BEGIN IMMEDIATE", (), error, sqlite3.Error, dialect=conn.dialect
                ) from error
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(settings: Settings, *, null_pool: bool = False) -> AsyncEngine:
    url = async_database_url(settings.database_url)
    kwargs: dict[str, Any] = {}
    if null_pool:
        kwargs["poolclass"] = NullPool
    elif is_sqlite(url):
        # One connection: SQLite has one writer anyway, and the pool queues callers fairly.
        kwargs.update(pool_size=1, max_overflow=0, pool_timeout=60)
    else:
        kwargs.update(pool_size=settings.db_pool_size, max_overflow=settings.db_pool_size)
    if is_sqlite(url):
        kwargs["connect_args"] = {"async_creator_fn": make_connect(SQLITE_BUSY_TIMEOUT_MS)}
    engine = create_async_engine(url, **kwargs)
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


class Database:
    """Owns the engine and hands out sessions; one per app."""

    def __init__(self, settings: Settings, *, null_pool: bool = False) -> None:
        self.settings = settings
        self.engine = make_engine(settings, null_pool=null_pool)
        self.sqlite = is_sqlite(settings.database_url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits when the block ends, or rolls back on error."""
        async with self.sessions() as s, s.begin():
            yield s

    async def dispose(self) -> None:
        await self.engine.dispose()


async def core_connection(s: AsyncSession) -> Direct:
    """The session's connection, for prebuilt Core statements on the hot path.

    ``AsyncSession.connection()`` costs a greenlet hop and proxy lookups per call; within one
    transaction the connection cannot change, so it is kept in ``s.info`` with its transaction.
    Pending ORM changes are flushed first, as ``s.execute`` would, so that Core statements see
    them. On SQLite the statements then run on the driver connection (``inlier.db.direct``).
    """
    sync = s.sync_session
    if sync.autoflush and (sync.new or sync.dirty or sync.deleted):
        await s.flush()
    tx = s.sync_session.get_transaction()
    cached = s.info.get(_CONNECTION_KEY)
    # Inside a savepoint the session must be asked, so that it emits the SAVEPOINT.
    nested = s.sync_session.get_nested_transaction() is not None
    if tx is not None and cached is not None and cached[0] is tx and not nested:
        direct: Direct = cached[1]
        return direct
    direct = Direct(await s.connection())
    s.info[_CONNECTION_KEY] = (s.sync_session.get_transaction(), direct)
    return direct


_CONNECTION_KEY = "inlier.core_connection"
