"""Projects, members, requirements, visibility and item import through the API."""

from __future__ import annotations

import json

from conftest import GOOD_ANSWER, PAIRWISE_TEMPLATE, World, pairwise_item


async def test_owners_create_projects_and_contributors_cannot(world: World) -> None:
    owner = await world.user("owner")
    proj = await world.project(owner)
    assert proj["my_role"] == "owner" and proj["status"] == "active"
    assert proj["workflow"] == {"overlap": 1, "review": {"sample_rate": 0.0}}
    contributor = await world.user()
    r = await contributor.post("/projects", json={"name": "x", "template": PAIRWISE_TEMPLATE})
    assert r.status_code == 403


async def test_a_project_is_visible_to_members_only(world: World) -> None:
    _, proj, [member, _] = await world.team()
    outsider = await world.user()
    assert (await member.get(f"/projects/{proj['id']}")).json()["my_role"] == "contributor"
    assert (await outsider.get(f"/projects/{proj['id']}")).status_code == 404
    assert (await outsider.get("/projects")).json()["data"] == []
    listed = (await member.get("/projects")).json()["data"]
    assert [p["id"] for p in listed] == [proj["id"]]


async def test_open_projects_reach_contributors_who_meet_the_requirements(world: World) -> None:
    owner = await world.user("owner")
    proj = await world.project(
        owner, visibility="open", requirements={"skills": {"medicine.cardiology": 2}}
    )
    await world.items(owner, proj["id"], [pairwise_item(1)])
    expert = await world.user()
    assert (await expert.get(f"/projects/{proj['id']}")).status_code == 404
    r = await expert.next()
    assert r.status_code == 204 and r.headers["Inlier-Reason"] == "no_eligible_project"
    admin = await world.admin()
    put = await admin.put(f"/users/{expert.id}/skills/medicine.cardiology", json={"level": 3})
    assert put.status_code == 200
    assert (await expert.get(f"/projects/{proj['id']}")).status_code == 200
    a = await expert.next()
    assert a.status_code == 200 and a.json()["project_id"] == proj["id"]
    me = (await expert.get("/me")).json()
    assert me["skills"] == {"medicine.cardiology": 3}


async def test_a_member_below_the_requirements_is_told_to_take_an_assessment(world: World) -> None:
    owner = await world.user("owner")
    proj = await world.project(owner, requirements={"skills": {"math.olympiad": 4}})
    w = await world.user()
    await world.member(owner, proj["id"], w)
    r = await w.next(proj["id"])
    assert r.status_code == 204 and r.headers["Inlier-Reason"] == "assessment_required"


async def test_country_and_language_requirements(world: World) -> None:
    owner = await world.user("owner")
    proj = await world.project(owner, requirements={"countries": ["BR"], "languages": ["pt-BR"]})
    await world.items(owner, proj["id"], [pairwise_item(1)])
    fits = await world.user(country="BR", languages=["pt-BR", "en"])
    wrong_country = await world.user(country="US", languages=["pt-BR"])
    for w in (fits, wrong_country):
        await world.member(owner, proj["id"], w)
    assert (await fits.next(proj["id"])).status_code == 200
    r = await wrong_country.next(proj["id"])
    assert r.status_code == 204 and r.headers["Inlier-Reason"] == "no_eligible_project"


async def test_paused_and_draft_projects_hand_out_no_work(world: World) -> None:
    owner, proj, [w, _] = await world.team()
    r = await owner.patch(f"/projects/{proj['id']}", json={"status": "paused"})
    assert r.status_code == 200 and r.json()["status"] == "paused"
    assert (await w.next(proj["id"])).status_code == 204
    await owner.patch(f"/projects/{proj['id']}", json={"status": "active"})
    assert (await w.next(proj["id"])).status_code == 200


async def test_patch_changes_settings_but_not_the_shape_of_imported_work(world: World) -> None:
    owner, proj, [w, _] = await world.team()
    r = await owner.patch(
        f"/projects/{proj['id']}",
        json={"name": "Renamed", "lease_minutes": 60, "guidelines": "# New"},
    )
    assert r.status_code == 200
    assert (r.json()["name"], r.json()["lease_minutes"]) == ("Renamed", 60)
    other_template = {**PAIRWISE_TEMPLATE, "questions": PAIRWISE_TEMPLATE["questions"][:1]}
    r = await owner.patch(f"/projects/{proj['id']}", json={"template": other_template})
    assert r.status_code == 409
    r = await owner.patch(f"/projects/{proj['id']}", json={"workflow": {"overlap": 3}})
    assert r.status_code == 409
    assert (await w.patch(f"/projects/{proj['id']}", json={"name": "mine"})).status_code == 403
    got = (await owner.get(f"/projects/{proj['id']}")).json()
    assert got["name"] == "Renamed" and got["template"] == proj["template"]


async def test_members_can_be_added_and_their_role_changed(world: World) -> None:
    owner, proj, [w, _] = await world.team()
    r = await owner.post(
        f"/projects/{proj['id']}/members", json={"user_id": w.id, "role": "reviewer"}
    )
    assert r.status_code == 201 and r.json()["role"] == "reviewer"
    members = (await owner.get(f"/projects/{proj['id']}/members")).json()["data"]
    assert {m["user_id"]: m["role"] for m in members}[w.id] == "reviewer"
    r = await owner.post(
        f"/projects/{proj['id']}/members", json={"user_id": "99999", "role": "reviewer"}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "user_id"]


async def test_items_import_as_ndjson_with_gold_hidden_from_contributors(world: World) -> None:
    owner = await world.user("owner")
    proj = await world.project(owner)
    rows = [pairwise_item(i) for i in range(3)]
    rows[0]["gold"] = {"preference": {"choice": "left", "strength": 3}}
    body = "\n".join(json.dumps(r) for r in rows) + "\n"
    r = await owner.post(
        f"/projects/{proj['id']}/items",
        content=body,
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 201 and r.json() == {"created": 3}
    items = (await owner.get(f"/projects/{proj['id']}/items")).json()["data"]
    assert items[0]["gold"] == {"preference": {"choice": "left", "strength": 3}}
    w = await world.user()
    await world.member(owner, proj["id"], w)
    a = await w.next(proj["id"])
    assert "gold" not in a.text and 'strength": 3' not in a.text
    assert (await w.get(f"/projects/{proj['id']}/items")).status_code == 403


async def test_gold_answers_are_checked_like_answers(world: World) -> None:
    owner = await world.user("owner")
    proj = await world.project(owner)
    rows = [pairwise_item(1), pairwise_item(2, gold={"preference": {"choice": "sideways"}})]
    r = await owner.post(f"/projects/{proj['id']}/items", json=rows)
    assert r.status_code == 422
    assert r.json()["detail"].startswith("row 2: gold.preference.choice")
    assert r.json()["errors"][0]["loc"] == ["body", 1, "gold", "preference", "choice"]
    stats = (await owner.get(f"/projects/{proj['id']}/stats")).json()
    assert stats["items"] == 0 and stats["slots"]["open"] == 0


async def test_external_ids_are_unique_per_project(world: World) -> None:
    owner = await world.user("owner")
    proj = await world.project(owner)
    await world.items(owner, proj["id"], [pairwise_item(1)])
    r = await owner.post(f"/projects/{proj['id']}/items", json=[pairwise_item(2), pairwise_item(1)])
    assert r.status_code == 409 and "row 2" in r.json()["detail"]
    r = await owner.post(f"/projects/{proj['id']}/items", json=[pairwise_item(3), pairwise_item(3)])
    assert r.status_code == 409 and "repeats row 1" in r.json()["detail"]
    assert (await owner.get(f"/projects/{proj['id']}/stats")).json()["items"] == 1
    other = await world.project(owner, name="Other")
    await world.items(owner, other["id"], [pairwise_item(1)])  # same id, other project: fine


async def test_items_and_projects_page_with_cursors(world: World) -> None:
    owner = await world.user("owner")
    proj = await world.project(owner)
    await world.items(owner, proj["id"], [pairwise_item(i) for i in range(7)])
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        q = f"/projects/{proj['id']}/items?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = (await owner.get(q)).json()
        seen += [i["external_id"] for i in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"item-{i}" for i in range(7)]
    for n in range(4):
        await world.project(owner, name=f"P{n}")
    first = (await owner.get("/projects?limit=2")).json()
    second = (await owner.get(f"/projects?limit=2&cursor={first['next_cursor']}")).json()
    third = (await owner.get(f"/projects?limit=2&cursor={second['next_cursor']}")).json()
    names = [p["name"] for p in first["data"] + second["data"] + third["data"]]
    assert (
        len(names) == 5
        and len(set(p["id"] for p in first["data"] + second["data"] + third["data"])) == 5
    )
    assert third["next_cursor"] is None


async def test_stats_count_the_work(world: World) -> None:
    owner, proj, [w1, w2] = await world.team(n_items=2, workflow={"overlap": 2})
    a = (await w1.next(proj["id"])).json()
    await w1.post(f"/assignments/{a['id']}/submit", json={"answer": GOOD_ANSWER})
    await w2.next(proj["id"])
    stats = (await owner.get(f"/projects/{proj['id']}/stats")).json()
    assert stats == {
        "items": 2,
        "slots": {"open": 2, "leased": 1, "done": 1},
        "responses": 1,
        "reviews": {"approved": 0, "improved": 0, "rejected": 0},
    }
