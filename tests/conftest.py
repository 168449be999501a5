"""Fixtures: real databases (SQLite always, PostgreSQL when INLIER_TEST_POSTGRES_URL is set),
real apps built by ``create_app`` with their own settings, and people who call the API."""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from inlier.app import create_app
from inlier.db.migrate import upgrade
from inlier.kit.clock import Clock
from inlier.settings import Settings

PG_URL = os.environ.get("INLIER_TEST_POSTGRES_URL")
# Cheap hashes keep user creation fast; the production default is tested in test_auth.
FAST_HASH = {"argon2_time_cost": 1, "argon2_memory_kib": 1024}
ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


CHROMIUM = os.environ.get("INLIER_TEST_CHROMIUM", "/usr/bin/chromium")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wants_browser = any("browser" in item.keywords for item in items)
    if wants_browser and not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            raise pytest.UsageError(f"CI must run the browser tests: no Chromium at {CHROMIUM}")
        no_browser = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM}")
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(no_browser)
    if PG_URL:
        return
    if os.environ.get("CI"):
        raise pytest.UsageError("CI must test PostgreSQL too: set INLIER_TEST_POSTGRES_URL")
    skip = pytest.mark.skip(reason="INLIER_TEST_POSTGRES_URL is not set")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _reset_pg_schema(url: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_migrated() -> str:
    """The test database, emptied and migrated once per run (tests own this database)."""
    assert PG_URL, "INLIER_TEST_POSTGRES_URL is not set"
    asyncio.run(_reset_pg_schema(PG_URL))
    upgrade(PG_URL)
    return PG_URL


async def truncate_pg(url: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version'"
        )
        names = ", ".join(f'"{t["tablename"]}"' for t in tables)
        await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@pytest.fixture(params=ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(engine_name: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated database for one test."""
    if engine_name == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "inlier.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_migrated")
    asyncio.run(truncate_pg(url))
    return url


#: Where apps built without their own ``data_dir`` keep files (never the working directory).
DATA_DIR = Path(tempfile.mkdtemp(prefix="inlier-test-data-"))
atexit.register(shutil.rmtree, DATA_DIR, ignore_errors=True)


def make_settings(db_url: str, **overrides: Any) -> Settings:
    overrides.setdefault("data_dir", DATA_DIR)
    return Settings(database_url=db_url, log_level="WARNING", **{**FAST_HASH, **overrides})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(db_url: str, clock: Clock, tmp_path: Path) -> AsyncIterator[Any]:
    settings = make_settings(db_url, data_dir=tmp_path / "data")
    application = create_app(settings, clock=clock)
    yield application
    await application.state.db.dispose()


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
async def browser_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A second client of the same app with its own cookies: a browser, for the pages."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


class Actor:
    """Someone calling the API with their own token."""

    def __init__(self, client: httpx.AsyncClient, user: dict[str, Any], token: str) -> None:
        self.client = client
        self.user = user
        self.id: str = user["id"]
        self.email: str = user["email"]
        self.token = token
        self.headers = {"Authorization": f"Bearer {token}"}

    async def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {**self.headers, **kw.pop("headers", {})}
        return await self.client.request(method, "/api/v1" + path, headers=headers, **kw)

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("POST", path, **kw)

    async def put(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("PUT", path, **kw)

    async def patch(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("PATCH", path, **kw)

    async def next(self, project_id: str | None = None) -> httpx.Response:
        return await self.post("/assignments/next", json={"project_id": project_id})


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

GOOD_ANSWER: dict[str, Any] = {
    "preference": {"choice": "left", "strength": 2},
    "rationale": "A is clinically sound; B recommends an unsafe dose.",
}


def pairwise_item(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "external_id": f"item-{n}",
        "data": {"prompt": f"Question {n}?", "response_a": f"A{n}", "response_b": f"B{n}"},
        **extra,
    }


class World:
    """Builds people and projects through the public API, as an admin would."""

    def __init__(self, app: Any, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client
        self._admin: Actor | None = None
        self._n = 0

    async def admin(self) -> Actor:
        if self._admin is None:
            from inlier.accounts import service as accounts

            async with self.app.state.db.session() as s:
                user = await accounts.create_user(
                    s,
                    email="admin@example.org",
                    name="Admin",
                    password="admin-password",
                    roles=["admin"],
                    profile={},
                    now=self.app.state.clock.now(),
                    passwords=self.app.state.passwords,
                )
                token = await accounts.issue_token(s, user, now=self.app.state.clock.now())
                out = await accounts.user_out(s, user)
            self._admin = Actor(self.client, out, token)
        return self._admin

    async def user(self, *roles: str, **profile: Any) -> Actor:
        admin = await self.admin()
        self._n += 1
        email = f"user{self._n}@example.org"
        r = await admin.post(
            "/users",
            json={
                "email": email,
                "name": f"User {self._n}",
                "password": "correct-horse",
                "roles": list(roles or ("contributor",)),
                "profile": profile,
            },
        )
        assert r.status_code == 201, r.text
        t = await self.client.post(
            "/api/v1/auth/token", json={"email": email, "password": "correct-horse"}
        )
        assert t.status_code == 201, t.text
        return Actor(self.client, r.json(), t.json()["token"])

    async def project(self, owner: Actor, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": "Cardiology preference",
            "guidelines": "Prefer the clinically sound answer.",
            "template": PAIRWISE_TEMPLATE,
            "workflow": {"overlap": 1, "review": {"sample_rate": 0.0}},
            **overrides,
        }
        r = await owner.post("/projects", json=body)
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def items(self, owner: Actor, project_id: str, rows: list[dict[str, Any]]) -> None:
        r = await owner.post(f"/projects/{project_id}/items", json=rows)
        assert r.status_code == 201, r.text

    async def member(
        self, owner: Actor, project_id: str, who: Actor, role: str = "contributor"
    ) -> None:
        r = await owner.post(
            f"/projects/{project_id}/members", json={"user_id": who.id, "role": role}
        )
        assert r.status_code == 201, r.text

    async def team(
        self, n_items: int = 3, n_workers: int = 2, **project: Any
    ) -> tuple[Actor, dict[str, Any], list[Actor]]:
        """An owner, a project with items, and contributors who are its members."""
        owner = await self.user("owner")
        proj = await self.project(owner, **project)
        await self.items(owner, proj["id"], [pairwise_item(i) for i in range(n_items)])
        workers = []
        for _ in range(n_workers):
            w = await self.user("contributor")
            await self.member(owner, proj["id"], w)
            workers.append(w)
        return owner, proj, workers


@pytest.fixture
def world(app: Any, client: httpx.AsyncClient) -> World:
    return World(app, client)


class Cli:
    """The `inlier` command, run in-process against its own SQLite database."""

    def __init__(self, url: str, data_dir: Path | None = None) -> None:
        from typer.testing import CliRunner

        self.url = url
        self.runner = CliRunner()
        self.env = {
            "INLIER_DATABASE_URL": url,
            **({"INLIER_DATA_DIR": str(data_dir)} if data_dir is not None else {}),
            "INLIER_ARGON2_TIME_COST": "1",
            "INLIER_ARGON2_MEMORY_KIB": "1024",
        }

    def __call__(self, *args: str, input: str | None = None) -> Any:
        from inlier.cli import app as cli_app

        return self.runner.invoke(cli_app, list(args), env=self.env, input=input)

    def init(self, email: str = "root@example.org") -> Any:
        return self(
            "init", "--admin-email", email, "--admin-password-stdin", input="root-password\n"
        )


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(f"sqlite:///{tmp_path / 'cli.db'}")


@pytest.fixture(scope="session", autouse=True)
def _no_proxy() -> Iterator[None]:
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    yield


class Live:
    """A real server on a loopback port, and a World that builds data through it."""

    def __init__(self, url: str, world: World, server_app: Any) -> None:
        self.url = url
        self.world = world
        self.app = server_app


class LiveServer:
    """uvicorn in a thread, serving its own app (its own engine, on the thread's loop)."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        import socket
        import threading

        import uvicorn

        self.app = create_app(settings, clock=clock)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.thread.start()
        for _ in range(500):
            if self.server.started:
                return
            await asyncio.sleep(0.01)
        raise RuntimeError("the live server did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture
async def live(db_url: str, clock: Clock, tmp_path: Path) -> AsyncIterator[Live]:
    settings = make_settings(db_url, data_dir=tmp_path / "data")
    server = LiveServer(settings, clock)
    await server.start()
    seed_app = create_app(settings, clock=clock)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        yield Live(server.url, World(seed_app, client), server.app)
    server.stop()
    await seed_app.state.db.dispose()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        await b.close()
