"""Background jobs on PostgreSQL: procrastinate workers purge expired personal data and send the
outbox, inside `inlier serve` or as `inlier worker`, each job once however many workers run."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from conftest import World, make_settings
from inlier.accounts.models import LoginFailure
from inlier.app import create_app
from inlier.cli import app as cli_app
from inlier.db.engine import Database
from inlier.jobs import app as jobs_app
from inlier.jobs import tasks, worker
from inlier.kit.clock import Clock
from inlier.notify import service as notify
from inlier.notify.models import Notification, OutboxMail
from inlier.privacy import retention
from inlier.privacy.models import Consent
from inlier.settings import Settings
from inlier.workflow.models import Assignment
from test_notify import Inbox, smtp  # noqa: F401 - the SMTP server fixture

ON_POSTGRES = pytest.mark.parametrize(
    "engine_name", [pytest.param("postgresql", marks=pytest.mark.postgres)]
)
NOWHERE = "postgresql://nobody@127.0.0.1:1/nothing"  # never connected to


def _dsn(url: str) -> str:
    return jobs_app.conninfo(url)


async def _fetch(url: str, sql: str) -> list[Any]:
    conn = await asyncpg.connect(_dsn(url))
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


async def _until(check: Callable[[], Awaitable[bool]], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def _count(db: Database, stmt: Any) -> int:
    async with db.session() as s:
        return int(await s.scalar(stmt) or 0)


async def _personal_data(world: World, w: Any, proj: dict[str, Any], version: str) -> None:
    """One of each kind of data retention purges, for ``w``: a sign-in failure, a consent with
    its address, a draft of a task they skipped, and a read notification."""
    admin = await world.admin()
    r = await admin.post("/policies", json={"version": version, "markdown": "policy"})
    assert r.status_code == 201, r.text
    assert (await w.post("/me/consents", json={"policy_version": version})).status_code == 201
    bad = await world.client.post(
        "/api/v1/auth/token", json={"email": w.email, "password": "wrong-password"}
    )
    assert bad.status_code == 401
    a = (await w.next(proj["id"])).json()
    assert (
        await w.put(f"/assignments/{a['id']}/draft", json={"answer": {"x": 1}})
    ).status_code == 200
    assert (await w.post(f"/assignments/{a['id']}/skip")).status_code == 200
    async with world.app.state.db.session() as s:
        await notify.send(s, int(w.id), "note", "hello", "", None, world.app.state.clock.now())
    ids = [n["id"] for n in (await w.get("/me/notifications")).json()["data"]]
    assert (await w.post("/me/notifications/read", json={"ids": ids})).status_code == 200


async def _old_and_fresh(world: World, clock: Clock) -> tuple[Any, Any]:
    """Personal data made 100 days ago (past every default retention) and made now."""
    _owner, proj, (old, fresh) = await world.team(n_items=4)
    await _personal_data(world, old, proj, "v1")
    clock.advance(timedelta(days=100))
    await _personal_data(world, fresh, proj, "v2")
    return old, fresh


async def _assert_only_fresh_left(db: Database, old: Any, fresh: Any) -> None:
    for who, left in ((old, 0), (fresh, 1)):
        uid = int(who.id)
        assert await _count(db, select(func.count()).where(LoginFailure.email == who.email)) == left
        with_address = select(func.count()).where(
            Consent.user_id == uid, Consent.address_hash.is_not(None)
        )
        assert await _count(db, with_address) == left
        drafts = select(func.count()).where(
            Assignment.user_id == uid, Assignment.draft.is_not(None)
        )
        assert await _count(db, drafts) == left
        notes = select(func.count()).where(Notification.user_id == uid)
        assert await _count(db, notes) == left
    # Consents themselves stay; only their addresses go.
    assert await _count(db, select(func.count()).select_from(Consent)) == 2


# -- building the app ---------------------------------------------------------------------------


def test_the_database_url_becomes_a_libpq_conninfo() -> None:
    assert jobs_app.conninfo("postgresql://u@h:5432/db") == "postgresql://u@h:5432/db"
    assert jobs_app.conninfo("postgres://u@h/db") == "postgresql://u@h/db"
    assert jobs_app.conninfo("postgresql+asyncpg://u:p@h/db") == "postgresql://u:p@h/db"
    with pytest.raises(jobs_app.NotOnSqlite):
        jobs_app.conninfo("sqlite:///x.db")
    with pytest.raises(ValueError):
        jobs_app.conninfo("mysql://u@h/db")


def _periodic(settings: Settings) -> dict[str, str]:
    app = jobs_app.build(settings, Database(settings, null_pool=True))
    return {t.task.name: t.cron for t in app.periodic_registry.periodic_tasks.values()}


def test_periodic_tasks_follow_the_configured_cron() -> None:
    default = Settings(database_url=NOWHERE)
    assert _periodic(default) == {tasks.PURGE: "7 * * * *"}  # no SMTP host: no outbox job
    mailing = Settings(
        database_url=NOWHERE, purge_cron="*/5 * * * *", smtp_host="mail.test", mail_cron="0 * * * *"
    )
    assert _periodic(mailing) == {tasks.PURGE: "*/5 * * * *", tasks.SEND_MAIL: "0 * * * *"}
    # An empty schedule turns a periodic job off; the task can still be deferred.
    quiet = Settings(database_url=NOWHERE, purge_cron="")
    assert _periodic(quiet) == {}
    assert tasks.PURGE in jobs_app.build(quiet, Database(quiet, null_pool=True)).tasks


def test_a_bad_cron_schedule_is_refused_when_settings_load() -> None:
    with pytest.raises(ValueError, match="not a cron schedule"):
        Settings(purge_cron="every hour")


# -- running jobs on PostgreSQL -----------------------------------------------------------------


@ON_POSTGRES
async def test_a_worker_purges_old_personal_data_and_keeps_fresh(
    world: World, app: Any, clock: Clock, db_url: str
) -> None:
    old, fresh = await _old_and_fresh(world, clock)
    db: Database = app.state.db
    jobs = jobs_app.build(app.state.settings, db, clock)
    async with jobs.open_async():
        await jobs.tasks[tasks.PURGE].defer_async(timestamp=int(time.time()))
        await jobs.run_worker_async(wait=False, install_signal_handlers=False, **_options())
    await _assert_only_fresh_left(db, old, fresh)
    # The job succeeded (successful jobs are deleted; a failed one would stay).
    assert await _fetch(db_url, "SELECT status FROM procrastinate_jobs") == []


def _options() -> Any:
    return dict(jobs_app.WORKER_OPTIONS)


@ON_POSTGRES
async def test_one_purge_waits_in_the_queue_at_a_time(app: Any, clock: Clock, db_url: str) -> None:
    from procrastinate.exceptions import AlreadyEnqueued

    jobs = jobs_app.build(app.state.settings, app.state.db, clock)
    async with jobs.open_async():
        await jobs.tasks[tasks.PURGE].defer_async(timestamp=1)
        with pytest.raises(AlreadyEnqueued):
            await jobs.tasks[tasks.PURGE].defer_async(timestamp=2)
    rows = await _fetch(db_url, "SELECT task_name, status FROM procrastinate_jobs")
    assert [(r["task_name"], r["status"]) for r in rows] == [(tasks.PURGE, "todo")]


@ON_POSTGRES
async def test_concurrent_purges_neither_fail_nor_double_count(
    world: World, app: Any, clock: Clock
) -> None:
    old, fresh = await _old_and_fresh(world, clock)
    db: Database = app.state.db
    settings = app.state.settings

    async def purge() -> retention.Purged:
        async with db.session() as s:
            return await retention.purge(s, settings, clock.now())

    first, second = await asyncio.gather(purge(), purge())
    total = [a + b for a, b in zip(vars(first).values(), vars(second).values(), strict=True)]
    # Each old row counted once, by whichever purge got to it: 1 failure, 1 consent address,
    # 1 draft, 1 notification.
    assert total == [1, 1, 1, 1]
    await _assert_only_fresh_left(db, old, fresh)


@ON_POSTGRES
async def test_two_servers_workers_run_purge_jobs_side_by_side_without_failing(
    world: World, app: Any, clock: Clock, db_url: str
) -> None:
    old, fresh = await _old_and_fresh(world, clock)
    settings = app.state.settings
    # Two purge jobs (the second under another queueing lock, as a late periodic tick would find
    # the first running), and two workers, as two `inlier serve` processes run them.
    dbs = [Database(settings), Database(settings)]
    try:
        jobs = jobs_app.build(settings, dbs[0], clock)
        async with jobs.open_async():
            purge = jobs.tasks[tasks.PURGE]
            await purge.defer_async(timestamp=1)
            await purge.configure(queueing_lock="another").defer_async(timestamp=2)
        async with (
            worker.in_server(dbs[0], settings, clock),
            worker.in_server(dbs[1], settings, clock),
        ):

            async def drained() -> bool:
                return not await _fetch(db_url, "SELECT id FROM procrastinate_jobs")

            await _until(drained)
        # Both workers stopped cleanly: they unregistered.
        assert await _fetch(db_url, "SELECT id FROM procrastinate_workers") == []
    finally:
        for d in dbs:
            await d.dispose()
    await _assert_only_fresh_left(app.state.db, old, fresh)


@ON_POSTGRES
async def test_the_server_runs_a_worker_for_its_lifetime_unless_told_not_to(
    db_url: str, tmp_path: Any
) -> None:
    workers = "SELECT id FROM procrastinate_workers"
    server = create_app(make_settings(db_url, data_dir=tmp_path))
    async with server.router.lifespan_context(server):

        async def registered() -> bool:
            return len(await _fetch(db_url, workers)) == 1

        await _until(registered)
        jobs = jobs_app.build(server.state.settings, server.state.db)
        async with jobs.open_async():
            await jobs.tasks[tasks.PURGE].defer_async(timestamp=1)

        async def done() -> bool:
            return not await _fetch(db_url, "SELECT id FROM procrastinate_jobs")

        await _until(done)
    assert await _fetch(db_url, workers) == []
    alone = create_app(make_settings(db_url, data_dir=tmp_path, worker_in_server=False))
    async with alone.router.lifespan_context(alone):
        await asyncio.sleep(0.5)
        assert await _fetch(db_url, workers) == []


@ON_POSTGRES
async def test_a_worker_sends_the_outbox(
    world: World,
    app: Any,
    clock: Clock,
    db_url: str,
    smtp: tuple[Inbox, int],  # noqa: F811
) -> None:
    inbox, port = smtp
    who = await world.user("contributor")
    async with app.state.db.session() as s:
        for n in range(3):
            await notify.send(
                s, int(who.id), "reply", f"Reply {n}", "b", None, clock.now(), email=True
            )
    settings = make_settings(db_url, smtp_host="127.0.0.1", smtp_port=port)
    jobs = jobs_app.build(settings, app.state.db, clock)
    async with jobs.open_async():
        await jobs.tasks[tasks.SEND_MAIL].defer_async(timestamp=1)
        await jobs.run_worker_async(wait=False, install_signal_handlers=False, **_options())
    assert sorted(m["Subject"] for _, m in inbox.messages) == ["Reply 0", "Reply 1", "Reply 2"]
    states = select(OutboxMail.state).distinct()
    async with app.state.db.session() as s:
        assert list((await s.scalars(states)).all()) == ["sent"]


# -- the command --------------------------------------------------------------------------------


def test_inlier_worker_explains_itself_and_refuses_sqlite(tmp_path: Any) -> None:
    r = CliRunner().invoke(cli_app, ["worker", "--help"])
    assert r.exit_code == 0
    assert "INLIER_PURGE_CRON" in r.output and "--concurrency" in r.output
    r = CliRunner().invoke(cli_app, ["worker", "--database-url", f"sqlite:///{tmp_path / 'x.db'}"])
    assert r.exit_code == 2 and "PostgreSQL" in r.output


@ON_POSTGRES
async def test_inlier_worker_runs_until_sigterm_then_unregisters(db_url: str) -> None:
    env = {**os.environ, "INLIER_DATABASE_URL": db_url, "INLIER_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "inlier", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:

        async def registered() -> bool:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            return len(await _fetch(db_url, "SELECT id FROM procrastinate_workers")) == 1

        await _until(registered, 30)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert await _fetch(db_url, "SELECT id FROM procrastinate_workers") == []


@ON_POSTGRES
def test_inlier_worker_asks_for_a_migrated_database(db_url: str) -> None:
    base, _, name = db_url.rpartition("/")
    bare = f"{name}_bare"

    async def recreate() -> None:
        conn = await asyncpg.connect(_dsn(db_url))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{bare}"')
            await conn.execute(f'CREATE DATABASE "{bare}"')
        finally:
            await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(_dsn(db_url))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{bare}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(recreate())
    try:
        r = CliRunner().invoke(cli_app, ["worker", "--database-url", f"{base}/{bare}"])
    finally:
        asyncio.run(drop())  # the database is ours to remove, whatever the outcome
    assert r.exit_code == 2 and "inlier db upgrade" in r.output
