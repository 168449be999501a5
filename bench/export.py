"""Exports at volume: wall time, rows/s and peak memory of `inlier export`.

Builds a fresh database with one pairwise project of --responses items (imported with
`inlier items import`, as a user would), writes one submitted attempt per item set-wise with SQL
(through the API that would take hours), then runs `inlier export` as a child process for each
kind and format below and reports its wall time, CPU seconds (user + system) and peak RSS
(kernel accounting via wait4; on a shared machine the CPU seconds vary less than the wall
time). Peak memory should not grow with --responses: run it twice with different sizes to see.

    .venv/bin/python bench/export.py                          # 200,000 responses, SQLite
    .venv/bin/python bench/export.py --db postgresql
    .venv/bin/python bench/export.py --responses 1000000
    .venv/bin/python bench/export.py --responses 1000000 --runs raw:parquet
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys

from _common import (
    INLIER,
    Cleanup,
    conditions,
    db_size,
    import_cli,
    inlier_init,
    log,
    make_database,
    psql_file,
    run_usage,
    table,
    temp_dir,
    write_items,
)
from import_items import create_project

ANSWER = {
    "preference": {"choice": "left", "strength": 2},
    "rationale": "Response A names the contraindication; B misses it entirely.",
}
RUNS = [
    ("raw", "jsonl"),
    ("raw", "parquet"),
    ("preference", "parquet"),
    ("preference", "csv"),
    ("kto", "jsonl"),
    ("preference", "hf"),
    # One row per item: the answers read once into arrays, the model fitted, then the items.
    ("raw+aggregate", "parquet"),
    ("preference+aggregate", "parquet"),
]
NOW = "2026-11-20 12:00:00"


def responses_sql(project_id: str, boolean_false: str, answer: str) -> str:
    """One submitted attempt per open slot, by the first user (the admin), set-wise; then
    ANALYZE, as autovacuum would soon after such a load: without statistics PostgreSQL plans
    the export's keyset query as a sort of every remaining row, batch after batch."""
    return f"""
    INSERT INTO assignments (slot_id, project_id, item_id, user_id, stage, state, created_at,
                             expires_at, active_seconds)
      SELECT id, project_id, item_id, 1, 'attempt', 'submitted', '{NOW}', '{NOW}', 30
      FROM slots WHERE project_id = {project_id};
    INSERT INTO responses (project_id, item_id, slot_id, assignment_id, user_id, stage, answer,
                           active_seconds, created_at, status, needs_review)
      SELECT project_id, item_id, slot_id, id, user_id, 'attempt', {answer}, 30, '{NOW}',
             'submitted', {boolean_false}
      FROM assignments WHERE project_id = {project_id};
    UPDATE slots SET state = 'done' WHERE project_id = {project_id};
    ANALYZE;
    """


def seed_responses(url: str, project_id: str) -> None:
    text = json.dumps(ANSWER).replace("'", "''")
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as c:
            c.executescript(responses_sql(project_id, "0", f"'{text}'"))
    else:
        base, _, name = url.rpartition("/")
        psql_file(base, name, responses_sql(project_id, "false", f"'{text}'::jsonb"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--responses", type=int, default=200_000)
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    ap.add_argument("--keep", action="store_true", help="keep the database and files")
    ap.add_argument(
        "--runs",
        default=None,
        help="kind:format pairs to run, comma-separated (e.g. raw:parquet,raw+aggregate:parquet)",
    )
    args = ap.parse_args()
    runs = RUNS
    if args.runs:
        runs = [(k, f) for k, _, f in (r.partition(":") for r in args.runs.split(","))]
    with Cleanup() as stack:
        tmp = temp_dir(stack, args.keep)
        url = make_database(stack, args.db, tmp, args.pg, args.keep, "export")
        inlier_init(url)
        project_id = create_project(url, tmp)
        items = tmp / "items.jsonl"
        write_items(items, args.responses)
        secs, _ = import_cli(url, project_id, items)
        log(f"imported {args.responses} items in {secs:.1f}s")
        seed_responses(url, project_id)
        log(f"wrote {args.responses} responses; database {db_size(url)}")
        results = []
        for run, fmt in runs:
            kind, plus, _ = run.partition("+")
            out = tmp / f"{run}.{fmt}"
            cmd = [INLIER, "export", project_id, "--kind", kind, "--format", fmt]
            if plus:
                cmd.append("--aggregate")
            cmd += ["--out", str(out), "--database-url", url]
            code, wall, usage, tail = run_usage(cmd, timeout=7200)
            rss_kib = int(usage.ru_maxrss)
            cpu = usage.ru_utime + usage.ru_stime
            if code != 0:
                raise RuntimeError(f"inlier export failed ({code}):\n{tail}")
            rows = int(tail.rsplit(" rows", 1)[0].split()[-1].replace(",", ""))
            size = sum(p.stat().st_size for p in ([out] if out.is_file() else out.iterdir()))
            results.append(
                [run, fmt, rows, f"{wall:.1f}", f"{cpu:.1f}", f"{rows / wall:,.0f}",
                 rss_kib // 1024, f"{size / 2**20:.0f}"]
            )  # fmt: skip
            log(
                f"{run} {fmt}: {rows} rows in {wall:.1f}s ({cpu:.1f}s CPU), "
                f"peak {rss_kib // 1024} MiB"
            )
        print(conditions())
        print(f"{args.responses:,} responses on {args.db}\n")
        headers = [
            "kind", "format", "rows", "wall s", "CPU s", "rows/s", "peak RSS MiB", "file MiB",
        ]  # fmt: skip
        print(table(headers, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
