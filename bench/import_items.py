"""Bulk import: time and peak memory of `inlier items import` for a large JSONL file.

Generates a JSONL file of --items pairwise items (prompt / response_a / response_b markdown
fields of about 200 bytes each, plus an external_id), creates a fresh database and project
with the CLI, then runs `inlier items import PROJECT FILE` exactly as a user would and
measures its wall time and the peak resident memory of that process (kernel accounting via
wait4, sampled RSS as a cross-check).

    .venv/bin/python bench/import_items.py                       # 1,000,000 items, SQLite
    .venv/bin/python bench/import_items.py --db postgresql
    .venv/bin/python bench/import_items.py --items 100000        # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from _common import (
    INLIER,
    PAIRWISE_TEMPLATE,
    Cleanup,
    conditions,
    db_size,
    inlier_env,
    inlier_init,
    log,
    make_database,
    postgres_cpu_seconds,
    psql,
    table,
    temp_dir,
    write_items,
)


def create_project(url: str, tmp: Path) -> str:
    spec = tmp / "project.json"
    spec.write_text(
        json.dumps(
            {
                "name": "bench import",
                "template": PAIRWISE_TEMPLATE,
                "workflow": {"overlap": 1, "review": {"sample_rate": 0.0}},
            }
        )
    )
    done = subprocess.run(
        [INLIER, "projects", "create", "--template", str(spec), "--database-url", url],
        capture_output=True,
        text=True,
        env=inlier_env(),
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"inlier projects create failed:\n{done.stderr}")
    return str(json.loads(done.stdout)["id"])


class RssSampler(threading.Thread):
    """Samples VmRSS of one process every 0.2 s (a cross-check of the kernel's peak)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        t0 = time.perf_counter()
        while not self.stop.is_set():
            try:
                for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        self.samples.append((time.perf_counter() - t0, int(line.split()[1])))
            except OSError:
                return
            self.stop.wait(0.2)


def run_import(url: str, project_id: str, path: Path, timeout: float) -> dict[str, float]:
    """`inlier items import` as a child; wall time, peak RSS (wait4) and sampled RSS."""
    cmd = [INLIER, "items", "import", project_id, str(path), "--database-url", url]
    log("$ " + " ".join(cmd))
    pg0 = postgres_cpu_seconds()
    start = time.perf_counter()
    errlog = path.with_suffix(".import.log")
    with errlog.open("wb") as err:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL, env=inlier_env()
        )
        sampler = RssSampler(proc.pid)
        sampler.start()
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid == proc.pid:
                    break
                if time.perf_counter() - start > timeout:
                    log(f"import still running after {timeout:.0f}s; stopping it")
                    proc.kill()
                    pid, status, usage = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.05)
        except BaseException:
            proc.kill()
            os.wait4(proc.pid, 0)
            raise
        finally:
            sampler.stop.set()
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = errlog.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"inlier items import exited {code}:\n{tail}")
    sampled = [kb for _, kb in sampler.samples]
    half = [kb for t, kb in sampler.samples if t >= wall / 2]
    peak_at = max(sampler.samples, key=lambda s: s[1])[0] if sampler.samples else 0.0
    return {
        "wall": wall,
        "peak_kib": float(usage.ru_maxrss),
        "sampled_peak_kib": float(max(sampled, default=0)),
        "late_median_kib": float(sorted(half)[len(half) // 2]) if half else 0.0,
        "peak_at": peak_at,
        "cpu": usage.ru_utime + usage.ru_stime,
        "pg_cpu": postgres_cpu_seconds() - pg0,
    }


def count_rows(url: str, project_id: str) -> tuple[int, int]:
    sql_items = f"SELECT count(*) FROM items WHERE project_id = {int(project_id)}"
    sql_slots = f"SELECT count(*) FROM slots WHERE project_id = {int(project_id)}"
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as c:
            return c.execute(sql_items).fetchone()[0], c.execute(sql_slots).fetchone()[0]
    base, _, name = url.rpartition("/")
    out = psql(base, f"SELECT ({sql_items}), ({sql_slots})", name, capture=True)
    a, b = (int(x) for x in out.strip().split("|"))
    return a, b


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--items", type=int, default=1_000_000, help="rows in the generated file")
    ap.add_argument("--file", type=Path, help="import this JSONL file instead of generating")
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1", help="server URL")
    ap.add_argument("--timeout", type=float, default=1800, help="give up on the import after")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir and database")
    args = ap.parse_args()
    if not 1 <= args.items <= 20_000_000:
        ap.error("--items 1..20,000,000")

    started = conditions()
    with Cleanup() as stack:
        tmp = temp_dir(stack, args.keep)
        if args.file:
            path = args.file.resolve()
            n_items = sum(1 for line in path.open("rb") if line.strip())
        else:
            path = tmp / "items.jsonl"
            log(f"generating {args.items:,} items → {path}")
            t = time.perf_counter()
            write_items(path, args.items, lambda n: log(f"  {n:,} rows"))
            log(f"generated in {time.perf_counter() - t:.1f}s")
            n_items = args.items
        size = path.stat().st_size
        url = make_database(stack, args.db, tmp, args.pg_url, args.keep, "import")
        log(f"database {url}: inlier init, inlier projects create")
        inlier_init(url)
        project_id = create_project(url, tmp)
        res = run_import(url, project_id, path, args.timeout)
        log(f"import done in {res['wall']:.1f}s; counting rows")
        items, slots = count_rows(url, project_id)
        size_after = db_size(url)

    peak_mib = res["peak_kib"] / 1024
    print()
    print(f"bench/import_items.py · {started}")
    print(f"db={args.db} file={n_items:,} rows, {size / 2**20:,.0f} MiB (pairwise, ~200 B fields)")
    print()
    rows = [
        ["rows imported (items / slots)", f"{items:,} / {slots:,}", f"expected {n_items:,}"],
        ["wall time, s", res["wall"], "target < 60 s"],
        ["rows per second", n_items / res["wall"], ""],
        ["MiB per second", size / 2**20 / res["wall"], ""],
        ["peak RSS, MiB (wait4 ru_maxrss)", peak_mib, "target < 300 MiB"],
        [
            "peak RSS, MiB (sampled VmRSS)",
            res["sampled_peak_kib"] / 1024,
            f"every 0.2 s; highest at {res['peak_at']:.0f} s of {res['wall']:.0f} s",
        ],
        ["median RSS in 2nd half, MiB", res["late_median_kib"] / 1024, "flat = streaming"],
        ["import process CPU, s", res["cpu"], "user + system"],
    ]
    if args.db == "postgresql":
        rows.append(["postgres CPU during import, s", res["pg_cpu"], "all backends"])
    rows.append(["database size after", size_after, ""])
    print(table(["figure", "value", "note"], rows))
    print()
    ok_t, ok_m = res["wall"] < 60, peak_mib < 300
    print(
        f"targets: < 60 s → {'met' if ok_t else 'NOT met'} ({res['wall']:.1f} s); "
        f"peak < 300 MiB → {'met' if ok_m else 'NOT met'} ({peak_mib:.0f} MiB)"
    )
    if items != n_items:
        print(f"WARNING: {items:,} items in the database, expected {n_items:,}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        sys.exit(130)
