"""Experts through the API: applying, being decided on, the skill taxonomy, assessments with
their grading, attempt limits and cooldowns, and why each project is or is not open to you."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Actor, World, pairwise_item
from inlier.experts.service import attempt_gate
from inlier.kit.clock import Clock

PROFILE: dict[str, Any] = {
    "country": "BR",
    "degree": "MD/DO/MBBS",
    "specialties": ["medicine.cardiology"],
    "languages": ["pt-BR", "en"],
    "timezone": "America/Sao_Paulo",
}


def application(n: int = 1, **overrides: Any) -> dict[str, Any]:
    return {
        "email": f"applicant{n}@example.org",
        "name": f"Dr. Applicant {n}",
        "password": "long-enough-password",
        "profile": PROFILE,
        "consent": {"policy_version": "2026-11"},
        **overrides,
    }


async def applicant(client: httpx.AsyncClient, n: int = 1, **overrides: Any) -> Actor:
    body = application(n, **overrides)
    r = await client.post("/api/v1/applications", json=body)
    assert r.status_code == 201, r.text
    t = await client.post(
        "/api/v1/auth/token", json={"email": body["email"], "password": body["password"]}
    )
    assert t.status_code == 201, t.text
    actor = Actor(client, t.json()["user"], t.json()["token"])
    actor.application_id = r.json()["id"]  # type: ignore[attr-defined]
    return actor


# ---- applications --------------------------------------------------------------------------


async def test_an_applicant_signs_in_while_pending_and_cannot_work_yet(
    world: World, client: httpx.AsyncClient
) -> None:
    owner, proj, _ = await world.team(n_workers=0)
    r = await client.post("/api/v1/applications", json=application())
    assert r.status_code == 201 and r.json()["status"] == "pending"
    who = await applicant(client, 2)
    me = (await who.get("/me")).json()
    assert me["status"] == "pending" and me["roles"] == ["contributor"]
    assert me["profile"]["degree"] == "MD/DO/MBBS"
    assert me["application"]["status"] == "pending" and me["decline_reason"] is None
    await world.member(owner, proj["id"], who)
    for project_id in (None, proj["id"]):
        nxt = await who.next(project_id)
        assert nxt.status_code == 204 and nxt.headers["inlier-reason"] == "not_approved"


async def test_consent_is_recorded_with_its_version_and_time(
    world: World, client: httpx.AsyncClient, clock: Clock
) -> None:
    admin = await world.admin()
    who = await applicant(client)
    listed = (await admin.get("/applications", params={"status": "pending"})).json()["data"]
    [row] = [a for a in listed if a["user_id"] == who.id]
    assert row["consent"]["policy_version"] == "2026-11"
    assert row["consent"]["at"][:16] == clock.now().isoformat()[:16]
    assert row["email"] == who.email and row["profile"]["country"] == "BR"


async def test_approval_makes_an_approved_contributor_who_gets_work(
    world: World, client: httpx.AsyncClient
) -> None:
    owner, proj, _ = await world.team(n_workers=0)
    admin = await world.admin()
    who = await applicant(client)
    await world.member(owner, proj["id"], who)
    r = await admin.post(
        f"/applications/{who.application_id}/decision",  # type: ignore[attr-defined]
        json={"decision": "approve", "reason": ""},
    )
    assert r.status_code == 200 and r.json()["status"] == "approved"
    assert (await who.get("/me")).json()["status"] == "approved"
    assert (await who.next(proj["id"])).status_code == 200
    # A decision is final.
    again = await admin.post(
        f"/applications/{who.application_id}/decision",  # type: ignore[attr-defined]
        json={"decision": "decline", "reason": "changed my mind"},
    )
    assert again.status_code == 409


async def test_a_decline_needs_a_reason_and_the_applicant_sees_it(
    world: World, client: httpx.AsyncClient
) -> None:
    admin = await world.admin()
    who = await applicant(client)
    path = f"/applications/{who.application_id}/decision"  # type: ignore[attr-defined]
    r = await admin.post(path, json={"decision": "decline", "reason": "  "})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "reason"]
    assert (await who.get("/me")).json()["status"] == "pending"  # nothing changed
    r = await admin.post(path, json={"decision": "decline", "reason": "No licence on file."})
    assert r.status_code == 200
    me = (await who.get("/me")).json()
    assert me["status"] == "declined" and me["decline_reason"] == "No licence on file."
    nxt = await who.next()
    assert nxt.status_code == 204 and nxt.headers["inlier-reason"] == "not_approved"
    listed = (await admin.get("/applications", params={"status": "declined"})).json()["data"]
    assert [a["reason"] for a in listed] == ["No licence on file."]


async def test_bad_profiles_are_422_naming_the_field_and_create_nothing(
    world: World, client: httpx.AsyncClient
) -> None:
    admin = await world.admin()
    cases = [
        ({**PROFILE, "degree": "PhD candidate"}, ["body", "profile", "degree"]),
        ({**PROFILE, "country": "XX"}, ["body", "profile", "country"]),
        ({**PROFILE, "timezone": "Mars/Olympus"}, ["body", "profile", "timezone"]),
        ({**PROFILE, "languages": ["english!"]}, ["body", "profile", "languages"]),
        ({**PROFILE, "specialties": ["medicine.alchemy"]}, ["body", "profile", "specialties", 0]),
    ]
    for n, (profile, loc) in enumerate(cases):
        r = await client.post("/api/v1/applications", json=application(n, profile=profile))
        assert r.status_code == 422, (profile, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["errors"][0]["loc"] == loc, r.json()
    r = await client.post("/api/v1/applications", json=application(9, consent={}))
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "consent", "policy_version"]
    listed = (await admin.get("/applications")).json()["data"]
    assert listed == []
    users = (await admin.get("/users")).json()["data"]
    assert [u["email"] for u in users] == ["admin@example.org"]


async def test_applying_twice_with_one_email_is_409(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/v1/applications", json=application())).status_code == 201
    r = await client.post("/api/v1/applications", json=application())
    assert r.status_code == 409


# ---- the taxonomy --------------------------------------------------------------------------


async def test_the_default_taxonomy_covers_the_fields_experts_come_from(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/api/v1/skills")
    assert r.status_code == 200
    keys = {s["key"]: s for s in r.json()}
    for key in (
        "medicine.cardiology",
        "medicine.oncology",
        "math.olympiad",
        "physics.quantum",
        "chemistry.organic",
        "biology.genetics",
        "law.contracts",
        "finance.accounting",
        "code.python",
        "code.rust",
        "lang.pt-BR",
        "lang.ja",
    ):
        assert key in keys, key
    assert keys["medicine.cardiology"]["parent"] == "medicine"
    assert keys["medicine"]["parent"] is None


async def test_owners_and_admins_add_skills_under_known_parents(world: World) -> None:
    owner = await world.user("owner")
    r = await owner.post("/skills", json={"key": "medicine.cardiology.echo", "name": "Echo"})
    assert r.status_code == 201 and r.json()["parent"] == "medicine.cardiology"
    assert (
        await owner.post("/skills", json={"key": "medicine.cardiology.echo", "name": "E"})
    ).status_code == 409
    assert (
        await owner.post("/skills", json={"key": "code.python", "name": "Py"})
    ).status_code == 409
    r = await owner.post("/skills", json={"key": "astrology.charts", "name": "Charts"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "parent"]
    r = await owner.post("/skills", json={"key": "bad key", "name": "x"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "key"]
    keys = [s["key"] for s in (await owner.get("/skills")).json()]
    assert "medicine.cardiology.echo" in keys and "astrology.charts" not in keys
    contributor = await world.user("contributor")
    assert (await contributor.post("/skills", json={"key": "x", "name": "x"})).status_code == 403


# ---- assessments ---------------------------------------------------------------------------

LABEL_TEMPLATE: dict[str, Any] = {
    "fields": [{"name": "case", "type": "markdown"}],
    "questions": [
        {"name": "diagnosis", "type": "label", "options": {"labels": ["MI", "PE", "GERD"]}},
        {"name": "severity", "type": "rating", "options": {"min": 1, "max": 5, "tolerance": 0}},
        {"name": "notes", "type": "text", "required": False},
    ],
}
GOLD = [("MI", 5), ("PE", 5), ("GERD", 1), ("MI", 1)]


def assessment_body(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Cardiology triage",
        "skill": "medicine.cardiology",
        "level_on_pass": 3,
        "pass_mark": 0.75,
        "max_attempts": 2,
        "cooldown_hours": 24,
        "paid": True,
        "template": LABEL_TEMPLATE,
        "items": [
            {"data": {"case": f"Case {n}"}, "gold": {"diagnosis": d, "severity": sev}}
            for n, (d, sev) in enumerate(GOLD)
        ],
        **overrides,
    }


async def make_assessment(world: World, **overrides: Any) -> dict[str, Any]:
    admin = await world.admin()
    r = await admin.post("/assessments", json=assessment_body(**overrides))
    assert r.status_code == 201, r.text
    return dict(r.json())


def answers_for(attempt: dict[str, Any], right: int) -> dict[str, Any]:
    """Answer the first ``right`` items as gold says and the rest wrongly."""
    out = {}
    for n, item in enumerate(attempt["items"]):
        diagnosis, severity = GOLD[n]
        if n >= right:
            diagnosis = "GERD" if diagnosis != "GERD" else "PE"
            severity = 1 if severity == 5 else 5
        out[item["id"]] = {"diagnosis": diagnosis, "severity": severity, "notes": "fine"}
    return out


async def test_an_attempt_shows_items_without_gold_and_grades_with_feedback(world: World) -> None:
    a = await make_assessment(world)
    expert = await world.user("contributor")
    listed = (await expert.get("/assessments")).json()["data"]
    [row] = [x for x in listed if x["id"] == a["id"]]
    assert row["attempts_left"] == 2 and row["best_score"] is None
    assert row["next_attempt_at"] is None
    r = await expert.post(f"/assessments/{a['id']}/attempts")
    assert r.status_code == 201, r.text
    attempt = r.json()
    assert "gold" not in r.text and "GERD" in r.text  # the labels, never which is right
    assert all(set(item) == {"id", "data"} for item in attempt["items"])
    # Asking again returns the same open attempt.
    again = await expert.post(f"/assessments/{a['id']}/attempts")
    assert again.status_code == 200 and again.json()["id"] == attempt["id"]
    result = await expert.post(
        f"/assessment-attempts/{attempt['id']}/submit",
        json={"answers": answers_for(attempt, 3), "active_seconds": 300},
    )
    assert result.status_code == 200, result.text
    body = result.json()
    assert body["score"] == 0.75 and body["passed"] is True and body["level_granted"] == 3
    assert body["pending"] is False
    assert [f["correct"] for f in body["feedback"]] == [True, True, True, False]
    assert "not the expected label" in body["feedback"][3]["detail"]
    me = (await expert.get("/me")).json()
    assert me["skills"]["medicine.cardiology"] == 3
    # Submitting twice is a conflict; the result stands.
    dup = await expert.post(f"/assessment-attempts/{attempt['id']}/submit", json={"answers": {}})
    assert dup.status_code == 409


async def test_failing_then_the_cooldown_then_the_attempt_limit(world: World, clock: Clock) -> None:
    a = await make_assessment(world)
    expert = await world.user("contributor")
    first = (await expert.post(f"/assessments/{a['id']}/attempts")).json()
    r = await expert.post(
        f"/assessment-attempts/{first['id']}/submit", json={"answers": answers_for(first, 1)}
    )
    assert r.json()["passed"] is False and r.json()["level_granted"] is None
    assert r.json()["score"] == 0.25
    refused = await expert.post(f"/assessments/{a['id']}/attempts")
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert int(refused.headers["retry-after"]) == 24 * 3600
    assert refused.json()["retry_at"] is not None
    row = next(x for x in (await expert.get("/assessments")).json()["data"] if x["id"] == a["id"])
    assert row["attempts_left"] == 1 and row["next_attempt_at"] == refused.json()["retry_at"]
    assert row["best_score"] == 0.25
    clock.advance(timedelta(hours=24))
    second = await expert.post(f"/assessments/{a['id']}/attempts")
    assert second.status_code == 201
    await expert.post(f"/assessment-attempts/{second.json()['id']}/submit", json={"answers": {}})
    clock.advance(timedelta(days=30))
    done = await expert.post(f"/assessments/{a['id']}/attempts")
    assert done.status_code == 409 and done.json()["retry_at"] is None
    assert "retry-after" not in done.headers
    assert "medicine.cardiology" not in (await expert.get("/me")).json()["skills"]


async def test_passing_never_lowers_a_skill_level(world: World) -> None:
    a = await make_assessment(world, level_on_pass=2, pass_mark=0.0)
    admin = await world.admin()
    expert = await world.user("contributor")
    await admin.put(f"/users/{expert.id}/skills/medicine.cardiology", json={"level": 4})
    attempt = (await expert.post(f"/assessments/{a['id']}/attempts")).json()
    r = await expert.post(f"/assessment-attempts/{attempt['id']}/submit", json={"answers": {}})
    assert r.json()["passed"] is True and r.json()["level_granted"] == 4
    assert (await expert.get("/me")).json()["skills"]["medicine.cardiology"] == 4


async def test_text_answers_are_pending_and_left_out_of_the_score(world: World) -> None:
    a = await make_assessment(
        world,
        items=[{"data": {"case": "c"}, "gold": {"diagnosis": "MI", "notes": "a reference"}}],
    )
    expert = await world.user("contributor")
    attempt = (await expert.post(f"/assessments/{a['id']}/attempts")).json()
    item = attempt["items"][0]["id"]
    r = await expert.post(
        f"/assessment-attempts/{attempt['id']}/submit",
        json={"answers": {item: {"diagnosis": "MI", "notes": "my reasoning"}}},
    )
    body = r.json()
    assert body["score"] == 1.0 and body["pending"] is True
    notes = next(q for q in body["feedback"][0]["questions"] if q["question"] == "notes")
    assert notes["score"] is None and "reviewer" in notes["detail"]


async def test_written_answers_are_graded_by_a_person_and_only_then_pass(world: World) -> None:
    a = await make_assessment(
        world,
        pass_mark=0.75,
        items=[{"data": {"case": "c"}, "gold": {"diagnosis": "MI", "notes": "a reference"}}],
    )
    expert = await world.user("contributor")
    attempt = (await expert.post(f"/assessments/{a['id']}/attempts")).json()
    item = attempt["items"][0]["id"]
    answer = {"diagnosis": "MI", "notes": "ST elevation in II, III, aVF"}
    r = await expert.post(
        f"/assessment-attempts/{attempt['id']}/submit", json={"answers": {item: answer}}
    )
    assert r.json()["pending"] is True and r.json()["passed"] is False
    assert r.json()["level_granted"] is None
    owner = await world.user("owner")
    queue = (await owner.get(f"/assessments/{a['id']}/grading")).json()["data"]
    (waiting,) = queue
    assert waiting["attempt_id"] == attempt["id"]
    assert waiting["answers"] == [
        {
            "item_id": item,
            "data": {"case": "c"},
            "question": "notes",
            "answer": "ST elevation in II, III, aVF",
            "reference": "a reference",
        }
    ]
    assert set(waiting) == {"attempt_id", "submitted_at", "answers"}  # nobody is named
    contributor = await world.user("contributor")
    path = f"/assessment-attempts/{attempt['id']}/grades"
    one = {"item_id": item, "question": "notes", "score": 0.5, "feedback": "Name the territory."}
    assert (await contributor.post(path, json={"grades": [one]})).status_code == 403
    bad = await owner.post(path, json={"grades": [{**one, "question": "diagnosis"}]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["body", "grades", 0]
    r = await owner.post(path, json={"grades": [one]})
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["pending"] is False and result["score"] == 0.75 and result["passed"] is True
    assert result["level_granted"] == 3
    notes = next(q for q in result["feedback"][0]["questions"] if q["question"] == "notes")
    assert notes == {"question": "notes", "score": 0.5, "detail": "Name the territory."}
    assert (await expert.get("/me")).json()["skills"]["medicine.cardiology"] == 3
    inbox = (await expert.get("/me/notifications")).json()["data"]
    assert any(n["kind"] == "assessment.graded" for n in inbox)
    assert (await owner.post(path, json={"grades": [one]})).status_code == 409
    assert (await owner.get(f"/assessments/{a['id']}/grading")).json()["data"] == []


async def test_bad_assessments_and_answers_are_422_naming_the_field(world: World) -> None:
    admin = await world.admin()
    cases = [
        (assessment_body(skill="medicine.alchemy"), ["body", "skill"]),
        (assessment_body(pass_mark=1.5), ["body", "pass_mark"]),
        (assessment_body(level_on_pass=0), ["body", "level_on_pass"]),
        (
            assessment_body(items=[{"data": {"case": "x"}, "gold": {"diagnosis": "flu"}}]),
            ["body", "items", 0, "gold", "diagnosis"],
        ),
        (
            assessment_body(items=[{"data": {}, "gold": {"diagnosis": "MI"}}]),
            ["body", "items", 0, "data", "case"],
        ),
        (
            assessment_body(items=[{"data": {"case": "x"}, "gold": {}}]),
            ["body", "items", 0, "gold"],
        ),
    ]
    for body, loc in cases:
        r = await admin.post("/assessments", json=body)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["loc"] == loc, r.json()
    assert (await admin.get("/assessments")).json()["data"] == []
    a = await make_assessment(world)
    expert = await world.user("contributor")
    attempt = (await expert.post(f"/assessments/{a['id']}/attempts")).json()
    item = attempt["items"][0]["id"]
    submit = f"/assessment-attempts/{attempt['id']}/submit"
    r = await expert.post(submit, json={"answers": {item: {"diagnosis": "flu"}}})
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "answers", item, "diagnosis"]
    r = await expert.post(submit, json={"answers": {"999999": {}}})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "answers", "999999"]
    # Nothing changed: the attempt is still open and can be submitted.
    assert (await expert.post(submit, json={"answers": {}})).status_code == 200


async def test_someone_elses_attempt_does_not_exist_for_you(world: World) -> None:
    a = await make_assessment(world)
    one, other = await world.user("contributor"), await world.user("contributor")
    attempt = (await one.post(f"/assessments/{a['id']}/attempts")).json()
    r = await other.post(f"/assessment-attempts/{attempt['id']}/submit", json={"answers": {}})
    assert r.status_code == 404
    assert (await other.post("/assessments/99999/attempts")).status_code == 404
    assert (await other.post("/assessments/x/attempts")).status_code == 404


async def test_contributors_cannot_create_assessments(world: World) -> None:
    expert = await world.user("contributor")
    assert (await expert.post("/assessments", json=assessment_body())).status_code == 403
    owner = await world.user("owner")
    assert (await owner.post("/assessments", json=assessment_body())).status_code == 201


@settings(max_examples=200, suppress_health_check=list(HealthCheck), deadline=None)
@given(
    max_attempts=st.integers(1, 5),
    cooldown=st.integers(0, 48),
    steps=st.lists(st.tuples(st.integers(0, 72), st.booleans()), max_size=12),
)
def test_attempts_never_exceed_the_limit_or_start_inside_the_cooldown(
    max_attempts: int, cooldown: int, steps: list[tuple[int, bool]]
) -> None:
    """Whatever the timing, an allowed attempt is within the limit and past the cooldown."""
    from datetime import datetime

    now = datetime(2026, 1, 1)
    used, last, passed = 0, None, False
    for wait_hours, passes in steps:
        now += timedelta(hours=wait_hours)
        gate = attempt_gate(max_attempts, timedelta(hours=cooldown), used, last, passed, now)
        if gate.allowed:
            assert used < max_attempts and not passed
            assert last is None or now - last >= timedelta(hours=cooldown)
            used, last, passed = used + 1, now, passes
        else:
            assert gate.retry_at is None or gate.retry_at > now
    assert used <= max_attempts


async def test_concurrent_starts_never_exceed_the_attempt_limit(world: World) -> None:
    import asyncio

    a = await make_assessment(world, max_attempts=1, cooldown_hours=0)
    expert = await world.user("contributor")
    results = await asyncio.gather(
        *(expert.post(f"/assessments/{a['id']}/attempts") for _ in range(6))
    )
    assert {r.status_code for r in results} <= {200, 201}
    assert len({r.json()["id"] for r in results}) == 1


# ---- why a project is or is not open to you ------------------------------------------------


async def test_me_work_says_why_for_each_project_and_what_would_change_it(
    world: World, client: httpx.AsyncClient
) -> None:
    owner = await world.user("owner")
    ready = await world.project(owner, name="Ready")
    await world.items(owner, ready["id"], [pairwise_item(n) for n in range(3)])
    empty = await world.project(owner, name="Empty")
    cardio = await world.project(
        owner,
        name="Cardio",
        visibility="open",
        requirements={"skills": {"medicine.cardiology": 3}},
    )
    await world.items(owner, cardio["id"], [pairwise_item(n) for n in range(2)])
    await world.project(
        owner, name="Hidden", visibility="open", requirements={"skills": {"law.tax": 2}}
    )
    await world.project(owner, name="Japan", visibility="open", requirements={"countries": ["JP"]})
    a = await make_assessment(world)
    expert = await world.user("contributor", country="BR")
    for proj in (ready, empty):
        await world.member(owner, proj["id"], expert)

    rows = {r["name"]: r for r in (await expert.get("/me/work")).json()["projects"]}
    assert set(rows) == {"Ready", "Empty", "Cardio"}  # nothing reveals Hidden or Japan
    assert rows["Ready"]["eligible"] and rows["Ready"]["available"] == 3
    assert rows["Ready"]["reason"] is None
    assert rows["Empty"]["eligible"] and rows["Empty"]["reason"] == "queue_empty"
    assert rows["Cardio"]["eligible"] is False
    assert rows["Cardio"]["reason"] == "assessment_required"
    assert rows["Cardio"]["assessment"]["id"] == a["id"]
    assert "Cardiology triage" in rows["Cardio"]["action"]

    # Passing the assessment opens the project.
    attempt = (await expert.post(f"/assessments/{a['id']}/attempts")).json()
    await expert.post(
        f"/assessment-attempts/{attempt['id']}/submit", json={"answers": answers_for(attempt, 4)}
    )
    rows = {r["name"]: r for r in (await expert.get("/me/work")).json()["projects"]}
    assert rows["Cardio"]["eligible"] and rows["Cardio"]["available"] == 2
    assert (await expert.next(cardio["id"])).status_code == 200


async def test_me_work_for_an_applicant_says_not_approved(
    world: World, client: httpx.AsyncClient
) -> None:
    owner = await world.user("owner")
    proj = await world.project(owner, name="Ready")
    who = await applicant(client)
    await world.member(owner, proj["id"], who)
    [row] = (await who.get("/me/work")).json()["projects"]
    assert row["reason"] == "not_approved" and not row["eligible"]
    assert "application" in row["action"]


async def test_nothing_to_do_reason_points_at_an_assessment(world: World, app: Any) -> None:
    from inlier.accounts import service as accounts
    from inlier.experts import service as experts

    owner = await world.user("owner")
    await world.project(
        owner, name="Cardio", visibility="open", requirements={"skills": {"medicine.cardiology": 3}}
    )
    expert = await world.user("contributor")
    async with app.state.db.session() as s:
        who = accounts.principal_of(await accounts.get_user(s, expert.id))
        now = app.state.clock.now()
        assert await experts.nothing_to_do_reason(s, who, now) == "no_eligible_project"
    await make_assessment(world)
    async with app.state.db.session() as s:
        assert await experts.nothing_to_do_reason(s, who, now) == "assessment_required"
