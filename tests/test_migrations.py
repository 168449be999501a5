"""Migrations run up, down and up again on both engines, and leave exactly the models' schema."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from conftest import PG_URL
from inlier.db.migrate import downgrade, upgrade
from inlier.db.models import metadata
from inlier.settings import async_database_url

# Reflection cannot compare expression indexes; this one is checked in the catalog instead.
EXPRESSION_INDEXES = {"ix_slots_open"}


# Forum search lives outside the models, because SQLAlchemy has no portable type for it: on
# SQLite an FTS5 virtual table (and the shadow tables FTS5 keeps its index in), on PostgreSQL a
# tsvector column with a GIN index. test_forum_search checks they work; here they are not drift.
FTS_TABLE = "forum_search"
SEARCH_COLUMN = ("forum_posts", "search")
SEARCH_INDEX = "ix_forum_posts_search"


# Background jobs' tables on PostgreSQL are procrastinate's own SQL (migration 0011_jobs), not
# models; test_jobs checks that they work.
JOBS_PREFIX = "procrastinate_"


def _about_jobs(change: Any) -> bool:
    if isinstance(change, list):
        return all(_about_jobs(c) for c in change)
    table = getattr(change[1], "table", change[1]) if len(change) > 1 else None
    return bool(getattr(table, "name", "").startswith(JOBS_PREFIX))


def _about_expression_index(change: Any) -> bool:
    return getattr(change[1], "name", None) in EXPRESSION_INDEXES if change else False


def _about_search(change: Any) -> bool:
    if isinstance(change, list):  # column changes come as lists of tuples
        return all(_about_search(c) for c in change)
    kind = change[0]
    if kind == "remove_table":
        return bool(change[1].name == FTS_TABLE or change[1].name.startswith(FTS_TABLE + "_"))
    if kind == "remove_column":
        return (change[2], change[3].name) == SEARCH_COLUMN
    if kind == "remove_index":
        return bool(change[1].name == SEARCH_INDEX)
    return False


async def _schema_diff(url: str) -> tuple[list[Any], str]:
    engine = create_async_engine(async_database_url(url), poolclass=NullPool)

    def diff(conn: Any) -> list[Any]:
        return compare_metadata(MigrationContext.configure(conn), metadata)

    async with engine.connect() as conn:
        result = await conn.run_sync(diff)
        if conn.dialect.name == "sqlite":
            sql = "SELECT sql FROM sqlite_master WHERE name = 'ix_slots_open'"
        else:
            sql = "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_slots_open'"
        definition = (await conn.exec_driver_sql(sql)).scalar_one()
    await engine.dispose()
    kept = [
        c
        for c in result
        if not _about_expression_index(c) and not _about_search(c) and not _about_jobs(c)
    ]
    return kept, str(definition)


def _check_round_trip(url: str) -> None:
    upgrade(url)
    downgrade(url, "base")
    upgrade(url)
    changes, open_index = asyncio.run(_schema_diff(url))
    assert changes == []
    normalized = " ".join(open_index.replace('"', "").split()).lower()
    assert "priority desc" in normalized and "where" in normalized
    assert "state = 'open'" in normalized.replace("(", "").replace(")", "").replace("::text", "")


def test_sqlite_migrates_up_down_up_to_the_models(tmp_path: Path) -> None:
    _check_round_trip(f"sqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
def test_postgresql_migrates_up_down_up_to_the_models() -> None:
    assert PG_URL
    base, _, name = PG_URL.rpartition("/")
    scratch = f"{name}_migrations"

    async def recreate() -> None:
        conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
            await conn.execute(f'CREATE DATABASE "{scratch}"')
        finally:
            await conn.close()

    asyncio.run(recreate())
    _check_round_trip(f"{base}/{scratch}")
