"""A weekly pay run at volume: wall time, the slowest SQL statements and peak memory.

Seeds a fresh database set-based (``generate_series``; through the API it would take hours):
--contributors people with a spread of degrees and countries, 10 projects with a rate card
each (hourly and per-task), and --tasks accepted tasks in one week — items, slots, assignments
and responses, as the queue leaves them — and their pay lines, as the queue writes them when
the work is accepted: the set-based sweep writes the same rows as the queue's hook
(``tests/test_pay_ledger.py`` checks it), so the seed uses it. Then ``VACUUM ANALYZE``, as
autovacuum would have over the week. ``--no-lines`` leaves the lines out (work recorded
before lines were written at acceptance): the run's sweep writes all of them.

Then it closes the week with the same service the API and ``inlier payroll run`` call, and
prints the seconds each step took, the CPU time of this process and of the PostgreSQL backend
that ran it, the slowest statements, the process's peak RSS, and checks the result (one
statement per person; the statements' total is the sum of the lines in the week).

    .venv/bin/python bench/payrun.py                                   # SQLite, 10k x 100k
    .venv/bin/python bench/payrun.py --url postgresql://postgres@127.0.0.1:5432/inlier_bench_pay \
        --contributors 100000 --tasks 2000000
    … --explain       # the plans of the run's slow statements, in PostgreSQL's server log
    … --keep          # keep the database, to look at it in psql

The PostgreSQL database named in --url is dropped and created again, and dropped at the end
unless --keep.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import tempfile
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from _common import conditions
from sqlalchemy import event, text

from inlier.db.engine import Database
from inlier.db.migrate import upgrade
from inlier.pay import service as pay
from inlier.settings import Settings

WEEK = date(2026, 11, 16)
PROJECTS = 10


async def recreate_pg(url: str, drop_only: bool = False) -> None:
    base, _, name = url.rpartition("/")
    conn = await asyncpg.connect(f"{base}/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        if not drop_only:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def _series(pg: bool, n: str) -> str:
    """Rows ``g`` = 1..n: generate_series on PostgreSQL, a recursive CTE on SQLite."""
    if pg:
        return f"generate_series(1, CAST({n} AS bigint)) AS s(g)"
    return (
        f"(WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {n}) "
        "SELECT g FROM s) AS s"
    )


async def seed(db: Database, pg: bool, contributors: int, tasks: int) -> None:
    start = datetime.combine(WEEK, datetime.min.time())
    at = (
        "(CAST(:start AS timestamp) + make_interval(secs => (g % 518400)))"
        if pg
        else "strftime('%Y-%m-%d %H:%M:%f', :start, '+' || (g % 518400) || ' seconds')"
    )
    json_ = "CAST({} AS jsonb)" if pg else "{}"
    countries = "ARRAY['US','BR','IN','DE','NG','PH','KE','MX']" if pg else None
    degrees = "ARRAY['PhD','MD','MSc','BSc','JD']" if pg else None

    def pick(arr: str | None, options: list[str], g: str) -> str:
        if arr is not None:
            return f"({arr})[1 + ({g}) % {len(options)}]"
        whens = " ".join(f"WHEN {i} THEN '{o}'" for i, o in enumerate(options))
        return f"(CASE ({g}) % {len(options)} {whens} END)"

    country = pick(countries, ["US", "BR", "IN", "DE", "NG", "PH", "KE", "MX"], "g")
    degree = pick(degrees, ["PhD", "MD", "MSc", "BSc", "JD"], "g / 8")
    obj = "jsonb_build_object" if pg else "json_object"
    roles = json_.format("'[\"contributor\"]'")
    empty = json_.format("'{}'")
    statements = [
        (
            "INSERT INTO users (id, email, name, password_hash, roles, profile, status, active, "
            f"created_at) SELECT g, 'u' || g || '@bench', 'U ' || g, 'x', "
            f"{roles}, "
            f"{obj}('country', {country}, 'degree', {degree}), 'approved', true, :start "
            f"FROM {_series(pg, str(contributors))}"
        ),
        (
            "INSERT INTO projects (id, name, guidelines, template, workflow, requirements, "
            "models, quality, export, lease_minutes, status, visibility, pseudonym_salt, "
            "created_at, updated_at) SELECT g, 'P ' || g, '', "
            + ", ".join([empty] * 6)
            + ", 30, 'active', 'members', 'salt' || g, :start, :start "
            + f"FROM {_series(pg, str(PROJECTS))}"
        ),
        (
            "INSERT INTO items (id, project_id, data, priority, created_at) "
            f"SELECT g, 1 + g % {PROJECTS}, {empty}, 0, :start "
            f"FROM {_series(pg, str(tasks))}"
        ),
        (
            "INSERT INTO slots (id, project_id, item_id, stage, replica, state, priority) "
            f"SELECT g, 1 + g % {PROJECTS}, g, 'attempt', 0, 'done', 0 "
            f"FROM {_series(pg, str(tasks))}"
        ),
        (
            "INSERT INTO assignments (id, slot_id, project_id, item_id, user_id, stage, state, "
            "created_at, expires_at, active_seconds) "
            f"SELECT g, g, 1 + g % {PROJECTS}, g, 1 + (g * 7919) % {contributors}, 'attempt', "
            f"'submitted', {at}, {at}, 60 + g % 2400 FROM {_series(pg, str(tasks))}"
        ),
        (
            "INSERT INTO responses (id, project_id, item_id, slot_id, assignment_id, user_id, "
            "stage, active_seconds, created_at, status, needs_review) "
            f"SELECT g, 1 + g % {PROJECTS}, g, g, g, 1 + (g * 7919) % {contributors}, 'attempt', "
            f"60 + g % 2400, {at}, 'submitted', false FROM {_series(pg, str(tasks))}"
        ),
    ]
    async with db.session() as s:
        for sql in statements:
            await s.execute(text(sql), {"start": start})
        if pg:
            for table in ("users", "projects", "items", "slots", "assignments", "responses"):
                await s.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
        for p in range(1, PROJECTS + 1):
            rate = (
                {"hourly": {"amount": 2500 + 250 * p, "currency": "USD"}}
                if p % 2
                else {"per_task": {"amount": 300 + 10 * p, "currency": "USD"}}
            )
            card = {
                "stages": {"attempt": rate},
                "multipliers": {
                    "degree": {"PhD": 1.25, "MD": 1.25, "JD": 1.1},
                    "location_tier": {"1": 1, "2": 0.8, "3": 0.6},
                },
                "phase": "core",
                "phase_multipliers": {"onboarding": 0.75, "core": 1, "overtime": 0.85},
                "max_minutes_per_task": 30,
                "rejected_work": {"pay_fraction": 0},
                **({"hourly_floor": {"amount": 1500, "currency": "USD"}} if p == 1 else {}),
            }
            await s.execute(
                text(
                    "INSERT INTO rate_cards (project_id, version, effective_from, card, "
                    f"created_at) VALUES (:p, 1, :start, {json_.format(':card')}, :start)"
                ),
                {"p": p, "start": start, "card": json.dumps(card)},
            )
        await s.execute(
            text(
                "INSERT INTO pay_settings (id, currency, payout_threshold, auto_accept_days, "
                f"default_location_tier, timezone, location_tiers) VALUES (1, 'USD', 2000, 7, 2, "
                f"'UTC', {json_.format(':tiers')})"
            ),
            {"tiers": '{"US": 1, "DE": 1, "BR": 2, "MX": 2, "IN": 3, "NG": 3, "PH": 3, "KE": 3}'},
        )
    if pg:
        async with db.session() as s:
            await s.execute(text("ANALYZE"))


def _cpu_of(pid: int | None) -> float:
    """User + system CPU seconds of a local process (the PostgreSQL backend), 0 if unknown."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Statements:
    """Every SQL statement's wall time, summed by its text."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self.params: dict[str, Any] = {}

    def attach(self, db: Database) -> None:
        engine = db.engine.sync_engine

        @event.listens_for(engine, "before_cursor_execute")
        def before(
            conn: Any, cursor: Any, statement: str, params: Any, ctx: Any, many: Any
        ) -> None:
            conn.info.setdefault("t0", []).append(time.perf_counter())

        @event.listens_for(engine, "after_cursor_execute")
        def after(conn: Any, cursor: Any, statement: str, params: Any, ctx: Any, many: Any) -> None:
            t0 = conn.info["t0"].pop()
            self.times[statement].append(time.perf_counter() - t0)
            self.params[statement] = params

    def slowest(self, n: int = 6) -> list[tuple[float, int, str]]:
        rows = [(sum(v), len(v), k) for k, v in self.times.items()]
        return sorted(rows, reverse=True)[:n]


async def main(args: argparse.Namespace, url: str) -> None:
    pg = url.startswith("postgresql")
    print(conditions(), flush=True)
    db = Database(Settings(database_url=url, log_level="WARNING"), null_pool=True)
    t0 = time.perf_counter()
    await seed(db, pg, args.contributors, args.tasks)
    seeded = time.perf_counter() - t0
    now = datetime(2026, 12, 1)
    prewritten = 0.0
    if not args.no_lines:
        t1 = time.perf_counter()
        async with db.session() as s:
            # As the queue's hook would have, when each piece of work was accepted.
            await pay.accrue(s, datetime.combine(WEEK, datetime.min.time()) + timedelta(days=7))
        prewritten = time.perf_counter() - t1
        if pg:
            conn = await asyncpg.connect(url)
            try:
                await conn.execute("VACUUM ANALYZE")
            finally:
                await conn.close()
    rss_seed = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stmts = Statements()
    stmts.attach(db)
    marks: dict[str, float] = {}
    t1 = time.perf_counter()

    def progress(name: str) -> None:
        marks[name] = time.perf_counter() - t1

    cpu0 = time.process_time()
    async with db.session() as s:
        backend = await s.scalar(text("SELECT pg_backend_pid()")) if pg else None
        server0 = _cpu_of(backend)
        if args.explain and pg:
            # EXPLAIN ANALYZE of every statement over a second, into the server's log.
            await s.execute(text("LOAD 'auto_explain'"))
            await s.execute(text("SET auto_explain.log_min_duration = 1000"))
            await s.execute(text("SET auto_explain.log_analyze = on"))
            await s.execute(text("SET auto_explain.log_buffers = on"))
            await s.execute(text("SET auto_explain.log_triggers = on"))
        run, created = await pay.create_payrun(s, None, WEEK, now, progress)
        out = pay.payrun_out(run)
        server = _cpu_of(backend) - server0
    elapsed = time.perf_counter() - t1
    cpu = time.process_time() - cpu0
    async with db.session() as s:
        lines, line_total = (
            await s.execute(
                text(
                    "SELECT count(*), coalesce(sum(amount), 0) FROM earnings_lines "
                    "WHERE period_start < :end"
                ),
                {"end": run.period_end},
            )
        ).one()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    before = "no" if args.no_lines else "yes (as the queue writes them)"
    print(
        f"engine={'postgresql' if pg else 'sqlite'} contributors={args.contributors:,} "
        f"tasks={args.tasks:,} lines written before the run: {before}"
    )
    print(
        f"seed: {seeded:.1f} s"
        + (f"; lines written before: {prewritten:.1f} s" if prewritten else "")
    )
    m = marks.get
    print(
        f"pay run: {elapsed:.1f} s — lines {m('bonuses', 0) - m('lines', 0):.1f} s, "
        f"bonuses {marks.get('statements', 0) - marks.get('bonuses', 0):.1f} s, statements "
        f"{marks.get('done', 0) - marks.get('statements', 0):.1f} s, the rest "
        f"{elapsed - marks.get('done', 0):.1f} s"
    )
    print(
        f"  {out['statements']:,} statements, {lines:,} lines, total {out['total']:,} minor units"
    )
    print(
        f"CPU during the run: this process {cpu:.1f} s"
        + (f", the PostgreSQL backend {server:.1f} s" if pg else "")
    )
    print("slowest statements (total s, calls, SQL):")
    for total, calls, sql in stmts.slowest():
        print(f"  {total:7.2f} s {calls:5d}x  {' '.join(sql.split())[:150]}")
    print(f"peak RSS: {peak_mib:.0f} MiB (after seeding and writing the lines: {rss_seed:.0f} MiB)")
    assert created and out["statements"] == min(args.contributors, args.tasks), out
    assert out["total"] == line_total, (out["total"], line_total)
    await db.dispose()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default=None, help="postgresql://… (default: a temporary SQLite)")
    ap.add_argument("--contributors", type=int, default=None)
    ap.add_argument("--tasks", type=int, default=None)
    ap.add_argument(
        "--no-lines",
        action="store_true",
        help="seed no pay lines (work recorded before the queue wrote them): the run writes all",
    )
    ap.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    ap.add_argument(
        "--explain",
        action="store_true",
        help="PostgreSQL: auto_explain (ANALYZE) of the run's slow statements into the server log",
    )
    args = ap.parse_args()
    url = args.url
    if url is None:
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
        args.contributors = args.contributors or 10_000
        args.tasks = args.tasks or 100_000
    else:
        args.contributors = args.contributors or 100_000
        args.tasks = args.tasks or 2_000_000
    if url.startswith("postgresql"):
        asyncio.run(recreate_pg(url))
    upgrade(url)
    try:
        asyncio.run(main(args, url))
    finally:
        if url.startswith("postgresql") and not args.keep:
            asyncio.run(recreate_pg(url, drop_only=True))
