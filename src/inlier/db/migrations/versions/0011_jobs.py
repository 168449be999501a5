"""jobs: procrastinate's tables, functions and types (PostgreSQL only)

Background jobs on PostgreSQL run on procrastinate, whose schema is SQL it ships
(``SchemaManager.get_schema()``), not SQLAlchemy models; SQLite has no jobs (the server purges
on a timer), so this revision does nothing there. A database that already has the schema (applied
by hand with ``procrastinate schema --apply``) is left as it is. When a procrastinate release
changes its schema, a later revision applies the SQL files it ships for that version
(``SchemaManager.get_migrations_path()``).

Revision ID: 0011_jobs
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op
from sqlalchemy.util import await_only

revision = "0011_jobs"
down_revision = "0008"
branch_labels = None
depends_on = None

#: Everything procrastinate creates is named procrastinate_*; dropped by name, so a schema of any
#: procrastinate version goes.
DROP_ALL = r"""
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT tablename FROM pg_tables
           WHERE schemaname = current_schema() AND tablename LIKE 'procrastinate\_%'
  LOOP
    EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', r.tablename);
  END LOOP;
  FOR r IN SELECT p.oid::regprocedure AS routine FROM pg_proc p
           JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\_%'
  LOOP
    EXECUTE format('DROP ROUTINE IF EXISTS %s CASCADE', r.routine);
  END LOOP;
  FOR r IN SELECT t.typname FROM pg_type t
           JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate\_%'
             AND t.typtype IN ('c', 'e')
  LOOP
    EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', r.typname);
  END LOOP;
END $$;
"""


def _script(sql: str) -> None:
    """Run a multi-statement script on the migration's own connection and transaction (asyncpg
    runs a statement without arguments as a simple query, which may hold several)."""
    raw = op.get_bind().connection.driver_connection
    assert raw is not None
    await_only(raw.execute(sql))


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    present = bind.exec_driver_sql("SELECT to_regclass('procrastinate_jobs')").scalar()
    if present is None:
        from procrastinate.schema import SchemaManager

        _script(SchemaManager.get_schema())


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _script(DROP_ALL)
