"""What routing costs: `next` + submit with one project vs. 50 active projects with different
requirements.

Builds two databases of the chosen engine. In the first, the measured contributors work one
project with no requirements, naming it in `next` (no routing). In the second, 50 active
projects ask for different skill levels, languages and countries, half of them open to every
contributor and half by membership; the contributors meet the requirements of some, are paused
for quality on a few, and call `next` WITHOUT a project, so every call walks the eligibility,
standing, held-lease and last-project rules over all 50. Only the last eligible project in the
members-first order has open work: the first call walks every project to find it; later calls
try the project worked last first, as people who keep working do. A real `inlier serve` runs on
each database; the same clients alternate between them round by round. Prints the latency of
both, their ratio, and server CPU per cycle. The aim is a ratio under 2.

    .venv/bin/python bench/routing.py                    # SQLite
    .venv/bin/python bench/routing.py --db postgresql
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import (
    PAIRWISE_TEMPLATE,
    Api,
    Cleanup,
    conditions,
    inlier_init,
    log,
    make_contributors,
    make_database,
    ndjson_chunks,
    pct,
    psql,
    start_server,
    table,
    temp_dir,
)
from next_cost import Scenario, measure

SKILL = "medicine.cardiology"


def make_project(api: Api, i: int, requirements: dict[str, Any], visibility: str) -> str:
    body = {
        "name": f"routing {i}",
        "template": PAIRWISE_TEMPLATE,
        "workflow": {"overlap": 1, "review": {"sample_rate": 0.0}},
        "requirements": requirements,
        "visibility": visibility,
        "quality": {"pause_below": 0.3, "min_events": 5},
    }
    r = api.http.post("/projects", json=body)
    if r.status_code != 201:
        raise RuntimeError(r.text)
    return str(r.json()["id"])


def pause(url: str, project_id: int, user_ids: list[int]) -> None:
    """A paused standing, as a run of failed gold checks would leave it."""
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    rows = [(project_id, u, now) for u in user_ids]
    sql = (
        "INSERT INTO standings (project_id, user_id, good, bad, events, events_at_reinstatement,"
        " state, reason, updated_at) VALUES (?, ?, 0, 6, 6, 0, 'paused', 'bench', ?)"
    )
    if url.startswith("sqlite"):
        c = sqlite3.connect(url.removeprefix("sqlite:///"))
        with c:
            c.executemany(sql, rows)
        c.close()
        return
    base, db = url.rsplit("/", 1)
    values = ", ".join(f"({p}, {u}, 0, 6, 6, 0, 'paused', 'bench', '{t}')" for p, u, t in rows)
    psql(
        base,
        "INSERT INTO standings (project_id, user_id, good, bad, events, events_at_reinstatement,"
        f" state, reason, updated_at) VALUES {values}",
        db,
    )


def build_routed(api: Api, url: str, n_projects: int, clients: int, items: int) -> Scenario:
    """50 projects, different requirements; work waits only in the last eligible one."""
    rng = random.Random(5)
    sc = Scenario(f"{n_projects} projects, routed", 0)
    people: list[tuple[str, str]] = []
    projects: list[tuple[str, bool, bool]] = []  # id, eligible, member
    for i in range(n_projects):
        kind = i % 5
        requirements: dict[str, Any] = {}
        eligible = True
        if kind == 1:
            requirements = {"skills": {SKILL: rng.choice([1, 2])}}  # they have level 2
        elif kind == 2:
            requirements = {"languages": ["en", "pt"]}
        elif kind == 3:
            requirements = {"countries": ["US", "DE"]}  # they live in BR
            eligible = False
        elif kind == 4:
            requirements = {"skills": {SKILL: 4}}  # beyond them
            eligible = False
        member = i % 2 == 0
        visibility = "members" if member else "open"
        projects.append((make_project(api, i, requirements, visibility), eligible, member))
    # The contributors: members of every members-only project, cardiology level 2.
    first = projects[0][0]
    people = make_contributors(api, first, clients, "route")
    for pid, _, member in projects[1:]:
        if member:
            for uid, _ in people:
                api.add_member(pid, uid)
    for uid, _ in people:
        r = api.http.put(f"/users/{uid}/skills/{SKILL}", json={"level": 2})
        if r.status_code != 200:
            raise RuntimeError(r.text)
    # Paused on a few eligible projects.
    users = [int(uid) for uid, _ in people]
    eligible_ids = [pid for pid, ok, _ in projects if ok]
    for pid in eligible_ids[:4]:
        pause(url, int(pid), users)
    # Work only in the last project `next` reaches: open projects come after members' ones.
    target = [pid for pid, ok, member in projects if ok and not member][-1]
    for chunk in ndjson_chunks(items, 5000):
        api.import_ndjson(target, chunk)
    sc.project_id = ""  # `next` names no project: it routes
    sc.people = people
    log(f"routed: {n_projects} projects, {len(eligible_ids)} eligible, work in project {target}")
    return sc


def run_engine(engine: str, args: argparse.Namespace, stack: Cleanup, tmp: Path) -> list[Scenario]:
    base = Scenario("1 project, named", 0)
    routed: Scenario | None = None
    for i, tag in enumerate(("base", "routed")):
        url = make_database(stack, engine, tmp, args.pg_url, args.keep, f"route{i}")
        inlier_init(url)
        server = start_server(stack, url, args.workers, tmp, f"{engine}-{tag}")
        api = Api(server.base)
        try:
            api.login_admin()
            if tag == "base":
                base.project_id = make_project(api, 0, {}, "members")
                base.people = make_contributors(api, base.project_id, args.clients, "base")
                for chunk in ndjson_chunks(args.items, 5000):
                    api.import_ndjson(base.project_id, chunk)
                base.url, base.server = url, server
            else:
                routed = build_routed(api, url, args.projects, args.clients, args.items)
                routed.url, routed.server = url, server
        finally:
            api.close()
    assert routed is not None
    scenarios = [base, routed]
    measure(scenarios, args.rounds, args.cycles, args.warmup)
    for sc in scenarios:
        if sc.server is not None:
            sc.server.stop()
    return scenarios


def report(engine: str, args: argparse.Namespace, scenarios: list[Scenario]) -> None:
    print()
    print(f"== {engine}: next + submit, {args.clients} client(s), {args.workers} worker(s)")
    rows = []
    for sc in scenarios:
        for name, v in (("next", sc.next), ("submit", sc.submit)):
            rows.append([sc.tag, name, len(v), pct(v, 50), pct(v, 95), pct(v, 99)])
    print(table(["scenario", "call", "n", "p50 ms", "p95 ms", "p99 ms"], rows))
    base, routed = scenarios
    cpu = [sc.server_cpu / max(sc.cycles, 1) * 1000 for sc in scenarios]
    print()
    print(
        table(
            ["ratio routed / base", "value"],
            [
                ["next p50", pct(routed.next, 50) / pct(base.next, 50)],
                ["next p95", pct(routed.next, 95) / pct(base.next, 95)],
                ["server CPU per cycle", cpu[1] / cpu[0] if cpu[0] else float("nan")],
            ],
        )
    )
    print(f"server CPU per cycle: {cpu[0]:.1f} ms (base) vs {cpu[1]:.1f} ms (routed)")
    for sc in scenarios:
        if sc.errors:
            print(f"errors {sc.tag}: {sc.errors}")


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="sqlite")
    ap.add_argument("--projects", type=int, default=50)
    ap.add_argument("--items", type=int, default=5000, help="open items where work waits")
    ap.add_argument("--clients", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--cycles", type=int, default=1500)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if args.items < args.cycles + args.clients * (args.warmup + 1):
        ap.error("--items must exceed the cycles to be run (measured plus warm-up)")
    started = conditions()
    engines = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = []
    with Cleanup() as stack:
        tmp = temp_dir(stack, args.keep)
        for engine in engines:
            results.append((engine, run_engine(engine, args, stack, tmp)))
    print()
    print(f"bench/routing.py · {started}")
    for engine, scenarios in results:
        report(engine, args, scenarios)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        sys.exit(130)
