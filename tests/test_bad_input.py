"""Bad input through the API: every rule of API.md's "Rules every client relies on" that the
endpoints served today can break. Each bad request gets problem+json with the right status,
names what was wrong, and changes nothing."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from conftest import GOOD_ANSWER, PAIRWISE_TEMPLATE, Actor, World, make_settings, pairwise_item
from inlier.app import create_app
from inlier.kit.clock import Clock
from inlier.settings import Settings

PROBLEM = "application/problem+json"
BAD_CHARS_MSG = "NUL characters and unpaired surrogates are not allowed"


def assert_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    """``r`` is a problem+json answer with ``status``; returns its body."""
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text[:500]}"
    assert r.headers["content-type"].startswith(PROBLEM), r.headers["content-type"]
    body = r.json()
    for key in ("type", "title", "detail"):
        assert isinstance(body.get(key), str) and body[key], (key, body)
    assert body["status"] == status, body
    if status == 422:
        assert body["errors"], body
        for e in body["errors"]:
            assert isinstance(e["loc"], list) and isinstance(e["msg"], str), e
    return dict(body)


def locs(body: dict[str, Any]) -> list[list[Any]]:
    return [e["loc"] for e in body["errors"]]


@dataclass
class Scene:
    """An admin, an owner with a project of three items, a worker holding a lease on it, and a
    second worker (a member with no lease)."""

    world: World
    admin: Actor
    owner: Actor
    worker: Actor
    other: Actor
    project: dict[str, Any]
    assignment: dict[str, Any]

    @property
    def pid(self) -> str:
        return str(self.project["id"])

    @property
    def aid(self) -> str:
        return str(self.assignment["id"])

    async def snapshot(self) -> dict[str, Any]:
        """Everything a bad request could have changed, as the API shows it."""

        async def get(who: Actor, path: str) -> Any:
            r = await who.get(path)
            assert r.status_code == 200, (path, r.text)
            return r.json()

        return {
            "users": await get(self.admin, "/users?limit=1000"),
            "projects": await get(self.admin, "/projects?limit=1000"),
            "project": await get(self.admin, f"/projects/{self.pid}"),
            "stats": await get(self.admin, f"/projects/{self.pid}/stats"),
            "items": await get(self.admin, f"/projects/{self.pid}/items?limit=1000"),
            "members": await get(self.admin, f"/projects/{self.pid}/members?limit=1000"),
            "assignment": await get(self.worker, f"/assignments/{self.aid}"),
            "export": (await self.admin.get(f"/projects/{self.pid}/export")).text,
        }

    def body_ops(self) -> list[tuple[Actor | None, str, str, Any]]:
        """One good request for every operation that takes a body: (who, method, path, body)."""
        pid, aid = self.pid, self.aid
        return [
            (None, "POST", "/auth/token", {"email": self.other.email, "password": "correct-horse"}),
            (
                self.admin,
                "POST",
                "/users",
                {"email": "new@example.org", "name": "New", "password": "long-enough"},
            ),
            (self.admin, "PUT", f"/users/{self.other.id}/skills/medicine.cardiology", {"level": 3}),
            (self.owner, "POST", "/projects", {"name": "New", "template": PAIRWISE_TEMPLATE}),
            (self.owner, "PATCH", f"/projects/{pid}", {"name": "Renamed"}),
            (
                self.owner,
                "POST",
                f"/projects/{pid}/members",
                {"user_id": self.other.id, "role": "reviewer"},
            ),
            (self.owner, "POST", f"/projects/{pid}/items", [pairwise_item(100)]),
            (self.other, "POST", "/assignments/next", {"project_id": pid}),
            (self.worker, "POST", f"/assignments/{aid}/heartbeat", {"active_seconds": 5}),
            (self.worker, "PUT", f"/assignments/{aid}/draft", {"answer": {"rationale": "draft"}}),
            (self.worker, "POST", f"/assignments/{aid}/submit", {"answer": GOOD_ANSWER}),
        ]


async def send(
    client: httpx.AsyncClient, who: Actor | None, method: str, path: str, **kw: Any
) -> httpx.Response:
    if who is not None:
        return await who.request(method, path, **kw)
    return await client.request(method, "/api/v1" + path, **kw)


@pytest.fixture
async def scene(world: World) -> Scene:
    admin = await world.admin()
    owner, project, [worker, other] = await world.team(n_items=3, n_workers=2)
    r = await worker.next(project["id"])
    assert r.status_code == 200, r.text
    return Scene(world, admin, owner, worker, other, project, r.json())


# ---- auth ----------------------------------------------------------------------------------

BAD_AUTH: list[str | bytes | None] = [
    None,
    "",
    "Bearer",
    "Bearer    ",
    "Basic dXNlcjpwYXNzd29yZA==",
    "Token abc",
    "Bearerabc",
    "Bearer not-a-token-we-issued",
    "Bearer " + "x" * 5000,
    b"Bearer \xe9t\xe9",  # not ASCII
]


async def test_a_missing_or_malformed_token_is_exactly_401(
    scene: Scene, client: httpx.AsyncClient
) -> None:
    """Every authenticated operation answers 401 with ``WWW-Authenticate: Bearer`` — also when
    the rest of the request is wrong too (unknown ids, unknown fields)."""
    ops = [
        ("GET", "/me"),
        ("GET", "/users"),
        ("POST", "/users"),
        ("GET", "/users/abc"),
        ("PUT", "/users/1/skills/x.y"),
        ("GET", "/projects?limit=0"),
        ("POST", "/projects"),
        ("GET", f"/projects/{scene.pid}"),
        ("PATCH", "/projects/999999"),
        ("GET", f"/projects/{scene.pid}/stats"),
        ("GET", f"/projects/{scene.pid}/members?cursor=forged"),
        ("POST", f"/projects/{scene.pid}/members"),
        ("GET", f"/projects/{scene.pid}/items"),
        ("POST", f"/projects/{scene.pid}/items"),
        ("GET", f"/projects/{scene.pid}/export"),
        ("POST", "/assignments/next"),
        ("GET", f"/assignments/{scene.aid}"),
        ("POST", f"/assignments/{scene.aid}/submit"),
        ("POST", f"/assignments/{scene.aid}/heartbeat"),
        ("POST", f"/assignments/{scene.aid}/skip"),
        ("POST", f"/assignments/{scene.aid}/release"),
        ("PUT", f"/assignments/{scene.aid}/draft"),
    ]
    before = await scene.snapshot()
    for header in BAD_AUTH:
        headers = {} if header is None else {"Authorization": header}
        for method, path in ops:
            kw: dict[str, Any] = {"headers": headers}
            if method in ("POST", "PUT", "PATCH"):
                kw["json"] = {"unknown_field": 1}
            r = await client.request(method, "/api/v1" + path, **kw)
            assert_problem(r, 401)
            assert r.headers.get("www-authenticate") == "Bearer", (header, method, path)
    assert await scene.snapshot() == before
    # The same requests with a token are not refused for want of one.
    assert (await scene.worker.get("/me")).status_code == 200


# ---- bodies: media type, size, encoding ----------------------------------------------------

NOT_JSON = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
    "application/vnd.api+json",
    "application/octet-stream",
    None,
]


async def test_a_body_that_is_not_json_is_415(scene: Scene, client: httpx.AsyncClient) -> None:
    before = await scene.snapshot()
    for ctype in NOT_JSON:
        for who, method, path, body in scene.body_ops():
            headers = {"content-type": ctype} if ctype else {}
            r = await send(
                client, who, method, path, content=json.dumps(body).encode(), headers=headers
            )
            assert r.status_code == 415, (ctype, method, path, r.text[:300])
            assert_problem(r, 415)
    assert await scene.snapshot() == before


async def test_ndjson_is_taken_only_where_the_contract_says(
    scene: Scene, client: httpx.AsyncClient
) -> None:
    before = await scene.snapshot()
    for who, method, path, body in scene.body_ops():
        if path.endswith("/items"):
            continue
        r = await send(
            client,
            who,
            method,
            path,
            content=json.dumps(body).encode(),
            headers={"content-type": "application/x-ndjson"},
        )
        assert_problem(r, 415)
    assert await scene.snapshot() == before
    rows = "\n".join(json.dumps(pairwise_item(n)) for n in (200, 201)).encode()
    r = await scene.owner.post(
        f"/projects/{scene.pid}/items",
        content=rows,
        headers={"content-type": "application/x-ndjson"},
    )
    assert r.status_code == 201 and r.json() == {"created": 2}


async def test_json_with_a_charset_parameter_is_json(scene: Scene) -> None:
    r = await scene.owner.patch(
        f"/projects/{scene.pid}",
        content=json.dumps({"name": "Renamed"}).encode(),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert r.status_code == 200 and r.json()["name"] == "Renamed"


MALFORMED = [
    b'{"name": ',
    b"{'name': 'x'}",
    b'{"name": "x",}',
    b'{"name": "\xe9"}',  # latin-1, not UTF-8
    '{"name": "x"}'.encode("utf-16"),
    b'{"name": "' + b"\xed\xa0\x80" + b'"}',  # a surrogate encoded as if it were UTF-8
    b'{"name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",  # deeper than any parser goes
    b'{"lease_minutes": ' + b"9" * 5000 + b"}",  # more digits than Python converts
]


async def test_a_body_that_is_not_valid_json_is_a_client_error(scene: Scene) -> None:
    """Broken JSON, bytes that are not UTF-8, nesting no parser follows: 400/422, never 500."""
    before = await scene.snapshot()
    requests = [
        (scene.owner, "PATCH", f"/projects/{scene.pid}"),
        (scene.owner, "POST", f"/projects/{scene.pid}/items"),
        (scene.worker, "PUT", f"/assignments/{scene.aid}/draft"),
    ]
    for raw in MALFORMED:
        for who, method, path in requests:
            r = await who.request(
                method, path, content=raw, headers={"content-type": "application/json"}
            )
            assert r.status_code in (400, 422), (raw[:40], path, r.status_code, r.text[:300])
            assert_problem(r, r.status_code)
    assert await scene.snapshot() == before


async def test_bodies_whose_numbers_json_does_not_have_are_422(scene: Scene) -> None:
    """``NaN``, ``Infinity`` and ``1e400`` parse in Python but are not JSON; stored, they broke
    PostgreSQL (jsonb) and made SQLite answers unreadable."""
    before = await scene.snapshot()
    cases = [
        (scene.worker, "PUT", f"/assignments/{scene.aid}/draft", b'{"answer": {"x": NaN}}'),
        (scene.worker, "PUT", f"/assignments/{scene.aid}/draft", b'{"answer": {"x": [1e400]}}'),
        (
            scene.owner,
            "PATCH",
            f"/projects/{scene.pid}",
            b'{"models": {"m": {"provider": "replay", "params": {"t": -Infinity}}}}',
        ),
        (
            scene.owner,
            "POST",
            f"/projects/{scene.pid}/items",
            b'[{"data": {"prompt": "p", "response_a": "a", "response_b": "b"}, "priority": NaN}]',
        ),
    ]
    expected = [
        ["body", "answer", "x"],
        ["body", "answer", "x", 0],
        ["body", "models", "m", "params", "t"],
        ["body", 0, "priority"],
    ]
    for (who, method, path, raw), loc in zip(cases, expected, strict=True):
        r = await who.request(
            method, path, content=raw, headers={"content-type": "application/json"}
        )
        body = assert_problem(r, 422)
        assert locs(body) == [loc], body
    assert await scene.snapshot() == before
    # Large but finite numbers are fine.
    r = await scene.worker.put(
        f"/assignments/{scene.aid}/draft",
        content=b'{"answer": {"x": 1e300, "y": 123456789012345678901234567890}}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 200, r.text


async def test_a_body_over_the_limit_is_413_and_changes_nothing(db_url: str, clock: Clock) -> None:
    app = create_app(make_settings(db_url, max_body_bytes=2048), clock=clock)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            world = World(app, c)
            admin = await world.admin()
            proj = await world.project(admin)

            def sized(n: int) -> bytes:
                """A JSON array of item rows padded with spaces to exactly ``n`` bytes."""
                raw = json.dumps([pairwise_item(1)]).encode()
                return raw[:-1] + b" " * (n - len(raw)) + b"]"

            path = f"/projects/{proj['id']}/items"
            json_type = {"content-type": "application/json"}
            r = await admin.post(path, content=sized(2049), headers=json_type)
            assert_problem(r, 413)

            async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: read until too big
                body = sized(4000)
                for i in range(0, len(body), 500):
                    yield body[i : i + 500]

            r = await admin.post(path, content=chunks(), headers=json_type)
            assert_problem(r, 413)
            r = await admin.post("/projects", content=b" " * 2049 + b"{}", headers=json_type)
            assert_problem(r, 413)
            stats = (await admin.get(f"/projects/{proj['id']}/stats")).json()
            assert stats["items"] == 0
            assert len((await admin.get("/projects")).json()["data"]) == 1
            # At the limit exactly, the body goes through.
            r = await admin.post(path, content=sized(2048), headers=json_type)
            assert r.status_code == 201, r.text
    finally:
        await app.state.db.dispose()


async def test_the_default_body_limit_is_16_mib(db_url: str) -> None:
    limit = 16 * 1024 * 1024
    assert Settings(database_url=db_url).max_body_bytes == limit
    app = create_app(make_settings(db_url))
    sent: list[dict[str, Any]] = []

    async def call(length: int) -> int:
        """A request that declares ``length`` bytes (the limit is checked before reading)."""
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/api/v1/auth/token",
            "raw_path": b"/api/v1/auth/token",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"test"),
                (b"content-type", b"application/json"),
                (b"content-length", str(length).encode()),
            ],
            "client": ("127.0.0.1", 1),
            "server": ("test", 80),
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def record(message: dict[str, Any]) -> None:
            sent.append(message)

        sent.clear()
        await app(scope, receive, record)
        return int(sent[0]["status"])

    try:
        assert await call(limit + 1) == 413
        assert str(limit) in json.loads(sent[1]["body"])["detail"]
        assert await call(limit) != 413  # declared at the limit: read, then judged as JSON
    finally:
        await app.state.db.dispose()


# ---- unknown fields ------------------------------------------------------------------------


async def test_unknown_fields_in_create_and_update_bodies_are_422_naming_them(
    scene: Scene,
) -> None:
    pid, aid, s = scene.pid, scene.aid, scene
    template = json.loads(json.dumps(PAIRWISE_TEMPLATE))
    template["questions"][1]["weight"] = 2
    label_template = {
        "questions": [
            {"name": "ok", "type": "label", "options": {"labels": ["y", "n"], "colour": 1}}
        ]
    }
    user = {"email": "n@example.org", "name": "N", "password": "long-enough"}
    cases: list[tuple[Actor | None, str, str, Any, list[list[Any]]]] = [
        (s.admin, "POST", "/users", {**user, "nickname": "x"}, [["body", "nickname"]]),
        (
            s.admin,
            "POST",
            "/users",
            {**user, "nickname": "x", "shoe_size": 44},
            [["body", "nickname"], ["body", "shoe_size"]],
        ),
        (
            s.admin,
            "POST",
            "/users",
            {**user, "profile": {"country": "US", "shoe": 1}},
            [["body", "profile", "shoe"]],
        ),
        (
            s.owner,
            "POST",
            "/projects",
            {"name": "N", "template": PAIRWISE_TEMPLATE, "colour": "red"},
            [["body", "colour"]],
        ),
        (
            s.owner,
            "POST",
            "/projects",
            {"name": "N", "template": PAIRWISE_TEMPLATE, "workflow": {"overlap": 1, "speed": 2}},
            [["body", "workflow", "speed"]],
        ),
        (
            s.owner,
            "POST",
            "/projects",
            {"name": "N", "template": template},
            [["body", "template", "questions", 1, "weight"]],
        ),
        (
            s.owner,
            "POST",
            "/projects",
            {"name": "N", "template": label_template},
            [["body", "template", "questions", 0, "options", "colour"]],
        ),
        (s.owner, "PATCH", f"/projects/{pid}", {"owner": "me"}, [["body", "owner"]]),
        (
            s.owner,
            "PATCH",
            f"/projects/{pid}",
            {"requirements": {"age": 30}},
            [["body", "requirements", "age"]],
        ),
        (
            s.owner,
            "POST",
            f"/projects/{pid}/members",
            {"user_id": s.other.id, "role": "reviewer", "admin": True},
            [["body", "admin"]],
        ),
        (
            s.admin,
            "PUT",
            f"/users/{s.other.id}/skills/medicine.cardiology",
            {"level": 3, "verified": True},
            [["body", "verified"]],
        ),
        (
            None,
            "POST",
            "/auth/token",
            {"email": s.other.email, "password": "correct-horse", "remember": True},
            [["body", "remember"]],
        ),
        (
            s.other,
            "POST",
            "/assignments/next",
            {"project_id": pid, "stage": "review"},
            [["body", "stage"]],
        ),
        (
            s.worker,
            "POST",
            f"/assignments/{aid}/heartbeat",
            {"active_seconds": 1, "mood": "ok"},
            [["body", "mood"]],
        ),
        (
            s.worker,
            "PUT",
            f"/assignments/{aid}/draft",
            {"answer": {}, "autosave": True},
            [["body", "autosave"]],
        ),
        (
            s.worker,
            "POST",
            f"/assignments/{aid}/submit",
            {"answer": GOOD_ANSWER, "extra": 1},
            [["body", "extra"]],
        ),
        (
            s.worker,
            "POST",
            f"/assignments/{aid}/submit",
            {"answer": {**GOOD_ANSWER, "mood": "good"}},
            [["body", "answer", "mood"]],
        ),
        (
            s.owner,
            "POST",
            f"/projects/{pid}/items",
            [pairwise_item(10), {**pairwise_item(11), "colour": "x"}],
            [["body", 1, "colour"]],
        ),
        (
            s.owner,
            "POST",
            f"/projects/{pid}/items",
            [{"data": {**pairwise_item(12)["data"], "colour": "x"}}],
            [["body", 0, "data", "colour"]],
        ),
    ]
    before = await scene.snapshot()
    for who, method, path, body, expected in cases:
        r = await send(scene.world.client, who, method, path, json=body)
        problem = assert_problem(r, 422)
        assert locs(problem) == expected, (method, path, problem)
        unknown = expected[0][-1]
        assert str(unknown) in problem["detail"], problem
        if path.endswith("/items"):
            assert f"row {expected[0][1] + 1}" in problem["detail"], problem
    assert await scene.snapshot() == before


# ---- NUL and unpaired surrogates -----------------------------------------------------------

# As they stand in the JSON text: NUL, lone high and low surrogates, a reversed pair, and a
# high surrogate followed by a letter.
BAD_ESCAPES = ["\\u0000", "\\ud800", "\\udfff", "\\udc00\\ud800", "\\ud800\\u0041"]
MARK = "@@BAD@@"


def with_escape(body: Any, escape: str) -> bytes:
    return json.dumps(body).replace(MARK, escape).encode()


async def test_nul_and_unpaired_surrogates_anywhere_are_422(scene: Scene) -> None:
    pid, aid, s = scene.pid, scene.aid, scene
    question = {"name": "extra", "type": "text", "title": f"T {MARK}"}
    template = {**PAIRWISE_TEMPLATE, "questions": [*PAIRWISE_TEMPLATE["questions"], question]}
    rows = [pairwise_item(20), pairwise_item(21), pairwise_item(22)]
    rows[2]["data"]["prompt"] = f"Why {MARK}?"
    long_enough = "A is sound and B is not, clearly. "
    cases: list[tuple[Actor | None, str, str, Any, str, list[Any]]] = [
        (
            s.worker,
            "PUT",
            f"/assignments/{aid}/draft",
            {"answer": {"rationale": f"half {MARK} done"}},
            "application/json",
            ["body", "answer", "rationale"],
        ),
        (
            s.worker,
            "PUT",
            f"/assignments/{aid}/draft",
            {"answer": {f"k{MARK}": "x"}},
            "application/json",
            ["body", "answer"],
        ),
        (
            s.worker,
            "POST",
            f"/assignments/{aid}/submit",
            {"answer": {**GOOD_ANSWER, "rationale": long_enough + MARK}},
            "application/json",
            ["body", "answer", "rationale"],
        ),
        (
            s.admin,
            "POST",
            "/users",
            {"email": "n@example.org", "name": f"Ann {MARK}", "password": "long-enough"},
            "application/json",
            ["body", "name"],
        ),
        (
            s.admin,
            "POST",
            "/users",
            {
                "email": "n@example.org",
                "name": "Ann",
                "password": "long-enough",
                "profile": {"languages": ["en", f"f{MARK}r"]},
            },
            "application/json",
            ["body", "profile", "languages", 1],
        ),
        (
            s.owner,
            "POST",
            "/projects",
            {"name": "N", "template": template},
            "application/json",
            ["body", "template", "questions", 2, "title"],
        ),
        (
            s.owner,
            "PATCH",
            f"/projects/{pid}",
            {"guidelines": f"Be kind {MARK}"},
            "application/json",
            ["body", "guidelines"],
        ),
        (
            s.owner,
            "POST",
            f"/projects/{pid}/items",
            rows,
            "application/json",
            ["body", 2, "data", "prompt"],
        ),
        (
            s.owner,
            "POST",
            f"/projects/{pid}/members",
            {"user_id": f"1{MARK}", "role": "reviewer"},
            "application/json",
            ["body", "user_id"],
        ),
        (
            s.other,
            "POST",
            "/assignments/next",
            {"project_id": f"{pid}{MARK}"},
            "application/json",
            ["body", "project_id"],
        ),
        (
            None,
            "POST",
            "/auth/token",
            {"email": f"a{MARK}@example.org", "password": "whatever1"},
            "application/json",
            ["body", "email"],
        ),
    ]
    before = await scene.snapshot()
    for escape in BAD_ESCAPES:
        await _reject_everywhere(scene, escape, cases, rows)
    assert await scene.snapshot() == before


async def _reject_everywhere(
    s: Scene,
    escape: str,
    cases: list[tuple[Actor | None, str, str, Any, str, list[Any]]],
    rows: list[dict[str, Any]],
) -> None:
    pid = s.pid
    for who, method, path, body, ctype, loc in cases:
        raw = with_escape(body, escape)
        r = await send(
            s.world.client, who, method, path, content=raw, headers={"content-type": ctype}
        )
        problem = assert_problem(r, 422)
        assert problem["errors"][0]["msg"] == BAD_CHARS_MSG, (escape, path, problem)
        assert problem["errors"][0]["loc"][: len(loc)] == loc, (escape, path, problem)
    # NDJSON: the third line is bad; the detail names row 3.
    lines = "\n".join(json.dumps(row) for row in rows).replace(MARK, escape).encode()
    r = await s.owner.post(
        f"/projects/{pid}/items", content=lines, headers={"content-type": "application/x-ndjson"}
    )
    problem = assert_problem(r, 422)
    assert problem["errors"][0]["loc"] == ["body", 2, "data", "prompt"]
    assert problem["detail"].startswith("row 3: ")
    # In the query string.
    r = await s.admin.get("/projects", params={"cursor": "a\x00b"})
    assert_problem(r, 422)


async def test_raw_nul_bytes_are_422(scene: Scene) -> None:
    before = await scene.snapshot()
    r = await scene.owner.patch(
        f"/projects/{scene.pid}",
        content=b'{"name": "a\x00b"}',
        headers={"content-type": "application/json"},
    )
    assert_problem(r, 422)
    assert await scene.snapshot() == before


async def test_surrogates_sent_as_raw_bytes_are_422(scene: Scene) -> None:
    """A surrogate encoded like UTF-8 (ED A0 80) is not UTF-8; lenient decoders pass it
    through, and once stored it broke PostgreSQL writes and SQLite reads."""
    lone = b"\xed\xa0\x80"
    row = json.dumps([pairwise_item(31)]).encode().replace(b"Question 31?", lone)
    before = await scene.snapshot()
    cases = [
        (
            scene.worker,
            "PUT",
            f"/assignments/{scene.aid}/draft",
            b'{"answer": {"x": "' + lone + b'"}}',
        ),
        (scene.owner, "POST", f"/projects/{scene.pid}/items", row),
        (scene.owner, "PATCH", f"/projects/{scene.pid}", b'{"guidelines": "' + lone + b'"}'),
    ]
    for who, method, path, raw in cases:
        r = await who.request(
            method, path, content=raw, headers={"content-type": "application/json"}
        )
        assert locs(assert_problem(r, 422)) == [["body"]], path
    assert await scene.snapshot() == before


async def test_paired_surrogates_are_ordinary_text(scene: Scene) -> None:
    """The control for the test above: an escaped pair is one character (here an emoji)."""
    r = await scene.owner.patch(
        f"/projects/{scene.pid}",
        content=b'{"name": "Heart \\ud83e\\udec0 review"}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Heart \U0001fac0 review"
    r = await scene.worker.put(
        f"/assignments/{scene.aid}/draft",
        content=b'{"answer": {"rationale": "\\ud83d\\ude00 \\u2028 ok"}}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 200, r.text
    got = (await scene.worker.get(f"/assignments/{scene.aid}")).json()
    assert got["draft"]["answer"]["rationale"] == "\U0001f600 \u2028 ok"
    # A line separator inside an NDJSON string does not end the line.
    row = pairwise_item(30)
    row["data"]["prompt"] = "one\u2028two"
    r = await scene.owner.post(
        f"/projects/{scene.pid}/items",
        content=json.dumps(row, ensure_ascii=False).encode(),
        headers={"content-type": "application/x-ndjson"},
    )
    assert r.status_code == 201, r.text


# ---- lengths -------------------------------------------------------------------------------


async def test_names_and_titles_over_200_and_texts_over_100_000_are_422(scene: Scene) -> None:
    s = scene
    user = {"email": "n@example.org", "password": "long-enough"}

    def with_question(**extra: Any) -> dict[str, Any]:
        q = {"name": "note", "type": "text", **extra}
        return {"name": "N", "template": {"questions": [q]}}

    long_answer = {**GOOD_ANSWER, "rationale": "x" * 100_001}
    long_gold = [{**pairwise_item(40), "gold": {"rationale": "y" * 100_001}}]
    cases: list[tuple[Actor, str, str, Any, list[Any]]] = [
        (s.admin, "POST", "/users", {**user, "name": "n" * 201}, ["body", "name"]),
        (s.owner, "POST", "/projects", {**with_question(), "name": "p" * 201}, ["body", "name"]),
        (s.owner, "PATCH", f"/projects/{s.pid}", {"name": "p" * 201}, ["body", "name"]),
        (
            s.owner,
            "PATCH",
            f"/projects/{s.pid}",
            {"guidelines": "g" * 100_001},
            ["body", "guidelines"],
        ),
        (
            s.owner,
            "POST",
            "/projects",
            with_question(title="t" * 201),
            ["body", "template", "questions", 0, "title"],
        ),
        (
            s.owner,
            "POST",
            "/projects",
            with_question(description="d" * 100_001),
            ["body", "template", "questions", 0, "description"],
        ),
        (
            s.owner,
            "POST",
            f"/projects/{s.pid}/items",
            [{**pairwise_item(41), "external_id": "e" * 201}],
            ["body", 0, "external_id"],
        ),
        (s.owner, "POST", f"/projects/{s.pid}/items", long_gold, ["body", 0, "gold", "rationale"]),
        (
            s.worker,
            "POST",
            f"/assignments/{s.aid}/submit",
            {"answer": long_answer},
            ["body", "answer", "rationale"],
        ),
        (
            s.admin,
            "PUT",
            f"/users/{s.other.id}/skills/{'k' * 201}",
            {"level": 1},
            ["path", "skill"],
        ),
    ]
    before = await scene.snapshot()
    for who, method, path, body, loc in cases:
        problem = assert_problem(await who.request(method, path, json=body), 422)
        assert locs(problem) == [loc], (path, problem)
    r = await s.worker.post(
        f"/assignments/{s.aid}/submit",
        json={"answer": GOOD_ANSWER},
        headers={"Idempotency-Key": "k" * 201},
    )
    assert locs(assert_problem(r, 422)) == [["header", "idempotency-key"]]
    assert await scene.snapshot() == before
    # At the limits exactly, all of it is accepted.
    r = await s.admin.post("/users", json={**user, "name": "n" * 200})
    assert r.status_code == 201, r.text
    r = await s.owner.post(
        "/projects",
        json={
            **with_question(title="t" * 200, description="d" * 100_000),
            "name": "p" * 200,
            "guidelines": "g" * 100_000,
        },
    )
    assert r.status_code == 201, r.text
    ok_gold = [
        {**pairwise_item(42), "external_id": "e" * 200, "gold": {"rationale": "y" * 100_000}}
    ]
    assert (await s.owner.post(f"/projects/{s.pid}/items", json=ok_gold)).status_code == 201
    r = await s.worker.post(
        f"/assignments/{s.aid}/submit",
        json={"answer": {**GOOD_ANSWER, "rationale": "x" * 100_000}},
        headers={"Idempotency-Key": "k" * 200},
    )
    assert r.status_code == 201, r.text


# ---- lists ---------------------------------------------------------------------------------


def list_paths(s: Scene) -> list[tuple[Actor, str]]:
    return [
        (s.admin, "/users"),
        (s.admin, "/projects"),
        (s.owner, f"/projects/{s.pid}/members"),
        (s.owner, f"/projects/{s.pid}/items"),
    ]


async def test_limit_outside_1_to_1000_is_422(scene: Scene) -> None:
    for limit in ["0", "-1", "1001", "99999999999999999999", "abc", "1.5", "", "1e3"]:
        for who, path in list_paths(scene):
            r = await who.get(path, params={"limit": limit})
            assert locs(assert_problem(r, 422)) == [["query", "limit"]], (path, limit)


async def test_limits_at_the_bounds_page_through_everything(scene: Scene) -> None:
    """The control for the two tests around it: 1 and 1000 work, and the cursors we issue
    walk every row exactly once."""
    for who, path in list_paths(scene):
        everything = (await who.get(path, params={"limit": 1000})).json()
        assert everything["next_cursor"] is None and everything["data"]
        seen: list[Any] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 1}
            if cursor is not None:
                params["cursor"] = cursor
            page = (await who.get(path, params=params)).json()
            seen.extend(page["data"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == everything["data"], path


async def test_a_cursor_the_server_did_not_issue_is_400(scene: Scene) -> None:
    real = (await scene.admin.get("/users", params={"limit": 1})).json()["next_cursor"]
    assert real
    flipped = ("B" if real[0] == "A" else "A") + real[1:]
    forged = base64.urlsafe_b64encode(b"1.abcdefgh").decode().rstrip("=")
    bad = ["abc", "", "AAAA", "====", forged, flipped, real + "x", "é", "%", "1", "-1", "x" * 5000]
    for who, path in list_paths(scene):
        for cursor in bad:
            r = await who.get(path, params={"cursor": cursor})
            assert_problem(r, 400)
        assert (await who.get(path, params={"cursor": real})).status_code == 200


# ---- ids -----------------------------------------------------------------------------------

ODD_IDS = [
    "999999",
    "0",
    "01",
    "-1",
    "1e3",
    "1.0",
    "+1",
    " 1",
    "0x1",
    "abc",
    "null",
    "\u0661",  # ARABIC-INDIC DIGIT ONE
    "\U0001d7cf",  # MATHEMATICAL BOLD DIGIT ONE
    "\x00",
    "1;DROP TABLE users",
    "9" * 18,
    "9" * 19,
    "9" * 4000,
]


def id_ops(s: Scene) -> list[tuple[Actor, str, str, Any]]:
    """Every operation with an id in its path, as someone who would see any real id there:
    (who, method, path template with {id}, body)."""
    return [
        (s.admin, "GET", "/users/{id}", None),
        (s.admin, "PUT", "/users/{id}/skills/medicine.cardiology", {"level": 2}),
        (s.admin, "GET", "/projects/{id}", None),
        (s.admin, "PATCH", "/projects/{id}", {"name": "Renamed"}),
        (s.admin, "GET", "/projects/{id}/stats", None),
        (s.admin, "GET", "/projects/{id}/members", None),
        (s.admin, "POST", "/projects/{id}/members", {"user_id": s.other.id, "role": "reviewer"}),
        (s.admin, "GET", "/projects/{id}/items", None),
        (s.admin, "POST", "/projects/{id}/items", [pairwise_item(50)]),
        (s.admin, "GET", "/projects/{id}/export", None),
        (s.worker, "GET", "/assignments/{id}", None),
        (s.worker, "PUT", "/assignments/{id}/draft", {"answer": {"rationale": "x"}}),
        (s.worker, "POST", "/assignments/{id}/heartbeat", {"active_seconds": 1}),
        (s.worker, "POST", "/assignments/{id}/submit", {"answer": GOOD_ANSWER}),
        (s.worker, "POST", "/assignments/{id}/skip", None),
        (s.worker, "POST", "/assignments/{id}/release", None),
    ]


async def test_unknown_ids_of_any_shape_are_404(scene: Scene) -> None:
    before = await scene.snapshot()
    for who, method, template, body in id_ops(scene):
        for odd in ODD_IDS:
            path = template.replace("{id}", quote(odd, safe=""))
            kw = {"json": body} if body is not None else {}
            r = await who.request(method, path, **kw)
            assert_problem(r, 404)
    for odd in [i for i in ODD_IDS if len(i) <= 40 and "\x00" not in i]:
        r = await scene.other.post("/assignments/next", json={"project_id": odd})
        assert_problem(r, 404)
    assert await scene.snapshot() == before
    # The control: the same requests with ids that exist are not 404.
    real = {"users": scene.other.id, "projects": scene.pid, "assignments": scene.aid}
    for who, method, template, body in id_ops(scene):
        path = template.replace("{id}", real[template.split("/")[1]])
        kw = {"json": body} if body is not None else {}
        r = await who.request(method, path, **kw)
        # 409 once submit, skip or release has ended the lease: found, just no longer live.
        assert r.status_code < 300 or r.status_code == 409, (method, path, r.text[:300])


async def test_a_member_reference_to_an_unknown_user_is_422_naming_it(scene: Scene) -> None:
    before = await scene.snapshot()
    for odd in ("999999", "abc", "-1", "01", "9" * 40):
        r = await scene.owner.post(
            f"/projects/{scene.pid}/members", json={"user_id": odd, "role": "contributor"}
        )
        assert locs(assert_problem(r, 422)) == [["body", "user_id"]]
    assert await scene.snapshot() == before


# ---- types and ranges ----------------------------------------------------------------------


async def test_wrong_types_are_422_naming_the_field(scene: Scene) -> None:
    s = scene
    user = {"email": "n@example.org", "name": "N", "password": "long-enough"}
    project = {"name": "N", "template": PAIRWISE_TEMPLATE}
    hb = f"/assignments/{s.aid}/heartbeat"
    sub = f"/assignments/{s.aid}/submit"
    skill = f"/users/{s.other.id}/skills/medicine.cardiology"
    cases: list[tuple[Actor | None, str, str, Any, list[Any]]] = [
        (s.admin, "POST", "/users", {**user, "name": 5}, ["body", "name"]),
        (s.admin, "POST", "/users", {**user, "email": "not-an-email"}, ["body", "email"]),
        (s.admin, "POST", "/users", {**user, "roles": "admin"}, ["body", "roles"]),
        (s.admin, "POST", "/users", {**user, "roles": ["god"]}, ["body", "roles", 0]),
        (s.admin, "POST", "/users", {**user, "roles": []}, ["body", "roles"]),
        (s.admin, "POST", "/users", {**user, "profile": "x"}, ["body", "profile"]),
        (s.admin, "POST", "/users", {**user, "password": 12345678}, ["body", "password"]),
        (s.admin, "POST", "/users", [user], ["body"]),
        (s.owner, "POST", "/projects", {**project, "name": None}, ["body", "name"]),
        (s.owner, "POST", "/projects", {**project, "template": "x"}, ["body", "template"]),
        (
            s.owner,
            "POST",
            "/projects",
            {**project, "template": {"questions": "x"}},
            ["body", "template", "questions"],
        ),
        (
            s.owner,
            "POST",
            "/projects",
            {**project, "workflow": {"overlap": "two"}},
            ["body", "workflow", "overlap"],
        ),
        (s.owner, "POST", "/projects", {**project, "status": "deleted"}, ["body", "status"]),
        (s.owner, "POST", "/projects", {**project, "visibility": "public"}, ["body", "visibility"]),
        (s.owner, "PATCH", f"/projects/{s.pid}", {"name": {}}, ["body", "name"]),
        (
            s.owner,
            "PATCH",
            f"/projects/{s.pid}",
            {"requirements": {"skills": {"medicine": "high"}}},
            ["body", "requirements", "skills", "medicine"],
        ),
        (s.owner, "PATCH", f"/projects/{s.pid}", "rename", ["body"]),
        (
            s.owner,
            "POST",
            f"/projects/{s.pid}/members",
            {"user_id": s.other.id, "role": "king"},
            ["body", "role"],
        ),
        (
            s.owner,
            "POST",
            f"/projects/{s.pid}/members",
            {"user_id": int(s.other.id), "role": "reviewer"},
            ["body", "user_id"],
        ),
        (s.owner, "POST", f"/projects/{s.pid}/items", {"data": {}}, ["body"]),
        (s.owner, "POST", f"/projects/{s.pid}/items", [[1]], ["body", 0]),
        (
            s.owner,
            "POST",
            f"/projects/{s.pid}/items",
            [{**pairwise_item(60), "priority": "high"}],
            ["body", 0, "priority"],
        ),
        (
            s.owner,
            "POST",
            f"/projects/{s.pid}/items",
            [{"data": {**pairwise_item(61)["data"], "prompt": 7}}],
            ["body", 0, "data", "prompt"],
        ),
        (s.admin, "PUT", skill, {"level": "high"}, ["body", "level"]),
        (s.admin, "PUT", skill, {"level": 6}, ["body", "level"]),
        (s.admin, "PUT", skill, {"level": -1}, ["body", "level"]),
        (s.admin, "PUT", skill, {"level": 2.5}, ["body", "level"]),
        (None, "POST", "/auth/token", {"email": ["a"], "password": "x"}, ["body", "email"]),
        (s.other, "POST", "/assignments/next", {"project_id": int(s.pid)}, ["body", "project_id"]),
        (s.worker, "POST", hb, {"active_seconds": "soon"}, ["body", "active_seconds"]),
        (s.worker, "POST", hb, {"active_seconds": None}, ["body", "active_seconds"]),
        (s.worker, "POST", hb, {}, ["body", "active_seconds"]),
        (s.worker, "PUT", f"/assignments/{s.aid}/draft", {"answer": "yes"}, ["body", "answer"]),
        (s.worker, "POST", sub, {"answer": "yes"}, ["body", "answer"]),
        (
            s.worker,
            "POST",
            sub,
            {"answer": {**GOOD_ANSWER, "preference": "left"}},
            ["body", "answer", "preference"],
        ),
        (s.worker, "POST", sub, {"answer": GOOD_ANSWER, "verdict": "meh"}, ["body", "verdict"]),
    ]
    before = await scene.snapshot()
    for who, method, path, body, loc in cases:
        r = await send(s.world.client, who, method, path, json=body)
        problem = assert_problem(r, 422)
        assert loc in locs(problem), (method, path, body, problem)
    assert await scene.snapshot() == before


# Integral floats (30.0) are integers to JSON Schema, and accepted; strings and booleans are not.
OUT_OF_RANGE_MINUTES = [0, -1, 1441, 10**6, 2**63, 10**30, 1.5, 1440.5, "30", True, None, [30]]


async def test_lease_minutes_is_an_integer_from_1_to_1440(scene: Scene) -> None:
    before = await scene.snapshot()
    for value in OUT_OF_RANGE_MINUTES:
        body = {"name": "N", "template": PAIRWISE_TEMPLATE, "lease_minutes": value}
        r = await scene.owner.post("/projects", json=body)
        assert locs(assert_problem(r, 422)) == [["body", "lease_minutes"]], value
        if value is None:
            continue  # on a PATCH, null means "leave it"
        r = await scene.owner.patch(f"/projects/{scene.pid}", json={"lease_minutes": value})
        assert locs(assert_problem(r, 422)) == [["body", "lease_minutes"]], value
    assert await scene.snapshot() == before
    for value in (1, 1440, 30.0):
        r = await scene.owner.patch(f"/projects/{scene.pid}", json={"lease_minutes": value})
        assert r.status_code == 200 and r.json()["lease_minutes"] == value
        body = {"name": "N", "template": PAIRWISE_TEMPLATE, "lease_minutes": value}
        assert (await scene.owner.post("/projects", json=body)).status_code == 201


OUT_OF_RANGE_SECONDS = [-1, 86_401, 2**31, 10**30, 1.5, -0.5, "60", True]


async def test_active_seconds_is_an_integer_from_0_to_86400(scene: Scene, clock: Clock) -> None:
    before = await scene.snapshot()
    clock.advance(timedelta(minutes=1))  # a heartbeat that got through would move expires_at
    for value in OUT_OF_RANGE_SECONDS:
        r = await scene.worker.post(
            f"/assignments/{scene.aid}/heartbeat", json={"active_seconds": value}
        )
        assert locs(assert_problem(r, 422)) == [["body", "active_seconds"]], value
        r = await scene.worker.post(
            f"/assignments/{scene.aid}/submit",
            json={"answer": GOOD_ANSWER, "active_seconds": value},
            headers={"Idempotency-Key": f"k-{value!r}"},
        )
        assert locs(assert_problem(r, 422)) == [["body", "active_seconds"]], value
    assert await scene.snapshot() == before
    for value in (0, 60.0, 86_400):
        r = await scene.worker.post(
            f"/assignments/{scene.aid}/heartbeat", json={"active_seconds": value}
        )
        assert r.status_code == 200 and r.json()["active_seconds"] == value
    r = await scene.worker.post(
        f"/assignments/{scene.aid}/submit", json={"answer": GOOD_ANSWER, "active_seconds": 0}
    )
    assert r.status_code == 201 and r.json()["active_seconds"] == 86_400


# ---- passwords and sign-in -----------------------------------------------------------------


async def test_passwords_under_8_characters_are_422(scene: Scene) -> None:
    before = await scene.snapshot()
    for password in ("", "1234567", "\u00fc" * 7, "\U0001f511" * 7):
        r = await scene.admin.post(
            "/users", json={"email": "n@example.org", "name": "N", "password": password}
        )
        assert locs(assert_problem(r, 422)) == [["body", "password"]], password
    assert await scene.snapshot() == before
    r = await scene.admin.post(
        "/users", json={"email": "n@example.org", "name": "N", "password": "\U0001f511" * 8}
    )
    assert r.status_code == 201, r.text
    r = await scene.world.client.post(
        "/api/v1/auth/token", json={"email": "n@example.org", "password": "\U0001f511" * 8}
    )
    assert r.status_code == 201


def client_from(app: Any, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def login(c: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await c.post("/api/v1/auth/token", json={"email": email, "password": password})


def assert_rate_limited(r: httpx.Response) -> None:
    assert_problem(r, 429)
    wait = int(r.headers["retry-after"])
    assert 1 <= wait <= 15 * 60 + 1, wait


async def test_ten_failed_sign_ins_for_an_email_lock_it_for_15_minutes(
    world: World, app: Any, clock: Clock
) -> None:
    victim = await world.user()
    for n in range(10):  # from ten addresses, in any spelling of the email
        async with client_from(app, f"10.0.0.{n + 1}") as c:
            email = victim.email.upper() if n % 2 else victim.email
            r = await login(c, email, f"wrong-password-{n}")
            assert_problem(r, 401)
    async with client_from(app, "10.0.1.1") as c:
        assert_rate_limited(await login(c, victim.email, "correct-horse"))
        assert_rate_limited(await login(c, victim.email, "wrong-again"))
        # Other people are not locked out.
        other = await world.user()
        assert (await login(c, other.email, "correct-horse")).status_code == 201
        clock.advance(timedelta(minutes=15, seconds=1))
        assert (await login(c, victim.email, "correct-horse")).status_code == 201


async def test_nine_failures_do_not_lock_an_email(world: World, app: Any) -> None:
    victim = await world.user()
    async with client_from(app, "10.0.2.1") as c:
        for n in range(9):
            assert_problem(await login(c, victim.email, f"wrong-{n}"), 401)
        assert (await login(c, victim.email, "correct-horse")).status_code == 201


async def test_ten_failed_sign_ins_from_an_address_lock_that_address(
    world: World, app: Any, clock: Clock
) -> None:
    someone = await world.user()
    async with client_from(app, "192.0.2.7") as c:
        for n in range(10):  # ten different emails, most of them unknown
            assert_problem(await login(c, f"guess{n}@example.org", "password1"), 401)
        assert_rate_limited(await login(c, someone.email, "correct-horse"))
    async with client_from(app, "192.0.2.8") as c:
        assert (await login(c, someone.email, "correct-horse")).status_code == 201
    clock.advance(timedelta(minutes=15, seconds=1))
    async with client_from(app, "192.0.2.7") as c:
        assert (await login(c, someone.email, "correct-horse")).status_code == 201


# ---- item imports --------------------------------------------------------------------------

BATCH = 10_000
BAD_ROW = 7777  # 1-based, as the detail names it


def batch_row(n: int) -> dict[str, Any]:
    """Row ``n`` of a batch; its external id is not one ``World.team`` imported."""
    return {**pairwise_item(n), "external_id": f"batch-{n}"}


def batch_with_bad_row(bad: Any) -> list[Any]:
    rows: list[Any] = [batch_row(n) for n in range(BATCH)]
    rows[BAD_ROW - 1] = bad
    return rows


BAD_ROWS = [
    pytest.param(
        {"data": {"prompt": "p", "response_a": "a"}}, ["data", "response_b"], id="missing-field"
    ),
    pytest.param({**pairwise_item(-1), "colour": "red"}, ["colour"], id="unknown-field"),
    pytest.param({**pairwise_item(-2), "priority": "high"}, ["priority"], id="wrong-type"),
    pytest.param(
        {**pairwise_item(-3), "gold": {"preference": {"choice": "sideways"}}},
        ["gold", "preference", "choice"],
        id="bad-gold",
    ),
    pytest.param("not an object", [], id="not-an-object"),
]


@pytest.mark.parametrize(("bad", "where"), BAD_ROWS)
async def test_a_bad_row_7777_of_10000_rejects_the_whole_import(
    world: World, bad: Any, where: list[Any]
) -> None:
    owner, proj, _ = await world.team(n_items=2, n_workers=0)
    path = f"/projects/{proj['id']}/items"
    before = (await owner.get(f"/projects/{proj['id']}/stats")).json()
    items_before = (await owner.get(path, params={"limit": 1000})).json()
    rows = batch_with_bad_row(bad)
    problem = assert_problem(await owner.post(path, json=rows), 422)
    assert problem["detail"].startswith(f"row {BAD_ROW}: "), problem["detail"]
    assert problem["errors"][0]["loc"][: 2 + len(where)] == ["body", BAD_ROW - 1, *where]
    ndjson = "\n".join(json.dumps(row) for row in rows).encode()
    r = await owner.post(path, content=ndjson, headers={"content-type": "application/x-ndjson"})
    assert assert_problem(r, 422)["detail"].startswith(f"row {BAD_ROW}: ")
    assert (await owner.get(f"/projects/{proj['id']}/stats")).json() == before
    assert (await owner.get(path, params={"limit": 1000})).json() == items_before


async def test_a_duplicate_external_id_in_row_7777_rejects_the_whole_import(world: World) -> None:
    owner, proj, _ = await world.team(n_items=2, n_workers=0)
    path = f"/projects/{proj['id']}/items"
    before = (await owner.get(f"/projects/{proj['id']}/stats")).json()
    repeats = batch_with_bad_row(batch_row(12))  # the external id of row 13 again
    exists = batch_with_bad_row(pairwise_item(1))  # already imported by World.team
    for rows in (repeats, exists):
        problem = assert_problem(await owner.post(path, json=rows), 409)
        assert problem["detail"].startswith(f"row {BAD_ROW}: "), problem["detail"]
    assert (await owner.get(f"/projects/{proj['id']}/stats")).json() == before
    # The control: the same batch with row 7777 fixed goes in whole.
    r = await owner.post(path, json=batch_with_bad_row(batch_row(BATCH)))
    assert r.status_code == 201 and r.json() == {"created": BATCH}, r.text
    after = (await owner.get(f"/projects/{proj['id']}/stats")).json()
    assert after["items"] == before["items"] + BATCH
    assert after["slots"]["open"] == before["slots"]["open"] + BATCH


# ---- whatever the route ----------------------------------------------------------------------


async def test_unknown_paths_and_methods_are_problems_too(scene: Scene) -> None:
    assert_problem(await scene.admin.get("/no-such-thing"), 404)
    # A 405 lists every method the path has, not just those of the first route that matched.
    for method, path, allow in [
        ("DELETE", f"/projects/{scene.pid}", "GET, PATCH"),
        ("DELETE", "/users", "GET, POST"),
        ("PUT", f"/projects/{scene.pid}/items", "GET, POST"),
        ("GET", "/assignments/next", None),  # GET /assignments/{id} with the id "next"
        ("PUT", "/assignments/next", "POST"),
    ]:
        r = await scene.admin.request(method, path, json={})
        if allow is None:
            assert_problem(r, 404)
            continue
        assert_problem(r, 405)
        assert r.headers["allow"] == allow, (method, path)
