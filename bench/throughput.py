"""Queue throughput: next + submit cycles per second with concurrent contributors.

Starts a real `inlier serve` (the CLI users run) on a fresh SQLite or PostgreSQL database,
creates a pairwise project with --items items (imported with `inlier items import`), one
contributor per client, then for --seconds lets --clients concurrent HTTP clients loop on
POST /api/v1/assignments/next + POST /api/v1/assignments/{id}/submit. Prints cycles/s, the
p50/p95/p99 latency of each call, and the same clients' rate on GET /api/v1/ping (no database,
no auth) as the ceiling of this server + client stack on this machine.

    .venv/bin/python bench/throughput.py                      # SQLite, 100,000 items, 8 clients
    .venv/bin/python bench/throughput.py --db postgresql --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from _common import (
    ANSWER,
    Api,
    Cleanup,
    RawHttp,
    Server,
    conditions,
    import_cli,
    inlier_init,
    log,
    machine_cpu,
    make_contributors,
    make_database,
    ndjson_chunks,
    pct,
    postgres_cpu_seconds,
    start_server,
    summarize_pyspy,
    table,
    temp_dir,
    write_items,
)

# ---- the load: one asyncio loop per client process, one connection per contributor --------


class _Httpx:
    """The same calls through httpx.AsyncClient (--client httpx), for comparison."""

    def __init__(self, base: str, token: str) -> None:
        self.c = httpx.AsyncClient(
            base_url=base,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30.0,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )

    async def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        r = await self.c.request(method, path, json=body, headers=headers)
        return r.status_code, r.content

    async def close(self) -> None:
        await self.c.aclose()


def _count(out: dict[str, Any], key: str) -> None:
    out["errors"][key] = out["errors"].get(key, 0) + 1


async def _client(
    mode: str,
    kind: str,
    reconnect: int,
    base: str,
    token: str,
    project_id: str,
    t_measure: float,
    t_end: float,
    out: dict[str, Any],
) -> None:
    c: Any = RawHttp(base, token, reconnect) if kind == "raw" else _Httpx(base, token)
    clock = time.perf_counter
    next_body = {"project_id": project_id}
    submit_body = {"answer": ANSWER, "active_seconds": 42}
    try:
        while True:
            t0 = clock()
            if t0 >= t_end:
                return
            if mode == "ping":
                status, _ = await c.request("GET", "/api/v1/ping")
                t1 = clock()
                if status != 200:
                    _count(out, f"ping {status}")
                elif t0 >= t_measure and t1 <= t_end:
                    out["ping"].append((t1 - t0) * 1000)
                continue
            status, data = await c.request("POST", "/api/v1/assignments/next", next_body)
            t1 = clock()
            if status == 204:
                out["empty"] += 1
                return
            if status != 200:
                _count(out, f"next {status}")
                await asyncio.sleep(0.01)
                continue
            aid = json.loads(data)["id"]
            key = {"Idempotency-Key": uuid.uuid4().hex}
            status, _ = await c.request(
                "POST", f"/api/v1/assignments/{aid}/submit", submit_body, key
            )
            t2 = clock()
            if status not in (200, 201):
                _count(out, f"submit {status}")
                continue
            if t0 >= t_measure and t2 <= t_end:
                out["next"].append((t1 - t0) * 1000)
                out["submit"].append((t2 - t1) * 1000)
                out["cycle"].append((t2 - t0) * 1000)
    finally:
        await c.close()


def drive(
    mode: str,
    kind: str,
    reconnect: int,
    base: str,
    tokens: list[str],
    project_id: str,
    t_start: float,
    warmup: float,
    seconds: float,
) -> dict[str, Any]:
    """Run ``len(tokens)`` clients in this process. Times are time.perf_counter() (the
    monotonic clock, shared by processes); the measured window is
    [t_start + warmup, t_start + warmup + seconds]. Client CPU is taken over that window."""
    out: dict[str, Any] = {"next": [], "submit": [], "cycle": [], "ping": []}
    out.update(errors={}, empty=0, client_cpu=0.0)
    t_measure = t_start + warmup
    t_end = t_measure + seconds

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    async def sample() -> None:
        await asyncio.sleep(max(0.0, t_measure - time.perf_counter()))
        c0 = cpu()
        await asyncio.sleep(max(0.0, t_end - time.perf_counter()))
        out["client_cpu"] = cpu() - c0

    async def main() -> None:
        await asyncio.sleep(max(0.0, t_start - time.perf_counter()))
        await asyncio.gather(
            sample(),
            *(
                _client(mode, kind, reconnect, base, t, project_id, t_measure, t_end, out)
                for t in tokens
            ),
        )

    asyncio.run(main())
    return out


class _Sampler(threading.Thread):
    """Server, PostgreSQL and machine CPU over exactly the measured window."""

    def __init__(self, server: Server, t_measure: float, t_end: float) -> None:
        super().__init__(daemon=True)
        self.server, self.t_measure, self.t_end = server, t_measure, t_end
        self.figures: dict[str, float] = {}

    def snapshot(self) -> tuple[float, float, float, float, dict[int, float]]:
        busy, total = machine_cpu()
        per_pid = {pid: _pid_cpu(pid) for pid in self.server.pids()}
        return self.server.cpu_seconds(), postgres_cpu_seconds(), busy, total, per_pid

    def run(self) -> None:
        time.sleep(max(0.0, self.t_measure - time.perf_counter()))
        a = self.snapshot()
        time.sleep(max(0.0, self.t_end - time.perf_counter()))
        b = self.snapshot()
        span = max(self.t_end - self.t_measure, 1e-9)
        self.figures = {
            "server_cpu": b[0] - a[0],
            "pg_cpu": b[1] - a[1],
            "machine_busy": (b[2] - a[2]) / max(b[3] - a[3], 1.0) * (os.cpu_count() or 1),
            # Cores used by each server process (supervisor and workers) in the window.
            "per_process": sorted(
                ((b[4][p] - a[4].get(p, 0.0)) / span for p in b[4]), reverse=True
            ),
        }


def _pid_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            raw = fh.read()
    except OSError:
        return 0.0
    rest = raw[raw.rfind(")") + 2 :].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def run_phase(
    mode: str,
    args: argparse.Namespace,
    server: Server,
    tokens: list[str],
    project_id: str,
) -> dict[str, Any]:
    """Drive the server from --client-procs processes; merge their figures."""
    procs = args.client_procs
    groups = [tokens[i::procs] for i in range(procs) if tokens[i::procs]]
    t_start = time.perf_counter() + 0.5
    sampler = _Sampler(server, t_start + args.warmup, t_start + args.warmup + args.seconds)
    sampler.start()
    timing = (t_start, args.warmup, args.seconds)
    argv = [
        (mode, args.client, args.reconnect_every, server.base, g, project_id, *timing)
        for g in groups
    ]
    if len(groups) == 1:
        parts = [drive(*argv[0])]
    else:
        with multiprocessing.get_context("fork").Pool(len(groups)) as pool:
            parts = pool.starmap(drive, argv)
    sampler.join(timeout=30)
    merged: dict[str, Any] = {"next": [], "submit": [], "cycle": [], "ping": [], "errors": {}}
    merged.update(empty=0, client_cpu=0.0, **sampler.figures)
    for p in parts:
        for k in ("next", "submit", "cycle", "ping"):
            merged[k].extend(p[k])
        for k, v in p["errors"].items():
            merged["errors"][k] = merged["errors"].get(k, 0) + v
        merged["empty"] += p["empty"]
        merged["client_cpu"] += p["client_cpu"]
    return merged


# ---- setup ---------------------------------------------------------------------------------


def load_items(args: argparse.Namespace, api: Api, url: str, project_id: str, tmp: Path) -> None:
    t = time.perf_counter()
    if args.load == "cli":
        path = tmp / "items.jsonl"
        size = write_items(path, args.items, lambda n: log(f"  generated {n:,} items"))
        log(f"generated {args.items:,} items ({size / 2**20:.0f} MiB); inlier items import …")
        secs, rss = import_cli(url, project_id, path)
        log(f"imported in {secs:.1f}s (peak RSS {rss / 1024:.0f} MiB)")
        path.unlink()
    else:
        done = 0
        for chunk in ndjson_chunks(args.items, 5000):
            done += api.import_ndjson(project_id, chunk)
            if done % 50_000 == 0 or done == args.items:
                log(f"  POST …/items: {done:,}")
        log(f"imported {done:,} items over the API in {time.perf_counter() - t:.1f}s")


def py_spy(server: Server, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    exe = Path(sys.executable).parent / "py-spy"
    if not exe.exists():
        log("py-spy not installed (.venv/bin/pip install py-spy); not profiling")
        return None
    cmd = [str(exe), "record", "--pid", str(server.proc.pid if server.proc else 0)]
    cmd += ["--subprocesses", "--duration", str(int(seconds)), "--rate", "200"]
    fmt = {".json": "speedscope", ".txt": "raw"}.get(out.suffix, "flamegraph")
    cmd += ["--format", fmt, "-o", str(out)]
    log(f"profiling the server with py-spy → {out}")
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--items", type=int, default=100_000, help="items in the project")
    ap.add_argument("--workers", type=int, default=1, help="server worker processes")
    ap.add_argument("--clients", type=int, default=8, help="concurrent contributors")
    ap.add_argument("--seconds", type=float, default=20.0, help="measured time per phase")
    ap.add_argument("--warmup", type=float, default=3.0, help="unmeasured lead-in per phase")
    ap.add_argument(
        "--client-procs", type=int, default=1, help="processes the clients are spread over"
    )
    ap.add_argument(
        "--client",
        choices=["raw", "httpx"],
        default="raw",
        help="load generator: a minimal keep-alive HTTP/1.1 client, or httpx.AsyncClient",
    )
    ap.add_argument(
        "--reconnect-every",
        type=int,
        default=-1,
        help="raw client: new connection after N requests; 0 never; default 20 when --workers "
        "> 1 (else few keep-alive connections stay pinned to one worker), 0 otherwise",
    )
    ap.add_argument("--load", choices=["cli", "api"], default="cli", help="how items get in")
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1", help="server URL")
    ap.add_argument("--skip-ping", action="store_true", help="do not measure the ping ceiling")
    ap.add_argument(
        "--py-spy",
        type=Path,
        help="record the server during the cycles with py-spy into this file (.txt: raw "
        "stacks, summarized at the end; .json: speedscope; else an SVG flame graph)",
    )
    ap.add_argument(
        "--rate-card",
        action="store_true",
        help="give the project an hourly rate card, so that every submit writes its pay line",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temp dir and database")
    args = ap.parse_args()
    if not (1 <= args.clients <= 256 and 1 <= args.workers <= 32 and 0 < args.seconds <= 3600):
        ap.error("--clients 1..256, --workers 1..32, --seconds up to 3600")
    if args.items < args.clients:
        ap.error("--items must be at least --clients")
    if args.reconnect_every < 0:
        args.reconnect_every = 20 if args.workers > 1 else 0

    started = conditions()
    with Cleanup() as stack:
        tmp = temp_dir(stack, args.keep)
        url = make_database(stack, args.db, tmp, args.pg_url, args.keep, "queue")
        log(f"database {url}; inlier init …")
        inlier_init(url)
        server = start_server(stack, url, args.workers, tmp, "queue")
        api = Api(server.base)
        stack.callback(api.close)
        api.login_admin()
        project_id = api.create_project("bench queue")
        if args.rate_card:
            api.set_rate_card(project_id)
        log(f"project {project_id}; creating {args.clients} contributors …")
        people = make_contributors(api, project_id, args.clients, "q")
        tokens = [t for _, t in people]
        load_items(args, api, url, project_id, tmp)
        stats = api.stats(project_id)
        log(f"stats: {stats['items']:,} items, slots {stats['slots']}")

        ping: dict[str, Any] | None = None
        if not args.skip_ping:
            log(f"ping ceiling: {args.clients} clients x {args.seconds:.0f}s …")
            ping = run_phase("ping", args, server, tokens, project_id)
        log(f"next + submit: {args.clients} clients x {args.seconds:.0f}s …")
        spy, profile = None, ""
        if args.py_spy:
            spy = py_spy(server, args.warmup + args.seconds + 1, args.py_spy)
            time.sleep(1.0)
        res = run_phase("cycle", args, server, tokens, project_id)
        if spy is not None:
            spy.wait(timeout=120)
            if args.py_spy.suffix == ".txt" and args.py_spy.exists():
                profile = summarize_pyspy(args.py_spy)
        after = api.stats(project_id)
        log(f"stats after: slots {after['slots']}, responses {after['responses']:,}")

    report(args, started, res, ping)
    if profile:
        print(f"\nserver profile ({args.py_spy}):\n{profile}")
    return 0


def report(
    args: argparse.Namespace, started: str, res: dict[str, Any], ping: dict[str, Any] | None
) -> None:
    cycles = len(res["cycle"])
    rate = cycles / args.seconds
    print()
    print(f"bench/throughput.py · {started}")
    print(
        f"db={args.db} items={args.items:,} workers={args.workers} clients={args.clients} "
        f"client={args.client} reconnect-every={args.reconnect_every} "
        f"client-procs={args.client_procs} rate-card={'yes' if args.rate_card else 'no'} "
        f"measured={args.seconds:.0f}s after {args.warmup:.0f}s warm-up"
    )
    print()
    rows = []
    for name in ("next", "submit", "cycle"):
        v = res[name]
        rows.append([name, len(v), pct(v, 50), pct(v, 95), pct(v, 99), max(v, default=0.0)])
    if ping is not None:
        v = ping["ping"]
        rows.append(["ping", len(v), pct(v, 50), pct(v, 95), pct(v, 99), max(v, default=0.0)])
    print(table(["call", "n", "p50 ms", "p95 ms", "p99 ms", "max ms"], rows))
    print()
    summary = [["next+submit cycles/s", rate, "target ≥ 400"]]
    if ping is not None:
        ping_rate = len(ping["ping"]) / args.seconds
        summary.append(["ping requests/s (ceiling)", ping_rate, "same clients, no DB"])
        summary.append(
            ["cycle rate / (ping rate / 2)", rate / (ping_rate / 2), "a cycle is 2 requests"]
        )
    summary.append(
        ["server CPU ms per cycle", res["server_cpu"] / max(cycles, 1) * 1000, "all workers"]
    )
    if args.db == "postgresql":
        summary.append(
            ["postgres CPU ms per cycle", res["pg_cpu"] / max(cycles, 1) * 1000, "all backends"]
        )
    summary.append(
        ["client CPU ms per cycle", res["client_cpu"] / max(cycles, 1) * 1000, "load generator"]
    )
    summary.append(["machine busy cores", res.get("machine_busy", 0.0), f"of {os.cpu_count()}"])
    split = " / ".join(f"{c:.2f}" for c in res.get("per_process", []) if c >= 0.005)
    summary.append(["server cores by process", split or "-", "supervisor and workers"])
    if ping is not None:
        summary.append(
            ["server CPU µs per ping", ping["server_cpu"] / max(len(ping["ping"]), 1) * 1e6, ""]
        )
        summary.append(
            ["client CPU µs per ping", ping["client_cpu"] / max(len(ping["ping"]), 1) * 1e6, ""]
        )
    print(table(["figure", "value", "note"], summary))
    p99 = max(pct(res["next"], 99), pct(res["submit"], 99))
    print()
    print(
        f"targets: ≥ 400 cycles/s → {'met' if rate >= 400 else 'NOT met'} ({rate:,.0f}); "
        f"p99 of each call < 50 ms → {'met' if p99 < 50 else 'NOT met'} (worst {p99:.1f} ms)"
    )
    if res["errors"] or res["empty"]:
        print(f"errors: {res['errors']}  queue empty for {res['empty']} clients")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        sys.exit(130)
