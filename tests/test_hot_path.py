"""`next` and `submit` answered before FastAPI's routing (inlier/workflow/hot.py), and the
prebuilt statements run on SQLite's driver connection (inlier/db/direct.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    literal,
    select,
)
from sqlalchemy.exc import IntegrityError

from conftest import GOOD_ANSWER, Actor, World, make_settings, pairwise_item
from inlier.app import create_app
from inlier.db.base import Json
from inlier.db.direct import Direct, Rows
from inlier.db.engine import core_connection
from inlier.kit import auth


def _comparable(r: httpx.Response) -> tuple[Any, ...]:
    """A response without what differs between two projects of one database: ids and times."""
    return (
        r.status_code,
        r.headers.get("inlier-reason"),
        r.headers.get("content-type"),
        _without_ids(r.json() if r.content else None),
    )


def _without_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _without_ids(v)
            for k, v in value.items()
            if not (k == "id" or k.endswith("_id") or k.endswith("_at") or k == "instance")
        }
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


async def _scenario(world: World, project: dict[str, Any], owner: Any) -> list[tuple[Any, ...]]:
    worker = await world.user("contributor")
    await world.member(owner, project["id"], worker)
    seen = []
    first = await worker.next(project["id"])
    seen.append(_comparable(first))
    again = await worker.post("/assignments/next", json={"project_id": project["id"]})
    seen.append(_comparable(again))
    aid = first.json()["id"]
    key = {"Idempotency-Key": "k-1"}
    body = {"answer": GOOD_ANSWER, "active_seconds": 40}
    for _ in range(2):  # the same key again: the original, 200
        r = await worker.post(f"/assignments/{aid}/submit", json=body, headers=key)
        seen.append(_comparable(r))
    r = await worker.post(
        f"/assignments/{aid}/submit", json={**body, "active_seconds": 9}, headers=key
    )
    seen.append(_comparable(r))  # the same key with another body: 409
    second = await worker.post("/assignments/next", content=b"", headers={})  # routed by `next`
    seen.append(_comparable(second))
    aid = second.json()["id"]
    # Someone else's lease, one that does not exist and one that cannot: not found.
    other = await world.user("contributor")
    await world.member(owner, project["id"], other)
    for target in (aid, "999999", "not-an-id"):
        r = await other.post(f"/assignments/{target}/submit", json=body)
        seen.append(_comparable(r))
    bad = await worker.post(f"/assignments/{aid}/submit", json={"answer": {"nope": 1}})
    seen.append(_comparable(bad))
    wrong = await worker.post(f"/assignments/{aid}/submit", json={**body, "extra": 1})
    seen.append(_comparable(wrong))
    ok = await worker.post(f"/assignments/{aid}/submit", json=body)
    seen.append(_comparable(ok))
    seen.append(_comparable(await worker.next(project["id"])))  # nothing left: 204 and why
    return seen


async def test_the_fast_path_answers_as_the_routes_do(
    db_url: str, clock: Any, tmp_path: Path
) -> None:
    """The same calls on two projects of one database, through an app with the fast path and
    one without: the same statuses, headers and bodies."""
    answers = []
    admin: Actor | None = None
    for hot in (True, False):
        app = create_app(make_settings(db_url, data_dir=tmp_path, hot_path=hot), clock=clock)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            world = World(app, c)
            world._n = 100 if hot else 200  # new people on the shared database
            if admin is not None:  # the first app made the admin
                world._admin = Actor(c, admin.user, admin.token)
            owner = await world.user("owner")
            project = await world.project(owner)
            await world.items(owner, project["id"], [pairwise_item(i) for i in range(2)])
            admin = await world.admin()
            answers.append(await _scenario(world, project, owner))
        await app.state.db.dispose()
    hot_answers, route_answers = answers
    assert [a[0] for a in hot_answers] == [
        *(200, 200, 201, 200, 409, 200),
        *(404, 404, 404),
        *(422, 422, 201, 204),
    ]
    assert hot_answers == route_answers


async def test_the_fast_path_serves_next_and_submit_without_the_routes(
    app: Any, world: World
) -> None:
    """With the routes' authentication made to fail, the ordinary calls still succeed: they
    never reached the routes. A call the fast path does not take (a cookie session, a bad
    body) goes to the routes, and fails there."""
    _owner, project, (worker,) = await world.team(n_items=2, n_workers=1)

    def routes_only() -> Any:
        raise AssertionError("served by the route")

    app.dependency_overrides[auth._principal] = routes_only
    try:
        r = await worker.next(project["id"])
        assert r.status_code == 200, r.text
        aid = r.json()["id"]
        key = {"Idempotency-Key": uuid.uuid4().hex}
        body = {"answer": GOOD_ANSWER, "active_seconds": 30}
        r = await worker.post(f"/assignments/{aid}/submit", json=body, headers=key)
        assert r.status_code == 201, r.text
        with pytest.raises(AssertionError, match="served by the route"):
            await worker.post(f"/assignments/{aid}/submit", json={"answer": 5})
        with pytest.raises(AssertionError, match="served by the route"):  # which key?
            await worker.client.post(
                f"/api/v1/assignments/{aid}/submit",
                json=body,
                headers=[
                    ("Authorization", f"Bearer {worker.token}"),
                    ("Idempotency-Key", "one"),
                    ("Idempotency-Key", "two"),
                ],
            )
    finally:
        app.dependency_overrides.clear()
    r = await worker.post(f"/assignments/{aid}/submit", json={"answer": 5})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"


async def test_fast_path_calls_are_counted_under_their_route(
    client: httpx.AsyncClient, world: World
) -> None:
    _owner, project, (worker,) = await world.team(n_items=1, n_workers=1)
    r = await worker.next(project["id"])
    await worker.post(f"/assignments/{r.json()['id']}/submit", json={"answer": GOOD_ANSWER})
    await worker.post("/assignments/999999/submit", json={"answer": GOOD_ANSWER})  # the route's 404
    text = (await client.get("/metrics")).text
    counted = {
        ln.split("{", 1)[1].rsplit("}", 1)[0]: ln.rsplit(" ", 1)[1]
        for ln in text.splitlines()
        if ln.startswith("inlier_http_requests_total{") and "/assignments/" in ln
    }
    assert counted == {
        'method="POST",route="/assignments/next",status="200"': "1.0",
        'method="POST",route="/assignments/{assignment_id}/submit",status="201"': "1.0",
        'method="POST",route="/assignments/{assignment_id}/submit",status="404"': "1.0",
    }


# ---- Direct ---------------------------------------------------------------------------------

_meta = MetaData()
_things = Table(
    "direct_things",
    _meta,
    Column("id", Integer, primary_key=True),
    Column("label", String(200)),
    Column("doc", Json),
    Column("at", DateTime()),
    Column("flag", Boolean),
)
_INSERT = _things.insert().returning(_things.c.id, _things.c.doc, _things.c.at, _things.c.flag)
_BY_ID = select(_things.c.label, _things.c.doc, _things.c.at, _things.c.flag)

# PostgreSQL's text and JSONB hold no NUL.
_text = st.text(st.characters(exclude_characters="\x00"), max_size=20)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)
# Times are naive UTC throughout the app (inlier.db.base).
_when = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1))


@asynccontextmanager
async def _scratch_table(db: Any) -> AsyncIterator[None]:
    async with db.engine.begin() as conn:
        await conn.run_sync(_meta.create_all)
    try:
        yield
    finally:
        async with db.engine.begin() as conn:
            await conn.run_sync(_meta.drop_all)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    label=_text,
    doc=_json,
    at=st.none() | _when,
    flag=st.none() | st.booleans(),
)
async def test_direct_statements_read_and_write_as_sqlalchemy_does(
    app: Any, label: str, doc: Any, at: datetime | None, flag: bool | None
) -> None:
    """A row written on the driver connection reads back through SQLAlchemy as written, and
    the other way round, with JSON, time and boolean columns converted alike."""
    db = app.state.db
    values = {"label": label, "doc": doc, "at": at, "flag": flag}
    async with _scratch_table(db), db.session() as s:
        direct = await core_connection(s)
        assert direct.raw is not None or direct.pg is not None  # straight on the driver
        written = (await direct.execute(_INSERT, values)).one()
        by_sqlalchemy = (await direct.conn.execute(_BY_ID.where(_things.c.id == written.id))).one()
        other = (await direct.conn.execute(_INSERT, values)).one()
        by_direct = (await direct.execute(_BY_ID.where(_things.c.id == other.id))).one()
    assert (written.doc, written.at, written.flag) == (doc, at, flag)
    assert tuple(by_sqlalchemy) == tuple(by_direct) == (label, doc, at, flag)
    assert by_direct._mapping["label"] == label


async def test_direct_raises_sqlalchemys_errors_and_leaves_what_it_cannot_take(app: Any) -> None:
    async with _scratch_table(app.state.db):
        await _errors_and_fallbacks(app.state.db)


async def _errors_and_fallbacks(db: Any) -> None:
    with pytest.raises(IntegrityError):
        async with db.session() as s:
            direct = await core_connection(s)
            await direct.execute(_things.insert(), {"id": 1, "label": "a"})
            await direct.execute(_things.insert(), {"id": 1, "label": "b"})
    async with db.session() as s:
        direct = await core_connection(s)
        # Nothing of the failed transaction stayed.
        assert (await direct.execute(select(_things.c.id))).all() == []
        # An expanding IN goes to SQLAlchemy, and gives the same rows.
        await direct.execute(_things.insert(), {"id": 2, "label": "b"})
        got = await direct.execute(select(_things.c.label).where(_things.c.id.in_([1, 2])))
        assert not isinstance(got, Rows) and got.all() == [("b",)]


async def test_direct_runs_on_the_driver_of_each_engine(app: Any, engine_name: str) -> None:
    async with app.state.db.session() as s:
        direct = await core_connection(s)
        assert isinstance(direct, Direct)
        assert (direct.raw is not None) == (engine_name == "sqlite")
        # PostgreSQL: through SQLAlchemy's asyncpg adapter (its lock, transaction, cache).
        assert (direct.pg is not None) == (engine_name == "postgresql")
        got = await direct.execute(select(literal(41) + bindparam("n")), {"n": 1})
        assert got.scalar() == 42
