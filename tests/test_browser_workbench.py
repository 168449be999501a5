"""What a person does in the workbench, in Chromium against a real server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.async_api import expect

from conftest import GOOD_ANSWER, PAIRWISE_TEMPLATE, Actor, Live, LiveServer, make_settings

pytestmark = pytest.mark.browser
SQLITE_ONLY = pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True)

ALL_TYPES: dict[str, Any] = {
    "fields": [
        {"name": "prompt", "type": "markdown", "title": "Clinical question"},
        {"name": "cot", "type": "steps", "title": "Model reasoning"},
        {"name": "response_a", "type": "markdown"},
        {"name": "response_b", "type": "markdown"},
        {"name": "response_c", "type": "markdown"},
        {"name": "snippet", "type": "code", "language": "python"},
        {"name": "transcript", "type": "chat"},
    ],
    "questions": [
        {"name": "topic", "type": "label", "options": {"labels": ["cardiology", "nephrology"]}},
        {
            "name": "flags",
            "type": "multi_label",
            "required": False,
            "options": {"labels": ["unsafe", "outdated", "uncited"]},
        },
        {"name": "overall", "type": "rating", "options": {"min": 1, "max": 5}},
        {
            "name": "quality",
            "type": "rubric",
            "options": {
                "criteria": [
                    {"name": "correctness", "min": 0, "max": 4},
                    {"name": "clarity", "min": 0, "max": 4},
                ]
            },
        },
        {
            "name": "order",
            "type": "ranking",
            "options": {"fields": ["response_a", "response_b", "response_c"], "allow_ties": True},
        },
        {
            "name": "preference",
            "type": "pairwise",
            "options": {"left": "response_a", "right": "response_b", "allow_tie": True},
        },
        {
            "name": "steps",
            "type": "step_review",
            "options": {"steps_field": "cot", "ask_final_answer": True},
        },
        {"name": "ideal", "type": "text", "min_length": 10},
    ],
}

ITEM = {
    "external_id": "case-1",
    "data": {
        "prompt": "Which anticoagulant for AF with CrCl $45$ mL/min?",
        "cot": ["Compute CHA2DS2-VASc: 4.", "Aspirin suffices.", "So: aspirin 81 mg."],
        "response_a": "Apixaban 5 mg twice daily.",
        "response_b": "Aspirin 81 mg.",
        "response_c": "Warfarin, INR 2-3.",
        "snippet": "def dose(crcl):\n    return 5 if crcl > 25 else 2.5\n",
        "transcript": [
            {"role": "user", "content": "Is apixaban safe?"},
            {"role": "assistant", "content": "Usually, with dose checks."},
        ],
    },
}


async def sign_in(page: Any, live: Live, who: Actor) -> None:
    await page.goto(live.url + "/login")
    await page.fill("#email", who.email)
    await page.fill("#password", "correct-horse")
    await page.click("form button[type=submit]")
    await page.wait_for_url(live.url + "/")


async def open_page(browser: Any) -> tuple[Any, list[str]]:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, errors


async def team(live: Live, template: dict[str, Any], items: list[dict[str, Any]], **kw: Any):
    w = live.world
    owner = await w.user("owner")
    project = await w.project(owner, template=template, **kw)
    await w.items(owner, project["id"], items)
    worker = await w.user("contributor")
    await w.member(owner, project["id"], worker)
    return owner, project, worker


async def submitted(page: Any, live: Live, via: str = "Control+Enter") -> None:
    """Submit and wait for the next page; a refusal fails with what the page said."""
    if via == "click":
        await page.click("#submit")
    else:
        await page.keyboard.press(via)
    try:
        await page.wait_for_url(f"{live.url}/?reason=queue_empty", timeout=10_000)
    except Exception:
        said = await page.inner_text("#form-error")
        problems = await page.locator(".q-error").all_inner_texts()
        raise AssertionError(f"not submitted: {said!r} {[p for p in problems if p]}") from None


async def exported(owner: Actor, project_id: str) -> list[dict[str, Any]]:
    r = await owner.get(f"/projects/{project_id}/export")
    assert r.status_code == 200, r.text
    return [json.loads(line) for line in r.text.splitlines() if line.strip()]


async def test_a_contributor_answers_every_question_type_with_keyboard_and_mouse(
    live: Live, browser: Any
) -> None:
    owner, project, worker = await team(live, ALL_TYPES, [ITEM])
    page, errors = await open_page(browser)
    await sign_in(page, live, worker)
    assert project["name"] in await page.inner_text("table.queues")
    await page.click("#start-any")
    await page.wait_for_url(f"{live.url}/work/*")

    # Fields render: markdown math as MathML, code highlighted, chat turns.
    assert await page.locator("#field-prompt math").count() == 1
    assert await page.locator("#field-snippet .hl-k").count() >= 1
    assert await page.locator("#field-transcript .msg").count() == 2

    # label by digit key on the focused question
    await page.focus("#q-topic")
    await page.keyboard.press("2")
    # multi_label, rating by mouse
    await page.check("#q-flags input[value=unsafe]")
    await page.check("#q-flags input[value=uncited]")
    await page.check("#q-overall input[value='4']")
    # rubric: digits go to the first criterion without a score, then the next
    await page.focus("#q-quality")
    await page.keyboard.press("2")  # correctness = 1 (the 2nd of 0..4)
    await page.keyboard.press("5")  # clarity = 4
    # ranking: move C to the top with the keyboard, then tie B with A
    entry_c = page.locator("#q-order .rank-entry[data-field=response_c]")
    await entry_c.focus()
    await page.keyboard.press("Alt+ArrowUp")
    await entry_c.focus()
    await page.keyboard.press("Alt+ArrowUp")
    await page.check("#q-order .rank-entry[data-field=response_b] .tie-above")
    assert await page.locator("#q-order .rank-pos").all_inner_texts() == ["1", "2", "2"]
    # pairwise: digit 3 is "B is better", then the strength
    await page.focus("#q-preference")
    await page.keyboard.press("3")
    await page.check("#q-preference input[name='q-preference-strength'][value='3']")
    # step review: A approves step 1 and moves on, I improves step 2, X rejects step 3
    await page.locator("#q-steps .step").nth(0).focus()
    await page.keyboard.press("a")
    await page.keyboard.press("i")
    rewrite = page.locator("#q-steps .step").nth(1).locator(".rewrite")
    assert await rewrite.input_value() == "Aspirin suffices."  # starts from the original
    await rewrite.fill("Aspirin does not prevent stroke in AF; anticoagulate.")
    await page.check("#q-steps .step >> nth=1 >> input[value='-1']")
    await page.locator("#q-steps .step").nth(2).focus()
    await page.keyboard.press("x")
    await page.check("#q-steps input[name='q-steps-final'][value=false]")
    # text with live preview of math
    await page.fill("#q-ideal-text", "Apixaban 5 mg twice daily; $$\\frac{a}{b}$$")
    await page.wait_for_selector("#q-ideal .preview math")

    await submitted(page, live)
    assert "Nothing is waiting for you right now." in await page.inner_text("#reason")
    assert errors == []

    (row,) = await exported(owner, project["id"])
    assert row["answer"] == {
        "topic": "nephrology",
        "flags": ["unsafe", "uncited"],
        "overall": 4,
        "quality": {"correctness": 1, "clarity": 4},
        "order": ["response_c", ["response_a", "response_b"]],
        "preference": {"choice": "right", "strength": 3},
        "steps": {
            "steps": [
                {"verdict": "approve", "label": 1},
                {
                    "verdict": "improve",
                    "label": -1,
                    "rewrite": "Aspirin does not prevent stroke in AF; anticoagulate.",
                },
                {"verdict": "reject", "label": -1},
            ],
            "final_answer_correct": False,
        },
        "ideal": "Apixaban 5 mg twice daily; $$\\frac{a}{b}$$",
    }


@SQLITE_ONLY
async def test_missing_answers_are_pointed_out_and_nothing_is_sent(
    live: Live, browser: Any
) -> None:
    owner, project, worker = await team(live, ALL_TYPES, [ITEM])
    page, errors = await open_page(browser)
    await sign_in(page, live, worker)
    await page.click("#start-any")
    await page.wait_for_url(f"{live.url}/work/*")
    await page.fill("#q-ideal-text", "short")
    await page.click("#submit")
    assert "need attention" in await page.inner_text("#form-error")
    assert "at least 10 characters" in await page.inner_text("#q-ideal .q-error")
    assert "answer required" in await page.inner_text("#q-topic .q-error")
    assert "judge step 1" in await page.inner_text("#q-steps .q-error")
    assert "This order is my ranking" in await page.inner_text("#q-order .q-error")
    assert await exported(owner, project["id"]) == []
    assert errors == []


@SQLITE_ONLY
async def test_drafts_survive_a_reload_and_a_server_restart(
    live: Live, browser: Any, db_url: str, clock: Any
) -> None:
    _owner, _project, worker = await team(live, ALL_TYPES, [ITEM])
    page, errors = await open_page(browser)
    await sign_in(page, live, worker)
    await page.click("#start-any")
    await page.wait_for_url(f"{live.url}/work/*")
    work_path = page.url.removeprefix(live.url)
    await page.check("#q-topic input[value=cardiology]")
    await page.fill("#q-ideal-text", "Half-written ideal answer")
    await expect(page.locator("#save-status")).to_contain_text("Draft saved")
    await page.reload()
    assert await page.input_value("#q-ideal-text") == "Half-written ideal answer"
    assert await page.is_checked("#q-topic input[value=cardiology]")

    # A new server process on the same database; this browser forgets its own copy.
    await page.evaluate("localStorage.clear()")
    second = LiveServer(make_settings(db_url), clock)
    await second.start()
    try:
        await page.goto(second.url + work_path)
        assert await page.input_value("#q-ideal-text") == "Half-written ideal answer"
        assert await page.is_checked("#q-topic input[value=cardiology]")
        assert "Draft restored" in await page.inner_text("#save-status")
    finally:
        second.stop()
    assert errors == []


@SQLITE_ONLY
async def test_an_answer_typed_while_offline_is_kept_and_sent_once_back(
    live: Live, browser: Any
) -> None:
    owner, project, worker = await team(
        live, ALL_TYPES | {"questions": ALL_TYPES["questions"][-1:]}, [ITEM]
    )
    page, _errors = await open_page(browser)
    await sign_in(page, live, worker)
    await page.click("#start-any")
    await page.wait_for_url(f"{live.url}/work/*")
    await page.context.set_offline(True)
    await page.fill("#q-ideal-text", "Written while the network was down.")
    await page.click("#submit")
    await expect(page.locator("#form-error")).to_contain_text("Could not reach")
    await page.context.set_offline(False)
    await submitted(page, live, via="click")
    rows = await exported(owner, project["id"])
    assert [r["answer"] for r in rows] == [{"ideal": "Written while the network was down."}]


PAIRWISE_REVIEWED = PAIRWISE_TEMPLATE


async def test_a_reviewer_improves_an_attempt_and_the_author_sees_the_feedback(
    live: Live, browser: Any
) -> None:
    w = live.world
    owner, project, author = await team(
        live,
        PAIRWISE_REVIEWED,
        [{"data": {"prompt": "Q?", "response_a": "A", "response_b": "B"}}],
        workflow={"overlap": 1, "review": {"sample_rate": 1.0}},
    )
    reviewer = await w.user("contributor")
    await w.member(owner, project["id"], reviewer, role="reviewer")
    a = (await author.next(project["id"])).json()
    r = await author.post(
        f"/assignments/{a['id']}/submit",
        json={"answer": GOOD_ANSWER},
        headers={"Idempotency-Key": "x"},
    )
    assert r.status_code == 201

    page, errors = await open_page(browser)
    await sign_in(page, live, reviewer)
    await page.click("#start-any")
    await page.wait_for_url(f"{live.url}/work/*")
    assert "Review" in await page.inner_text(".wb-title")
    summary = await page.inner_text(".under-review")
    assert "Response a is better (clearly)" in summary
    # Until "improve" is chosen, the answer is shown but cannot be edited.
    assert await page.is_disabled("#q-rationale-text")
    await page.keyboard.press("i")
    assert not await page.is_disabled("#q-rationale-text")
    assert await page.input_value("#q-rationale-text") == GOOD_ANSWER["rationale"]
    await page.fill("#q-rationale-text", "A is sound, and B's dose would cause harm in CKD.")
    await page.fill("#review-feedback", "Mention the **renal** dose.")
    await page.check("input[name=score][value='4']")
    await submitted(page, live)

    (row,) = await exported(owner, project["id"])
    assert row["verdict"] == "improve"
    assert row["answer"] == GOOD_ANSWER
    assert (
        row["reviewed_answer"]["rationale"] == "A is sound, and B's dose would cause harm in CKD."
    )
    assert row["feedback"] == "Mention the **renal** dose."

    author_page, _ = await open_page(browser)
    await sign_in(author_page, live, author)
    feedback = await author_page.inner_text("ul.feedback")
    assert "Improved" in feedback and "renal" in feedback
    assert errors == []


@SQLITE_ONLY
async def test_skip_release_guidelines_and_the_shortcut_list(live: Live, browser: Any) -> None:
    items = [{"data": {"prompt": f"Q{i}?", "response_a": "A", "response_b": "B"}} for i in range(3)]
    owner, project, worker = await team(
        live, PAIRWISE_REVIEWED, items, guidelines="Prefer **safe** answers."
    )
    page, errors = await open_page(browser)
    await sign_in(page, live, worker)
    await page.click("#start-any")
    await page.wait_for_url(f"{live.url}/work/*")
    first = page.url

    await page.keyboard.press("?")
    assert await page.is_visible("#shortcuts")
    assert "Skip this item" in await page.inner_text("#shortcuts")
    await page.keyboard.press("Escape")
    assert not await page.is_visible("#shortcuts")

    await page.keyboard.press("g")
    assert await page.is_visible("#guidelines")
    assert "safe" in await page.inner_text("#guidelines strong")
    await page.keyboard.press("Escape")
    assert not await page.is_visible("#guidelines")

    page.once("dialog", lambda d: d.accept())
    await page.keyboard.press("Alt+s")
    await page.wait_for_url(lambda url: url != first and "/work/" in url)
    second = page.url
    page.once("dialog", lambda d: d.accept())
    await page.click("#release")
    # Released work comes back to the queue, and this person gets it again.
    await page.wait_for_url(lambda url: url != second and "/work/" in url)
    stats = (await owner.get(f"/projects/{project['id']}/stats")).json()
    assert stats["slots"]["leased"] == 1
    assert errors == []


@SQLITE_ONLY
async def test_active_time_counts_only_while_the_tab_is_in_use(live: Live, browser: Any) -> None:
    _owner, _project, worker = await team(
        live, PAIRWISE_REVIEWED, [{"data": {"prompt": "Q?", "response_a": "A", "response_b": "B"}}]
    )
    page, errors = await open_page(browser)
    await page.clock.install()
    await sign_in(page, live, worker)
    await page.click("#start-any")
    await page.wait_for_url(f"{live.url}/work/*")
    aid = page.url.rsplit("/", 1)[1]
    for _ in range(12):  # two minutes of typing
        await page.focus("#q-rationale-text")
        await page.keyboard.type("x")
        await page.clock.run_for(10_000)
    held = (await worker.get(f"/assignments/{aid}")).json()
    assert 100 <= held["active_seconds"] <= 125
    # Idle: after a minute without input nothing more counts.
    await page.clock.run_for(300_000)
    shown = await page.inner_text("#active-time")
    minutes, seconds = shown.removeprefix("Active ").split(":")
    counted = int(minutes) * 60 + int(seconds)
    assert 160 <= counted <= 190
    # A hidden tab does not count either, even with input arriving.
    await page.evaluate("Object.defineProperty(document, 'visibilityState', {get: () => 'hidden'})")
    for _ in range(6):
        await page.keyboard.type("y")
        await page.clock.run_for(10_000)
    shown = await page.inner_text("#active-time")
    minutes, seconds = shown.removeprefix("Active ").split(":")
    assert int(minutes) * 60 + int(seconds) == counted
    assert errors == []


@SQLITE_ONLY
async def test_a_lost_lease_keeps_the_answer_in_the_browser(
    live: Live, browser: Any, clock: Any
) -> None:
    from datetime import timedelta

    owner, project, worker = await team(
        live, PAIRWISE_REVIEWED, [{"data": {"prompt": "Q?", "response_a": "A", "response_b": "B"}}]
    )
    page, errors = await open_page(browser)
    await sign_in(page, live, worker)
    await page.click("#start-any")
    await page.wait_for_url(f"{live.url}/work/*")
    aid = page.url.rsplit("/", 1)[1]
    await page.check("#q-preference input[value=left]")
    await page.fill("#q-rationale-text", "A long enough rationale for the test.")
    clock.advance(timedelta(hours=2))
    await page.click("#submit")
    await expect(page.locator("#form-error")).to_contain_text("no longer yours")
    kept = await page.evaluate(f"JSON.parse(localStorage.getItem('inlier.draft.{aid}'))")
    assert kept["body"]["rationale"] == "A long enough rationale for the test."
    assert await page.is_disabled("#submit")
    assert await exported(owner, project["id"]) == []
    assert errors == []


@SQLITE_ONLY
async def test_a_draft_saved_later_elsewhere_wins_over_this_browsers_copy(
    live: Live, browser: Any
) -> None:
    _owner, _project, worker = await team(
        live, ALL_TYPES | {"questions": ALL_TYPES["questions"][-1:]}, [ITEM]
    )
    page, errors = await open_page(browser)
    await sign_in(page, live, worker)
    await page.click("#start-any")
    await page.wait_for_url(f"{live.url}/work/*")
    aid = page.url.rsplit("/", 1)[1]
    await page.fill("#q-ideal-text", "Typed in this tab")
    await expect(page.locator("#save-status")).to_contain_text("Draft saved")
    # The same person saves a newer draft from another tab or device.
    r = await worker.put(f"/assignments/{aid}/draft", json={"answer": {"ideal": "From my laptop"}})
    assert r.status_code == 200
    await page.reload()
    assert await page.input_value("#q-ideal-text") == "From my laptop"
    assert errors == []
