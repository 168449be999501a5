"""The pages' plumbing over HTTP: sign-in, sessions, CSRF, who may open which page."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from conftest import GOOD_ANSWER, Actor, World

CSRF = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m, "the page carries no CSRF token"
    return m.group(1)


async def sign_in(client: httpx.AsyncClient, email: str, password: str = "correct-horse") -> str:
    """Sign in through the form; returns the page CSRF token of the new session."""
    page = await client.get("/login")
    r = await client.post(
        "/login",
        data={"email": email, "password": password, "csrf": csrf_of(page.text), "next": "/"},
    )
    assert r.status_code == 303, r.text
    home = await client.get("/")
    assert home.status_code == 200
    return csrf_of(home.text)


async def submit_one(worker: Actor, project_id: str) -> None:
    a = (await worker.next(project_id)).json()
    r = await worker.post(
        f"/assignments/{a['id']}/submit",
        json={"answer": GOOD_ANSWER},
        headers={"Idempotency-Key": "k"},
    )
    assert r.status_code == 201, r.text


async def test_pages_need_a_session_and_send_you_back_after_sign_in(
    world: World, browser_client: httpx.AsyncClient
) -> None:
    w = await world.user("contributor")
    r = await browser_client.get("/work/1?x=1")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/work/1%3Fx%3D1"
    page = await browser_client.get(r.headers["location"])
    assert 'name="next" value="/work/1?x=1"' in page.text
    r = await browser_client.post(
        "/login",
        data={
            "email": w.email,
            "password": "correct-horse",
            "csrf": csrf_of(page.text),
            "next": "/work/1?x=1",
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/work/1?x=1"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "/\\\\evil", "x"])
async def test_sign_in_never_redirects_off_site(
    world: World, browser_client: httpx.AsyncClient, target: str
) -> None:
    w = await world.user("contributor")
    page = await browser_client.get("/login")
    r = await browser_client.post(
        "/login",
        data={
            "email": w.email,
            "password": "correct-horse",
            "csrf": csrf_of(page.text),
            "next": target,
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/"


async def test_sign_in_form_without_its_csrf_token_is_refused(
    world: World, browser_client: httpx.AsyncClient
) -> None:
    w = await world.user("contributor")
    await browser_client.get("/login")
    for token in (None, "0" * 40):
        data = {"email": w.email, "password": "correct-horse"}
        if token:
            data["csrf"] = token
        r = await browser_client.post("/login", data=data)
        assert r.status_code == 403
        assert "form expired" in r.text
        assert "inlier_session" not in browser_client.cookies


async def test_wrong_password_shows_the_form_again_with_a_message(
    world: World, browser_client: httpx.AsyncClient
) -> None:
    w = await world.user("contributor")
    page = await browser_client.get("/login")
    r = await browser_client.post(
        "/login", data={"email": w.email, "password": "nope-nope", "csrf": csrf_of(page.text)}
    )
    assert r.status_code == 401
    assert "Wrong email or password." in r.text
    assert f'value="{w.email}"' in r.text


async def test_sign_out_ends_the_session_on_the_server(
    world: World, browser_client: httpx.AsyncClient
) -> None:
    w = await world.user("contributor")
    token = await sign_in(browser_client, w.email)
    session = browser_client.cookies["inlier_session"]
    r = await browser_client.post("/logout", data={"csrf": token})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    # Even a copy of the old cookie is worthless now.
    browser_client.cookies.set("inlier_session", session)
    r = await browser_client.get("/")
    assert r.status_code == 303
    r = await browser_client.get("/api/v1/me", headers={"X-CSRF-Token": token})
    assert r.status_code == 401


async def test_sign_out_needs_the_csrf_token(
    world: World, browser_client: httpx.AsyncClient
) -> None:
    w = await world.user("contributor")
    await sign_in(browser_client, w.email)
    r = await browser_client.post("/logout", data={})
    assert r.status_code == 403
    assert (await browser_client.get("/")).status_code == 200


async def test_the_api_takes_the_session_cookie_only_with_the_csrf_header(
    world: World, browser_client: httpx.AsyncClient
) -> None:
    w = await world.user("contributor")
    token = await sign_in(browser_client, w.email)
    r = await browser_client.get("/api/v1/me")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    r = await browser_client.get("/api/v1/me", headers={"X-CSRF-Token": "f" * 40})
    assert r.status_code == 401
    r = await browser_client.get("/api/v1/me", headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.json()["email"] == w.email


async def test_the_csrf_token_is_bound_to_the_session(
    world: World, app: Any, browser_client: httpx.AsyncClient
) -> None:
    a = await world.user("contributor")
    b = await world.user("contributor")
    token_a = await sign_in(browser_client, a.email)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as other:
        await sign_in(other, b.email)
        r = await other.get("/api/v1/me", headers={"X-CSRF-Token": token_a})
        assert r.status_code == 401


async def test_someone_elses_task_page_is_not_found(
    world: World, browser_client: httpx.AsyncClient
) -> None:
    _owner, proj, (w1, w2) = await world.team()
    lease = (await w1.next(proj["id"])).json()
    await sign_in(browser_client, w2.email)
    r = await browser_client.get(f"/work/{lease['id']}")
    assert r.status_code == 404
    assert "text/html" in r.headers["content-type"]
    assert "not yours to see" in r.text
    for odd in ("abc", "0", "-1", "99999999999999999999"):
        assert (await browser_client.get(f"/work/{odd}")).status_code == 404


async def test_start_working_leases_and_opens_the_workbench(
    world: World, browser_client: httpx.AsyncClient
) -> None:
    _owner, proj, (w1,) = await world.team(n_workers=1, n_items=1)
    token = await sign_in(browser_client, w1.email)
    home = await browser_client.get("/")
    assert proj["name"] in home.text
    r = await browser_client.post("/work/next", data={"csrf": token, "project_id": proj["id"]})
    assert r.status_code == 303
    page = await browser_client.get(r.headers["location"])
    assert page.status_code == 200
    assert "Question 0?" in page.text
    # The same button again returns the same lease (one per person and project).
    again = await browser_client.post("/work/next", data={"csrf": token})
    assert again.headers["location"] == r.headers["location"]
    # Done with it: submit through the API with the session, then the queue is empty.
    aid = r.headers["location"].rsplit("/", 1)[1]
    s = await browser_client.post(
        f"/api/v1/assignments/{aid}/submit",
        json={"answer": GOOD_ANSWER},
        headers={"X-CSRF-Token": token, "Idempotency-Key": "k1"},
    )
    assert s.status_code == 201
    r = await browser_client.post("/work/next", data={"csrf": token})
    assert r.headers["location"] == "/?reason=queue_empty"
    home = await browser_client.get(r.headers["location"])
    assert "Nothing is waiting for you right now." in home.text


async def test_home_shows_review_feedback_without_naming_the_reviewer(
    world: World, browser_client: httpx.AsyncClient
) -> None:
    owner, proj, (w1,) = await world.team(
        n_workers=1, n_items=1, workflow={"overlap": 1, "review": {"sample_rate": 1.0}}
    )
    reviewer = await world.user("contributor")
    await world.member(owner, proj["id"], reviewer, role="reviewer")
    await submit_one(w1, proj["id"])
    review = (await reviewer.next(proj["id"])).json()
    assert review["stage"] == "review"
    r = await reviewer.post(
        f"/assignments/{review['id']}/submit",
        json={"verdict": "reject", "feedback": "Dose is **wrong**: see $x^2$", "score": 2},
        headers={"Idempotency-Key": "r"},
    )
    assert r.status_code == 201
    await sign_in(browser_client, w1.email)
    home = (await browser_client.get("/")).text
    assert "Rejected" in home
    assert "<strong>wrong</strong>" in home and "<math" in home
    assert reviewer.email not in home and reviewer.user["name"] not in home


async def test_markdown_preview_endpoint_renders_math_and_strips_scripts(
    world: World,
) -> None:
    w: Actor = await world.user("contributor")
    r = await w.post(
        "/render",
        json={"texts": ["$a^2$ <script>alert(1)</script>", "[x](javascript:alert(1))", ""]},
    )
    assert r.status_code == 200
    html = r.json()["html"]
    assert "<math" in html[0] and "<script" not in html[0]
    assert "href" not in html[1]  # shown as text, never a link
    assert html[2] == ""
    r = await w.post("/render", json={"texts": ["x" * 100_001]})
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "texts", 0]


async def test_owners_see_progress_of_their_projects_only(
    world: World, app: Any, browser_client: httpx.AsyncClient
) -> None:
    owner, proj, (w1,) = await world.team(n_workers=1, n_items=4)
    await submit_one(w1, proj["id"])
    other_owner = await world.user("owner")

    await sign_in(browser_client, owner.email)
    listing = (await browser_client.get("/projects")).text
    assert proj["name"] in listing and "25.0% done" in listing
    page = await browser_client.get(f"/projects/{proj['id']}")
    assert page.status_code == 200
    assert "1 owners · 0 reviewers · 1 contributors" in page.text
    assert 'aria-label="25.0% done, 0.0% in progress, 75.0% open"' in page.text

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        await sign_in(c, other_owner.email)
        assert proj["name"] not in (await c.get("/projects")).text
        assert (await c.get(f"/projects/{proj['id']}")).status_code == 404
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        await sign_in(c, w1.email)
        assert (await c.get("/projects")).status_code == 403
        assert (await c.get(f"/projects/{proj['id']}")).status_code == 403
        assert 'href="/projects"' not in (await c.get("/")).text


async def test_owners_download_exports_from_the_project_page(
    world: World, app: Any, browser_client: httpx.AsyncClient
) -> None:
    owner, proj, (w1,) = await world.team(n_workers=1, n_items=1)
    await submit_one(w1, proj["id"])
    await sign_in(browser_client, owner.email)
    page = await browser_client.get(f"/projects/{proj['id']}")
    assert f'action="/projects/{proj["id"]}/download"' in page.text
    r = await browser_client.get(
        f"/projects/{proj['id']}/download", params={"kind": "raw", "format": "jsonl"}
    )
    assert r.status_code == 200
    assert "attachment" in r.headers["content-disposition"]
    api = await owner.get(f"/projects/{proj['id']}/export", params={"kind": "raw"})
    assert r.content == api.content and GOOD_ANSWER["rationale"] in r.text
    bad = await browser_client.get(f"/projects/{proj['id']}/download", params={"kind": "nope"})
    assert bad.status_code == 422 and "text/html" in bad.headers["content-type"]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        await sign_in(c, w1.email)
        r = await c.get(f"/projects/{proj['id']}/download")
        assert r.status_code == 403 and w1.email not in r.text


async def test_too_many_failed_sign_ins_are_refused_with_a_message(
    world: World, browser_client: httpx.AsyncClient
) -> None:
    w = await world.user("contributor")
    page = await browser_client.get("/login")
    token = csrf_of(page.text)
    for _ in range(10):
        r = await browser_client.post(
            "/login", data={"email": w.email, "password": "wrong-password", "csrf": token}
        )
        assert r.status_code == 401
    r = await browser_client.post(
        "/login", data={"email": w.email, "password": "correct-horse", "csrf": token}
    )
    assert r.status_code == 429
    assert "Too many failed sign-ins" in r.text
    assert "inlier_session" not in browser_client.cookies


async def test_home_says_which_projects_need_an_assessment_and_links_it(
    world: World, browser_client: httpx.AsyncClient
) -> None:
    from test_experts import make_assessment

    owner = await world.user("owner")
    await world.project(
        owner,
        name="Cardiology, skill 2",
        visibility="open",
        requirements={"skills": {"medicine.cardiology": 2}},
    )
    assessment = await make_assessment(world)
    w = await world.user("contributor")
    await sign_in(browser_client, w.email)
    home = (await browser_client.get("/")).text
    assert "Cardiology, skill 2" in home and "Assessment needed" in home
    assert f'href="/assessments/{assessment["id"]}"' in home


async def test_sign_up_accepts_the_policy_in_force_and_records_the_consent(
    world: World, browser_client: httpx.AsyncClient
) -> None:
    admin = await world.admin()
    r = await admin.post("/policies", json={"version": "2026-11", "markdown": "# We keep *little*"})
    assert r.status_code == 201
    policy = await browser_client.get("/privacy")
    assert "Version 2026-11" in policy.text and "<em>little</em>" in policy.text
    page = await browser_client.get("/signup")
    assert 'name="policy_version" value="2026-11"' in page.text
    r = await browser_client.post(
        "/signup",
        data={
            "csrf": csrf_of(page.text),
            "email": "new.expert@example.org",
            "name": "New Expert",
            "password": "correct-horse",
            "country": "BR",
            "degree": "PhD",
            "languages": "pt-BR",
            "timezone": "UTC",
            "consent": "yes",
            "policy_version": "2026-11",
        },
    )
    assert r.status_code == 303, r.text
    token = csrf_of((await browser_client.get("/")).text)
    # The consent is on record: next is not held back for consent.
    nxt = await browser_client.post(
        "/api/v1/assignments/next", json={}, headers={"X-CSRF-Token": token}
    )
    assert nxt.headers.get("inlier-reason") == "not_approved"
    data = await browser_client.get("/api/v1/me/data-export", headers={"X-CSRF-Token": token})
    import io
    import json
    import zipfile

    consents = json.loads(zipfile.ZipFile(io.BytesIO(data.content)).read("consents.json"))
    assert [c["policy_version"] for c in consents] == ["2026-11"]


async def test_applying_with_a_replaced_policy_version_is_refused(world: World) -> None:
    from test_experts import application

    admin = await world.admin()
    for version in ("v1", "v2"):
        r = await admin.post("/policies", json={"version": version, "markdown": "text"})
        assert r.status_code == 201
    r = await world.client.post(
        "/api/v1/applications", json=application(consent={"policy_version": "v1"})
    )
    assert r.status_code == 409 and r.json()["current_version"] == "v2"
    r = await world.client.post(
        "/api/v1/applications", json=application(consent={"policy_version": "v9"})
    )
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "policy_version"]


async def test_admins_read_the_audit_log_newest_first_and_filter_it(
    world: World, app: Any, browser_client: httpx.AsyncClient
) -> None:
    owner = await world.user("owner")
    first = await world.project(owner, name="<script>alert(1)</script> first")
    second = await world.project(owner, name="Second")
    admin = await world.admin()
    await sign_in(browser_client, admin.email, "admin-password")
    page = (await browser_client.get("/admin/audit")).text
    rows = page.split("<tbody>")[1]
    assert rows.index(f">project:{second['id']}<") < rows.index(f">project:{first['id']}<")
    assert "<script>alert(1)</script>" not in page
    filtered = (await browser_client.get("/admin/audit", params={"action": "user.create"})).text
    assert "project.create" not in filtered.split("<tbody>")[1]
    none = await browser_client.get("/admin/audit", params={"target": "project:0"})
    assert 'id="no-entries"' in none.text
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        await sign_in(c, owner.email)
        assert (await c.get("/admin/audit")).status_code == 403
