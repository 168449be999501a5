"""What the benchmarks share: temporary databases, a real `inlier serve` subprocess, API setup
calls, item generation, CPU accounting, percentiles and tables.

Everything a benchmark starts is registered with a :class:`Cleanup` so that servers, temporary
files and PostgreSQL databases go away on a normal exit, an error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
_VENV_BIN = ROOT / ".venv" / "bin"
INLIER = str(_VENV_BIN / "inlier") if (_VENV_BIN / "inlier").exists() else "inlier"
PYTHON = str(_VENV_BIN / "python") if (_VENV_BIN / "python").exists() else sys.executable
HOST = "127.0.0.1"  # benchmarks only ever talk to this machine
ADMIN_EMAIL = "admin@bench.inlier"
PASSWORD = "bench-password-123"
_T0 = time.monotonic()


def log(msg: str) -> None:
    """Progress on stderr, stamped with the seconds since the benchmark started."""
    print(f"[{time.monotonic() - _T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


# ---- cleanup -------------------------------------------------------------------------------


class Cleanup(contextlib.ExitStack):
    """An ExitStack that turns SIGTERM/SIGHUP into SIGINT (Ctrl-C), so the same unwinding
    runs whether the run ends normally, fails, or is interrupted. Ctrl-C raises
    KeyboardInterrupt even when the benchmark was started with SIGINT ignored (e.g. with &)."""

    def __enter__(self) -> Cleanup:
        super().__enter__()

        def as_ctrl_c(_signum: int, _frame: Any) -> None:
            os.kill(os.getpid(), signal.SIGINT)

        with contextlib.suppress(ValueError, OSError):
            signal.signal(signal.SIGINT, signal.default_int_handler)
            for sig in (signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, as_ctrl_c)
        return self

    def __exit__(self, *exc: Any) -> bool:
        # A second Ctrl-C while cleaning up should not leave servers behind.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            return bool(super().__exit__(*exc))
        finally:
            signal.signal(signal.SIGINT, previous)


def temp_dir(stack: Cleanup, keep: bool, prefix: str = "inlier-bench-") -> Path:
    base = os.environ.get("INLIER_BENCH_TMP") or None
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    if keep:
        stack.callback(log, f"kept {path}")
    else:
        stack.callback(shutil.rmtree, path, True)
    return path


# ---- databases -----------------------------------------------------------------------------


def psql(pg_base: str, sql: str, db: str = "postgres", *, capture: bool = False) -> str:
    """Run SQL with psql against ``pg_base`` (e.g. postgresql://postgres@127.0.0.1)."""
    cmd = ["psql", f"{pg_base.rstrip('/')}/{db}", "-v", "ON_ERROR_STOP=1", "-X", "-q"]
    cmd += ["-A", "-t"] if capture else []
    done = subprocess.run(
        [*cmd, "-c", sql],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"psql failed: {done.stderr.strip()}")
    return done.stdout if capture else ""


def psql_file(pg_base: str, db: str, script: str) -> None:
    done = subprocess.run(
        ["psql", f"{pg_base.rstrip('/')}/{db}", "-v", "ON_ERROR_STOP=1", "-X", "-q"],
        input=script,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"psql failed: {done.stderr.strip()}")


def make_database(
    stack: Cleanup, engine: str, tmp: Path, pg_base: str, keep: bool, tag: str
) -> str:
    """A fresh, empty database; returns the URL the `inlier` CLI takes."""
    if engine == "sqlite":
        return f"sqlite:///{tmp / (tag + '.db')}"
    name = f"inlier_bench_{tag}_{os.getpid()}_{secrets.token_hex(3)}"
    psql(pg_base, f"CREATE DATABASE {name}")
    log(f"created PostgreSQL database {name}")
    if keep:
        stack.callback(log, f"kept database {name}")
    else:
        stack.callback(_drop_pg, pg_base, name)
    return f"{pg_base.rstrip('/')}/{name}"


def _drop_pg(pg_base: str, name: str) -> None:
    try:
        psql(pg_base, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        log(f"dropped database {name}")
    except Exception as exc:  # cleanup reports, it never raises
        log(f"could not drop database {name}: {exc}")


def db_size(url: str) -> str:
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        total = sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.exists())
        return f"{total / 2**20:.0f} MiB"
    base, _, name = url.rpartition("/")
    out = psql(base, f"SELECT pg_size_pretty(pg_database_size('{name}'))", capture=True)
    return out.strip() or "?"


def inlier_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("INLIER_DATABASE_URL", None)
    env.setdefault("INLIER_LOG_JSON", "true")
    env.update(extra or {})
    return env


def inlier_init(url: str) -> None:
    """`inlier init`: schema plus the first admin."""
    done = subprocess.run(
        [
            INLIER,
            "init",
            "--admin-email",
            ADMIN_EMAIL,
            "--admin-password-stdin",
            *("--database-url", url),
        ],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        env=inlier_env(),
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"inlier init failed:\n{done.stdout}\n{done.stderr}")


# ---- the server ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Server:
    """`inlier serve` in its own session (process group), as a user runs it."""

    def __init__(self, url: str, workers: int, logfile: Path, port: int | None = None) -> None:
        self.url = url
        self.workers = workers
        self.port = port or free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.logfile = logfile
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> Server:
        cmd = [INLIER, "serve", "--host", HOST, "--port", str(self.port)]
        cmd += ["--workers", str(self.workers), "--database-url", self.url]
        cmd += ["--log-level", "warning"]
        with self.logfile.open("ab") as fh:
            self.proc = subprocess.Popen(
                cmd,
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=inlier_env(),
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"inlier serve exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                r = httpx.get(self.base + "/healthz", timeout=2.0)
                if r.status_code == 200:
                    # With several workers, give every one of them time to come up.
                    if self.workers > 1:
                        self._wait_workers(deadline)
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"inlier serve did not answer /healthz in {timeout}s:\n{self.tail()}")

    def _wait_workers(self, deadline: float) -> None:
        while time.monotonic() < deadline and len(self.pids()) < self.workers + 1:
            time.sleep(0.2)
        time.sleep(1.0)

    def tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def pids(self) -> list[int]:
        """Every process of the server's group: the supervisor and its workers."""
        if self.proc is None:
            return []
        return [pid for pid, stat in _proc_stats() if stat[2] == self.proc.pid]

    def cpu_seconds(self) -> float:
        if self.proc is None:
            return 0.0
        tick = os.sysconf("SC_CLK_TCK")
        return sum(
            (stat[11] + stat[12]) / tick for _, stat in _proc_stats() if stat[2] == self.proc.pid
        )

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        pgid = proc.pid  # start_new_session: the group is the one we created for it
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            proc.wait(timeout=5)
        # Workers left in the group (they normally exit with the supervisor).
        for _ in range(50):
            if not [p for p, st in _proc_stats() if st[2] == pgid]:
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        self.proc = None


def start_server(stack: Cleanup, url: str, workers: int, tmp: Path, tag: str) -> Server:
    server = Server(url, workers, tmp / f"server-{tag}.log")
    stack.callback(server.stop)  # registered first: a failed start still cleans up
    log(f"starting inlier serve --workers {workers} on {server.base}")
    server.start()
    log(f"server up (pids {server.pids()})")
    return server


def _proc_stats() -> Iterator[tuple[int, list[int]]]:
    """(pid, fields of /proc/pid/stat after the name: [_, ppid, pgrp, ..., utime, stime])."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # Fields after "(comm)": rest[k] is field k+3 of proc(5): 1 ppid, 2 pgrp, 11 utime, 12 stime
        rest = raw[raw.rfind(")") + 2 :].split()
        try:
            yield int(entry.name), [0] + [int(x) for x in rest[1:20]]
        except ValueError:
            continue


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return float(total - idle), float(total)


def postgres_cpu_seconds() -> float:
    """CPU of every postgres process on the machine (ours and anybody else's), including
    backends that already ended (the postmaster's reaped-children time)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        name = raw[raw.find("(") + 1 : raw.rfind(")")]
        if name.startswith("postgres"):
            rest = raw[raw.rfind(")") + 2 :].split()
            total += sum(int(x) for x in rest[11:15]) / tick  # utime stime cutime cstime
    return total


# ---- the API -------------------------------------------------------------------------------

PAIRWISE_TEMPLATE: dict[str, Any] = {
    "fields": [
        {"name": "prompt", "type": "markdown"},
        {"name": "response_a", "type": "markdown"},
        {"name": "response_b", "type": "markdown"},
    ],
    "questions": [
        {
            "name": "preference",
            "type": "pairwise",
            "options": {"left": "response_a", "right": "response_b", "allow_tie": True},
        },
        {"name": "rationale", "type": "text", "required": True, "min_length": 20},
    ],
}

ANSWER: dict[str, Any] = {
    "preference": {"choice": "left", "strength": 2},
    "rationale": "Response A names the contraindication; B misses it entirely.",
}


class Api:
    """Synchronous setup calls (users, project, members, items) against a running server."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base + "/api/v1", timeout=120.0)

    def close(self) -> None:
        self.http.close()

    def _ok(self, r: httpx.Response) -> Any:
        if r.status_code >= 400:
            raise RuntimeError(f"{r.request.method} {r.request.url} → {r.status_code}: {r.text}")
        return r.json() if r.content else None

    def token(self, email: str, password: str = PASSWORD) -> str:
        r = self.http.post("/auth/token", json={"email": email, "password": password})
        return str(self._ok(r)["token"])

    def login_admin(self) -> None:
        self.http.headers["Authorization"] = "Bearer " + self.token(ADMIN_EMAIL)

    def create_user(self, email: str, roles: list[str]) -> str:
        body = {
            "email": email,
            "name": email.split("@")[0],
            "password": PASSWORD,
            "roles": roles,
            "profile": {"country": "BR", "degree": "MD", "languages": ["en"]},
        }
        return str(self._ok(self.http.post("/users", json=body))["id"])

    def create_project(self, name: str, overlap: int = 1) -> str:
        body = {
            "name": name,
            "guidelines": "Prefer the response a cardiologist would sign.",
            "template": PAIRWISE_TEMPLATE,
            "workflow": {"overlap": overlap, "review": {"sample_rate": 0.0}},
            "lease_minutes": 30,
            "status": "active",
        }
        return str(self._ok(self.http.post("/projects", json=body))["id"])

    def set_rate_card(self, project_id: str) -> None:
        self._ok(self.http.put(f"/projects/{project_id}/rate-card", json=rate_card()))

    def add_member(self, project_id: str, user_id: str, role: str = "contributor") -> None:
        self._ok(
            self.http.post(
                f"/projects/{project_id}/members", json={"user_id": user_id, "role": role}
            )
        )

    def import_ndjson(self, project_id: str, lines: list[bytes]) -> int:
        r = self.http.post(
            f"/projects/{project_id}/items",
            content=b"".join(lines),
            headers={"Content-Type": "application/x-ndjson"},
        )
        return int(self._ok(r)["created"])

    def stats(self, project_id: str) -> dict[str, Any]:
        return dict(self._ok(self.http.get(f"/projects/{project_id}/stats")))


def rate_card() -> dict[str, Any]:
    """An hourly card for attempts with degree and location multipliers, in force from a week
    ago: every submission is priced and writes its earnings line."""
    since = datetime.now(UTC) - timedelta(days=7)
    return {
        "effective_from": since.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "stages": {"attempt": {"hourly": {"amount": 4000, "currency": "USD"}}},
        "multipliers": {"degree": {"MD": 1.25}, "location_tier": {"1": 1.0}},
        "max_minutes_per_task": 30,
    }


def make_contributors(api: Api, project_id: str, n: int, tag: str) -> list[tuple[str, str]]:
    """``n`` contributors, members of the project; returns [(user_id, token)]."""
    people = []
    for i in range(n):
        email = f"c{i}-{tag}@bench.inlier"
        uid = api.create_user(email, ["contributor"])
        api.add_member(project_id, uid)
        people.append((uid, api.token(email)))
    return people


class RawHttp:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams, for load generation.

    httpx costs ~2.5 ms of CPU per request on the 2-core bench machine, more than the server
    spends on a no-op; this costs ~0.2 ms, leaving the cores to the server being measured.
    It understands exactly what `inlier serve` (uvicorn) sends: Content-Length or chunked
    bodies, keep-alive, and reconnects after ``Connection: close``.
    """

    def __init__(self, base: str, token: str | None = None, reconnect_every: int = 0) -> None:
        """``reconnect_every``: open a new connection after that many requests (0: never).
        With several server workers, fresh connections get spread over them as many real
        clients would be; a few long-lived ones all stay on whichever worker accepted them."""
        self.reconnect_every = reconnect_every
        self._served = 0
        hostport = base.removeprefix("http://").rstrip("/")
        host, _, port = hostport.partition(":")
        self.host, self.port = host, int(port or 80)
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        self._head = f"Host: {hostport}\r\n{auth}User-Agent: inlier-bench\r\n"
        self._r: asyncio.StreamReader | None = None
        self._w: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self._w is not None:
            self._w.close()
            with contextlib.suppress(Exception):
                await self._w.wait_closed()
        self._r = self._w = None

    async def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        if self._w is None:
            self._r, self._w = await asyncio.open_connection(self.host, self.port)
        assert self._r is not None
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        payload = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        if body is not None:
            extra += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        self._w.write(f"{method} {path} HTTP/1.1\r\n{self._head}{extra}\r\n".encode() + payload)
        head = await self._r.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length, chunked, close = 0, False, False
        for line in head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            key = key.strip().lower()
            if key == b"content-length":
                length = int(value)
            elif key == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif key == b"connection":
                close = value.strip().lower() == b"close"
        if chunked:
            parts = []
            while True:
                size = int((await self._r.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self._r.readuntil(b"\r\n")
                    break
                parts.append(await self._r.readexactly(size))
                await self._r.readexactly(2)
            data = b"".join(parts)
        else:
            data = await self._r.readexactly(length) if length else b""
        self._served += 1
        if close or (self.reconnect_every and self._served % self.reconnect_every == 0):
            await self.close()
        return status, data


# ---- items ---------------------------------------------------------------------------------

_VOCAB = (
    "patient presents with chest pain radiating to the left arm troponin elevated ECG shows "
    "ST elevation in leads II III aVF consider inferior myocardial infarction aspirin heparin "
    "beta blocker contraindicated bradycardia hypotension right ventricular involvement fluids "
    "nitrates avoid preload dependent echocardiogram ejection fraction reduced wall motion "
    "abnormality statin high intensity follow up cardiology clinic renal function potassium "
    "monitor telemetry history diabetes hypertension smoker family premature coronary disease "
    "the answer should weigh risks benefits guideline recommends first line therapy evidence "
    "trial showed mortality benefit however this case differs because of kidney injury"
)
_WORDS = _VOCAB.split()


def _text(rng: random.Random, target: int) -> str:
    words: list[str] = []
    size = 0
    while size < target:
        w = rng.choice(_WORDS)
        if rng.random() < 0.04:
            w = f"**{w}**"
        elif rng.random() < 0.02:
            w = f"$x_{rng.randint(1, 9)}^2$"
        words.append(w)
        size += len(w) + 1
    text = " ".join(words)
    return text[0].upper() + text[1:] + "."


def item_pool(seed: int = 7, size: int = 4096) -> list[str]:
    """Markdown snippets of about 200 bytes each, combined per row so rows differ."""
    rng = random.Random(seed)
    pool = []
    for i in range(size):
        t = _text(rng, 190)
        if i % 5 == 0:
            t = "- " + t.replace(". ", ".\n- ", 1)
        pool.append(t)
    return pool


def item_row(i: int, pool: list[str]) -> dict[str, Any]:
    n = len(pool)
    return {
        "external_id": f"bench-{i}",
        "data": {
            "prompt": f"Case {i}. {pool[i % n]}",
            "response_a": pool[(i * 7 + 1) % n],
            "response_b": pool[(i * 13 + 5) % n],
        },
    }


def write_items(path: Path, n: int, progress: Callable[[int], None] | None = None) -> int:
    """A JSONL file of ``n`` pairwise items; returns its size in bytes."""
    pool = item_pool()
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    with path.open("w", encoding="utf-8", buffering=1 << 20) as fh:
        for i in range(1, n + 1):
            fh.write(dumps(item_row(i, pool)))
            fh.write("\n")
            if progress is not None and i % 100_000 == 0:
                progress(i)
    return path.stat().st_size


def ndjson_chunks(n: int, chunk: int) -> Iterator[list[bytes]]:
    pool = item_pool()
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    batch: list[bytes] = []
    for i in range(1, n + 1):
        batch.append(dumps(item_row(i, pool)).encode() + b"\n")
        if len(batch) >= chunk:
            yield batch
            batch = []
    if batch:
        yield batch


def run_measured(cmd: list[str], timeout: float) -> tuple[int, float, int, str]:
    """Run a command; (returncode, wall seconds, peak RSS in KiB, stderr tail).

    The peak comes from the kernel's accounting of that very process (``wait4``), so
    nothing else on the machine is counted.
    """
    code, elapsed, usage, tail = run_usage(cmd, timeout)
    return code, elapsed, int(usage.ru_maxrss), tail


def run_usage(cmd: list[str], timeout: float) -> tuple[int, float, Any, str]:
    """Run a command; (returncode, wall seconds, its ``resource.struct_rusage``, stderr tail).

    On a shared machine wall time depends on the neighbours; the process's own CPU seconds
    (``ru_utime + ru_stime``) much less.
    """
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL, env=inlier_env()
        )
        deadline = start + timeout
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid == proc.pid:
                    break
                if time.perf_counter() > deadline:
                    proc.kill()
                    pid, status, usage = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.05)
        except BaseException:
            proc.kill()
            with contextlib.suppress(ChildProcessError):
                os.wait4(proc.pid, 0)
            raise
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read().decode(errors="replace")[-2000:]
    return proc.returncode, elapsed, usage, tail


def import_cli(url: str, project_id: str, path: Path, timeout: float = 3600) -> tuple[float, int]:
    """`inlier items import` → (seconds, peak RSS KiB); raises if it fails."""
    cmd = [INLIER, "items", "import", project_id, str(path), "--database-url", url]
    code, secs, rss, tail = run_measured(cmd, timeout)
    if code != 0:
        raise RuntimeError(f"inlier items import failed ({code}):\n{tail}")
    return secs, rss


# ---- profiles ------------------------------------------------------------------------------

_IDLE = (
    "aiosqlite/core.py:59)",  # aiosqlite's worker thread waiting for work
    "selectors.py:468)",  # the event loop waiting for I/O
    "Runner.run (asyncio/runners.py:118)",  # ... under uvloop
    "multiprocessing/connection.py:395)",  # uvicorn's supervisor waiting on its workers
    "(threading.py:331)",
    "(multiprocessing/resource_tracker.py:227)",
)


def summarize_pyspy(path: Path, top: int = 25) -> str:
    """A text summary of a `py-spy record --format raw` file: CPU share by package (self
    time) and the inlier functions with the most inclusive time. Samples of threads that
    only wait (aiosqlite's idle worker, the event loop's epoll) are left out."""
    by_pkg: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        if frames[-1].endswith(_IDLE) or (len(frames) == 1 and "multiprocessing" in stack):
            continue
        total += n
        found = re.search(r"\(([^()]+):\d+\)$", frames[-1])
        if found is None:  # only the process line: the time is in native code
            pkg = "(native code, no Python frame)"
        else:
            where = found.group(1)
            pkg = where.split("/")[0] if "/" in where else where
        by_pkg[pkg] = by_pkg.get(pkg, 0) + n
        # Per function (line numbers dropped); SQLAlchemy's async work runs in greenlets,
        # whose stacks py-spy shows apart from the inlier frames that started them.
        for f in {fr.split(":")[0] + ")" for fr in frames if "(inlier/" in fr}:
            inclusive[f] = inclusive.get(f, 0) + n
    if not total:
        return "no samples"
    out = [f"{total} busy samples; self time by package:"]
    for pkg, n in sorted(by_pkg.items(), key=lambda kv: -kv[1])[:12]:
        out.append(f"  {n / total * 100:5.1f}%  {pkg}")
    out.append("inclusive time of inlier functions:")
    for f, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        out.append(f"  {n / total * 100:5.1f}%  {f}")
    return "\n".join(out)


# ---- figures -------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile of unsorted ``values`` (q in 0..100); nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, r in enumerate(cells):
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if v != v:
            return "-"
        return f"{v:,.1f}" if abs(v) >= 10 else f"{v:.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def cpu_probe() -> float:
    """CPU seconds for 3 million Python additions (lower is faster): a yardstick for
    comparing figures taken on different machines, or on one machine at busier times."""
    c0 = time.process_time()
    total = 0
    for i in range(3_000_000):
        total += i
    return time.process_time() - c0


def code_version() -> str:
    """The commit, and a digest of src/ as it is on disk (it may hold uncommitted changes)."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "src").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        head = ""
    return f"commit {head or '?'}, src digest {digest.hexdigest()[:10]}"


def conditions() -> str:
    """One line about the machine, how busy it was when the run started, and the code."""
    load = os.getloadavg()
    return (
        f"{time.strftime('%Y-%m-%d %H:%M %Z')} · {os.cpu_count()} cores · "
        f"load avg {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} · "
        f"CPU probe {cpu_probe():.2f} s · Python {sys.version.split()[0]} · {code_version()}"
    )
