"""Dynamic overlap: items the crowd disagrees on get more attempts, one at a time, until the
majority's share reaches the target or the item has ``max``; agreeing items get ``min``."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Actor, World, make_settings, truncate_pg
from inlier.app import create_app
from inlier.datasets.dynamic import agreement
from inlier.kit.clock import Clock
from queue_invariants import check_invariants

TEMPLATE: dict[str, Any] = {
    "fields": [{"name": "prompt", "type": "markdown"}],
    "questions": [{"name": "topic", "type": "label", "options": {"labels": ["a", "b", "c"]}}],
}


def dynamic(confidence: float = 0.8, high: int = 5, **extra: Any) -> dict[str, Any]:
    return {
        "overlap": 2,
        "dynamic_overlap": {"max": high, "confidence": confidence, "question": "topic", **extra},
    }


async def run(
    world: World, workflow: dict[str, Any], plans: dict[str, list[str]], workers: int = 7
) -> tuple[Actor, str, dict[str, int]]:
    """Items named by the plans' keys; the k-th person to answer an item gives its plan's k-th
    label. Everyone works until the queue is empty. Returns attempts per item."""
    owner = await world.user("owner")
    proj = await world.project(owner, template=TEMPLATE, workflow=workflow)
    pid = proj["id"]
    await world.items(owner, pid, [{"external_id": p, "data": {"prompt": p}} for p in plans])
    people = []
    for _ in range(workers):
        w = await world.user()
        await world.member(owner, pid, w)
        people.append(w)
    done: dict[str, int] = {p: 0 for p in plans}
    progress = True
    while progress:  # round-robin, so items fill in the order a real crowd would
        progress = False
        for w in people:
            r = await w.next(pid)
            if r.status_code != 200:
                continue
            a = r.json()
            prompt = a["item"]["data"]["prompt"]
            body = {"answer": {"topic": plans[prompt][done[prompt]]}}
            s = await w.post(f"/assignments/{a['id']}/submit", json=body)
            assert s.status_code == 201, s.text
            done[prompt] += 1
            progress = True
    return owner, pid, done


async def test_disagreement_gets_more_attempts_until_agreement_or_the_maximum(
    world: World,
) -> None:
    plans = {
        "agree": ["a", "a", "b", "b", "b"],  # 2 of 2: agreed at once
        "late": ["a", "b", "a", "a", "a"],  # 1/2, 2/3, 3/4, then 4/5 = 0.8
        "never": ["a", "b", "c", "a", "b"],  # never reaches 0.8: stops at 5
    }
    owner, pid, done = await run(world, dynamic(), plans)
    assert done == {"agree": 2, "late": 5, "never": 5}
    stats = (await owner.get(f"/projects/{pid}/stats")).json()
    assert stats["slots"] == {"open": 0, "leased": 0, "done": 12}
    await check_invariants(world.app.state.db, 5)


async def test_a_lower_target_stops_as_soon_as_the_majority_reaches_it(world: World) -> None:
    plans = {"x": ["a", "b", "a", "b", "b"], "y": ["c", "b", "b", "c", "c"]}
    _, _, done = await run(world, dynamic(confidence=0.6), plans)
    assert done == {"x": 3, "y": 3}  # 1/2 < 0.6, then 2/3 >= 0.6


def test_the_agreement_is_the_majority_share() -> None:
    assert agreement("label", ["a", "a", "b"]) == pytest.approx(2 / 3)
    assert agreement("pairwise", [{"choice": "left"}, {"choice": "tie"}]) == 0.5
    assert agreement("multi_label", [["x"], ["x", "y"], []], ["x", "y"]) == pytest.approx(2 / 3)
    assert agreement("label", []) == 1.0


@pytest.mark.parametrize(
    ("workflow", "loc"),
    [
        (dynamic(question="nope"), ["body", "workflow", "dynamic_overlap", "question"]),
        (dynamic(high=1), ["body", "workflow"]),
        (dynamic(min=3), ["body", "workflow"]),
        (dynamic(confidence=1.5), ["body", "workflow", "dynamic_overlap", "confidence"]),
    ],
)
async def test_bad_dynamic_overlap_settings_are_422_naming_them(
    world: World, workflow: dict[str, Any], loc: list[str]
) -> None:
    owner = await world.user("owner")
    body = {"name": "x", "template": TEMPLATE, "workflow": workflow}
    r = await owner.post("/projects", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == loc


async def test_the_setting_is_kept_with_its_minimum(world: World) -> None:
    owner = await world.user("owner")
    proj = await world.project(owner, template=TEMPLATE, workflow=dynamic())
    assert proj["workflow"]["dynamic_overlap"] == {
        "min": 2, "max": 5, "confidence": 0.8, "question": "topic"
    }  # fmt: skip


# ---- property: never more than max, never fewer than min, stop exactly at agreement -------

LABELS = st.sampled_from(["a", "b", "c"])


def expected_attempts(plan: list[str], low: int, high: int, target: float) -> int:
    n = low
    while n < high and agreement("label", plan[:n]) < target:
        n += 1
    return n


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plans=st.lists(st.lists(LABELS, min_size=5, max_size=5), min_size=1, max_size=3),
    high=st.integers(2, 5),
    target=st.sampled_from([0.5, 0.6, 0.8, 1.0]),
)
def test_attempts_per_item_stay_between_min_and_max_and_stop_at_agreement(
    engine_name: str, request: pytest.FixtureRequest, tmp_path: Path, plans: list[list[str]],
    high: int, target: float,
) -> None:  # fmt: skip
    if engine_name == "sqlite":
        path = tmp_path / "dynamic.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_migrated")
        asyncio.run(truncate_pg(url))

    async def go() -> None:
        app = create_app(make_settings(url, data_dir=tmp_path / "data"), clock=Clock())
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as client:
            world = World(app, client)
            named = {f"p{i}": plan for i, plan in enumerate(plans)}
            _, _, done = await run(world, dynamic(confidence=target, high=high), named, workers=5)
            for name, plan in named.items():
                assert 2 <= done[name] <= high
                assert done[name] == expected_attempts(plan, 2, high, target), (plan, done)
            await check_invariants(app.state.db, high)
        await app.state.db.dispose()

    asyncio.run(go())
