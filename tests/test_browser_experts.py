"""What an applicant does, in Chromium against a real server: sign up with the keyboard, take
an assessment with the workbench's widgets, and read the result and its feedback."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Live
from test_experts import assessment_body

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("engine_name", ["sqlite"], indirect=True),
]


async def open_page(browser: Any) -> tuple[Any, list[str]]:
    context = await browser.new_context(viewport={"width": 1300, "height": 1000})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return page, errors


async def test_an_applicant_signs_up_and_passes_an_assessment(live: Live, browser: Any) -> None:
    admin = await live.world.admin()
    r = await admin.post("/assessments", json=assessment_body(pass_mark=0.5))
    assert r.status_code == 201, r.text
    page, errors = await open_page(browser)

    await page.goto(live.url + "/login")
    await page.click("text=Apply as an expert")
    await page.wait_for_url(live.url + "/signup")
    await page.fill("#email", "dr.silva@example.org")
    await page.fill("#name", "Dr. Silva")
    await page.fill("#password", "long-enough-password")
    await page.select_option("#degree", "MD/DO/MBBS")
    await page.select_option("#specialties", ["medicine.cardiology"])
    await page.fill("#languages", "pt-BR, en")
    await page.fill("#country", "BR")
    await page.select_option("#timezone", "America/Sao_Paulo")
    await page.focus("input[name=consent]")
    await page.keyboard.press("Space")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")  # the Apply button
    await page.wait_for_url(live.url + "/assessments?welcome=1")
    assert "Thank you for applying" in await page.inner_text("#welcome")

    await page.click("text=Cardiology triage")
    await page.focus("#start")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{live.url}/assessment-attempts/*")
    items = page.locator(".assessment-item")
    assert await items.count() == 4
    gold = [("MI", 5), ("PE", 5), ("GERD", 1), ("MI", 1)]
    # Item 1 by keyboard: arrows move within a radio group, as in any form.
    first = items.nth(0)
    await first.locator("input[value=MI]").focus()
    await page.keyboard.press("Space")
    await first.locator(".question[data-type=rating] input[value='1']").focus()
    for _ in range(4):
        await page.keyboard.press("ArrowRight")
    # Items 2 and 3 right by mouse, item 4 wrong.
    for n in (1, 2):
        label, severity = gold[n]
        await items.nth(n).locator(f"input[value={label}]").check()
        await items.nth(n).locator(f".question[data-type=rating] input[value='{severity}']").check()
    await items.nth(3).locator("input[value=PE]").check()
    await page.keyboard.press("Control+Enter")
    await page.wait_for_selector("#result")
    result = await page.inner_text("#result")
    assert "Score 75%" in result and "Passed" in result
    assert "not the expected label" in result
    assert "MI" not in await page.inner_text("#result .feedback li:nth-child(4)")
    assert errors == []
