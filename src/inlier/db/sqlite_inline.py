"""aiosqlite, minus the thread hop for statements that do not wait.

aiosqlite hands every call to its own thread and back, which costs 0.3-0.7 ms of CPU per
statement; the indexed statements of a request take microseconds in SQLite itself. So calls
run on the event loop's thread, and the connection's busy timeout is 0: a statement that
would have to wait for another process's write lock (another server worker, the CLI) fails
at once with SQLITE_BUSY instead of blocking the loop, and is tried again after a short
asynchronous sleep until the busy timeout has passed. The loop serves other requests
meanwhile, and the retries wake sooner than SQLite's own busy handler, whose sleeps grow to
100 ms.

Only a statement that starts from outside a transaction is retried (``BEGIN IMMEDIATE``, an
autocommit statement): SQLITE_BUSY means it did nothing, so running it again is exact.
Inside a ``BEGIN IMMEDIATE`` transaction we hold the write lock, and WAL readers never wait,
so nothing there can be busy.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import aiosqlite

# Waiting for another process's write lock: short at first (its transactions take a
# millisecond or two), never long enough to leave the lock idle for many of them.
_FIRST_PAUSE, _LONGEST_PAUSE = 0.0002, 0.002


class InlineConnection(aiosqlite.Connection):
    def __init__(
        self,
        connector: Callable[[], sqlite3.Connection],
        iter_chunk_size: int,
        busy_timeout_ms: int,
    ) -> None:
        super().__init__(connector, iter_chunk_size)
        self.busy_timeout_ms = busy_timeout_ms

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        conn = self._connection
        if not self._running or conn is None:
            raise ValueError("Connection closed")
        was_in_transaction = conn.in_transaction
        deadline = time.monotonic() + self.busy_timeout_ms / 1000
        pause = _FIRST_PAUSE
        while True:
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as exc:
                if not is_busy(exc) or was_in_transaction or conn.in_transaction:
                    raise
                if time.monotonic() + pause > deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, _LONGEST_PAUSE)


def is_busy(error: sqlite3.OperationalError) -> bool:
    """Whether SQLite said another connection holds the lock (``SQLITE_BUSY`` and its kinds)."""
    return (getattr(error, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_BUSY


def make_connect(busy_timeout_ms: int) -> Callable[..., InlineConnection]:
    """A stand-in for ``aiosqlite.connect``: SQLAlchemy's ``async_creator_fn`` connect arg."""

    def connect(database: Any, *, iter_chunk_size: int = 64, **kwargs: Any) -> InlineConnection:
        # The connection is opened on aiosqlite's thread and used on the loop's.
        kwargs["check_same_thread"] = False
        loc = database.decode() if isinstance(database, bytes) else str(database)
        connection = InlineConnection(
            partial(sqlite3.connect, loc, **kwargs), iter_chunk_size, busy_timeout_ms
        )
        # A connection left open at exit must not keep the process alive.
        connection._thread.daemon = True
        return connection

    return connect


def is_inline(dbapi_conn: Any) -> bool:
    return isinstance(getattr(dbapi_conn, "driver_connection", None), InlineConnection)
