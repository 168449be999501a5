"""Many contributors at once, through two app instances sharing one database (two engines,
so SQLite's locking and PostgreSQL's SKIP LOCKED are really exercised)."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from datetime import timedelta

import httpx

from conftest import GOOD_ANSWER, Actor, World, make_settings
from inlier.app import create_app
from inlier.kit.clock import Clock
from queue_invariants import check_invariants

CONTRIBUTORS = 12
ITEMS = 30
OVERLAP = 3


async def _work_until_empty(actor: Actor, project_id: str, rng: random.Random) -> list[str]:
    """Pull and submit until the queue is empty; sometimes skip, release or retry a submit."""
    acknowledged: list[str] = []
    for _ in range(ITEMS * 4):
        r = await actor.next(project_id)
        if r.status_code == 204:
            return acknowledged
        assert r.status_code == 200, r.text
        a = r.json()
        roll = rng.random()
        if roll < 0.1:
            assert (await actor.post(f"/assignments/{a['id']}/release")).status_code == 200
            continue
        if roll < 0.15:
            assert (await actor.post(f"/assignments/{a['id']}/skip")).status_code == 200
            continue
        key = {"Idempotency-Key": f"{actor.id}-{a['id']}"}
        path = f"/assignments/{a['id']}/submit"
        s = await actor.post(path, json={"answer": GOOD_ANSWER}, headers=key)
        assert s.status_code == 201, s.text
        acknowledged.append(s.json()["id"])
        if roll > 0.9:  # a client that lost the response retries
            again = await actor.post(path, json={"answer": GOOD_ANSWER}, headers=key)
            assert again.status_code == 200 and again.json()["id"] == s.json()["id"]
    raise AssertionError("the queue never emptied")


async def test_parallel_contributors_fill_every_item_exactly_overlap_times(
    db_url: str, clock: Clock
) -> None:
    apps = [create_app(make_settings(db_url), clock=clock) for _ in range(2)]
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://test")
        for a in apps
    ]
    try:
        world = World(apps[0], clients[0])
        owner, proj, workers = await world.team(
            n_items=ITEMS, n_workers=CONTRIBUTORS, workflow={"overlap": OVERLAP}, lease_minutes=5
        )
        # Spread people over the two app instances.
        for i, w in enumerate(workers):
            w.client = clients[i % 2]
        # Two people take a lease and walk away: their slots must come back after expiry.
        deserters = workers[:2]
        for d in deserters:
            assert (await d.next(proj["id"])).status_code == 200
        active = workers[2:]
        rngs = [random.Random(i) for i in range(len(active))]
        results = await asyncio.gather(
            *(_work_until_empty(w, proj["id"], rng) for w, rng in zip(active, rngs, strict=True))
        )
        clock.advance(timedelta(minutes=6))
        results += await asyncio.gather(
            *(_work_until_empty(w, proj["id"], random.Random(99)) for w in workers)
        )
        acknowledged = {rid for batch in results for rid in batch}

        counts = await check_invariants(apps[0].state.db, OVERLAP)
        assert counts == {"done": ITEMS * OVERLAP}

        export = await owner.get(f"/projects/{proj['id']}/export")
        rows = [json.loads(line) for line in export.text.splitlines()]
        assert {r["response_id"] for r in rows} == acknowledged  # nothing lost, nothing extra
        per_item = Counter(r["item_id"] for r in rows)
        assert set(per_item.values()) == {OVERLAP} and len(per_item) == ITEMS
        pairs = Counter((r["item_id"], r["contributor"]) for r in rows)
        assert max(pairs.values()) == 1
        stats = (await owner.get(f"/projects/{proj['id']}/stats")).json()
        assert stats["responses"] == ITEMS * OVERLAP
        assert stats["slots"] == {"open": 0, "leased": 0, "done": ITEMS * OVERLAP}
    finally:
        for c in clients:
            await c.aclose()
        for a in apps:
            await a.state.db.dispose()


async def test_one_person_racing_next_gets_one_lease(world: World) -> None:
    _, proj, [w, _] = await world.team(n_items=5)
    results = await asyncio.gather(*(w.next(proj["id"]) for _ in range(8)))
    ids = {r.json()["id"] for r in results if r.status_code == 200}
    assert all(r.status_code == 200 for r in results), [
        (r.status_code, r.text[:300]) for r in results if r.status_code != 200
    ]
    assert len(ids) == 1


async def test_racing_submits_with_one_key_store_one_response(world: World) -> None:
    owner, proj, [w, _] = await world.team(n_items=1)
    a = (await w.next(proj["id"])).json()
    path = f"/assignments/{a['id']}/submit"
    results = await asyncio.gather(
        *(
            w.post(path, json={"answer": GOOD_ANSWER}, headers={"Idempotency-Key": "same"})
            for _ in range(6)
        )
    )
    codes = Counter(r.status_code for r in results)
    assert codes[201] == 1 and codes[201] + codes[200] + codes[409] == 6
    assert len({r.json()["id"] for r in results if r.status_code in (200, 201)}) == 1
    stats = (await owner.get(f"/projects/{proj['id']}/stats")).json()
    assert stats["responses"] == 1
