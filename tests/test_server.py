"""`inlier serve` as a real process: it migrates, answers, exposes health and metrics, and its
worker processes stop with it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def serve(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    workers = str(getattr(request, "param", 2))
    port = _free_port()
    env = {
        **os.environ,
        "INLIER_DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}",
        "INLIER_ARGON2_TIME_COST": "1",
        "INLIER_ARGON2_MEMORY_KIB": "1024",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "inlier",
            "serve",
            "--port",
            str(port),
            "--workers",
            workers,
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise AssertionError(
            f"server did not start: {proc.stderr.read().decode() if proc.stderr else ''}"
        )
    yield base, proc
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


@pytest.mark.parametrize("serve", [1], indirect=True)
def test_a_served_app_answers_health_metrics_and_openapi(
    serve: tuple[str, subprocess.Popen[bytes]],
) -> None:
    base, _ = serve
    health = httpx.get(base + "/healthz").json()
    assert health["status"] == "ok"
    spec = httpx.get(base + "/api/v1/openapi.json").json()
    assert "/api/v1/assignments/next" in spec["paths"]
    r = httpx.get(base + "/api/v1/me")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["x-request-id"]
    metrics = httpx.get(base + "/metrics").text  # one worker: it counted the 401
    assert "inlier_http_requests_total" in metrics and 'status="401"' in metrics


def test_stopping_the_server_stops_its_workers(serve: tuple[str, subprocess.Popen[bytes]]) -> None:
    _, proc = serve
    workers = _children(proc.pid)
    assert len(workers) >= 2
    proc.send_signal(signal.SIGTERM)
    proc.wait(20)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers)
