"""What every response carries: request ids, security headers, and metrics by route."""

from __future__ import annotations

import httpx


async def test_a_plain_request_id_is_echoed_and_anything_else_replaced(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/api/v1/me", headers={"X-Request-ID": "trace-42.a"})
    assert r.headers["x-request-id"] == "trace-42.a"
    for bad in ("x" * 65, "has space", "semi;colon"):
        r = await client.get("/api/v1/me", headers={"X-Request-ID": bad})
        assert r.headers["x-request-id"] != bad
        assert len(r.headers["x-request-id"]) == 32
    r = await client.get("/api/v1/me")
    assert len(r.headers["x-request-id"]) == 32


async def test_responses_carry_security_headers(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/api/v1/projects/5")
    await client.get("/api/v1/projects/6")
    text = (await client.get("/metrics")).text
    line = next(
        ln
        for ln in text.splitlines()
        if ln.startswith("inlier_http_requests_total{") and "project_id" in ln
    )
    assert 'route="/projects/{project_id}"' in line and 'status="401"' in line
    assert line.endswith(" 2.0")
