"""The quality pages over HTTP: a contributor's standing and appeal, the owners' contributor
table, chart, appeals and one person's work; who may open them; CSRF on every form."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from conftest import Actor, World
from inlier.quality import charts
from test_pages import csrf_of, sign_in
from test_quality import GOOD_ANSWER, RIGHT_ANSWER, project_with_gold, work_one


@pytest.fixture
async def browsers(app: Any) -> AsyncIterator[Any]:
    """Browsers (cookie jars) of the same app, one per person."""
    transport = httpx.ASGITransport(app=app)
    clients: list[httpx.AsyncClient] = []

    async def open_as(who: Actor | str, password: str = "correct-horse") -> httpx.AsyncClient:
        c = httpx.AsyncClient(transport=transport, base_url="http://test")
        clients.append(c)
        await sign_in(c, who if isinstance(who, str) else who.email, password)
        return c

    yield open_as
    for c in clients:
        await c.aclose()


async def paused(world: World) -> tuple[Actor, dict[str, Any], Actor]:
    """A contributor paused by three wrong gold answers (pause below 0.5 after 3 events)."""
    owner, proj, worker = await project_with_gold(world, n_gold=6, n_plain=3)
    for _ in range(3):
        await work_one(worker, proj["id"], RIGHT_ANSWER)
    return owner, proj, worker


async def test_a_paused_contributor_sees_why_appeals_and_is_reinstated(
    world: World, browsers: Any
) -> None:
    owner, proj, worker = await paused(world)
    pid = proj["id"]
    me = await browsers(worker)

    home = await me.get("/")
    assert "Paused" in home.text and "pause threshold 0.50" in home.text
    assert f'href="/standing#project-{pid}"' in home.text
    assert 'href="/standing"' in home.text  # in the nav
    told = await me.get("/?reason=paused")
    assert "See why, and appeal" in told.text

    page = await me.get("/standing")
    assert page.status_code == 200
    html = page.text
    assert f'id="project-{pid}"' in html and 'data-state="paused"' in html
    assert "pause threshold 0.50" in html
    assert re.search(r'<svg class="interval"[^>]*role="img"', html)
    assert 'class="mark mark-pause_below"' in html and 'class="mark mark-warn_below"' in html
    assert html.count('<tr data-kind="gold">') == 3
    # A gold check names no item, and shows its day only.
    assert "which task it was is not shown" in html
    assert '<th scope="col">Item</th>' not in html
    assert 'action="/standing/appeals"' in html

    # The form needs its CSRF token and a message.
    r = await me.post("/standing/appeals", data={"project_id": pid, "message": "I misread."})
    assert r.status_code == 403
    token = csrf_of(html)
    r = await me.post("/standing/appeals", data={"csrf": token, "project_id": pid, "message": " "})
    assert r.status_code == 422 and "Say why the pause should be lifted" in r.text
    r = await me.post(
        "/standing/appeals",
        data={"csrf": token, "project_id": pid, "message": "I misread the first three."},
    )
    assert r.status_code == 303 and r.headers["location"] == f"/standing?appealed={pid}#appeals"
    page = await me.get(r.headers["location"])
    assert "Your appeal on <strong>Cardiology preference</strong> was sent" in page.text
    assert 'data-status="open"' in page.text and 'action="/standing/appeals"' not in page.text
    again = await me.post(
        "/standing/appeals", data={"csrf": token, "project_id": pid, "message": "Again"}
    )
    assert again.status_code == 409 and "already open" in again.text

    # The owner sees the person, the chart and the appeal, and reinstates.
    boss = await browsers(owner)
    q = await boss.get(f"/projects/{pid}/quality")
    assert q.status_code == 200
    assert f'<tr data-user="{worker.id}" data-state="paused">' in q.text
    assert f'href="/projects/{pid}/quality/{worker.id}"' in q.text
    assert '<svg class="weekly"' in q.text and 'data-kind="gold"' in q.text
    assert "I misread the first three." in q.text
    (appeal,) = (await owner.get(f"/projects/{pid}/appeals")).json()["data"]
    target = f"/projects/{pid}/quality/appeals/{appeal['id']}/decision"
    assert f'action="{target}"' in q.text
    assert (
        await boss.post(target, data={"decision": "reinstate", "reason": "Ok"})
    ).status_code == 403
    btoken = csrf_of(q.text)
    r = await boss.post(target, data={"csrf": btoken, "decision": "reinstate", "reason": ""})
    assert r.status_code == 422 and "Give a reason" in r.text
    r = await boss.post(target, data={"csrf": btoken, "decision": "maybe", "reason": "x"})
    assert r.status_code == 422
    # A contributor cannot decide, even with a valid form.
    r = await me.post(target, data={"csrf": token, "decision": "reinstate", "reason": "me"})
    assert r.status_code == 403
    r = await boss.post(
        target, data={"csrf": btoken, "decision": "reinstate", "reason": "Fair: the key was new."}
    )
    assert r.status_code == 303 and r.headers["location"] == f"/projects/{pid}/quality#appeals"
    r = await boss.post(target, data={"csrf": btoken, "decision": "uphold", "reason": "No"})
    assert r.status_code == 409 and "already decided" in r.text

    page = await me.get("/standing")
    assert 'data-status="reinstated"' in page.text and "Fair: the key was new." in page.text
    assert "Reinstated on appeal." in page.text
    assert (await worker.next(pid)).status_code == 200


async def test_owners_drill_into_one_persons_work(world: World, browsers: Any) -> None:
    owner, proj, worker = await paused(world)
    pid = proj["id"]
    boss = await browsers(owner)
    page = await boss.get(f"/projects/{pid}/quality/{worker.id}")
    assert page.status_code == 200
    # Owners see what each gold check graded and on which item.
    assert "preference: 0.00" in page.text
    assert (
        page.text.count('data-status="submitted"') + page.text.count('data-status="approved"') == 3
    )
    assert "pause threshold 0.50" in page.text
    # Someone with no work on the project is not there, whether or not they exist.
    stranger = await world.user("contributor")
    assert (await boss.get(f"/projects/{pid}/quality/{stranger.id}")).status_code == 404
    assert (await boss.get(f"/projects/{pid}/quality/999999")).status_code == 404
    assert (await boss.get(f"/projects/{pid}/quality/nope")).status_code in (404, 422)


async def test_only_the_projects_owners_and_admins_open_its_quality_pages(
    world: World, browsers: Any
) -> None:
    owner, proj, worker = await paused(world)
    pid = proj["id"]
    other_owner = await world.user("owner")
    paths = [f"/projects/{pid}/quality", f"/projects/{pid}/quality/{worker.id}"]
    member = await browsers(worker)
    outsider = await browsers(other_owner)
    admin = await browsers("admin@example.org", "admin-password")
    for path in paths:
        assert (await member.get(path)).status_code == 403, path
        assert (await outsider.get(path)).status_code == 404, path
        assert (await admin.get(path)).status_code == 200, path
    anonymous = httpx.AsyncClient(transport=httpx.ASGITransport(app=world.app), base_url="http://t")
    async with anonymous:
        r = await anonymous.get(paths[0])
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
        assert (await anonymous.get("/standing")).status_code == 303
    # The owner's project page links to the quality page.
    boss = await browsers(owner)
    assert f'href="/projects/{pid}/quality"' in (await boss.get(f"/projects/{pid}")).text


async def test_the_contributor_table_sorts_by_any_column(world: World, browsers: Any) -> None:
    owner, proj, worker = await project_with_gold(world, n_gold=6, n_plain=0)
    good = await world.user("contributor")
    await world.member(owner, proj["id"], good)
    await work_one(worker, proj["id"], RIGHT_ANSWER)
    await work_one(good, proj["id"], GOOD_ANSWER)
    boss = await browsers(owner)

    def order(html: str) -> list[str]:
        return re.findall(r'<tr data-user="(\d+)"', html)

    page = await boss.get(f"/projects/{proj['id']}/quality?sort=score&order=desc")
    assert order(page.text) == [good.id, worker.id]
    assert 'aria-sort="descending"' in page.text
    page = await boss.get(f"/projects/{proj['id']}/quality?sort=score&order=asc")
    assert order(page.text) == [worker.id, good.id]
    page = await boss.get(f"/projects/{proj['id']}/quality?sort=bogus")
    assert page.status_code == 200 and sorted(order(page.text)) == sorted([worker.id, good.id])


async def test_standing_without_scores_says_so(world: World, browsers: Any) -> None:
    worker = await world.user("contributor")
    me = await browsers(worker)
    page = await me.get("/standing")
    assert page.status_code == 200 and "No project scores your work yet." in page.text
    # Nothing to appeal is said on the page, not as an error.
    owner = await world.user("owner")
    proj = await world.project(owner, quality={"pause_below": 0.5})
    await world.member(owner, proj["id"], worker)
    r = await me.post(
        "/standing/appeals",
        data={"csrf": csrf_of(page.text), "project_id": proj["id"], "message": "Why?"},
    )
    assert r.status_code == 409 and "not paused" in r.text


def test_the_interval_bar_places_the_score_and_the_thresholds() -> None:
    bar = charts.interval_bar(
        {
            "score": 0.25,
            "interval": [0.1, 0.5],
            "state": "paused",
            "thresholds": {"warn_below": 0.6, "pause_below": 0.5, "promote_reviewer_at": None},
        }
    )
    pad, w = charts.BAR_PAD, charts.BAR_WIDTH
    assert bar["score"] == pad + 0.25 * w and bar["lo"] == pad + 0.1 * w
    assert bar["width"] == round(0.4 * w, 1)
    assert [m["key"] for m in bar["marks"]] == ["pause_below", "warn_below"]
    assert "between 0.10 and 0.50" in bar["label"] and "pause threshold is 0.50" in bar["label"]


def test_the_weekly_chart_has_one_line_per_kind_and_weeks_left_to_right() -> None:
    series = [
        {"week": "2026-01-05", "kind": "gold", "mean": 1.0, "events": 2},
        {"week": "2026-01-12", "kind": "gold", "mean": 0.5, "events": 4},
        {"week": "2026-01-12", "kind": "review", "mean": 0.0, "events": 1},
    ]
    c = charts.weekly_chart(series, {"pause_below": 0.5})
    assert [ln["kind"] for ln in c["lines"]] == ["gold", "review"]
    gold = c["lines"][0]["dots"]
    assert gold[0]["x"] == c["left"] and gold[1]["x"] == c["right"]
    assert gold[0]["y"] == c["top"] and gold[1]["y"] == (c["top"] + c["bottom"]) / 2
    assert c["lines"][1]["dots"][0]["y"] == c["bottom"]
    assert [m["key"] for m in c["marks"]] == ["pause_below"]
    assert "Gold checks: 0.50 in the week of 2026-01-12 (4 events)" in c["desc"]
    assert charts.weekly_chart([], {})["desc"] == "No quality events yet."


def test_the_review_form_offers_every_reject_reason() -> None:
    from inlier.workflow.pages import REJECT_LABELS
    from inlier.workflow.schemas import REJECT_REASONS

    assert list(REJECT_LABELS) == list(REJECT_REASONS)
