"""Pay seen from outside the ledger: an owner's costs, effective hourly wages, paid assessment
time, the terms a contributor reads before starting, the admin's totals and payment results."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from conftest import World
from inlier.kit.clock import Clock
from inlier.pay import formula
from test_experts import answers_for, assessment_body
from test_pages import csrf_of, sign_in
from test_pay import Pay, card, check_lines, usd


@pytest.fixture
def pay(world: World, clock: Clock) -> Pay:
    return Pay(world, clock)


def hourly(amount: int, seconds: int) -> int:
    return formula.evaluate("a * 3600 / s", {"a": amount, "s": seconds})


# ---- an owner's costs -------------------------------------------------------------------------


async def test_an_owner_reads_costs_by_stage_phase_item_week_and_contributor(pay: Pay) -> None:
    await pay.setup(sample_rate=1.0, workers=2)
    one, two = pay.workers
    await pay.attempt(one, 1200)
    await pay.review("approve", 60)
    await pay.attempt(one, 600)
    await pay.review("improve", 90)
    await pay.attempt(two, 2400)
    await pay.review("reject", 60)

    r = await pay.owner.get(f"/projects/{pay.pid}/costs")
    assert r.status_code == 200, r.text
    c = r.json()
    # Two attempts accepted (approved, improved): 20 min and 10 min at 40/h x 1.25 x 0.8;
    # the rejected one pays nothing; three reviews at 3.00 a task, the rejecting one too.
    assert c["approved_items"] == 2
    assert c["total"] == 1333 + 667 + 0 + 3 * 300
    assert c["per_approved_item"] == formula.evaluate("t / n", {"t": c["total"], "n": 2})
    for group in ("by_stage", "by_phase", "by_kind"):
        assert sum(g["total"] for g in c[group]) == c["total"], group
    stages = {g["stage"]: g for g in c["by_stage"]}
    assert stages["attempt"]["total"] == 2000 and stages["review"]["total"] == 900
    assert stages["attempt"]["per_approved_item"] == 1000
    assert {g["phase"] for g in c["by_phase"]} == {"core"}
    assert sum(w["total"] for w in c["weeks"]) == c["total"]
    assert max(w["share_of_max"] for w in c["weeks"]) == 1.0
    # Contributors by pseudonym only, each with pay ÷ active time.
    people = c["contributors"]
    assert c["contributors_count"] == len(people) == 3
    assert all(p["pseudonym"].startswith("c_") for p in people)
    assert one.email not in r.text and str(one.id) not in {p["pseudonym"] for p in people}
    best = people[0]
    assert best["total"] == 2000 and best["active_seconds"] == 1800
    assert best["effective_hourly"] == hourly(2000, 1800) == 4000
    assert c["active_seconds"] == 1200 + 2400 + 600 + 60 + 60 + 90
    assert c["effective_hourly"] == hourly(c["total"], c["active_seconds"])

    # A range of days: the work was accepted this week, so next week's range is empty.
    later = pay.week + timedelta(days=7)
    r = await pay.owner.get(f"/projects/{pay.pid}/costs", params={"from": str(later)})
    assert r.status_code == 200 and r.json()["total"] == 0
    r = await pay.owner.get(
        f"/projects/{pay.pid}/costs", params={"from": str(pay.week), "to": str(later)}
    )
    assert r.json()["total"] == c["total"]
    bad = await pay.owner.get(
        f"/projects/{pay.pid}/costs", params={"from": str(later), "to": str(pay.week)}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["query", "to"]
    bad = await pay.owner.get(f"/projects/{pay.pid}/costs", params={"from": "soon"})
    assert bad.status_code == 422
    # Costs are the owners' and admins': a contributor on the project may not read them.
    assert (await one.get(f"/projects/{pay.pid}/costs")).status_code == 403
    assert (await pay.admin.get(f"/projects/{pay.pid}/costs")).json()["total"] == c["total"]


async def test_the_owner_page_shows_costs_with_a_bar_and_no_inline_style(
    pay: Pay, app: Any
) -> None:
    await pay.setup(sample_rate=0.0)
    await pay.attempt(pay.workers[0], 1800)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as owner:
        await sign_in(owner, pay.owner.email)
        page = await owner.get(f"/projects/{pay.pid}")
        assert page.status_code == 200
        text = page.text
        assert 'id="costs-h"' in text and "Per approved item" in text
        assert "bar cost-attempt w100" in text  # one stage: the whole bar
        assert "20.00 USD" in text  # 40/h x 1.25 x 0.8 x 30 min
        assert " style=" not in text and "<style" not in text
        ranged = await owner.get(f"/projects/{pay.pid}", params={"from": "2000-01-03"})
        assert ranged.status_code == 200
        assert (await owner.get(f"/projects/{pay.pid}", params={"from": "x"})).status_code == 422


# ---- effective hourly wage for the contributor ------------------------------------------------


async def test_a_contributor_sees_pay_over_active_time_per_project(pay: Pay, app: Any) -> None:
    # Per-task pay: 10.00 a task whatever the time, so the wage depends on the time taken.
    await pay.setup(stages={"attempt": {"per_task": usd(1000)}})
    worker = pay.workers[0]
    await pay.attempt(worker, 900)
    await pay.attempt(worker, 2700)  # over the 30-minute cap: the wage counts all of it
    summary = (await worker.get("/me/earnings/summary")).json()
    (wage,) = summary["wages"]
    assert wage["project_id"] == pay.pid and wage["total"] == 2 * 1250 * 8 // 10
    assert wage["active_seconds"] == 3600
    assert wage["effective_hourly"] == hourly(2000, 3600) == 2000
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as c:
        await sign_in(c, worker.email)
        page = await c.get("/earnings")
        assert "Effective hourly wage" in page.text and "1.0 h" in page.text
        assert page.text.count("20.00 USD") >= 2  # paid, and per hour


# ---- paid assessment time ---------------------------------------------------------------------


async def _assessment_setup(pay: Pay, *, paid: bool = True) -> tuple[dict[str, Any], Any]:
    await pay.setup()
    w = pay.world
    needs = {"skills": {"medicine.cardiology": 1}}
    cheap = await w.project(pay.owner, name="Cheap", requirements=needs)
    dear = await w.project(pay.owner, name="Dear", requirements=needs)
    at = f"{pay.week}T00:00:00Z"
    for proj, rate in ((cheap, 2000), (dear, 3000)):
        stages = {"attempt": {"per_task": usd(100)}, "assessment": {"hourly": usd(rate)}}
        r = await pay.owner.put(f"/projects/{proj['id']}/rate-card", json=card(at, stages=stages))
        assert r.status_code == 200, r.text
    r = await pay.admin.post("/assessments", json=assessment_body(paid=paid))
    assert r.status_code == 201, r.text
    return dear, r.json()


async def _sit(who: Any, assessment: dict[str, Any], seconds: int) -> None:
    attempt = (await who.post(f"/assessments/{assessment['id']}/attempts")).json()
    r = await who.post(
        f"/assessment-attempts/{attempt['id']}/submit",
        json={"answers": answers_for(attempt, 4), "active_seconds": seconds},
    )
    assert r.status_code == 200, r.text


async def test_a_paid_assessment_pays_its_time_at_the_onboarding_rate(pay: Pay) -> None:
    dear, assessment = await _assessment_setup(pay)
    expert = pay.workers[0]  # a PhD in Brazil: x 1.25, tier 2 x 0.8
    await _sit(expert, assessment, 300)
    lines = (await expert.get("/me/earnings")).json()["lines"]
    (line,) = [ln for ln in lines if ln["labels"].get("stage") == "assessment"]
    check_lines(lines)
    # The better-paying of the two projects requiring the skill pays, at the onboarding phase:
    # 30.00/h x 1.25 x 0.8 x 0.75 x 5 min = 1.875 → 1.88.
    assert line["project_id"] == dear["id"] and line["labels"]["phase"] == "onboarding"
    assert line["inputs"]["phase_mult"] == 0.75 and line["inputs"]["tasks"] == 4
    assert line["amount"] == 188 and line["status"] == "accepted"
    assert "min(seconds, cap_seconds * tasks)" in line["formula"]
    # The pay run puts it on the week's statement, once.
    pay.after_week()
    await pay.run()
    await pay.run(expect=200)
    (stmt,) = await pay.statements(expert)
    assert [ln["amount"] for ln in stmt["lines"] if ln["labels"].get("stage") == "assessment"] == [
        188
    ]
    assert stmt["total"] == sum(ln["amount"] for ln in stmt["lines"])
    costs = (await pay.owner.get(f"/projects/{dear['id']}/costs")).json()
    assert {g["stage"]: g["total"] for g in costs["by_stage"]} == {"assessment": 188}
    assert {g["phase"]: g["total"] for g in costs["by_phase"]} == {"onboarding": 188}


async def test_an_unpaid_assessment_writes_no_line(pay: Pay) -> None:
    _, assessment = await _assessment_setup(pay, paid=False)
    expert = pay.workers[0]
    await _sit(expert, assessment, 300)
    lines = (await expert.get("/me/earnings")).json()["lines"]
    assert lines == []


# ---- the terms a contributor reads before starting --------------------------------------------


async def test_the_home_page_shows_rate_cap_estimate_and_rejected_policy_before_starting(
    pay: Pay, app: Any
) -> None:
    await pay.setup(
        stages={"attempt": {"per_task": usd(1500)}, "review": {"hourly": usd(3000)}},
        estimated_minutes_per_task=12,
        max_minutes_per_task=25,
        rejected_work={"pay_fraction": 0.5},
        hourly_floor=usd(1200),
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as c:
        await sign_in(c, pay.workers[0].email)
        home = (await c.get("/")).text
    terms = home[home.index("data-pay-terms") :].split("</p>")[0]
    assert "attempt 15.00 USD a task" in terms and "review 30.00 USD an hour" in terms
    assert "at most 25 min a task counted" in terms and "about 12 min a task" in terms
    assert "rejected work is paid at 50% of its rate" in terms
    assert "at least 12.00 USD an hour" in terms


# ---- the admin's totals and payment results ---------------------------------------------------


async def test_an_admin_reads_totals_by_country_and_phase_and_records_results(
    pay: Pay, app: Any
) -> None:
    await pay.setup(stages={"attempt": {"per_task": usd(1000)}}, workers=2)
    for who in pay.workers:
        await pay.attempt(who)
    pay.after_week()
    run = await pay.run()
    detail = (await pay.admin.get(f"/payruns/{run['id']}")).json()["breakdown"]
    assert detail["countries"] == [{"country": "BR", "total": 2000, "lines": 2}]
    assert detail["phases"] == [{"phase": "core", "total": 2000, "lines": 2}]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as admin:
        await sign_in(admin, "admin@example.org", "admin-password")
        page = await admin.get(f"/admin/payruns/{run['id']}")
        assert "By country" in page.text and "By phase" in page.text
        payouts = (await pay.admin.get(f"/payruns/{run['id']}/payouts.json")).json()["data"]
        paid, failed = payouts
        for p, status in ((paid, "paid"), (failed, "failed")):
            r = await admin.post(
                f"/admin/payruns/{run['id']}/payouts/{p['payout_id']}/result",
                data={"csrf": csrf_of(page.text), "status": status, "reference": f"tx-{status}"},
            )
            assert r.status_code == 303, r.text
        bad = await admin.post(
            f"/admin/payruns/{run['id']}/payouts/{paid['payout_id']}/result",
            data={"csrf": csrf_of(page.text), "status": "lost"},
        )
        assert bad.status_code == 422
        wrong_run = await admin.post(
            f"/admin/payruns/999/payouts/{paid['payout_id']}/result",
            data={"csrf": csrf_of(page.text), "status": "paid"},
        )
        assert wrong_run.status_code == 404
    after = {
        p["payout_id"]: p
        for p in (await pay.admin.get(f"/payruns/{run['id']}/payouts.json")).json()["data"]
    }
    assert after[paid["payout_id"]]["status"] == "paid"
    assert after[paid["payout_id"]]["reference"] == "tx-paid"
    assert after[failed["payout_id"]]["status"] == "failed"
    audit = (await pay.admin.get("/audit", params={"action": "payout.result"})).json()["data"]
    assert len(audit) == 2
    # The failed payout's amount is back in that person's open week.
    back = next(w for w in pay.workers if str(w.id) == failed["user_id"])
    lines = (await back.get("/me/earnings")).json()["lines"]
    assert [ln["amount"] for ln in lines if ln["kind"] == "adjustment"] == [1000]


def test_the_payroll_cli_runs_a_week_exports_and_records_results(cli: Any) -> None:
    assert cli.init().exit_code == 0
    r = cli("payroll", "run", "--week", "2020-01-06")
    assert r.exit_code == 0, r.output
    assert '"created": true' in r.stdout
    assert '"created": false' in cli("payroll", "run", "--week", "2020-01-06").stdout
    assert cli("payroll", "run", "--week", "2020-01-07").exit_code == 2
    out = cli("payroll", "export", "--week", "2020-01-06")
    assert out.exit_code == 0 and out.stdout.startswith("payout_id,user_id")
    out = cli("payroll", "export", "--payrun", "1", "--format", "json")
    assert out.exit_code == 0 and '"data": []' in out.stdout
    missing = cli("payroll", "export", "--week", "2020-01-13")
    assert missing.exit_code == 1 and "no pay run" in missing.output
    assert cli("payroll", "export").exit_code == 2
    assert cli("payroll", "result", "7", "--status", "maybe").exit_code == 2
    assert cli("payroll", "result", "7", "--status", "paid").exit_code != 0


async def test_the_annual_summary_is_a_printable_page_and_a_csv(pay: Pay, app: Any) -> None:
    await pay.setup(stages={"attempt": {"per_task": usd(1000)}})
    worker = pay.workers[0]
    await pay.attempt(worker)
    pay.after_week()
    run = await pay.run()
    (payout,) = (await pay.admin.get(f"/payruns/{run['id']}/payouts.json")).json()["data"]
    r = await pay.admin.post(
        f"/payouts/{payout['payout_id']}/result", json={"status": "paid", "reference": "tx-9"}
    )
    assert r.status_code == 200
    year = pay.week.year
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as c:
        await sign_in(c, worker.email)
        page = await c.get("/earnings/summary", params={"year": year})
        assert page.status_code == 200
        assert "10.00 USD" in page.text and "tx-9" in page.text and " style=" not in page.text
        rows = (await c.get("/earnings/summary.csv", params={"year": year})).text.splitlines()
        assert rows[0].startswith("section,key,name,amount_minor")
        assert "total,earned,,1000,USD,," in rows and "total,paid,,1000,USD,," in rows
        assert any(
            r.startswith(f"payout,{payout['payout_id']},") and "paid,tx-9" in r for r in rows
        )
        assert (await c.get("/earnings/summary", params={"year": "20x6"})).status_code == 422
        # Another year holds nothing of this.
        other = await c.get("/earnings/summary.csv", params={"year": year - 1})
        assert "total,earned,,0,USD,," in other.text.splitlines()
