"""Quality in Chromium against a real server: a paused contributor sees why and appeals, the
owner reads the table and chart and reinstates; the workbench measures pasted text; a reject
needs its reason and feedback."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from conftest import GOOD_ANSWER, PAIRWISE_TEMPLATE, Live, pairwise_item
from inlier.workflow.models import Response
from test_browser_workbench import open_page, sign_in, submitted
from test_quality import QUALITY, RIGHT_ANSWER, gold_item, work_one

pytestmark = pytest.mark.browser


async def test_a_paused_contributor_appeals_by_keyboard_and_the_owner_reinstates(
    live: Live, browser: Any
) -> None:
    w = live.world
    owner = await w.user("owner")
    proj = await w.project(owner, quality=QUALITY)
    pid = proj["id"]
    await w.items(owner, pid, [gold_item(i) for i in range(6)])
    await w.items(owner, pid, [pairwise_item(100 + i) for i in range(3)])
    worker = await w.user("contributor")
    await w.member(owner, pid, worker)
    for _ in range(3):  # three wrong gold answers: paused below 0.50
        await work_one(worker, pid, RIGHT_ANSWER)

    page, errors = await open_page(browser)
    await sign_in(page, live, worker)
    row = page.locator(f'tr[data-work-project="{pid}"]')
    await expect(row).to_have_attribute("data-reason", "paused")
    await expect(row).to_contain_text("Paused")
    await expect(row).to_contain_text("pause threshold 0.50")
    link = row.get_by_role("link", name="See your standing and appeal")
    await link.focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{live.url}/standing#project-{pid}")

    card = page.locator(f"#project-{pid}")
    await expect(card.locator(".badge")).to_have_text("Paused")
    await expect(card.locator("ul.reasons")).to_contain_text("below this project's pause threshold")
    await expect(card.locator("svg.interval title")).to_have_text(
        "Score and its 90% credible interval"
    )
    assert await card.locator("svg.interval .mark-pause_below").count() == 2  # line and label
    assert await card.locator('tr[data-kind="gold"]').count() == 3
    assert await page.get_by_role("link", name="Standing").get_attribute("aria-current") == "page"

    # The appeal, by keyboard only.
    await page.get_by_label("Appeal the pause: why should it be lifted?").focus()
    await page.keyboard.type("The first three used a rubric I had not seen yet.")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{live.url}/standing?appealed={pid}#appeals")
    await expect(page.locator("#appeal-sent")).to_contain_text("Cardiology preference")
    await expect(page.locator("table.appeals tbody tr")).to_have_attribute("data-status", "open")
    assert await page.locator(f"#appeal-{pid}").count() == 0  # no second form

    # The owner: from the project page to the quality page, the table, the chart, the decision.
    boss, boss_errors = await open_page(browser)
    await sign_in(boss, live, owner)
    await boss.goto(f"{live.url}/projects/{pid}")
    await boss.get_by_role("link", name="Quality: contributors, chart over time, appeals").click()
    await boss.wait_for_url(f"{live.url}/projects/{pid}/quality")
    person = boss.locator(f'table.contributors tr[data-user="{worker.id}"]')
    await expect(person).to_have_attribute("data-state", "paused")
    await expect(person).to_contain_text(worker.user["name"])
    await expect(boss.locator("svg.weekly desc")).to_contain_text("Gold checks: 0.00")
    assert await boss.locator('svg.weekly g[data-kind="gold"] circle').count() == 1
    await expect(boss.locator("ul.chart-legend")).to_contain_text("Gold checks")
    appeal = boss.locator('li.appeal[data-status="open"]')
    await expect(appeal).to_contain_text("a rubric I had not seen")
    await appeal.get_by_label("Reinstate (lift the pause)").check()
    await appeal.get_by_label("Reason (the person reads it)").fill("Fair: the rubric was new.")
    await appeal.get_by_role("button", name="Decide").click()
    await boss.wait_for_url(f"{live.url}/projects/{pid}/quality#appeals")
    await expect(boss.locator("li.appeal")).to_have_attribute("data-status", "reinstated")
    await expect(person).to_have_attribute("data-state", "ok")

    # The contributor reads the decision and can work again.
    await page.goto(f"{live.url}/standing")
    await expect(page.locator("table.appeals")).to_contain_text("Fair: the rubric was new.")
    await page.goto(f"{live.url}/")
    await page.get_by_role("button", name="Start working on Cardiology preference").click()
    await page.wait_for_url(f"{live.url}/work/*")
    assert errors == [] and boss_errors == []


async def test_pasted_text_is_measured_and_sent_with_the_attempt(live: Live, browser: Any) -> None:
    w = live.world
    owner = await w.user("owner")
    # A project that measures quality (nothing decided before 50 events).
    proj = await w.project(owner, quality={"pause_below": 0.2, "min_events": 50})
    await w.items(owner, proj["id"], [pairwise_item(1)])
    worker = await w.user("contributor")
    await w.member(owner, proj["id"], worker)

    page, errors = await open_page(browser)
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    await sign_in(page, live, worker)
    await page.click("#start-any")
    await page.wait_for_url(f"{live.url}/work/*")
    await page.check("#q-preference input[value=left]")
    await page.check("#q-preference input[name='q-preference-strength'][value='2']")
    pasted = "Response A doses apixaban for the renal function; B ignores it entirely."
    await page.evaluate("text => navigator.clipboard.writeText(text)", pasted)
    await page.focus("#q-rationale-text")
    await page.keyboard.type("Ok. ")
    await page.keyboard.press("Control+V")
    await expect(page.locator("#q-rationale-text")).to_have_value("Ok. " + pasted)
    measured = await page.evaluate("window.inlierWorkbench.authenticity()")
    assert measured["pasted_chars"] == len(pasted) and measured["typed_chars"] == 4
    await submitted(page, live)

    r = await owner.get(f"/projects/{proj['id']}/quality/{worker.id}")
    (event,) = [e for e in r.json()["events"] if e["kind"] == "authenticity"]
    assert event["detail"]["pasted_chars"] == len(pasted)
    assert event["detail"]["answer_chars"] == len("Ok. " + pasted)
    assert event["weight"] == 0  # informational: it sends the work to review
    assert errors == []


async def test_a_reject_needs_a_reason_and_feedback_and_sends_the_reason_code(
    live: Live, browser: Any
) -> None:
    w = live.world
    owner = await w.user("owner")
    proj = await w.project(owner, workflow={"overlap": 1, "review": {"sample_rate": 1.0}})
    await w.items(owner, proj["id"], [pairwise_item(1)])
    author = await w.user("contributor")
    reviewer = await w.user("contributor")
    await w.member(owner, proj["id"], author)
    await w.member(owner, proj["id"], reviewer, role="reviewer")
    await work_one(author, proj["id"], GOOD_ANSWER)

    page, errors = await open_page(browser)
    await sign_in(page, live, reviewer)
    await page.click("#start-any")
    await page.wait_for_url(f"{live.url}/work/*")
    reason = page.locator("#reason-code")
    await expect(reason).to_be_hidden()
    await page.keyboard.press("x")
    await expect(reason).to_be_visible()
    await page.keyboard.press("Control+Enter")
    await expect(page.locator("#form-error")).to_contain_text("Not sent yet")
    await expect(page.locator("#verdict-error")).to_contain_text("choose why you reject")
    await expect(page.locator("#verdict-error")).to_contain_text("write feedback")
    await expect(reason).to_be_focused()
    # With a reason but no feedback, still not sent.
    await reason.select_option("incomplete")
    await page.keyboard.press("Control+Enter")
    await expect(page.locator("#verdict-error")).to_have_text(
        "write feedback the author can act on"
    )
    await expect(page.locator("#review-feedback")).to_be_focused()
    async with w.app.state.db.session() as s:
        reviews = (await s.execute(select(Response).where(Response.stage == "review"))).all()
    assert reviews == []

    await page.fill("#review-feedback", "The rationale never says why B's dose is unsafe.")
    await submitted(page, live)
    async with w.app.state.db.session() as s:
        (review,) = (await s.execute(select(Response).where(Response.stage == "review"))).scalars()
    assert (review.verdict, review.reason_code) == ("reject", "incomplete")
    assert review.feedback == "The rationale never says why B's dose is unsafe."
    assert errors == []


async def test_an_approval_sends_no_reason_code(live: Live, browser: Any) -> None:
    w = live.world
    owner = await w.user("owner")
    proj = await w.project(
        owner,
        template=PAIRWISE_TEMPLATE,
        workflow={"overlap": 1, "review": {"sample_rate": 1.0}},
    )
    await w.items(owner, proj["id"], [pairwise_item(1)])
    author = await w.user("contributor")
    reviewer = await w.user("contributor")
    await w.member(owner, proj["id"], author)
    await w.member(owner, proj["id"], reviewer, role="reviewer")
    await work_one(author, proj["id"], GOOD_ANSWER)

    page, errors = await open_page(browser)
    await sign_in(page, live, reviewer)
    await page.click("#start-any")
    await page.wait_for_url(f"{live.url}/work/*")
    # Choosing reject and a reason, then approving after all: the reason is not sent.
    await page.keyboard.press("x")
    await page.locator("#reason-code").select_option("spam")
    await page.keyboard.press("a")
    await expect(page.locator("#reason-code")).to_be_hidden()
    await submitted(page, live)
    async with w.app.state.db.session() as s:
        (review,) = (await s.execute(select(Response).where(Response.stage == "review"))).scalars()
    assert (review.verdict, review.reason_code) == ("approve", None)
    assert errors == []


async def test_a_retry_after_a_lost_answer_sends_the_same_body(live: Live, browser: Any) -> None:
    """The submission reaches the server but its answer is lost: the retry, seconds later,
    carries the numbers frozen at the first press, so the server returns the first result
    instead of refusing a different body under the same key. Pressed again by hand, or sent
    by the page itself when the heartbeat learns the task has ended."""
    w = live.world
    owner = await w.user("owner")
    proj = await w.project(owner, quality={"pause_below": 0.2, "min_events": 50})
    await w.items(owner, proj["id"], [pairwise_item(1), pairwise_item(2)])
    worker = await w.user("contributor")
    await w.member(owner, proj["id"], worker)
    rationale = "A is sound; B's dose is unsafe in CKD."

    async def lose_the_answer(route: Any) -> None:
        await route.fetch()  # the server records the submission
        await route.abort()  # and the page never hears back

    async def answer_and_lose_it() -> dict[str, Any]:
        await page.check("#q-preference input[value=left]")
        await page.check("#q-preference input[name='q-preference-strength'][value='2']")
        await page.focus("#q-rationale-text")
        await page.keyboard.type(rationale)
        await page.clock.run_for(1_000)  # the draft is saved
        await page.route("**/submit", lose_the_answer, times=1)
        await page.click("#submit")
        await expect(page.locator("#form-error")).to_contain_text("Could not reach")
        frozen: dict[str, Any] = await page.evaluate(
            "JSON.parse(localStorage.getItem("
            "Object.keys(localStorage).find(k => k.startsWith('inlier.idem.'))))"
        )
        assert frozen["authenticity"]["typed_chars"] == len(rationale)
        return frozen

    async def stored() -> list[Response]:
        async with w.app.state.db.session() as s:
            return list((await s.execute(select(Response).order_by(Response.id))).scalars())

    page, errors = await open_page(browser)
    await page.clock.install()
    await sign_in(page, live, worker)
    await page.click("#start-any")
    await page.wait_for_url(f"{live.url}/work/*")
    first_url = page.url

    # By hand: seconds later the page counts more active time, but sends what it sent.
    frozen = await answer_and_lose_it()
    await page.focus("#q-rationale-text")
    await page.keyboard.press("End")  # activity, no new text
    await page.clock.run_for(3_000)
    assert await page.evaluate("window.inlierWorkbench.activeSeconds()") > frozen["active_seconds"]
    await page.click("#submit")
    await page.wait_for_url(lambda url: url != first_url and "/work/" in url)
    (first,) = await stored()
    assert first.active_seconds == frozen["active_seconds"]

    # By itself: the heartbeat hears the task has ended and the page sends the same body again.
    frozen = await answer_and_lose_it()
    await page.focus("#q-rationale-text")
    await page.keyboard.press("End")
    await page.clock.run_for(21_000)
    await page.wait_for_url(f"{live.url}/?reason=queue_empty")
    _, second = await stored()
    assert second.active_seconds == frozen["active_seconds"]
    assert errors == []
