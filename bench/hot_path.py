"""Anatomy of the hot path: every SQL statement one next + submit cycle issues, and its time.

Runs the app in this process (create_app; set up through httpx's ASGI transport, then the
measured cycles as direct ASGI calls: no network, no server process, no client in the CPU
figure) on a fresh database made by `inlier init`, with one contributor doing --cycles
sequential next + submit cycles. Each statement is timed as the app sees it: SQLAlchemy's
cursor events, and `inlier.db.direct.statement_observers` for the statements the hot path
runs on the driver connection. Prints the statements of a cycle with their mean time,
statements and DB time per cycle, and CPU and wall per cycle.

    .venv/bin/python bench/hot_path.py
    .venv/bin/python bench/hot_path.py --db postgresql
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import sys
import time
import uuid
from collections import defaultdict
from typing import Any

from _common import (
    ADMIN_EMAIL,
    ANSWER,
    PAIRWISE_TEMPLATE,
    PASSWORD,
    Cleanup,
    conditions,
    inlier_init,
    item_pool,
    item_row,
    log,
    make_database,
    rate_card,
    table,
    temp_dir,
)


async def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    import httpx
    from sqlalchemy import event

    from inlier.app import create_app
    from inlier.settings import Settings

    settings = Settings(database_url=url, log_level="WARNING", argon2_time_cost=1)
    app = create_app(settings)
    engine = app.state.db.engine.sync_engine
    phase = {"name": "setup"}
    timings: dict[tuple[str, str], list[float]] = defaultdict(list)
    started: dict[int, float] = {}

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        started[id(conn)] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        elapsed = time.perf_counter() - started.pop(id(conn), time.perf_counter())
        timings[(phase["name"], " ".join(statement.split()))].append(elapsed * 1000)

    from inlier.db import direct

    # Statements the hot path runs on SQLite's driver connection bypass SQLAlchemy's events.
    def _direct(statement: str, seconds: float) -> None:
        timings[(phase["name"], " ".join(statement.split()))].append(seconds * 1000)

    direct.statement_observers.append(_direct)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench/api/v1") as c:

        async def ok(r: httpx.Response) -> Any:
            if r.status_code >= 400:
                raise RuntimeError(f"{r.request.method} {r.request.url}: {r.status_code} {r.text}")
            return r.json() if r.content else None

        admin = (
            await ok(await c.post("/auth/token", json={"email": ADMIN_EMAIL, "password": PASSWORD}))
        )["token"]
        h = {"Authorization": f"Bearer {admin}"}
        project = await ok(
            await c.post(
                "/projects",
                headers=h,
                json={"name": "hot path", "template": PAIRWISE_TEMPLATE, "status": "active"},
            )
        )
        if args.rate_card:
            await ok(
                await c.put(f"/projects/{project['id']}/rate-card", headers=h, json=rate_card())
            )
        user = await ok(
            await c.post(
                "/users",
                headers=h,
                json={
                    "email": "worker@bench.inlier",
                    "name": "worker",
                    "password": PASSWORD,
                    "roles": ["contributor"],
                    "profile": {"country": "BR"},
                },
            )
        )
        await ok(
            await c.post(
                f"/projects/{project['id']}/members",
                headers=h,
                json={"user_id": user["id"], "role": "contributor"},
            )
        )
        pool = item_pool()
        rows = [item_row(i, pool) for i in range(1, args.cycles + args.warmup + 2)]
        await ok(await c.post(f"/projects/{project['id']}/items", headers=h, json=rows))
        token = (
            await ok(
                await c.post(
                    "/auth/token", json={"email": "worker@bench.inlier", "password": PASSWORD}
                )
            )
        )["token"]
        asgi = _AsgiCaller(app, token)
        next_body = json.dumps({"project_id": project["id"]}).encode()
        answer = json.dumps({"answer": ANSWER, "active_seconds": 30}).encode()

        async def cycle() -> None:
            # The measured calls go straight to the ASGI app (no client in the CPU figure).
            phase["name"] = "next"
            aid = json.loads(await asgi.post("/api/v1/assignments/next", next_body, 200))["id"]
            phase["name"] = "submit"
            key = uuid.uuid4().hex.encode()
            await asgi.post(f"/api/v1/assignments/{aid}/submit", answer, 201, key)
            phase["name"] = "idle"

        log(f"{args.warmup} warm-up cycles, then {args.cycles} measured")
        for _ in range(args.warmup):
            await cycle()
        timings.clear()
        # CPU time, not wall time: the profile is of the app's own work, not of waiting.
        prof = cProfile.Profile(time.process_time) if args.profile else None
        cpu0, t0 = time.process_time(), time.perf_counter()
        if prof is not None:
            prof.enable()
        for _ in range(args.cycles):
            await cycle()
        if prof is not None:
            prof.disable()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
        if prof is not None:
            prof.dump_stats(args.profile)
            log(f"CPU profile of the measured cycles → {args.profile} (python -m pstats)")
    await app.state.db.dispose()
    return {"timings": timings, "cpu": cpu, "wall": wall}


class _AsgiCaller:
    """POSTs a JSON body to the ASGI app as a server would, without an HTTP client."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.auth = f"Bearer {token}".encode()

    async def post(self, path: str, body: bytes, status: int, key: bytes | None = None) -> bytes:
        headers = [
            (b"host", b"bench"),
            (b"authorization", self.auth),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if key is not None:
            headers.append((b"idempotency-key", key))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": headers,
            "server": ("bench", 80),
            "client": ("127.0.0.1", 50000),
        }
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            return messages.pop() if messages else {"type": "http.disconnect"}

        got: dict[str, Any] = {"body": []}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                got["status"] = message["status"]
            else:
                got["body"].append(message.get("body", b""))

        await self.app(scope, receive, send)
        out = b"".join(got["body"])
        if got.get("status") != status:
            raise RuntimeError(f"POST {path}: {got.get('status')} {out[:300]!r}")
        return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--cycles", type=int, default=300, help="measured cycles")
    ap.add_argument("--warmup", type=int, default=30, help="unmeasured cycles first")
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1", help="server URL")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir and database")
    ap.add_argument(
        "--rate-card",
        action="store_true",
        help="give the project an hourly rate card, so that every submit writes its pay line",
    )
    ap.add_argument(
        "--profile",
        metavar="FILE",
        help="write a cProfile (CPU time) of the measured cycles to FILE; the figures then "
        "include the profiler's overhead",
    )
    args = ap.parse_args()
    if not 1 <= args.cycles <= 100_000:
        ap.error("--cycles 1..100,000")

    started = conditions()
    with Cleanup() as stack:
        tmp = temp_dir(stack, args.keep)
        url = make_database(stack, args.db, tmp, args.pg_url, args.keep, "hot")
        inlier_init(url)
        res = asyncio.run(run(args, url))

    n = args.cycles
    print()
    print(f"bench/hot_path.py · {started}")
    print(f"db={args.db} · 1 contributor, {n} sequential cycles, in-process ASGI")
    for name in ("next", "submit"):
        rows = []
        for (ph, sql), v in res["timings"].items():
            if ph == name:
                rows.append([sql[:96], len(v) / n, sum(v) / len(v)])
        print()
        print(table([f"statements of {name}", "per call", "mean ms"], rows))
    per_cycle = sum(len(v) for v in res["timings"].values()) / n
    db_ms = sum(sum(v) for v in res["timings"].values()) / n
    print()
    summary = [
        ["SQL statements per cycle", per_cycle],
        ["time in statements per cycle, ms", db_ms],
        ["wall per cycle, ms", res["wall"] / n * 1000],
        ["CPU per cycle (the app alone), ms", res["cpu"] / n * 1000],
    ]
    print(table(["figure", "value"], summary))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        sys.exit(130)
