"""Quality through the API: gold honeypots, review verdicts, agreement, flags, standing with its
thresholds (warning, pause, promotion to review), appeals and what owners see."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from conftest import GOOD_ANSWER, PAIRWISE_TEMPLATE, Actor, Cli, World, pairwise_item
from inlier.quality.models import QualityEvent, SkillScore, Standing
from inlier.quality.scoring import fold
from test_pages import sign_in

LEFT = {"preference": {"choice": "left", "strength": 2}}
RIGHT_ANSWER = {**GOOD_ANSWER, "preference": {"choice": "right", "strength": 2}}
QUALITY = {"gold_rate": 1.0, "pause_below": 0.5, "warn_below": 0.6, "min_events": 3}


def gold_item(n: int) -> dict[str, Any]:
    return pairwise_item(n, gold=LEFT)


async def project_with_gold(
    world: World, n_gold: int, n_plain: int = 0, **overrides: Any
) -> tuple[Actor, dict[str, Any], Actor]:
    owner = await world.user("owner")
    body = {"quality": QUALITY, **overrides}
    proj = await world.project(owner, **body)
    rows = [gold_item(i) for i in range(n_gold)]
    rows += [pairwise_item(100 + i) for i in range(n_plain)]
    await world.items(owner, proj["id"], rows)
    worker = await world.user("contributor")
    await world.member(owner, proj["id"], worker)
    return owner, proj, worker


async def work_one(worker: Actor, project_id: str, answer: dict[str, Any]) -> dict[str, Any]:
    r = await worker.next(project_id)
    assert r.status_code == 200, r.text
    lease = r.json()
    s = await worker.post(
        f"/assignments/{lease['id']}/submit",
        json={"answer": answer, "active_seconds": 60},
        headers={"Idempotency-Key": lease["id"]},
    )
    assert s.status_code == 201, s.text
    return {"lease": lease, "response": s.json()}


async def stored_events(world: World, user_id: str, project_id: str) -> list[QualityEvent]:
    async with world.app.state.db.session() as s:
        rows = await s.execute(
            select(QualityEvent)
            .where(
                QualityEvent.user_id == int(user_id),
                QualityEvent.project_id == int(project_id),
            )
            .order_by(QualityEvent.id)
        )
        return list(rows.scalars())


async def standing_of(worker: Actor, project_id: str) -> dict[str, Any]:
    r = await worker.get("/me/standing")
    assert r.status_code == 200, r.text
    (row,) = [p for p in r.json()["projects"] if p["project_id"] == project_id]
    return dict(row)


# ---- gold ------------------------------------------------------------------------------------


async def test_gold_items_are_scored_and_never_revealed(world: World) -> None:
    owner, proj, worker = await project_with_gold(world, n_gold=2, n_plain=2)
    done = await work_one(worker, proj["id"], GOOD_ANSWER)
    lease, response = done["lease"], done["response"]
    text = json.dumps(lease) + json.dumps(response)
    assert "gold" not in text and "is_gold" not in text
    assert "score" not in response or response.get("score") is None
    (event,) = await stored_events(world, worker.id, proj["id"])
    assert (event.kind, event.value, event.item_id) == ("gold", 1.0, int(lease["item"]["id"]))
    # The person sees the check, but not which item it was, nor when to the second.
    r = await worker.get("/me/quality-events", params={"project_id": proj["id"]})
    (seen,) = r.json()["data"]
    assert seen["kind"] == "gold" and seen["value"] == 1.0
    assert seen["item_id"] is None and seen["detail"] == {} and "T" not in seen["at"]
    # Owners see the grading.
    r = await owner.get(f"/projects/{proj['id']}/quality/{worker.id}")
    assert r.status_code == 200
    assert r.json()["events"][0]["item_id"] == lease["item"]["id"]
    assert r.json()["events"][0]["detail"]["questions"][0]["question"] == "preference"


async def test_gold_items_come_at_the_projects_rate_once_per_person(world: World) -> None:
    """gold_rate 1: every attempt is a honeypot until the person has seen each gold item once;
    then plain items follow and gold is never served from the plain queue."""
    owner, proj, worker = await project_with_gold(world, n_gold=2, n_plain=2)
    seen = [(await work_one(worker, proj["id"], GOOD_ANSWER))["lease"] for _ in range(4)]
    externals = [lease["item"]["data"]["prompt"] for lease in seen]
    assert externals[:2] == ["Question 0?", "Question 1?"] or set(externals[:2]) == {
        "Question 0?",
        "Question 1?",
    }
    assert set(externals[2:]) == {"Question 100?", "Question 101?"}
    assert (await worker.next(proj["id"])).status_code == 204
    # A second person gets the same honeypots: gold is not used up by the first.
    other = await world.user("contributor")
    await world.member(owner, proj["id"], other)
    first = await work_one(other, proj["id"], GOOD_ANSWER)
    assert first["lease"]["item"]["data"]["prompt"] in {"Question 0?", "Question 1?"}


async def test_without_gold_rate_gold_items_are_ordinary_work(world: World) -> None:
    _owner, proj, worker = await project_with_gold(
        world, n_gold=1, quality={"pause_below": 0.5, "min_events": 3}
    )
    done = await work_one(worker, proj["id"], RIGHT_ANSWER)
    assert done["lease"]["item"]["data"]["prompt"] == "Question 0?"
    # Still scored against its gold: the project measures quality.
    (event,) = await stored_events(world, worker.id, proj["id"])
    assert (event.kind, event.value) == ("gold", 0.0)


# ---- standing: pause, appeal, promotion ------------------------------------------------------


async def test_falling_below_the_pause_threshold_stops_work_and_says_why(world: World) -> None:
    _owner, proj, worker = await project_with_gold(world, n_gold=6, n_plain=3)
    for _ in range(2):
        await work_one(worker, proj["id"], RIGHT_ANSWER)
    assert (await standing_of(worker, proj["id"]))["state"] == "ok"  # under min_events
    await work_one(worker, proj["id"], RIGHT_ANSWER)
    st = await standing_of(worker, proj["id"])
    assert st["state"] == "paused" and st["score"] < 0.5
    assert "pause threshold 0.50" in st["reasons"][0]
    assert st["interval"][0] <= st["score"] <= st["interval"][1]
    assert st["thresholds"] == {
        "warn_below": 0.6,
        "pause_below": 0.5,
        "promote_reviewer_at": None,
        "min_events": 3,
    }
    r = await worker.next(proj["id"])
    assert r.status_code == 204 and r.headers["inlier-reason"] == "paused"
    r = await worker.next()
    assert r.status_code == 204 and r.headers["inlier-reason"] == "paused"
    (row,) = [p for p in (await worker.get("/me/work")).json()["projects"]]
    assert row["reason"] == "paused" and "pause threshold" in row["action"]
    assert "Appeal" in row["action"]
    inbox = (await worker.get("/me/notifications")).json()["data"]
    assert any(n["kind"] == "standing.paused" for n in inbox)
    audit = await (await world.admin()).get("/audit", params={"action": "standing.pause"})
    assert audit.json()["data"][0]["target"] == f"user:{worker.id}"
    # Every event the score was folded from is stored: a recomputation gives the same score.
    events = await stored_events(world, worker.id, proj["id"])
    assert round(fold((e.value, e.weight) for e in events).score, 4) == st["score"]


async def test_an_appeal_reinstates_and_only_later_events_can_pause_again(world: World) -> None:
    owner, proj, worker = await project_with_gold(world, n_gold=8, n_plain=2)
    for _ in range(3):
        await work_one(worker, proj["id"], RIGHT_ANSWER)
    assert (await standing_of(worker, proj["id"]))["state"] == "paused"
    r = await worker.post("/appeals", json={"project_id": proj["id"], "message": "I misread."})
    assert r.status_code == 201, r.text
    appeal = r.json()
    assert appeal["status"] == "open" and appeal["kind"] == "pause"
    again = await worker.post("/appeals", json={"project_id": proj["id"], "message": "Again"})
    assert again.status_code == 409
    # The owner hears of it, and decides.
    assert any(
        n["kind"] == "appeal.filed" for n in (await owner.get("/me/notifications")).json()["data"]
    )
    listed = (await owner.get(f"/projects/{proj['id']}/appeals?status=open")).json()["data"]
    assert [a["id"] for a in listed] == [appeal["id"]]
    r = await owner.post(
        f"/appeals/{appeal['id']}/decision",
        json={"decision": "reinstate", "reason": "The guideline was unclear."},
    )
    assert r.status_code == 200 and r.json()["status"] == "reinstated"
    assert (
        await owner.post(
            f"/appeals/{appeal['id']}/decision", json={"decision": "uphold", "reason": "x"}
        )
    ).status_code == 409
    (mine,) = (await worker.get("/me/appeals")).json()["data"]
    assert mine["decision"] == "reinstate" and mine["reason"] == "The guideline was unclear."
    assert (await standing_of(worker, proj["id"]))["state"] == "ok"
    # Two more misses are fewer than min_events since the reinstatement: still working.
    for _ in range(2):
        await work_one(worker, proj["id"], RIGHT_ANSWER)
    assert (await standing_of(worker, proj["id"]))["state"] != "paused"
    await work_one(worker, proj["id"], RIGHT_ANSWER)
    assert (await standing_of(worker, proj["id"]))["state"] == "paused"


async def test_an_appeal_not_answered_by_the_deadline_is_granted(world: World) -> None:
    _owner, proj, worker = await project_with_gold(
        world, n_gold=4, quality={**QUALITY, "appeal_days": 2}
    )
    for _ in range(3):
        await work_one(worker, proj["id"], RIGHT_ANSWER)
    r = await worker.post("/appeals", json={"project_id": proj["id"], "message": "Please"})
    assert r.json()["due_at"].startswith(
        (world.app.state.clock.now() + timedelta(days=2)).date().isoformat()
    )
    world.app.state.clock.advance(timedelta(days=2, seconds=1))
    (mine,) = (await worker.get("/me/appeals")).json()["data"]
    assert mine["status"] == "reinstated" and "deadline" in mine["reason"]
    assert (await worker.next(proj["id"])).status_code == 200


async def test_an_overdue_appeal_is_granted_when_the_person_next_asks_for_work(
    world: World,
) -> None:
    _owner, proj, worker = await project_with_gold(
        world, n_gold=5, quality={**QUALITY, "appeal_days": 1}
    )
    for _ in range(3):
        await work_one(worker, proj["id"], RIGHT_ANSWER)
    await worker.post("/appeals", json={"project_id": proj["id"], "message": "Please"})
    assert (await worker.next()).headers["inlier-reason"] == "paused"
    world.app.state.clock.advance(timedelta(days=1, seconds=1))
    r = await worker.next()  # without a project: routing finds it open again
    assert r.status_code == 200 and r.json()["project_id"] == proj["id"]


async def test_nothing_to_appeal_is_a_conflict(world: World) -> None:
    _owner, proj, worker = await project_with_gold(world, n_gold=1)
    r = await worker.post("/appeals", json={"project_id": proj["id"], "message": "Why?"})
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    done = await work_one(worker, proj["id"], GOOD_ANSWER)
    body = {"project_id": proj["id"], "message": "Why?", "response_id": done["response"]["id"]}
    assert (await worker.post("/appeals", json=body)).status_code == 409  # not rejected
    bad = await worker.post("/appeals", json={"project_id": proj["id"]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"][-1] == "message"


async def test_promotion_to_review_happens_at_the_threshold(world: World) -> None:
    owner = await world.user("owner")
    quality = {"gold_rate": 0.0, "promote_reviewer_at": 0.7, "min_events": 3}
    proj = await world.project(
        owner, quality=quality, workflow={"overlap": 1, "review": {"sample_rate": 1.0}}
    )
    await world.items(owner, proj["id"], [pairwise_item(i) for i in range(8)])
    author, candidate = await world.user("contributor"), await world.user("contributor")
    for w in (author, candidate):
        await world.member(owner, proj["id"], w)
    reviewer = await world.user("contributor")
    await world.member(owner, proj["id"], reviewer, "reviewer")
    # The candidate's attempts are approved one by one by the reviewer.
    for _ in range(3):
        await work_one(candidate, proj["id"], GOOD_ANSWER)
        state = (await standing_of(candidate, proj["id"]))["state"]
        r = await reviewer.next(proj["id"])
        lease = r.json()
        assert lease["stage"] == "review"
        rv = await reviewer.post(
            f"/assignments/{lease['id']}/submit",
            json={"verdict": "approve"},
            headers={"Idempotency-Key": lease["id"]},
        )
        assert rv.status_code == 201
        assert state == "ok"  # promotion waits for min_events
    st = await standing_of(candidate, proj["id"])
    assert st["state"] == "reviewer" and st["score"] >= 0.7
    # Now the candidate is offered reviews, never of their own work.
    authored = await work_one(author, proj["id"], GOOD_ANSWER)
    r = await candidate.next(proj["id"])
    assert r.status_code == 200 and r.json()["stage"] == "review"
    assert r.json()["under_review"]["response_id"] == authored["response"]["id"]
    inbox = (await candidate.get("/me/notifications")).json()["data"]
    assert any(n["kind"] == "standing.reviewer" for n in inbox)


# ---- other signals -------------------------------------------------------------------------


async def test_review_verdicts_score_the_author(world: World) -> None:
    owner = await world.user("owner")
    proj = await world.project(
        owner,
        quality={"min_events": 5},
        workflow={"overlap": 1, "review": {"sample_rate": 1.0}},
    )
    await world.items(owner, proj["id"], [pairwise_item(i) for i in range(3)])
    author, reviewer = await world.user("contributor"), await world.user("contributor")
    await world.member(owner, proj["id"], author)
    await world.member(owner, proj["id"], reviewer, "reviewer")
    verdicts: list[dict[str, Any]] = [
        {"verdict": "approve"},
        {"verdict": "reject", "reason_code": "incorrect"},
        {
            "verdict": "improve",
            "answer": {**GOOD_ANSWER, "rationale": GOOD_ANSWER["rationale"] + " Dose checked."},
        },
    ]
    for body in verdicts:
        await work_one(author, proj["id"], GOOD_ANSWER)
        lease = (await reviewer.next(proj["id"])).json()
        r = await reviewer.post(
            f"/assignments/{lease['id']}/submit",
            json=body,
            headers={"Idempotency-Key": lease["id"]},
        )
        assert r.status_code == 201, r.text
    approve, reject, improve = await stored_events(world, author.id, proj["id"])
    assert (approve.kind, approve.value) == ("review", 1.0)
    assert (reject.kind, reject.value) == ("review", 0.0)
    assert improve.kind == "review" and 0.5 < improve.value < 1.0
    # A rejection always carries a code and feedback.
    r = await author.get("/me/notifications")
    assert any("incorrect" in n["body"].lower() for n in r.json()["data"])


async def test_a_reject_has_a_reason_code_and_feedback(world: World) -> None:
    owner = await world.user("owner")
    proj = await world.project(owner, workflow={"overlap": 1, "review": {"sample_rate": 1.0}})
    await world.items(owner, proj["id"], [pairwise_item(1)])
    author, reviewer = await world.user("contributor"), await world.user("contributor")
    await world.member(owner, proj["id"], author)
    await world.member(owner, proj["id"], reviewer, "reviewer")
    await work_one(author, proj["id"], GOOD_ANSWER)
    lease = (await reviewer.next(proj["id"])).json()
    bad = await reviewer.post(
        f"/assignments/{lease['id']}/submit",
        json={"verdict": "approve", "reason_code": "incorrect"},
        headers={"Idempotency-Key": "a"},
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["body", "reason_code"]
    r = await reviewer.post(
        f"/assignments/{lease['id']}/submit",
        json={"verdict": "reject"},
        headers={"Idempotency-Key": "b"},
    )
    assert r.status_code == 201
    assert r.json()["reason_code"] == "other" and r.json()["feedback"]


async def test_agreement_with_the_others_scores_each_author(world: World) -> None:
    _owner, proj, workers = await world.team(
        n_items=1, n_workers=3, quality={"min_events": 5}, workflow={"overlap": 3}
    )
    answers = [GOOD_ANSWER, GOOD_ANSWER, RIGHT_ANSWER]
    for w, a in zip(workers, answers, strict=True):
        await work_one(w, proj["id"], a)
    values = []
    for w in workers:
        (e,) = await stored_events(world, w.id, proj["id"])
        assert e.kind == "agreement"
        values.append(e.value)
    assert values == [1.0, 1.0, 0.0]


async def test_implausibly_fast_work_is_flagged_and_reviewed(world: World) -> None:
    _owner, proj, (worker,) = await world.team(n_items=2, n_workers=1, quality={"min_seconds": 30})
    lease = (await worker.next(proj["id"])).json()
    r = await worker.post(
        f"/assignments/{lease['id']}/submit",
        json={"answer": GOOD_ANSWER, "active_seconds": 4},
        headers={"Idempotency-Key": "k"},
    )
    assert r.status_code == 201 and r.json()["needs_review"] is True
    (e,) = await stored_events(world, worker.id, proj["id"])
    assert (e.kind, e.value, e.detail["active_seconds"]) == ("speed", 0.0, 4)


async def test_an_answer_copied_from_the_model_is_flagged(world: World) -> None:
    owner = await world.user("owner")
    critique = "The model's critique: option A is clinically sound and B doses unsafely."
    template = {
        **PAIRWISE_TEMPLATE,
        "fields": [
            *PAIRWISE_TEMPLATE["fields"],
            {"name": "draft", "type": "markdown", "generated": {"model": "m", "from": ["prompt"]}},
        ],
    }
    proj = await world.project(
        owner,
        template=template,
        models={"m": {"provider": "replay", "responses": {"*": critique}}},
        quality={"min_events": 5},
    )
    await world.items(owner, proj["id"], [pairwise_item(i) for i in range(2)])
    worker = await world.user("contributor")
    await world.member(owner, proj["id"], worker)
    lease = (await worker.next(proj["id"])).json()
    g = await worker.post(f"/assignments/{lease['id']}/generate", json={"field": "draft"})
    assert g.status_code == 201, g.text
    answer = {"preference": LEFT["preference"], "rationale": critique}
    r = await worker.post(
        f"/assignments/{lease['id']}/submit",
        json={
            "answer": answer,
            "active_seconds": 90,
            "authenticity": {"pasted_chars": len(critique), "typing_seconds": 1},
        },
        headers={"Idempotency-Key": "k"},
    )
    assert r.status_code == 201 and r.json()["needs_review"] is True
    similar, pasted = await stored_events(world, worker.id, proj["id"])
    assert similar.kind == "authenticity" and similar.value == 0.0
    assert similar.detail["similarity_to_model"] >= 0.9
    assert pasted.kind == "authenticity" and pasted.weight == 0.0
    assert pasted.detail["pasted_chars"] == len(critique)


async def test_responses_record_the_guidelines_version(world: World) -> None:
    owner, proj, (worker,) = await world.team(n_items=2, n_workers=1)
    assert proj["guidelines_version"] == 1
    first = await work_one(worker, proj["id"], GOOD_ANSWER)
    r = await owner.patch(f"/projects/{proj['id']}", json={"guidelines": "Prefer safety."})
    assert r.json()["guidelines_version"] == 2
    second = await work_one(worker, proj["id"], GOOD_ANSWER)
    r = await owner.get(f"/projects/{proj['id']}/quality/{worker.id}")
    versions = {x["id"]: x["guidelines_version"] for x in r.json()["responses"]}
    assert versions == {first["response"]["id"]: 1, second["response"]["id"]: 2}


async def test_owners_see_each_contributors_quality(world: World) -> None:
    owner, proj, worker = await project_with_gold(world, n_gold=3, n_plain=1)
    await work_one(worker, proj["id"], GOOD_ANSWER)
    await work_one(worker, proj["id"], RIGHT_ANSWER)
    r = await owner.get(f"/projects/{proj['id']}/quality")
    assert r.status_code == 200
    (row,) = r.json()["contributors"]
    assert row["user_id"] == worker.id and row["responses"] == 2
    assert row["gold_accuracy"] == 0.5 and row["events"] == 2
    (week,) = r.json()["weekly"]
    assert week["kind"] == "gold" and week["events"] == 2 and week["mean"] == 0.5
    assert r.json()["thresholds"]["pause_below"] == 0.5
    outsider = await world.user("contributor")
    assert (await outsider.get(f"/projects/{proj['id']}/quality")).status_code == 404


async def test_skill_scores_follow_the_projects_required_skills(world: World) -> None:
    owner = await world.user("owner")
    proj = await world.project(
        owner,
        quality=QUALITY,
        requirements={"skills": {"medicine.cardiology": 1}},
    )
    await world.items(owner, proj["id"], [gold_item(i) for i in range(2)])
    worker = await world.user("contributor")
    admin = await world.admin()
    r = await admin.put(f"/users/{worker.id}/skills/medicine.cardiology", json={"level": 2})
    assert r.status_code == 200, r.text
    await world.member(owner, proj["id"], worker)
    await work_one(worker, proj["id"], GOOD_ANSWER)
    await work_one(worker, proj["id"], RIGHT_ANSWER)
    async with world.app.state.db.session() as s:
        sc = await s.scalar(select(SkillScore).where(SkillScore.user_id == int(worker.id)))
        st = await s.scalar(select(Standing).where(Standing.user_id == int(worker.id)))
    assert sc is not None and st is not None
    assert sc.skill == "medicine.cardiology" and sc.events == 2
    assert (sc.good, sc.bad) == (st.good, st.bad)


async def test_next_without_a_project_continues_where_the_person_worked_last(
    world: World,
) -> None:
    owner = await world.user("owner")
    first = await world.project(owner, name="First")
    second = await world.project(owner, name="Second")
    worker = await world.user("contributor")
    for proj in (first, second):
        await world.items(owner, proj["id"], [pairwise_item(i) for i in range(3)])
        await world.member(owner, proj["id"], worker)
    r = await worker.next()
    assert r.json()["project_id"] == first["id"]  # members' projects in order, to start
    await worker.post(f"/assignments/{r.json()['id']}/release")
    await work_one(worker, second["id"], GOOD_ANSWER)
    r = await worker.next()
    assert r.json()["project_id"] == second["id"]


async def test_owners_see_quality_and_decide_appeals_from_the_cli(
    world: World, db_url: str
) -> None:
    owner, proj, worker = await project_with_gold(world, n_gold=4)
    for _ in range(3):
        await work_one(worker, proj["id"], RIGHT_ANSWER)
    appeal = (
        await worker.post("/appeals", json={"project_id": proj["id"], "message": "Please."})
    ).json()
    cli = Cli(db_url)
    as_owner = ("--as", owner.email)
    shown = await asyncio.to_thread(cli, "quality", "show", proj["id"], *as_owner)
    assert shown.exit_code == 0, shown.output
    assert "paused" in shown.output and worker.id in shown.output
    listed = await asyncio.to_thread(
        cli, "quality", "appeals", proj["id"], "--status", "open", *as_owner
    )
    assert listed.exit_code == 0 and appeal["id"] in listed.output
    bad = await asyncio.to_thread(cli, "quality", "decide", appeal["id"], "maybe", "--reason", "?")
    assert bad.exit_code == 2 and "uphold or reinstate" in bad.output
    decided = await asyncio.to_thread(
        cli, "quality", "decide", appeal["id"], "reinstate", "--reason", "Fair.", *as_owner
    )
    assert decided.exit_code == 0, decided.output
    assert (await worker.next(proj["id"])).status_code == 200
    (mine,) = (await worker.get("/me/appeals")).json()["data"]
    assert mine["status"] == "reinstated" and mine["reason"] == "Fair."


async def test_contributors_get_notice_before_a_project_stops_taking_work(
    world: World, browser_client: httpx.AsyncClient
) -> None:
    owner, proj, (worker,) = await world.team(n_items=4, n_workers=1)
    now = world.app.state.clock.now()
    past = (now - timedelta(hours=1)).isoformat() + "Z"
    r = await owner.patch(f"/projects/{proj['id']}", json={"closes_at": past})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "closes_at"]
    when = (now + timedelta(days=3)).replace(microsecond=0)
    r = await owner.patch(f"/projects/{proj['id']}", json={"closes_at": when.isoformat() + "Z"})
    assert r.status_code == 200 and r.json()["closes_at"].startswith(when.isoformat())
    inbox = (await worker.get("/me/notifications")).json()["data"]
    (notice,) = [n for n in inbox if n["kind"] == "project.closing"]
    assert when.strftime("%Y-%m-%d") in notice["title"]
    (row,) = (await worker.get("/me/work")).json()["projects"]
    assert row["eligible"] and row["closes_at"].startswith(when.isoformat())
    await sign_in(browser_client, worker.email)
    home = (await browser_client.get("/")).text
    assert "Stops taking work on" in home and when.strftime("%Y-%m-%d %H:%M") in home
    await work_one(worker, proj["id"], GOOD_ANSWER)
    world.app.state.clock.advance(timedelta(days=3, seconds=1))
    r = await worker.next(proj["id"])
    assert r.status_code == 204 and r.headers["inlier-reason"] == "queue_empty"
    assert (await worker.next()).status_code == 204
    (row,) = (await worker.get("/me/work")).json()["projects"]
    assert row["reason"] == "inactive" and "stopped taking work" in row["action"]


async def test_a_reviewer_is_audited_against_the_gold(world: World) -> None:
    owner, proj, worker = await project_with_gold(
        world,
        n_gold=1,
        quality={"gold_rate": 1.0, "min_events": 5},
        workflow={"overlap": 1, "review": {"sample_rate": 1.0}},
    )
    reviewer = await world.user("contributor")
    await world.member(owner, proj["id"], reviewer, "reviewer")
    await work_one(worker, proj["id"], RIGHT_ANSWER)  # not the gold answer
    lease = (await reviewer.next(proj["id"])).json()
    r = await reviewer.post(
        f"/assignments/{lease['id']}/submit",
        json={"verdict": "approve"},
        headers={"Idempotency-Key": lease["id"]},
    )
    assert r.status_code == 201, r.text
    (audit,) = await stored_events(world, reviewer.id, proj["id"])
    assert (audit.kind, audit.value, audit.detail["gold_score"]) == ("review_audit", 0.0, 0.0)
    # The author was scored by the gold, not again by the verdict.
    assert [e.kind for e in await stored_events(world, worker.id, proj["id"])] == ["gold"]
