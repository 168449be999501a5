"""Untrusted content stays inert in the page; rarer widget paths behave as documented."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from conftest import Live
from test_browser_workbench import SQLITE_ONLY, exported, open_page, sign_in, submitted, team

pytestmark = [pytest.mark.browser, SQLITE_ONLY]

HOSTILE = (
    'Hello <script>window.__pwned = 1</script> <img src=x onerror="window.__pwned = 2"> '
    "[click](javascript:window.__pwned=3) $x^2$"
)


async def test_hostile_markup_in_items_and_answers_never_runs(live: Live, browser: Any) -> None:
    template = {
        "fields": [
            {"name": "prompt", "type": "markdown"},
            {"name": "plain", "type": "text"},
            {"name": "picture", "type": "image_url"},
            {"name": "bad_picture", "type": "image_url"},
            {"name": "transcript", "type": "chat"},
        ],
        "questions": [{"name": "note", "type": "text", "min_length": 1}],
    }
    item = {
        "data": {
            "prompt": HOSTILE,
            "plain": "<b>not bold</b>",
            "picture": "https://example.org/x-ray.png",
            "bad_picture": "javascript:window.__pwned=4",
            "transcript": [{"role": 'user" onclick="x', "content": HOSTILE}],
        }
    }
    _owner, _project, worker = await team(live, template, [item])
    page, errors = await open_page(browser)
    dialogs: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    await sign_in(page, live, worker)
    await page.click("#start-any")
    await page.wait_for_url(f"{live.url}/work/*")
    await page.fill("#q-note-text", HOSTILE)
    await expect(page.locator("#q-note .preview math")).to_have_count(1)

    assert await page.evaluate("window.__pwned") is None
    assert await page.locator(".wb-item script, .preview script").count() == 0
    assert await page.locator("[onerror], [onclick]").count() == 0
    assert await page.locator("a[href^='javascript']").count() == 0
    assert await page.locator("#field-prompt math").count() == 1
    assert await page.inner_text("#field-plain .plain") == "<b>not bold</b>"
    assert await page.get_attribute("#field-picture img", "src") == "https://example.org/x-ray.png"
    assert await page.locator("#field-bad_picture img").count() == 0
    assert dialogs == [] and errors == []


async def test_stop_at_first_error_leaves_later_steps_unjudged(live: Live, browser: Any) -> None:
    template = {
        "fields": [{"name": "cot", "type": "steps"}],
        "questions": [
            {
                "name": "steps",
                "type": "step_review",
                "options": {
                    "steps_field": "cot",
                    "stop_at_first_error": True,
                    "ask_final_answer": False,
                },
            }
        ],
    }
    owner, project, worker = await team(live, template, [{"data": {"cot": ["a", "b", "c", "d"]}}])
    page, errors = await open_page(browser)
    await sign_in(page, live, worker)
    await page.click("#start-any")
    await page.wait_for_url(f"{live.url}/work/*")
    steps = page.locator("#q-steps .step")
    await steps.nth(0).focus()
    await page.keyboard.press("a")
    await page.keyboard.press("x")
    await expect(steps.nth(2)).to_have_class("step not-judged")
    await expect(steps.nth(3)).to_have_class("step not-judged")
    assert await steps.nth(2).locator("input").first.is_disabled()
    await submitted(page, live)
    (row,) = await exported(owner, project["id"])
    assert row["answer"] == {
        "steps": {"steps": [{"verdict": "approve", "label": 1}, {"verdict": "reject", "label": -1}]}
    }
    assert errors == []


async def test_ranking_by_drag_and_pairwise_tie(live: Live, browser: Any) -> None:
    template = {
        "fields": [
            {"name": "a", "type": "text"},
            {"name": "b", "type": "text"},
            {"name": "c", "type": "text"},
        ],
        "questions": [
            {"name": "order", "type": "ranking", "options": {"fields": ["a", "b", "c"]}},
            {"name": "pair", "type": "pairwise", "options": {"left": "a", "right": "b"}},
        ],
    }
    owner, project, worker = await team(live, template, [{"data": {"a": "A", "b": "B", "c": "C"}}])
    page, errors = await open_page(browser)
    await sign_in(page, live, worker)
    await page.click("#start-any")
    await page.wait_for_url(f"{live.url}/work/*")
    entries = "#q-order .rank-entry"
    await page.locator(f"{entries}[data-field=c] .grip").drag_to(
        page.locator(f"{entries}[data-field=a]"), target_position={"x": 5, "y": 2}
    )
    order = await page.locator(entries).evaluate_all("els => els.map(e => e.dataset.field)")
    assert order == ["c", "a", "b"]
    assert await page.is_checked("#q-order .rank-confirm")
    await page.check("#q-pair input[value=tie]")
    assert await page.locator("#q-pair input[name='q-pair-strength']").first.is_disabled()
    await submitted(page, live)
    (row,) = await exported(owner, project["id"])
    assert row["answer"] == {"order": ["c", "a", "b"], "pair": {"choice": "tie"}}
    assert errors == []
