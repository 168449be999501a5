"""The experts' pages over HTTP: sign-up, the admin's applicant review, assessments."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conftest import World
from test_experts import assessment_body
from test_pages import csrf_of, sign_in


def form(**overrides: Any) -> dict[str, Any]:
    return {
        "email": "dr.silva@example.org",
        "name": "Dr. Silva",
        "password": "long-enough-password",
        "degree": "MD/DO/MBBS",
        "specialties": ["medicine.cardiology", "medicine.oncology"],
        "languages": "pt-BR, en",
        "country": "br",
        "timezone": "America/Sao_Paulo",
        "consent": "yes",
        **overrides,
    }


async def test_signing_up_creates_a_pending_applicant_who_is_signed_in(
    world: World, browser_client: httpx.AsyncClient
) -> None:
    page = await browser_client.get("/signup")
    assert page.status_code == 200
    assert 'value="medicine.cardiology"' in page.text and "MD/DO/MBBS" in page.text
    r = await browser_client.post("/signup", data={**form(), "csrf": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/assessments?welcome=1"
    landing = await browser_client.get(r.headers["location"])
    assert landing.status_code == 200 and "Thank you for applying" in landing.text
    admin = await world.admin()
    [a] = (await admin.get("/applications")).json()["data"]
    assert a["status"] == "pending" and a["profile"]["country"] == "BR"
    assert a["profile"]["specialties"] == ["medicine.cardiology", "medicine.oncology"]
    assert a["profile"]["languages"] == ["pt-BR", "en"]
    assert a["consent"]["policy_version"] == "1"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"consent": ""}, "consent", "privacy policy"),
        ({"country": "ZZ"}, "country", "Country"),
        ({"degree": "Wizard"}, "degree", "Highest degree"),
        ({"password": "short"}, "password", "Password"),
        ({"specialties": ["medicine.alchemy"]}, "specialties", "taxonomy"),
    ],
)
async def test_a_bad_sign_up_shows_the_form_again_naming_the_field(
    world: World,
    browser_client: httpx.AsyncClient,
    overrides: dict[str, Any],
    field: str,
    message: str,
) -> None:
    page = await browser_client.get("/signup")
    r = await browser_client.post("/signup", data={**form(**overrides), "csrf": csrf_of(page.text)})
    assert r.status_code == 422
    assert message in r.text
    assert f'name="{field}"' in r.text and 'aria-invalid="true"' in r.text
    assert 'value="dr.silva@example.org"' in r.text  # what they typed is kept
    admin = await world.admin()
    assert (await admin.get("/applications")).json()["data"] == []


async def test_sign_up_without_its_csrf_token_is_refused(browser_client: httpx.AsyncClient) -> None:
    await browser_client.get("/signup")
    r = await browser_client.post("/signup", data=form())
    assert r.status_code == 403


async def test_admins_approve_and_decline_from_the_applicants_page(
    world: World, browser_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    from test_experts import applicant

    one = await applicant(client, 1)
    two = await applicant(client, 2)
    await world.admin()
    token = await sign_in(browser_client, "admin@example.org", "admin-password")
    page = await browser_client.get("/admin/applications")
    assert page.status_code == 200
    assert "Dr. Applicant 1" in page.text and "Dr. Applicant 2" in page.text
    r = await browser_client.post(
        f"/admin/applications/{one.application_id}/decision",  # type: ignore[attr-defined]
        data={"csrf": token, "decision": "approve"},
    )
    assert r.status_code == 303
    r = await browser_client.post(
        f"/admin/applications/{two.application_id}/decision",  # type: ignore[attr-defined]
        data={"csrf": token, "decision": "decline", "reason": "No licence on file."},
    )
    assert r.status_code == 303
    assert (await one.get("/me")).json()["status"] == "approved"
    assert (await two.get("/me")).json()["decline_reason"] == "No licence on file."
    declined = await browser_client.get("/admin/applications?status=declined")
    assert "No licence on file." in declined.text


async def test_only_admins_open_the_applicants_page(
    world: World, browser_client: httpx.AsyncClient
) -> None:
    w = await world.user("owner")
    await sign_in(browser_client, w.email)
    assert (await browser_client.get("/admin/applications")).status_code == 403


async def test_the_assessments_page_lists_them_and_says_why_projects_are_closed(
    world: World, browser_client: httpx.AsyncClient
) -> None:
    admin = await world.admin()
    r = await admin.post("/assessments", json=assessment_body())
    a = r.json()
    owner = await world.user("owner")
    await world.project(
        owner, name="Cardio", visibility="open", requirements={"skills": {"medicine.cardiology": 3}}
    )
    w = await world.user("contributor")
    token = await sign_in(browser_client, w.email)
    page = await browser_client.get("/assessments")
    assert page.status_code == 200
    assert "Cardiology triage" in page.text
    assert 'data-reason="assessment_required"' in page.text
    assert f'href="/assessments/{a["id"]}"' in page.text
    detail = await browser_client.get(f"/assessments/{a['id']}")
    assert 'id="start"' in detail.text
    r = await browser_client.post(f"/assessments/{a['id']}/start", data={"csrf": token})
    assert r.status_code == 303
    attempt_page = await browser_client.get(r.headers["location"])
    assert attempt_page.status_code == 200
    assert "Question 1 of 4" in attempt_page.text and "Case 0" in attempt_page.text
    assert "/static/assessment.js" in attempt_page.text
    assert "<script>" not in attempt_page.text  # no inline scripts under the CSP
    other = await world.user("contributor")
    browser_client.cookies.clear()
    await sign_in(browser_client, other.email)
    assert (await browser_client.get(r.headers["location"])).status_code == 404
