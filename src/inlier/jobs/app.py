"""The procrastinate app: one per process, built from the settings like ``create_app``.

Its tasks are closures over the settings (their cron schedules come from there), the database and
the clock, so a worker needs nothing else. Procrastinate talks to PostgreSQL through psycopg 3,
with its own small connection pool beside SQLAlchemy's asyncpg engine; its tables, functions and
types come with ``inlier db upgrade`` (migration 0011).
"""

from __future__ import annotations

import procrastinate

from inlier.db.engine import Database
from inlier.jobs import tasks
from inlier.kit.clock import Clock
from inlier.notify.mail import MailSender
from inlier.settings import Settings, is_sqlite

#: What every worker of ours does with finished jobs: keep failures to look at, drop the rest
#: (the purge runs hourly and the outbox every minute; the job table would only grow).
WORKER_OPTIONS: dict[str, object] = {"delete_jobs": "successful"}


class NotOnSqlite(ValueError):
    """Procrastinate needs PostgreSQL; on SQLite the server runs its own timer."""


def conninfo(database_url: str) -> str:
    """The libpq URL psycopg wants, from ours (``postgresql://``, ``postgres://`` or with an
    explicit ``+asyncpg``/``+psycopg`` driver)."""
    if is_sqlite(database_url):
        raise NotOnSqlite("background jobs run on PostgreSQL; SQLite purges on the server's timer")
    scheme, sep, rest = database_url.partition("://")
    if not sep or scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise ValueError(f"unsupported database URL: {database_url!r}")
    return "postgresql://" + rest


def build(
    settings: Settings,
    db: Database,
    clock: Clock | None = None,
    *,
    sender: MailSender | None = None,
    concurrency: int = 1,
) -> procrastinate.App:
    """A procrastinate app with our tasks registered; open it (``open_async``) before use."""
    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(settings.database_url),
        # The listener holds one connection; jobs, heartbeats and the periodic deferrer share
        # the rest.
        min_size=1,
        max_size=concurrency + 3,
    )
    app = procrastinate.App(connector=connector)
    tasks.register(app, settings, db, clock or Clock(), sender=sender)
    return app
