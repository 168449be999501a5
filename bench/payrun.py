"""A weekly pay run at volume: wall time and peak memory of closing one week.

Seeds a fresh database with --contributors people and --lines accepted work lines in one week
(set-wise with SQL; through the API that would take hours), then closes the week with the same
service the API and `inlier payruns create` call, and prints the seconds each step took and the
process's peak RSS. The statements are built with set-based SQL (INSERT ... SELECT, UPDATE ...
FROM), so the time grows with the lines but the memory does not.

    .venv/bin/python bench/payrun.py                                   # SQLite, 100k x 5 lines
    .venv/bin/python bench/payrun.py --url postgresql://postgres@127.0.0.1:5432/inlier_bench
    .venv/bin/python bench/payrun.py --contributors 100000 --lines 2000000 --url postgresql://…

The PostgreSQL database named in --url is dropped and created again.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import text

from inlier.db.engine import Database
from inlier.db.migrate import upgrade
from inlier.pay import service as pay
from inlier.settings import Settings

WEEK = date(2026, 11, 16)


async def recreate_pg(url: str) -> None:
    base, _, name = url.rpartition("/")
    conn = await asyncpg.connect(f"{base}/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def seed(db: Database, contributors: int, lines: int) -> None:
    start = datetime.combine(WEEK, datetime.min.time())
    async with db.session() as s:
        await s.execute(
            text(
                "INSERT INTO users (id, email, name, password_hash, roles, profile, status, "
                "active, created_at) VALUES (:id, :email, :name, 'x', '[\"contributor\"]', "
                "'{\"country\": \"BR\"}', 'approved', true, :at)"
            ),
            [
                {"id": i, "email": f"u{i}@bench", "name": f"U {i}", "at": start}
                for i in range(1, contributors + 1)
            ],
        )
    step = 50_000
    for lo in range(0, lines, step):
        rows = [
            {
                "key": f"work:{n}",
                "user": n % contributors + 1,
                "amount": 500 + n % 1000,
                "at": start + timedelta(seconds=n % (6 * 86400)),
            }
            for n in range(lo, min(lines, lo + step))
        ]
        async with db.session() as s:
            await s.execute(
                text(
                    "INSERT INTO earnings_lines (source_key, user_id, stage, kind, status, "
                    "basis_status, amount, currency, inputs, formula, labels, seconds, work_at, "
                    "accepted_at, period_start, created_at) VALUES (:key, :user, 'attempt', "
                    "'work', 'accepted', 'submitted', :amount, 'USD', "
                    "'{\"rate\": 1, \"n\": 1}', 'rate * n', '{}', 600, :at, :at, :week, :at)"
                ),
                [{**r, "week": start} for r in rows],
            )


def prepare(url: str) -> None:
    if url.startswith("postgresql"):
        asyncio.run(recreate_pg(url))
    upgrade(url)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default=None, help="postgresql://… (default: a temporary SQLite)")
    ap.add_argument("--contributors", type=int, default=100_000)
    ap.add_argument("--lines", type=int, default=500_000)
    args = ap.parse_args()
    url = args.url
    if url is None:
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
        await asyncio.to_thread(upgrade, url)
    db = Database(Settings(database_url=url, log_level="WARNING"), null_pool=True)
    t0 = time.perf_counter()
    await seed(db, args.contributors, args.lines)
    seeded = time.perf_counter() - t0
    marks: dict[str, float] = {}
    t1 = time.perf_counter()

    def progress(name: str) -> None:
        marks[name] = time.perf_counter() - t1

    async with db.session() as s:
        run, created = await pay.create_payrun(s, None, WEEK, datetime(2026, 12, 1), progress)
        out = pay.payrun_out(run)
    elapsed = time.perf_counter() - t1
    await db.dispose()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    engine = "postgresql" if url.startswith("postgresql") else "sqlite"
    print(f"engine={engine} contributors={args.contributors:,} lines={args.lines:,}")
    print(f"seed: {seeded:.1f} s")
    print(
        f"pay run: {elapsed:.2f} s (sweep {marks.get('bonuses', 0):.2f} s, statements "
        f"{marks.get('done', 0) - marks.get('statements', 0):.2f} s); "
        f"{out['statements']:,} statements, total {out['total']:,} minor units"
    )
    print(f"peak RSS: {peak_mib:.0f} MiB")
    assert created and out["statements"] == min(args.contributors, args.lines)


if __name__ == "__main__":
    import sys

    url_arg = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--url=")), None)
    if url_arg is None and "--url" in sys.argv:
        url_arg = sys.argv[sys.argv.index("--url") + 1]
    if url_arg:
        prepare(url_arg)
    asyncio.run(main())
