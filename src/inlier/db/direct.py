"""Prebuilt Core statements run straight on SQLite's driver connection, on the hot path.

Through SQLAlchemy's async engine, one indexed statement costs ~60 µs of Python: a greenlet
hop, the execution context, the async cursor adapter, result metadata. SQLite itself answers
it in a few µs. ``Direct`` runs a statement the hot path has built once at import on the
``sqlite3`` connection under the session's transaction, with the same SQL, the same
parameter conversions and the same row conversions SQLAlchemy would apply (taken from the
statement compiled by SQLAlchemy for this dialect), and raises SQLAlchemy's exceptions.

What it does not take as it is goes to SQLAlchemy instead: a statement with column defaults
computed in Python, expanding parameters, or result names that are not identifiers. Anything
on PostgreSQL goes to SQLAlchemy too: asyncpg's own statement cache already makes each round
trip cheap, and PostgreSQL's time dominates there.
"""

from __future__ import annotations

import sqlite3
import time
from collections import namedtuple
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from inlier.db.sqlite_inline import InlineConnection

#: Called with each statement's SQL and seconds (benchmarks list the statements of a cycle).
statement_observers: list[Callable[[str, float], None]] = []


class _Prepared:
    """One statement compiled for SQLite with one set of parameter names."""

    def __init__(self, statement: Any, dialect: Dialect, keys: tuple[str, ...]) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        self.usable = not (
            compiled.insert_prefetch
            or compiled.update_prefetch
            or any(b.expanding for b in compiled.binds.values())
            or compiled.positiontup is None
            or "POSTCOMPILE" in compiled.string
        )
        self.sql: str = compiled.string
        self.compiled = compiled
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        processors = compiled._bind_processors
        self.binds = tuple(processors.get(n) for n in self.names)
        columns = compiled._result_columns
        self.returns_rows = bool(columns)
        names = [c[0] for c in columns]
        self.row: Any = None
        if columns:
            if any(not n.isidentifier() or n.startswith("_") for n in names) or len(
                set(names)
            ) != len(names):
                self.usable = False
            else:
                base = namedtuple("Row", names)  # type: ignore[misc]
                # ``_mapping`` as on SQLAlchemy's Row, for code that reads columns by name.
                self.row = type("Row", (base,), {"__slots__": (), "_mapping": _mapping})
        self.results = tuple(c[3]._cached_result_processor(dialect, None) for c in columns)

    def parameters(self, given: dict[str, Any]) -> tuple[Any, ...]:
        values = self.compiled.construct_params(given, _check=False)
        out = []
        for name, process in zip(self.names, self.binds, strict=True):
            value = values[name]
            out.append(process(value) if process is not None and value is not None else value)
        return tuple(out)


_mapping = property(lambda row: row._asdict())


class Rows:
    """The parts of SQLAlchemy's ``Result`` the hot path uses."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if len(self._rows) != 1:
            raise exc.NoResultFound(f"expected one row, got {len(self._rows)}")
        return self._rows[0]

    def all(self) -> list[Any]:
        return list(self._rows)

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalar_one_or_none(self) -> Any:
        if len(self._rows) > 1:
            raise exc.MultipleResultsFound("expected at most one row")
        return self._rows[0][0] if self._rows else None


class Direct:
    """``execute`` as on an ``AsyncConnection``, straight on SQLite where it can."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.dialect = conn.dialect
        driver = conn.sync_connection.connection.driver_connection if conn.sync_connection else None
        raw = driver._connection if isinstance(driver, InlineConnection) else None
        self.raw: sqlite3.Connection | None = raw

    async def execute(self, statement: Any, params: dict[str, Any] | None = None) -> Any:
        raw = self.raw
        # Only inside the transaction (BEGIN IMMEDIATE holds the write lock): a statement
        # outside one could meet another process's lock, which the inline driver waits for.
        if raw is None or not raw.in_transaction:
            return await self.conn.execute(statement, params)
        given = params or {}
        prepared = _prepared(statement, self.dialect, tuple(sorted(given)))
        if not prepared.usable:
            return await self.conn.execute(statement, params)
        args = prepared.parameters(given)
        started = time.perf_counter() if statement_observers else 0.0
        try:
            cursor = raw.execute(prepared.sql, args)
            fetched = cursor.fetchall() if prepared.returns_rows else []
        except sqlite3.Error as error:
            raise exc.DBAPIError.instance(
                prepared.sql, args, error, sqlite3.Error, dialect=self.dialect
            ) from error
        if statement_observers:
            elapsed = time.perf_counter() - started
            for observe in statement_observers:
                observe(prepared.sql, elapsed)
        rows = [_convert(prepared, r) for r in fetched]
        return Rows(rows, cursor.rowcount)


def _convert(prepared: _Prepared, raw_row: Sequence[Any]) -> Any:
    return prepared.row._make(
        value if process is None or value is None else process(value)
        for process, value in zip(prepared.results, raw_row, strict=True)
    )


_cache: dict[tuple[int, tuple[str, ...]], tuple[Any, _Prepared]] = {}


def _prepared(statement: Any, dialect: Dialect, keys: tuple[str, ...]) -> _Prepared:
    key = (id(statement), keys)
    hit = _cache.get(key)
    # The statement is kept with its entry, so its id cannot be reused by another object.
    if hit is not None and hit[0] is statement:
        return hit[1]
    prepared = _Prepared(statement, dialect, keys)
    _cache[key] = (statement, prepared)
    return prepared
