"""The forum in Chromium against a real server: ask, answer, mark official, pin, and see the
pin in the workbench's guidelines panel; moderation and the inbox from the keyboard."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from conftest import Live, pairwise_item
from test_browser_workbench import open_page, sign_in

pytestmark = pytest.mark.browser


async def forum_id(live: Live, who: Any, project_id: str) -> str:
    r = await who.get("/forums", params={"project_id": project_id})
    return str(r.json()["data"][0]["id"])


async def test_ask_answer_pin_and_see_it_in_the_workbench(live: Live, browser: Any) -> None:
    w = live.world
    owner, project, (worker,) = await w.team(n_items=2, n_workers=1)
    fid = await forum_id(live, worker, project["id"])
    items = (await owner.get(f"/projects/{project['id']}/items")).json()["data"]

    # The contributor asks about a case, with math in the live preview.
    page, errors = await open_page(browser)
    await sign_in(page, live, worker)
    await page.click("nav >> text=Forums")
    await page.click(f"a[href='/forums/{fid}']")
    await page.fill("#thread-title", "Does a tie count as agreement?")
    await page.fill("#thread-item", items[0]["id"])
    await page.fill("#q-body-text", "When both answers give $\\frac{1}{2}$ the dose, which wins?")
    await page.wait_for_selector("#q-body .preview math")
    await page.click("#ask-form button[type=submit]")
    await page.wait_for_url(f"{live.url}/threads/*")
    thread_url = page.url
    await expect(page.locator("#thread-item")).to_contain_text("Question 0?")
    await expect(page.locator(".post").first.locator("math")).to_have_count(1)
    assert await page.locator(".mark-official, #pin").count() == 0  # not a moderator

    # The owner answers from the keyboard, marks it official and pins the thread.
    owner_page, owner_errors = await open_page(browser)
    await sign_in(owner_page, live, owner)
    await owner_page.goto(thread_url)
    await owner_page.focus("#q-body-text")
    await owner_page.keyboard.type("A tie is agreement: say so in the rationale.")
    await owner_page.keyboard.press("Tab")
    await owner_page.keyboard.press("Enter")
    await owner_page.wait_for_url(f"{thread_url}#post-*")
    answer = owner_page.locator(".post").nth(1)
    await answer.locator(".mark-official").click()
    await expect(owner_page.locator(".post.official")).to_have_count(1)
    await owner_page.click("#pin")
    await expect(owner_page.locator("h1 .badge.pinned")).to_be_visible()

    # The asker has two unread notifications in the header and the inbox.
    await page.goto(live.url + "/inbox")
    await expect(page.locator("#unread-count")).to_have_text("2")
    await expect(page.locator(".note.unread")).to_have_count(2)
    await page.click("#read-all")
    await expect(page.locator(".note.unread")).to_have_count(0)
    await expect(page.locator("#unread-count")).to_be_hidden()

    # The pinned official answer is in the workbench's guidelines panel.
    await page.goto(live.url + "/")
    await page.click("#start-any")
    await page.wait_for_url(f"{live.url}/work/*")
    await page.keyboard.press("g")
    panel = page.locator("#guidelines")
    await expect(panel).to_be_visible()
    await expect(panel.locator("#pinned-answers")).to_contain_text("Does a tie count as agreement?")
    await expect(panel.locator("#pinned-answers")).to_contain_text("A tie is agreement")
    assert errors == [] and owner_errors == []


async def test_moderation_hides_locks_and_keeps_edit_history(live: Live, browser: Any) -> None:
    w = live.world
    owner, project, (worker, other) = await w.team(n_items=1, n_workers=2)
    fid = await forum_id(live, worker, project["id"])
    r = await worker.post(
        f"/forums/{fid}/threads",
        json={"title": "Dose check", "body": "<script>alert(1)</script> first"},
    )
    thread = r.json()
    page, errors = await open_page(browser)
    page.on("dialog", lambda d: errors.append("dialog: " + d.message))
    await sign_in(page, live, worker)
    await page.goto(f"{live.url}/threads/{thread['id']}")
    # The author edits: the history keeps the first version.
    await page.click(".post >> nth=0 >> details.edit > summary")
    await page.fill(f"#edit-{thread['posts'][0]['id']}", "second, with **bold**")
    await page.click(".post >> nth=0 >> details.edit button")
    await expect(page.locator(".post").first.locator(".post-body strong")).to_have_text("bold")
    await page.click(".post >> nth=0 >> details.history > summary")
    await expect(page.locator(".post").first.locator("details.history")).to_contain_text(
        "<script>alert(1)</script> first"
    )

    # The owner hides the other's reply and locks the thread.
    await other.post(f"/threads/{thread['id']}/posts", json={"body": "buy pills"})
    owner_page, owner_errors = await open_page(browser)
    await sign_in(owner_page, live, owner)
    await owner_page.goto(f"{live.url}/threads/{thread['id']}")
    await owner_page.locator(".post").nth(1).locator(".hide-post").click()
    await expect(owner_page.locator(".post.hidden-post")).to_contain_text("buy pills")
    await owner_page.click("#lock")
    await expect(owner_page.locator("#locked-notice")).to_be_visible()

    await page.reload()
    await expect(page.locator(".post.hidden-post")).to_contain_text("hidden by a moderator")
    await expect(page.locator(".post.hidden-post")).not_to_contain_text("buy pills")
    await expect(page.locator("#reply-form")).to_have_count(0)
    assert errors == [] and owner_errors == []


async def test_search_box_finds_threads(live: Live, browser: Any) -> None:
    w = live.world
    owner, project, (worker,) = await w.team(n_items=0, n_workers=1)
    await w.items(owner, project["id"], [pairwise_item(1)])
    fid = await forum_id(live, worker, project["id"])
    for title, body in (("Renal dosing", "CrCl under 30"), ("Pediatrics", "weight-based")):
        await worker.post(f"/forums/{fid}/threads", json={"title": title, "body": body})
    page, errors = await open_page(browser)
    await sign_in(page, live, worker)
    await page.goto(f"{live.url}/forums/{fid}")
    await expect(page.locator(".thread-row")).to_have_count(2)
    await page.fill("#forum-q", "crcl")
    await page.keyboard.press("Enter")
    await expect(page.locator(".thread-row")).to_have_count(1)
    await expect(page.locator(".thread-row")).to_contain_text("Renal dosing")
    assert errors == []
