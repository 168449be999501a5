"""Where jobs run: inside each `inlier serve` process (``background``) or in a dedicated
`inlier worker` process (``run``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import structlog

from inlier.db.engine import Database
from inlier.kit.clock import Clock
from inlier.settings import Settings

log = structlog.get_logger()


class SchemaMissing(RuntimeError):
    """The database has no procrastinate tables: it was not migrated."""


def background(
    db: Database, settings: Settings, clock: Clock
) -> contextlib.AbstractAsyncContextManager[None]:
    """The server's background work for as long as the app lives: the purge timer on SQLite; on
    PostgreSQL a procrastinate worker, unless ``INLIER_WORKER_IN_SERVER`` is off."""
    if db.sqlite:
        from inlier.privacy import retention

        return retention.purging(db, settings, clock)
    if not settings.worker_in_server:
        return contextlib.nullcontext()
    return in_server(db, settings, clock)


@contextlib.asynccontextmanager
async def in_server(db: Database, settings: Settings, clock: Clock) -> AsyncIterator[None]:
    """Run a procrastinate worker beside the app, sharing its database and clock; the server's
    own signal handling stops it (cancelling it lets running jobs finish first)."""
    from inlier.jobs.app import WORKER_OPTIONS, build

    app = build(settings, db, clock)
    async with app.open_async():
        options: Any = {
            **WORKER_OPTIONS,
            "name": f"serve-{os.getpid()}",
            "install_signal_handlers": False,
        }
        task = asyncio.create_task(app.run_worker_async(**options), name="inlier-jobs")
        task.add_done_callback(_report_death)
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _report_death(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the job worker stopped", exc_info=task.exception())


async def run(
    settings: Settings,
    *,
    concurrency: int = 1,
    wait: bool = True,
    name: str | None = None,
    clock: Clock | None = None,
) -> None:
    """Run a dedicated worker until SIGINT/SIGTERM (or, with ``wait=False``, until the queue is
    empty). Raises ``SchemaMissing`` when the database was not migrated."""
    from inlier.jobs.app import WORKER_OPTIONS, build

    db = Database(settings)
    app = build(settings, db, clock, concurrency=concurrency)
    try:
        async with app.open_async():
            if not await app.check_connection_async():
                raise SchemaMissing("no job tables in this database: run `inlier db upgrade`")
            options: Any = {
                **WORKER_OPTIONS,
                "name": name or f"worker-{os.getpid()}",
                "concurrency": concurrency,
                "wait": wait,
            }
            await app.run_worker_async(**options)
    finally:
        await db.dispose()
