"""The work queue through the API: leases, submissions, idempotency, skips, reviews."""

from __future__ import annotations

from datetime import timedelta

from conftest import GOOD_ANSWER, World, pairwise_item


async def test_next_leases_the_highest_priority_then_oldest_item(world: World) -> None:
    owner = await world.user("owner")
    proj = await world.project(owner)
    await world.items(
        owner,
        proj["id"],
        [pairwise_item(0), pairwise_item(1, priority=5), pairwise_item(2, priority=5)],
    )
    worker = await world.user()
    await world.member(owner, proj["id"], worker)
    r = await worker.next(proj["id"])
    assert r.status_code == 200
    body = r.json()
    assert body["item"]["data"]["prompt"] == "Question 1?"
    assert body["stage"] == "attempt" and body["under_review"] is None
    assert body["template"]["questions"][0]["name"] == "preference"
    assert "gold" not in body["item"]


async def test_next_returns_the_same_lease_until_it_ends(world: World) -> None:
    _, proj, [w, _] = await world.team()
    first = (await w.next(proj["id"])).json()
    again = (await w.next(proj["id"])).json()
    assert again["id"] == first["id"]
    also = (await w.next()).json()
    assert also["id"] == first["id"]


async def test_submit_then_the_same_key_returns_the_original(world: World) -> None:
    owner, proj, [w, _] = await world.team()
    a = (await w.next(proj["id"])).json()
    body = {"answer": GOOD_ANSWER, "active_seconds": 42}
    r1 = await w.post(
        f"/assignments/{a['id']}/submit", json=body, headers={"Idempotency-Key": "k1"}
    )
    assert r1.status_code == 201, r1.text
    r2 = await w.post(
        f"/assignments/{a['id']}/submit", json=body, headers={"Idempotency-Key": "k1"}
    )
    assert r2.status_code == 200
    assert r2.json() == r1.json()
    other = {"answer": {**GOOD_ANSWER, "preference": {"choice": "tie"}}}
    r3 = await w.post(
        f"/assignments/{a['id']}/submit", json=other, headers={"Idempotency-Key": "k1"}
    )
    assert r3.status_code == 409
    r4 = await w.post(f"/assignments/{a['id']}/submit", json=body)
    assert r4.status_code == 409
    stats = (await owner.get(f"/projects/{proj['id']}/stats")).json()
    assert stats["responses"] == 1
    assert stats["slots"]["done"] == 1


async def test_a_submission_is_checked_against_the_template(world: World) -> None:
    _, proj, [w, _] = await world.team()
    a = (await w.next(proj["id"])).json()
    bad = {"answer": {"preference": {"choice": "left", "strength": 9}, "rationale": "too short"}}
    r = await w.post(f"/assignments/{a['id']}/submit", json=bad)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["loc"] == ["body", "answer", "preference", "strength"]
    # Nothing changed: the lease still holds and a good answer goes through.
    r = await w.post(f"/assignments/{a['id']}/submit", json={"answer": GOOD_ANSWER})
    assert r.status_code == 201


async def test_nobody_works_the_same_item_twice(world: World) -> None:
    _, proj, [w1, w2] = await world.team(n_items=2, workflow={"overlap": 2})
    seen: dict[str, set[str]] = {w1.id: set(), w2.id: set()}
    for _ in range(2):
        for w in (w1, w2):
            a = (await w.next(proj["id"])).json()
            assert a["item"]["id"] not in seen[w.id]
            seen[w.id].add(a["item"]["id"])
            r = await w.post(f"/assignments/{a['id']}/submit", json={"answer": GOOD_ANSWER})
            assert r.status_code == 201
    for w in (w1, w2):
        r = await w.next(proj["id"])
        assert r.status_code == 204
        assert r.headers["Inlier-Reason"] == "queue_empty"


async def test_an_expired_lease_goes_back_to_the_queue(world: World, clock) -> None:  # type: ignore[no-untyped-def]
    _, proj, [w1, w2] = await world.team(n_items=1, lease_minutes=5)
    a = (await w1.next(proj["id"])).json()
    assert (await w2.next(proj["id"])).status_code == 204
    clock.advance(timedelta(minutes=6))
    b = (await w2.next(proj["id"])).json()
    assert b["item"]["id"] == a["item"]["id"]
    r = await w1.post(f"/assignments/{a['id']}/submit", json={"answer": GOOD_ANSWER})
    assert r.status_code == 409
    assert (
        await w1.post(f"/assignments/{a['id']}/heartbeat", json={"active_seconds": 1})
    ).status_code == 409


async def test_heartbeat_extends_the_lease(world: World, clock) -> None:  # type: ignore[no-untyped-def]
    _, proj, [w, _] = await world.team(n_items=1, lease_minutes=5)
    a = (await w.next(proj["id"])).json()
    clock.advance(timedelta(minutes=4))
    hb = await w.post(f"/assignments/{a['id']}/heartbeat", json={"active_seconds": 200})
    assert hb.status_code == 200 and hb.json()["active_seconds"] == 200
    clock.advance(timedelta(minutes=4))
    r = await w.post(f"/assignments/{a['id']}/submit", json={"answer": GOOD_ANSWER})
    assert r.status_code == 201
    assert r.json()["active_seconds"] == 200


async def test_drafts_autosave_and_come_back(world: World) -> None:
    _, proj, [w, _] = await world.team(n_items=1)
    a = (await w.next(proj["id"])).json()
    draft = {"rationale": "half-written thou"}
    r = await w.put(f"/assignments/{a['id']}/draft", json={"answer": draft})
    assert r.status_code == 200
    got = (await w.get(f"/assignments/{a['id']}")).json()
    assert got["draft"]["answer"] == draft
    assert got["draft"]["saved_at"].endswith("Z")


async def test_a_draft_survives_an_expired_lease(world: World, clock) -> None:  # type: ignore[no-untyped-def]
    _, proj, [w, _] = await world.team(n_items=1, lease_minutes=5)
    a = (await w.next(proj["id"])).json()
    await w.put(f"/assignments/{a['id']}/draft", json={"answer": {"rationale": "keep me"}})
    clock.advance(timedelta(minutes=10))
    b = (await w.next(proj["id"])).json()
    assert b["id"] != a["id"]
    got = (await w.get(f"/assignments/{b['id']}")).json()
    assert got["draft"]["answer"] == {"rationale": "keep me"}


async def test_skip_never_offers_the_item_again_but_release_does(world: World) -> None:
    _, proj, [w, other] = await world.team(n_items=1)
    a = (await w.next(proj["id"])).json()
    assert (await w.post(f"/assignments/{a['id']}/release")).json()["state"] == "released"
    b = (await w.next(proj["id"])).json()
    assert b["item"]["id"] == a["item"]["id"]
    assert (await w.post(f"/assignments/{b['id']}/skip")).json()["state"] == "skipped"
    assert (await w.next(proj["id"])).status_code == 204
    c = (await other.next(proj["id"])).json()
    assert c["item"]["id"] == a["item"]["id"]
    # A lease that ended can no longer be acted on.
    assert (await w.post(f"/assignments/{b['id']}/release")).status_code == 409


async def test_someone_elses_assignment_does_not_exist_for_you(world: World) -> None:
    _, proj, [w1, w2] = await world.team()
    a = (await w1.next(proj["id"])).json()
    for path in ("/submit", "/heartbeat", "/skip", "/release"):
        r = await w2.post(
            f"/assignments/{a['id']}{path}",
            json={"answer": GOOD_ANSWER, "active_seconds": 1}
            if path != "/heartbeat"
            else {"active_seconds": 1},
        )
        assert r.status_code in (404, 422), (path, r.status_code)
        if r.status_code == 422:
            continue
    assert (await w2.get(f"/assignments/{a['id']}")).status_code == 404
    assert (await w2.put(f"/assignments/{a['id']}/draft", json={"answer": {}})).status_code == 404


async def _reviewed(world: World, verdict: str, **review: object):  # type: ignore[no-untyped-def]
    owner, proj, [author, _] = await world.team(
        n_items=1, workflow={"overlap": 1, "review": {"sample_rate": 1.0}}
    )
    reviewer = await world.user("contributor")
    await world.member(owner, proj["id"], reviewer, "reviewer")
    a = (await author.next(proj["id"])).json()
    sub = await author.post(f"/assignments/{a['id']}/submit", json={"answer": GOOD_ANSWER})
    assert sub.json()["needs_review"] is True
    assert (await author.next(proj["id"])).status_code == 204  # no self-review
    ra = (await reviewer.next(proj["id"])).json()
    assert ra["stage"] == "review"
    assert ra["under_review"] == {"response_id": sub.json()["id"], "answer": GOOD_ANSWER}
    r = await reviewer.post(f"/assignments/{ra['id']}/submit", json={"verdict": verdict, **review})
    return owner, proj, author, reviewer, sub.json(), r


async def test_approve_marks_the_attempt_approved(world: World) -> None:
    owner, proj, *_, r = await _reviewed(world, "approve", feedback="Well argued.", score=5)
    assert r.status_code == 201, r.text
    assert r.json()["verdict"] == "approve" and r.json()["score"] == 5
    stats = (await owner.get(f"/projects/{proj['id']}/stats")).json()
    assert stats["reviews"] == {"approved": 1, "improved": 0, "rejected": 0}


async def test_improve_stores_the_reviewers_version(world: World) -> None:
    edited = {**GOOD_ANSWER, "rationale": "A is sound: apixaban dosing matches the label."}
    owner, proj, *_, r = await _reviewed(world, "improve", answer=edited)
    assert r.status_code == 201, r.text
    assert r.json()["answer"] == edited
    lines = (await owner.get(f"/projects/{proj['id']}/export?status=approved")).text.splitlines()
    assert len(lines) == 1
    import json

    row = json.loads(lines[0])
    assert row["answer"] == edited and row["verdict"] == "improve"


async def test_improve_without_an_answer_is_invalid(world: World) -> None:
    *_, r = await _reviewed(world, "improve")
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "answer"]


async def test_reject_reopens_the_attempt_for_someone_else(world: World) -> None:
    owner, proj, author, _, sub, r = await _reviewed(world, "reject", feedback="Unsafe.")
    assert r.status_code == 201
    assert (await author.next(proj["id"])).status_code == 204
    third = await world.user()
    await world.member(owner, proj["id"], third)
    again = (await third.next(proj["id"])).json()
    assert again["stage"] == "attempt" and again["item"]["id"] == sub["item_id"]
    stats = (await owner.get(f"/projects/{proj['id']}/stats")).json()
    assert stats["reviews"]["rejected"] == 1 and stats["slots"]["leased"] == 1


async def test_next_without_projects_says_why(world: World) -> None:
    w = await world.user()
    r = await w.next()
    assert r.status_code == 204 and r.headers["Inlier-Reason"] == "no_eligible_project"


async def test_next_for_a_project_you_cannot_see_is_404(world: World) -> None:
    owner = await world.user("owner")
    proj = await world.project(owner)
    outsider = await world.user()
    assert (await outsider.next(proj["id"])).status_code == 404
