"""Does `next` cost grow with history? next + submit latency with 10,000 vs 1,000,000 done.

Builds two databases of the chosen engine, each with one pairwise project holding --open open
items plus a history of done items (10,000 in one, 1,000,000 in the other by default). The
history is written set-wise with SQL for speed — items, their slots marked done, submitted
assignments, responses and touches, all attributed to the very contributors who are measured
(the worst case for their per-person lookups). Then a real `inlier serve` runs on each and the
same clients call POST /assignments/next + POST /assignments/{id}/submit over HTTP, alternating
between the two servers round by round so that machine noise hits both alike. Prints both
latency profiles, their ratio, server CPU per cycle, and the query plan of the slot-picking
query (taken from inlier.workflow.service, compiled for the engine) on both databases.

    .venv/bin/python bench/next_cost.py                         # SQLite
    .venv/bin/python bench/next_cost.py --db postgresql
    .venv/bin/python bench/next_cost.py --db both --large 200000  # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import (
    ANSWER,
    Api,
    Cleanup,
    RawHttp,
    Server,
    conditions,
    db_size,
    inlier_init,
    item_pool,
    log,
    make_contributors,
    make_database,
    pct,
    psql,
    psql_file,
    start_server,
    table,
    temp_dir,
)

# ---- history, written set-wise -------------------------------------------------------------


def fill_sqlite(url: str, project_id: int, users: list[int], done: int, open_: int) -> None:
    path = url.removeprefix("sqlite:///")
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    pool = item_pool(size=512)
    answer = json.dumps(ANSWER)
    c = sqlite3.connect(path, isolation_level=None)
    try:
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA synchronous=OFF")
        c.execute("PRAGMA cache_size=-262144")
        c.execute("BEGIN")
        c.execute("CREATE TEMP TABLE pool (k INTEGER PRIMARY KEY, t TEXT)")
        c.executemany("INSERT INTO pool VALUES (?, ?)", list(enumerate(pool)))
        c.execute("CREATE TEMP TABLE people (k INTEGER PRIMARY KEY, uid INTEGER)")
        c.executemany("INSERT INTO people VALUES (?, ?)", list(enumerate(users)))
        n = len(pool)
        steps = [
            (
                "items",
                f"""INSERT INTO items (project_id, external_id, data, gold, priority, import_batch,
                    created_at)
                WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
                SELECT ?, 'bench-' || i,
                       json_object('prompt', 'Case ' || i || '. ' || a.t, 'response_a', b.t,
                                   'response_b', c.t),
                       NULL, 0, 'bench', ?
                FROM seq JOIN pool a ON a.k = i % {n} JOIN pool b ON b.k = (i * 7 + 1) % {n}
                     JOIN pool c ON c.k = (i * 13 + 5) % {n}""",
                (done + open_, project_id, now),
            ),
            (
                "slots",
                """INSERT INTO slots (project_id, item_id, stage, replica, state, priority)
                SELECT project_id, id, 'attempt', 0,
                       CASE WHEN id < (SELECT min(id) FROM items WHERE project_id = ?) + ?
                            THEN 'done' ELSE 'open' END, 0
                FROM items WHERE project_id = ? ORDER BY id""",
                (project_id, done, project_id),
            ),
            (
                "assignments",
                f"""INSERT INTO assignments (slot_id, project_id, item_id, user_id, stage, state,
                    created_at, expires_at, ended_at, active_seconds, idempotency_key,
                    request_hash)
                SELECT s.id, s.project_id, s.item_id, p.uid, 'attempt', 'submitted', ?, ?, ?, 60,
                       'seed-' || s.id, 'seed'
                FROM slots s JOIN people p ON p.k = s.id % {len(users)}
                WHERE s.project_id = ? AND s.state = 'done' ORDER BY s.id""",
                (now, now, now, project_id),
            ),
            (
                "responses",
                """INSERT INTO responses (project_id, item_id, slot_id, assignment_id, user_id,
                    stage, answer, active_seconds, created_at, status, needs_review)
                SELECT project_id, item_id, slot_id, id, user_id, 'attempt', ?, 60, ?,
                       'submitted', 0
                FROM assignments WHERE project_id = ? AND state = 'submitted' ORDER BY id""",
                (answer, now, project_id),
            ),
            (
                "assignments.response_id",
                """UPDATE assignments SET response_id =
                    (SELECT r.id FROM responses r WHERE r.assignment_id = assignments.id)
                WHERE project_id = ? AND state = 'submitted'""",
                (project_id,),
            ),
            (
                "slots.assignment_id",
                """UPDATE slots SET assignment_id =
                    (SELECT a.id FROM assignments a WHERE a.slot_id = slots.id)
                WHERE project_id = ? AND state = 'done'""",
                (project_id,),
            ),
            (
                "touches",
                """INSERT INTO touches (item_id, user_id)
                SELECT item_id, user_id FROM assignments
                WHERE project_id = ? AND state = 'submitted'""",
                (project_id,),
            ),
        ]
        for name, sql, params in steps:
            t = time.perf_counter()
            c.execute(sql, params)
            log(f"  {name}: {time.perf_counter() - t:.1f}s")
        c.execute("COMMIT")
        t = time.perf_counter()
        c.execute("ANALYZE")
        log(f"  ANALYZE: {time.perf_counter() - t:.1f}s")
    finally:
        c.close()


def fill_postgres(url: str, project_id: int, users: list[int], done: int, open_: int) -> None:
    base, _, name = url.rpartition("/")
    pool = item_pool(size=512)
    answer = json.dumps(ANSWER).replace("'", "''")
    values = ",".join(f"({k}, $txt${t}$txt$)" for k, t in enumerate(pool))
    people = ",".join(f"({k}, {u})" for k, u in enumerate(users))
    n, p, m = len(pool), int(project_id), len(users)
    script = f"""
    \\timing on
    SET synchronous_commit = off;
    SET maintenance_work_mem = '256MB';
    BEGIN;
    CREATE TEMP TABLE pool (k int PRIMARY KEY, t text);
    INSERT INTO pool VALUES {values};
    CREATE TEMP TABLE people (k int PRIMARY KEY, uid bigint);
    INSERT INTO people VALUES {people};
    INSERT INTO items (project_id, external_id, data, gold, priority, import_batch, created_at)
    SELECT {p}, 'bench-' || i,
           jsonb_build_object('prompt', 'Case ' || i || '. ' || a.t, 'response_a', b.t,
                              'response_b', c.t),
           NULL, 0, 'bench', now() AT TIME ZONE 'utc'
    FROM generate_series(1, {done + open_}) AS i
         JOIN pool a ON a.k = i % {n} JOIN pool b ON b.k = (i * 7 + 1) % {n}
         JOIN pool c ON c.k = (i * 13 + 5) % {n}
    ORDER BY i;
    INSERT INTO slots (project_id, item_id, stage, replica, state, priority)
    SELECT project_id, id, 'attempt', 0,
           CASE WHEN id < (SELECT min(id) FROM items WHERE project_id = {p}) + {done}
                THEN 'done' ELSE 'open' END, 0
    FROM items WHERE project_id = {p} ORDER BY id;
    INSERT INTO assignments (slot_id, project_id, item_id, user_id, stage, state, created_at,
        expires_at, ended_at, active_seconds, idempotency_key, request_hash)
    SELECT s.id, s.project_id, s.item_id, pe.uid, 'attempt', 'submitted',
           now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc', 60,
           'seed-' || s.id, 'seed'
    FROM slots s JOIN people pe ON pe.k = s.id % {m}
    WHERE s.project_id = {p} AND s.state = 'done' ORDER BY s.id;
    INSERT INTO responses (project_id, item_id, slot_id, assignment_id, user_id, stage, answer,
        active_seconds, created_at, status, needs_review)
    SELECT project_id, item_id, slot_id, id, user_id, 'attempt', '{answer}'::jsonb, 60,
           now() AT TIME ZONE 'utc', 'submitted', false
    FROM assignments WHERE project_id = {p} AND state = 'submitted' ORDER BY id;
    UPDATE assignments a SET response_id = r.id FROM responses r
    WHERE r.assignment_id = a.id AND a.project_id = {p} AND a.state = 'submitted';
    UPDATE slots s SET assignment_id = a.id FROM assignments a
    WHERE a.slot_id = s.id AND s.project_id = {p} AND s.state = 'done';
    INSERT INTO touches (item_id, user_id)
    SELECT item_id, user_id FROM assignments WHERE project_id = {p} AND state = 'submitted';
    COMMIT;
    VACUUM ANALYZE;
    """
    t = time.perf_counter()
    psql_file(base, name, script)
    log(f"  filled in {time.perf_counter() - t:.1f}s (set-wise SQL, then VACUUM ANALYZE)")


# ---- the slot-picking query and its plan ---------------------------------------------------


def pick_statement(project_id: int, user_id: int, pg: bool) -> Any:
    """The statement inlier.workflow.service runs to pick an open attempt slot, values bound."""
    from inlier.workflow import service

    return service._PICK[pg, None].params(service._pick_params(project_id, "attempt", user_id))


def plan_sqlite(url: str, project_id: int, user_id: int) -> tuple[str, str, str]:
    """(SQL, EXPLAIN QUERY PLAN as the app runs it — with bound parameters —, timings)."""
    from sqlalchemy.dialects import sqlite

    stmt = pick_statement(project_id, user_id, pg=False)
    compiled = stmt.compile(dialect=sqlite.dialect())
    params = [compiled.params[k] for k in (compiled.positiontup or [])]
    sql = str(compiled)
    literal = str(stmt.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    with sqlite3.connect(url.removeprefix("sqlite:///")) as c:
        rows = c.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        plan = "\n".join(f"{'  ' * _depth(rows, r)}{r[3]}" for r in rows)
        bound = _best_us(c, sql, params)
        inline = _best_us(c, literal, [])
    timing = (
        f"query alone via sqlite3: {bound:.0f} µs with bound parameters (as the app sends "
        f"it), {inline:.0f} µs with the values inlined"
    )
    return literal, plan, timing


def _best_us(c: sqlite3.Connection, sql: str, params: list[Any]) -> float:
    for _ in range(50):
        c.execute(sql, params).fetchall()
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(300):
            c.execute(sql, params).fetchall()
        best = min(best, (time.perf_counter() - t) / 300 * 1e6)
    return best


def _depth(rows: list[Any], row: Any) -> int:
    parents = {r[0]: r[1] for r in rows}
    depth, parent = 0, row[1]
    while parent in parents:
        depth, parent = depth + 1, parents[parent]
    return depth


def plan_postgres(url: str, project_id: int, user_id: int) -> tuple[str, str, str]:
    """(SQL, EXPLAIN (ANALYZE, BUFFERS) with the values, timings and the generic plan).

    The app sends the values as parameters of a prepared statement (asyncpg), so the plan
    PostgreSQL may cache for it — the generic plan, which cannot know that state = 'open' —
    is shown too. Everything runs in a rolled-back transaction: the FOR UPDATE lock the
    query takes is released at once."""
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.dialects.postgresql import asyncpg

    stmt = pick_statement(project_id, user_id, pg=True)
    sql = str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    base, _, name = url.rpartition("/")
    out = psql(
        base,
        f"BEGIN; EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY ON) {sql}; ROLLBACK;",
        name,
        capture=True,
    )
    plan = "\n".join(line for line in out.splitlines() if line.strip())
    compiled = stmt.compile(dialect=asyncpg.dialect())
    values = [compiled.params[k] for k in (compiled.positiontup or [])]
    args = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in values)
    runs = " ".join(f"EXECUTE pick({args});" for _ in range(10))
    cached = psql(
        base,
        f"BEGIN; PREPARE pick AS {compiled}; {runs} SELECT '--plan'; "
        f"EXPLAIN (COSTS OFF) EXECUTE pick({args}); "
        "SET LOCAL plan_cache_mode = force_generic_plan; SELECT '--generic'; "
        f"EXPLAIN (COSTS OFF) EXECUTE pick({args}); ROLLBACK;",
        name,
        capture=True,
    )
    after = cached.split("--plan", 1)[1]
    auto, _, forced = after.partition("--generic")
    plan += "\n-- the prepared statement (as asyncpg runs it) after 10 executions:\n"
    plan += "\n".join(line for line in auto.splitlines() if line.strip())
    plan += "\n-- its generic plan (plan_cache_mode=force_generic_plan), should PG ever pick it:\n"
    plan += "\n".join(line for line in forced.splitlines() if line.strip())
    timing = "; ".join(
        line.strip() for line in out.splitlines() if "Planning Time" in line or "Execution" in line
    )
    return sql, plan, timing


# ---- measuring -----------------------------------------------------------------------------


class Scenario:
    def __init__(self, tag: str, done: int) -> None:
        self.tag, self.done = tag, done
        self.url = ""
        self.server: Server | None = None
        self.project_id = ""
        self.people: list[tuple[str, str]] = []
        self.next: list[float] = []
        self.submit: list[float] = []
        self.server_cpu = 0.0
        self.cycles = 0
        self.errors: dict[str, int] = {}


async def _cycles(sc: Scenario, n_per_client: int) -> None:
    assert sc.server is not None

    async def one(token: str) -> None:
        c = RawHttp(sc.server.base if sc.server else "", token)
        try:
            for _ in range(n_per_client):
                t0 = time.perf_counter()
                st, data = await c.request(
                    "POST", "/api/v1/assignments/next", {"project_id": sc.project_id or None}
                )
                t1 = time.perf_counter()
                if st != 200:
                    sc.errors[f"next {st}"] = sc.errors.get(f"next {st}", 0) + 1
                    if st == 204:
                        return
                    continue
                aid = json.loads(data)["id"]
                st, _ = await c.request(
                    "POST",
                    f"/api/v1/assignments/{aid}/submit",
                    {"answer": ANSWER, "active_seconds": 30},
                    {"Idempotency-Key": f"k-{aid}"},
                )
                t2 = time.perf_counter()
                if st not in (200, 201):
                    sc.errors[f"submit {st}"] = sc.errors.get(f"submit {st}", 0) + 1
                    continue
                sc.next.append((t1 - t0) * 1000)
                sc.submit.append((t2 - t1) * 1000)
                sc.cycles += 1
        finally:
            await c.close()

    await asyncio.gather(*(one(tok) for _, tok in sc.people))


def measure(scenarios: list[Scenario], rounds: int, cycles: int, warmup: int) -> None:
    per_round = max(1, cycles // rounds)
    for sc in scenarios:
        log(f"warm-up {sc.tag}: {warmup} cycles per client")
        asyncio.run(_cycles(sc, warmup))
        sc.next.clear()
        sc.submit.clear()
        sc.cycles = 0
    for r in range(rounds):
        order = scenarios if r % 2 == 0 else scenarios[::-1]
        for sc in order:
            assert sc.server is not None
            cpu0 = sc.server.cpu_seconds()
            asyncio.run(_cycles(sc, max(1, per_round // len(sc.people))))
            sc.server_cpu += sc.server.cpu_seconds() - cpu0
        log(
            f"round {r + 1}/{rounds}: "
            + ", ".join(f"{sc.tag} p50 next {pct(sc.next, 50):.1f} ms" for sc in scenarios)
        )


# ---- one engine ----------------------------------------------------------------------------


def run_engine(
    engine: str, args: argparse.Namespace, stack: Cleanup, tmp: Path
) -> tuple[list[Scenario], list[tuple[str, str, str, float]]]:
    scenarios = [Scenario(f"{args.small:,} done", args.small)]
    scenarios.append(Scenario(f"{args.large:,} done", args.large))
    for i, sc in enumerate(scenarios):
        sc.url = make_database(stack, engine, tmp, args.pg_url, args.keep, f"next{i}")
        log(f"[{engine}] {sc.tag}: inlier init, serve, project, {args.clients} contributors")
        inlier_init(sc.url)
        sc.server = start_server(stack, sc.url, args.workers, tmp, f"{engine}-{i}")
        api = Api(sc.server.base)
        try:
            api.login_admin()
            sc.project_id = api.create_project(f"bench next cost {sc.tag}")
            sc.people = make_contributors(api, sc.project_id, args.clients, f"n{i}")
            log(f"[{engine}] {sc.tag}: writing {sc.done:,} done + {args.open:,} open items")
            users = [int(uid) for uid, _ in sc.people]
            fill = fill_sqlite if engine == "sqlite" else fill_postgres
            fill(sc.url, int(sc.project_id), users, sc.done, args.open)
            stats = api.stats(sc.project_id)
            log(f"[{engine}] {sc.tag}: slots {stats['slots']}, size {db_size(sc.url)}")
        finally:
            api.close()
    measure(scenarios, args.rounds, args.cycles, args.warmup)
    plans = []
    for sc in scenarios:
        user = int(sc.people[0][0])
        if engine == "sqlite":
            sql, plan, t = plan_sqlite(sc.url, int(sc.project_id), user)
        else:
            sql, plan, t = plan_postgres(sc.url, int(sc.project_id), user)
        plans.append((sc.tag, sql, plan, t))
    for sc in scenarios:
        if sc.server is not None:
            sc.server.stop()
    return scenarios, plans


def report(
    engine: str, args: argparse.Namespace, scenarios: list[Scenario], plans: list[Any]
) -> None:
    print()
    print(
        f"== {engine}: next + submit, {args.clients} client(s), {args.workers} worker(s), "
        f"{args.open:,} open items each, {args.rounds} alternating rounds"
    )
    rows = []
    for sc in scenarios:
        for name, v in (("next", sc.next), ("submit", sc.submit)):
            rows.append([sc.tag, name, len(v), pct(v, 50), pct(v, 95), pct(v, 99)])
    print(table(["history", "call", "n", "p50 ms", "p95 ms", "p99 ms"], rows))
    small, large = scenarios
    print()
    ratio_rows = []
    for name in ("next", "submit"):
        a, b = getattr(small, name), getattr(large, name)
        ratio_rows.append([f"{name} p50", pct(b, 50) / pct(a, 50)])
        ratio_rows.append([f"{name} p95", pct(b, 95) / pct(a, 95)])
    cpu_a = small.server_cpu / max(small.cycles, 1) * 1000
    cpu_b = large.server_cpu / max(large.cycles, 1) * 1000
    ratio_rows.append(["server CPU per cycle", cpu_b / cpu_a if cpu_a else float("nan")])
    print(table([f"ratio {large.tag} / {small.tag}", "value"], ratio_rows))
    print(f"server CPU per cycle: {cpu_a:.1f} ms ({small.tag}) vs {cpu_b:.1f} ms ({large.tag})")
    for sc in scenarios:
        if sc.errors:
            print(f"errors {sc.tag}: {sc.errors}")
    print()
    label = "EXPLAIN QUERY PLAN" if engine == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS)"
    where = (
        "_pick_slot"
        if engine == "sqlite"
        else "_pick_statement, which next runs as the first part of _pick_and_lease_pg"
    )
    print(f"slot-picking query (inlier.workflow.service.{where}), {engine}:")
    print("  " + plans[0][1].replace("\n", "\n  "))
    for tag, _, plan, timing in plans:
        print(f"\n{label} — {tag}: {timing}")
        print("  " + plan.replace("\n", "\n  "))
    uses = all("ix_slots_open" in p[2].split("-- generic")[0] for p in plans)
    print(f"\nuses the partial index ix_slots_open on both: {'yes' if uses else 'NO'}")


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="sqlite")
    ap.add_argument("--small", type=int, default=10_000, help="done items, small history")
    ap.add_argument("--large", type=int, default=1_000_000, help="done items, large history")
    ap.add_argument("--open", type=int, default=20_000, help="open items in each project")
    ap.add_argument("--clients", type=int, default=1, help="concurrent contributors")
    ap.add_argument("--workers", type=int, default=1, help="server worker processes")
    ap.add_argument("--cycles", type=int, default=2000, help="measured cycles per database")
    ap.add_argument("--rounds", type=int, default=10, help="alternations between databases")
    ap.add_argument("--warmup", type=int, default=30, help="unmeasured cycles per client")
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1", help="server URL")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir and databases")
    args = ap.parse_args()
    if not (0 <= args.small <= args.large <= 20_000_000 and 1 <= args.clients <= 64):
        ap.error("need 0 <= --small <= --large <= 20,000,000 and --clients 1..64")
    if args.open < args.cycles + args.clients * (args.warmup + 1):
        ap.error("--open must exceed the cycles to be run (measured plus warm-up)")

    started = conditions()
    engines = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = []
    with Cleanup() as stack:
        tmp = temp_dir(stack, args.keep)
        for engine in engines:
            results.append((engine, *run_engine(engine, args, stack, tmp)))
    print()
    print(f"bench/next_cost.py · {started}")
    for engine, scenarios, plans in results:
        report(engine, args, scenarios, plans)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        sys.exit(130)
