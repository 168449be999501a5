"""Invariants of quality and routing over random histories (hypothesis), on both engines:

- every stored score (per project and per skill) is the fold of the stored events, in order,
  and every standing's state is what the thresholds say of that sequence;
- nobody ever receives work on a project whose requirements they do not meet, that they may
  not see, or where they are paused; everyone eligible with work waiting receives it.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from conftest import PG_URL, World, make_settings, pairwise_item, truncate_pg
from inlier.app import create_app
from inlier.kit.clock import Clock
from inlier.projects.models import Project
from inlier.quality import service as quality
from inlier.quality.models import QualityEvent, SkillScore, Standing
from inlier.quality.scoring import OK, PAUSED, Evidence, Thresholds, fold, next_state

ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
PROPERTY = settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


async def fresh_db(engine: str, sqlite_template: Path, tmp: Path) -> str:
    if engine == "sqlite":
        path = tmp / "q.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    assert PG_URL
    await truncate_pg(PG_URL)
    return PG_URL


async def with_world(db: str, body: Any) -> None:
    app = create_app(make_settings(db), clock=Clock())
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await body(World(app, client))
    finally:
        await app.state.db.dispose()


# ---- scores are the fold of their events ------------------------------------------------------

events_strategy = st.lists(
    st.tuples(
        st.integers(0, 2),  # who
        st.sampled_from(["gold", "review", "agreement", "speed", "authenticity"]),
        st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(0, 1)),
        st.sampled_from([0.0, 1.0, 1.0, 2.0]),
    ),
    min_size=1,
    max_size=40,
)
thresholds_strategy = st.fixed_dictionaries(
    {
        "warn_below": st.sampled_from([None, 0.6]),
        "pause_below": st.sampled_from([None, 0.3, 0.5]),
        "promote_reviewer_at": st.sampled_from([None, 0.8]),
        "min_events": st.integers(0, 6),
    }
)


async def _scores_history(
    world: World, events: list[tuple[int, str, float, float]], thresholds: dict[str, Any]
) -> None:
    owner = await world.user("owner")
    quality_cfg = {k: v for k, v in thresholds.items() if v is not None}
    proj = await world.project(
        owner, quality=quality_cfg, requirements={"skills": {"math.algebra": 0}}
    )
    people = [await world.user("contributor") for _ in range(3)]
    app = world.app
    for who, kind, value, weight in events:
        async with app.state.db.session() as s:
            project = await s.get(Project, int(proj["id"]))
            assert project is not None
            await quality.record(
                s,
                quality.ProjectRules.of(project),
                int(people[who].id),
                kind,
                value,
                app.state.clock.now(),
                weight=weight,
            )
    t = Thresholds.of(quality_cfg)
    async with app.state.db.session() as s:
        for person in people:
            uid = int(person.id)
            stored = list(
                (
                    await s.execute(
                        select(QualityEvent)
                        .where(QualityEvent.user_id == uid)
                        .order_by(QualityEvent.id)
                    )
                ).scalars()
            )
            standing = await s.scalar(select(Standing).where(Standing.user_id == uid))
            skill = await s.scalar(select(SkillScore).where(SkillScore.user_id == uid))
            if not stored:
                assert standing is None and skill is None
                continue
            assert standing is not None and skill is not None
            recomputed = fold((e.value, e.weight) for e in stored)
            for got in (standing, skill):
                assert got.events == recomputed.events == len(stored)
                assert got.good == pytest.approx(recomputed.good, abs=1e-9)
                assert got.bad == pytest.approx(recomputed.bad, abs=1e-9)
            # The state is the thresholds' verdict on that same sequence.
            state, e = OK, Evidence()
            for ev in stored:
                e = e.add(ev.value, ev.weight)
                state = next_state(state, e, 0, t)[0]
            assert standing.state == state
            assert standing.last_event_id == stored[-1].id
        rows = {
            st_row.user_id: Evidence(st_row.good, st_row.bad).score
            for st_row in (await s.execute(select(Standing))).scalars()
        }
    # What the person is shown is the same number (asked after the session above is closed:
    # SQLite serves one connection).
    for person in people:
        shown = (await person.get("/me/standing")).json()["projects"]
        if int(person.id) in rows:
            (row,) = shown
            assert row["score"] == round(rows[int(person.id)], 4)
            lo, hi = row["interval"]
            assert 0 <= lo <= row["score"] <= hi <= 1


@pytest.mark.parametrize("engine", ENGINES)
@PROPERTY
@given(events=events_strategy, thresholds=thresholds_strategy)
def test_scores_match_a_recomputation_from_the_stored_events(
    engine: str,
    sqlite_template: Path,
    tmp_path_factory: Any,
    events: list[tuple[int, str, float, float]],
    thresholds: dict[str, Any],
) -> None:
    async def run() -> None:
        db = await fresh_db(engine, sqlite_template, tmp_path_factory.mktemp("q"))
        await with_world(db, lambda w: _scores_history(w, events, thresholds))

    asyncio.run(run())


# ---- nobody ineligible receives work ----------------------------------------------------------

project_strategy = st.fixed_dictionaries(
    {
        "skill": st.sampled_from([None, 1, 3]),  # level of math.algebra required
        "languages": st.sampled_from([None, ["en"], ["pt", "es"]]),
        "countries": st.sampled_from([None, ["BR"], ["US", "DE"]]),
        "visibility": st.sampled_from(["members", "open"]),
        "status": st.sampled_from(["active", "active", "paused"]),
    }
)
person_strategy = st.fixed_dictionaries(
    {
        "level": st.sampled_from([0, 1, 2, 3]),
        "languages": st.sampled_from([["en"], ["pt"], ["en", "es"]]),
        "country": st.sampled_from(["BR", "US", "FR"]),
        "member_of": st.sets(st.integers(0, 2)),
        "paused_on": st.sets(st.integers(0, 2)),
    }
)


def eligible(p: dict[str, Any], person: dict[str, Any], index: int) -> bool:
    """The rules as the issue states them, written independently of the service."""
    if p["status"] != "active" or index in person["paused_on"]:
        return False
    if index not in person["member_of"] and p["visibility"] != "open":
        return False
    if p["skill"] is not None and person["level"] < p["skill"]:
        return False
    if p["languages"] and not set(p["languages"]) & set(person["languages"]):
        return False
    return not (p["countries"] and person["country"] not in p["countries"])


async def _routing(world: World, specs: list[dict[str, Any]], people: list[dict[str, Any]]) -> None:
    owner = await world.user("owner")
    admin = await world.admin()
    projects = []
    for i, p in enumerate(specs):
        requirements: dict[str, Any] = {}
        if p["skill"] is not None:
            requirements["skills"] = {"math.algebra": p["skill"]}
        if p["languages"]:
            requirements["languages"] = p["languages"]
        if p["countries"]:
            requirements["countries"] = p["countries"]
        proj = await world.project(
            owner,
            name=f"P{i}",
            requirements=requirements,
            visibility=p["visibility"],
            status=p["status"],
        )
        await world.items(owner, proj["id"], [pairwise_item(10 * i + n) for n in range(3)])
        projects.append(proj)
    actors = []
    for person in people:
        who = await world.user(
            "contributor", languages=person["languages"], country=person["country"]
        )
        if person["level"]:
            r = await admin.put(
                f"/users/{who.id}/skills/math.algebra", json={"level": person["level"]}
            )
            assert r.status_code == 200, r.text
        for i in person["member_of"]:
            await world.member(owner, projects[i]["id"], who)
        async with world.app.state.db.session() as s:
            for i in person["paused_on"]:
                s.add(
                    Standing(
                        project_id=int(projects[i]["id"]),
                        user_id=int(who.id),
                        state=PAUSED,
                        reason="test",
                        updated_at=world.app.state.clock.now(),
                    )
                )
        actors.append(who)
    for who, person in zip(actors, people, strict=True):
        expected = {projects[i]["id"] for i, p in enumerate(specs) if eligible(p, person, i)}
        for i, proj in enumerate(projects):
            r = await who.next(proj["id"])
            if proj["id"] in expected:
                assert r.status_code == 200, (specs[i], person, r.status_code, r.text)
                lease = r.json()
                assert lease["project_id"] == proj["id"]
                await who.post(f"/assignments/{lease['id']}/release")
            else:
                assert r.status_code in (204, 404), (specs[i], person, r.status_code, r.text)
                if r.status_code == 204:
                    assert r.headers["inlier-reason"] in {
                        "no_eligible_project",
                        "queue_empty",
                        "paused",
                        "assessment_required",
                    }
        # Without naming a project: work from an eligible one, or none at all.
        r = await who.next()
        if expected:
            assert r.status_code == 200 and r.json()["project_id"] in expected
        else:
            assert r.status_code == 204, (specs, person, r.text)


@pytest.mark.parametrize("engine", ENGINES)
@PROPERTY
@given(
    specs=st.lists(project_strategy, min_size=3, max_size=3),
    people=st.lists(person_strategy, min_size=1, max_size=3),
)
def test_an_ineligible_person_never_receives_work(
    engine: str,
    sqlite_template: Path,
    tmp_path_factory: Any,
    specs: list[dict[str, Any]],
    people: list[dict[str, Any]],
) -> None:
    async def run() -> None:
        db = await fresh_db(engine, sqlite_template, tmp_path_factory.mktemp("r"))
        await with_world(db, lambda w: _routing(w, specs, people))

    asyncio.run(run())
