"""Property test: any sequence of next / submit / skip / release / expiry / review by several
people keeps every rule of the queue (see queue_invariants.py)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import text

from conftest import GOOD_ANSWER, PG_URL, World, make_settings, truncate_pg
from inlier.app import create_app
from inlier.db.migrate import upgrade
from inlier.kit.clock import Clock
from queue_invariants import check_invariants

WORKERS = 4
ITEMS = 4
OVERLAP = 2
VERDICTS = ("approve", "improve", "reject")


def _sqlite_template() -> Path:
    path = Path(tempfile.mkdtemp(prefix="inlier-prop-")) / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


class QueueMachine(RuleBasedStateMachine):
    db_url_factory: Any = None

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = Clock()
        self.app = create_app(make_settings(self.db_url_factory()), clock=self.clock)
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://test"
        )
        self.world = World(self.app, self.client)
        self.held: dict[int, dict[str, Any] | None] = {}
        self.acknowledged: set[str] = set()

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    @initialize()
    def setup(self) -> None:
        async def go() -> None:
            owner, proj, workers = await self.world.team(
                n_items=ITEMS,
                n_workers=WORKERS,
                workflow={"overlap": OVERLAP, "review": {"sample_rate": 0.5}},
                lease_minutes=10,
            )
            # Half of the team may also review.
            for w in workers[:2]:
                await self.world.member(owner, proj["id"], w, "reviewer")
            self.owner, self.project, self.workers = owner, proj, workers

        self.run(go())
        self.held = {i: None for i in range(WORKERS)}

    @rule(i=st.integers(0, WORKERS - 1))
    def next(self, i: int) -> None:
        r = self.run(self.workers[i].next(self.project["id"]))
        assert r.status_code in (200, 204), r.text
        if r.status_code == 200:
            a = r.json()
            held = self.held[i]
            if held is not None and held["id"] != a["id"]:
                # The old lease must have ended (expired) for a new one to be handed out.
                old = self.run(self.workers[i].get(f"/assignments/{held['id']}")).json()
                assert old["state"] != "active" or old["id"] == a["id"]
            self.held[i] = a
        else:
            assert r.headers["Inlier-Reason"] == "queue_empty"
            self.held[i] = None

    @precondition(lambda self: any(self.held.values()))
    @rule(i=st.integers(0, WORKERS - 1), verdict=st.sampled_from(VERDICTS), retry=st.booleans())
    def submit(self, i: int, verdict: str, retry: bool) -> None:
        a = self.held[i]
        if a is None:
            return
        if a["stage"] == "attempt":
            body: dict[str, Any] = {"answer": GOOD_ANSWER, "active_seconds": 30}
        elif verdict == "improve":
            body = {"verdict": "improve", "answer": {**GOOD_ANSWER, "rationale": "x" * 30}}
        else:
            body = {"verdict": verdict, "feedback": "checked"}
        key = f"k-{a['id']}"
        path = f"/assignments/{a['id']}/submit"
        r = self.run(self.workers[i].post(path, json=body, headers={"Idempotency-Key": key}))
        assert r.status_code in (201, 409), r.text
        if r.status_code == 201:
            self.acknowledged.add(r.json()["id"])
            if retry:
                again = self.run(
                    self.workers[i].post(path, json=body, headers={"Idempotency-Key": key})
                )
                assert again.status_code == 200 and again.json() == r.json()
        self.held[i] = None

    @precondition(lambda self: any(self.held.values()))
    @rule(i=st.integers(0, WORKERS - 1), how=st.sampled_from(("skip", "release")))
    def give_back(self, i: int, how: str) -> None:
        a = self.held[i]
        if a is None:
            return
        r = self.run(self.workers[i].post(f"/assignments/{a['id']}/{how}"))
        assert r.status_code in (200, 409), r.text
        self.held[i] = None

    @rule(minutes=st.sampled_from((1, 11)))
    def time_passes(self, minutes: int) -> None:
        self.clock.advance(timedelta(minutes=minutes))

    @invariant()
    def rules_hold(self) -> None:
        if hasattr(self, "project"):
            self.run(check_invariants(self.app.state.db, OVERLAP))

    def teardown(self) -> None:
        async def go() -> None:
            if hasattr(self, "project") and self.acknowledged:
                # No acknowledged submission is ever lost.
                export = await self.owner.get(f"/projects/{self.project['id']}/export")
                exported = {json.loads(line)["response_id"] for line in export.text.splitlines()}
                async with self.app.state.db.session() as s:
                    rows = (await s.execute(text("SELECT id, stage FROM responses"))).all()
                stored = {str(rid) for rid, _ in rows}
                attempts = {str(rid) for rid, stage in rows if stage == "attempt"}
                assert self.acknowledged <= stored
                assert exported == attempts
            await self.client.aclose()
            await self.app.state.db.dispose()

        try:
            self.run(go())
        finally:
            self.loop.close()


def _machine_for(engine: str) -> type[QueueMachine]:
    if engine == "sqlite":
        template = _sqlite_template()

        def fresh() -> str:
            path = Path(tempfile.mkdtemp(prefix="inlier-prop-")) / "db.sqlite"
            shutil.copyfile(template, path)
            return f"sqlite:///{path}"
    else:

        def fresh() -> str:
            assert PG_URL
            asyncio.run(truncate_pg(PG_URL))
            return PG_URL

    return type(f"QueueMachine_{engine}", (QueueMachine,), {"db_url_factory": staticmethod(fresh)})


EXAMPLES = int(os.environ.get("INLIER_PROPERTY_EXAMPLES", "25"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def test_queue_rules_hold_on_sqlite() -> None:
    machine = _machine_for("sqlite")
    machine.TestCase.settings = SETTINGS
    machine.TestCase().runTest()


@pytest.mark.postgres
def test_queue_rules_hold_on_postgresql(request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("pg_migrated")
    machine = _machine_for("postgresql")
    machine.TestCase.settings = settings(SETTINGS, max_examples=max(EXAMPLES // 2, 5))
    machine.TestCase().runTest()
