"""The consent and account pages: over HTTP on both engines, and in Chromium with the keyboard."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from conftest import Actor, Live, World
from test_pages import sign_in


@pytest.fixture
async def browser_client(app: Any) -> Any:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def test_the_consent_page_shows_what_changed_and_accepts_with_csrf(
    world: World, browser_client: httpx.AsyncClient, app: Any
) -> None:
    admin = await world.admin()
    worker = await world.user("contributor")
    await admin.post("/policies", json={"version": "v1", "markdown": "Line one.\nLine two.\n"})
    await worker.post("/me/consents", json={"policy_version": "v1"})
    await admin.post(
        "/policies",
        json={
            "version": "v2",
            "markdown": "Line one.\nLine three.\n",
            "changes": "We replaced **line two**.",
        },
    )
    csrf = await sign_in(browser_client, worker.email)
    page = await browser_client.get("/consent")
    assert page.status_code == 200
    assert "version v2" in page.text and "since version v1" in page.text
    assert "<strong>line two</strong>" in page.text
    assert 'class="diff-removed"' in page.text and "Line two." in page.text
    assert 'class="diff-added"' in page.text and "Line three." in page.text
    r = await browser_client.post("/consent", data={"policy_version": "v2", "csrf": "forged"})
    assert r.status_code == 403
    r = await browser_client.post("/consent", data={"policy_version": "v2", "csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/"
    page = await browser_client.get("/consent")
    assert "You accepted this version." in page.text and "accept-policy" not in page.text


async def test_the_account_page_downloads_my_data_and_deletes_after_confirmation(
    world: World, browser_client: httpx.AsyncClient
) -> None:
    admin = await world.admin()
    worker = await world.user("contributor")
    csrf = await sign_in(browser_client, worker.email)
    page = await browser_client.get("/account")
    assert page.status_code == 200
    assert worker.email in page.text and "User " in page.text and "contributor" in page.text
    r = await browser_client.get("/account/data-export")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert "attachment" in r.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        assert "README.md" in zf.namelist()
    r = await browser_client.post("/account/delete", data={"confirm": "nope", "csrf": csrf})
    assert r.status_code == 400 and "Type your email exactly" in r.text
    assert (await worker.get("/me")).status_code == 200
    r = await browser_client.post("/account/delete", data={"confirm": worker.email, "csrf": csrf})
    assert r.status_code == 200 and "Your account is deleted" in r.text
    assert (await worker.get("/me")).status_code == 401
    assert (await browser_client.get("/account")).status_code == 303
    erased = (await admin.get("/audit", params={"action": "user.erase"})).json()["data"]
    assert [e["target"] for e in erased] == [f"user:{worker.id}"]


async def test_account_pages_need_a_session(browser_client: httpx.AsyncClient) -> None:
    for path in ("/account", "/consent", "/account/data-export"):
        r = await browser_client.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


# ---- in Chromium ---------------------------------------------------------------------------

SQLITE_ONLY = pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)


async def browser_sign_in(page: Any, live: Live, who: Actor) -> None:
    await page.goto(live.url + "/login")
    await page.fill("#email", who.email)
    await page.fill("#password", "correct-horse")
    await page.keyboard.press("Enter")
    await page.wait_for_url(live.url + "/")


@pytest.mark.browser
@SQLITE_ONLY
async def test_accept_download_and_delete_with_the_keyboard(live: Live, browser: Any) -> None:
    admin = await live.world.admin()
    worker = await live.world.user("contributor")
    r = await admin.post("/policies", json={"version": "v1", "markdown": "# We keep answers"})
    assert r.status_code == 201
    context = await browser.new_context(accept_downloads=True)
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    await browser_sign_in(page, live, worker)

    await page.goto(live.url + "/consent")
    await expect(page.locator("#policy-text h1")).to_have_text("We keep answers")
    await page.focus("#accept-policy")
    await page.keyboard.press("Enter")
    await page.wait_for_url(live.url + "/")

    await page.goto(live.url + "/account")
    await expect(page.locator("#account-details")).to_contain_text("accepted")
    async with page.expect_download() as info:
        await page.focus("#download-data")
        await page.keyboard.press("Enter")
    download = await info.value
    assert download.suggested_filename == f"inlier-data-{worker.id}.zip"

    await page.focus("details > summary")
    await page.keyboard.press("Enter")
    await page.keyboard.press("Tab")
    await page.keyboard.type(worker.email)
    await page.keyboard.press("Enter")
    await expect(page.locator("#erased h1")).to_have_text("Your account is deleted")
    assert (await worker.get("/me")).status_code == 401
    assert problems == []
    await context.close()
