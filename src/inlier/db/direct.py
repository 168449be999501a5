"""Prebuilt Core statements run straight on the driver connection, on the hot path.

Through SQLAlchemy's async engine, one indexed statement costs ~60 µs of Python: a greenlet
hop, the execution context, the async cursor adapter, result metadata. SQLite itself answers
it in a few µs, and asyncpg runs a prepared statement for ~15 µs of Python. ``Direct`` runs a
statement the hot path has built once at import on the driver connection under the session's
transaction, with the same SQL, the same parameter conversions and the same row conversions
SQLAlchemy would apply (taken from the statement compiled by SQLAlchemy for the dialect), and
raises SQLAlchemy's exceptions.

On PostgreSQL it goes through SQLAlchemy's asyncpg adapter for what the adapter owns: its
lock, the transaction it starts on first use, its cache of prepared statements, and its
translation of errors. Those are the adapter's internals; when they are not there (another
SQLAlchemy release), statements go through SQLAlchemy as before, and the tests say so.

What it does not take as it is goes to SQLAlchemy instead: a statement with column defaults
computed in Python, expanding parameters, or result names that are not identifiers.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections import namedtuple
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from inlier.db.sqlite_inline import InlineConnection

#: Called with each statement's SQL and seconds (benchmarks list the statements of a cycle).
statement_observers: list[Callable[[str, float], None]] = []


class _Prepared:
    """One statement compiled for the dialect with one set of parameter names."""

    def __init__(self, statement: Any, dialect: Dialect, keys: tuple[str, ...]) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        self.usable = not (
            compiled.insert_prefetch
            or compiled.update_prefetch
            or any(b.expanding or b.callable is not None for b in compiled.binds.values())
            or compiled.positiontup is None
            or "POSTCOMPILE" in compiled.string
        )
        self.sql: str = compiled.string
        self.compiled = compiled
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        processors = compiled._bind_processors
        binds = compiled.binds
        # Per position: the caller's parameter, or the value the statement carries itself.
        self.binds = tuple(
            (n, processors.get(n), binds[n].value, binds[n].required)
            if n in binds
            else (n, None, None, True)
            for n in self.names
        )
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
        processed = [
            (i, c[3]._cached_result_processor(dialect, None)) for i, c in enumerate(columns)
        ]
        self.results = tuple((i, p) for i, p in processed if p is not None)

    def parameters(self, given: dict[str, Any]) -> tuple[Any, ...]:
        out = []
        for name, process, carried, required in self.binds:
            if name in given:
                value = given[name]
            elif required:
                raise exc.ArgumentError(f"a value is required for bind parameter {name!r}")
            else:
                value = carried
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


# What Direct uses of SQLAlchemy's asyncpg adapter.
_ASYNCPG_ADAPTER = ("_execute_mutex", "_transaction", "_start_transaction", "_prepare")
_STATUS = re.compile(r"(?:SELECT|UPDATE|DELETE|INSERT \d+) (\d+)")


class Direct:
    """``execute`` as on an ``AsyncConnection``, straight on the driver where it can."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.dialect = conn.dialect
        fairy = conn.sync_connection.connection if conn.sync_connection else None
        driver = fairy.driver_connection if fairy is not None else None
        self.raw: sqlite3.Connection | None = (
            driver._connection if isinstance(driver, InlineConnection) else None
        )
        adapter = fairy.dbapi_connection if fairy is not None else None
        self.pg: Any = (
            adapter
            if self.dialect.driver == "asyncpg"
            and all(hasattr(adapter, a) for a in _ASYNCPG_ADAPTER)
            and hasattr(self.dialect, "_invalidate_schema_cache_asof")
            else None
        )

    async def execute(self, statement: Any, params: dict[str, Any] | None = None) -> Any:
        raw = self.raw
        # SQLite: only inside the transaction (BEGIN IMMEDIATE holds the write lock); outside
        # one a statement could meet another process's lock, which the inline driver waits for.
        if (raw is None or not raw.in_transaction) and self.pg is None:
            return await self.conn.execute(statement, params)
        given = params or {}
        prepared = _prepared(statement, self.dialect, tuple(sorted(given)))
        if not prepared.usable:
            return await self.conn.execute(statement, params)
        args = prepared.parameters(given)
        started = time.perf_counter() if statement_observers else 0.0
        if raw is not None:
            fetched, rowcount = self._sqlite(raw, prepared, args)
        else:
            fetched, rowcount = await self._asyncpg(prepared, args)
        if statement_observers:
            elapsed = time.perf_counter() - started
            for observe in statement_observers:
                observe(prepared.sql, elapsed)
        return Rows([_convert(prepared, r) for r in fetched], rowcount)

    def _sqlite(
        self, raw: sqlite3.Connection, prepared: _Prepared, args: tuple[Any, ...]
    ) -> tuple[list[Any], int]:
        try:
            cursor = raw.execute(prepared.sql, args)
            return (cursor.fetchall() if prepared.returns_rows else []), cursor.rowcount
        except sqlite3.Error as error:
            raise exc.DBAPIError.instance(
                prepared.sql, args, error, sqlite3.Error, dialect=self.dialect
            ) from error

    async def _asyncpg(self, prepared: _Prepared, args: tuple[Any, ...]) -> tuple[list[Any], int]:
        pg = self.pg
        async with pg._execute_mutex:
            try:
                # As the adapter's cursor does: its transaction, begun on first use.
                if pg._transaction is None:
                    await pg._start_transaction()
                statement, _ = await pg._prepare(
                    prepared.sql,
                    self.dialect._invalidate_schema_cache_asof,  # type: ignore[attr-defined]
                )
                fetched = await statement.fetch(*args)
                found = _STATUS.match(statement.get_statusmsg() or "")
                return list(fetched), int(found.group(1)) if found else -1
            except exc.DBAPIError:
                raise
            except Exception as error:
                raise self._translated(prepared, args, error) from error

    def _translated(self, prepared: _Prepared, args: tuple[Any, ...], error: Exception) -> Any:
        """The SQLAlchemy exception the engine would raise for ``error``."""
        dbapi = self.dialect.loaded_dbapi
        if not isinstance(error, dbapi.Error):
            try:
                self.pg._handle_exception(error)  # raises the DBAPI-level translation
            except Exception as translated:
                error = translated
        return exc.DBAPIError.instance(prepared.sql, args, error, dbapi.Error, dialect=self.dialect)


def _convert(prepared: _Prepared, raw_row: Sequence[Any]) -> Any:
    values = list(raw_row)
    for i, process in prepared.results:
        if values[i] is not None:
            values[i] = process(values[i])
    return prepared.row._make(values)


_UNUSABLE: Any = SimpleNamespace(usable=False)
_cache: dict[tuple[int, str, tuple[str, ...]], tuple[Any, _Prepared]] = {}


def _prepared(statement: Any, dialect: Dialect, keys: tuple[str, ...]) -> _Prepared:
    key = (id(statement), dialect.name, keys)
    hit = _cache.get(key)
    # The statement is kept with its entry, so its id cannot be reused by another object.
    if hit is not None and hit[0] is statement:
        return hit[1]
    try:
        prepared = _Prepared(statement, dialect, keys)
    except AttributeError:
        # A SQLAlchemy release without the compiled parts read here: SQLAlchemy runs it.
        prepared = _UNUSABLE
    _cache[key] = (statement, prepared)
    return prepared
