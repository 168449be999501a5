"""Pay through the public API: rate cards, the ledger, pay runs, statements and payouts."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from conftest import GOOD_ANSWER, Actor, World
from inlier.kit.clock import Clock
from inlier.pay import formula


def usd(amount: int) -> dict[str, Any]:
    return {"amount": amount, "currency": "USD"}


def monday_of(at: datetime) -> date:
    return (at - timedelta(days=at.weekday())).date()


def card(effective_from: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "effective_from": effective_from,
        "stages": {"attempt": {"hourly": usd(4000)}, "review": {"per_task": usd(300)}},
        "multipliers": {
            "degree": {"PhD": 1.25, "MD": 1.25},
            "skill_level": {"4": 1.1, "5": 1.2},
            "location_tier": {"1": 1.0, "2": 0.8},
        },
        "phase": "core",
        "phase_multipliers": {"onboarding": 0.75, "core": 1.0, "overtime": 0.85},
        "max_minutes_per_task": 30,
        "rejected_work": {"pay_fraction": 0.0},
    }
    body.update(overrides)
    return body


class Pay:
    """A deployment with pay set up: an admin, an owner's project with a rate card, workers."""

    def __init__(self, world: World, clock: Clock) -> None:
        self.world = world
        self.clock = clock

    async def setup(
        self, *, sample_rate: float = 0.0, n_items: int = 6, workers: int = 1, **card_over: Any
    ) -> None:
        w = self.world
        self.admin = await w.admin()
        r = await self.admin.put("/settings/location-tiers", json={"US": 1, "BR": 2})
        assert r.status_code == 200, r.text
        self.owner = await w.user("owner")
        self.project = await w.project(
            self.owner, workflow={"overlap": 1, "review": {"sample_rate": sample_rate}}
        )
        self.pid = self.project["id"]
        from conftest import pairwise_item

        await w.items(self.owner, self.pid, [pairwise_item(i) for i in range(n_items)])
        self.workers: list[Actor] = []
        for _ in range(workers):
            a = await w.user("contributor", degree="PhD", country="BR")
            await w.member(self.owner, self.pid, a)
            self.workers.append(a)
        self.reviewer = await w.user("contributor", country="US")
        await w.member(self.owner, self.pid, self.reviewer, "reviewer")
        self.week = monday_of(self.clock.now())
        r = await self.owner.put(
            f"/projects/{self.pid}/rate-card", json=card(f"{self.week}T00:00:00Z", **card_over)
        )
        assert r.status_code == 200, r.text

    async def attempt(self, who: Actor, seconds: int = 1500) -> dict[str, Any]:
        a = await who.next(self.pid)
        assert a.status_code == 200, a.text
        assert a.json()["stage"] == "attempt"
        r = await who.post(
            f"/assignments/{a.json()['id']}/submit",
            json={"answer": GOOD_ANSWER, "active_seconds": seconds},
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def review(self, verdict: str, seconds: int = 60) -> dict[str, Any]:
        a = await self.reviewer.next(self.pid)
        assert a.status_code == 200 and a.json()["stage"] == "review", a.text
        body: dict[str, Any] = {"verdict": verdict, "active_seconds": seconds}
        if verdict == "improve":
            body["answer"] = GOOD_ANSWER
        r = await self.reviewer.post(f"/assignments/{a.json()['id']}/submit", json=body)
        assert r.status_code == 201, r.text
        return dict(r.json())

    def after_week(self, weeks: int = 1) -> None:
        target = datetime.combine(self.week + timedelta(days=7 * weeks), datetime.min.time())
        self.clock.advance(target - self.clock.now() + timedelta(hours=1))

    async def run(self, week: date | None = None, expect: int = 201) -> dict[str, Any]:
        r = await self.admin.post("/payruns", json={"period_start": str(week or self.week)})
        assert r.status_code == expect, r.text
        return dict(r.json())

    async def statements(self, who: Actor) -> list[dict[str, Any]]:
        r = await who.get("/me/statements")
        assert r.status_code == 200, r.text
        out = []
        for row in r.json()["data"]:
            d = await who.get(f"/statements/{row['id']}")
            assert d.status_code == 200, d.text
            out.append(d.json())
        return out


@pytest.fixture
def pay(world: World, clock: Clock) -> Pay:
    return Pay(world, clock)


def check_lines(lines: list[dict[str, Any]]) -> None:
    for ln in lines:
        assert ln["amount"] == formula.evaluate(ln["formula"], ln["inputs"]), ln


async def test_reviewed_work_is_paid_once_with_a_statement_a_person_can_verify(pay: Pay) -> None:
    await pay.setup(sample_rate=1.0)
    worker = pay.workers[0]
    await pay.attempt(worker, seconds=2400)  # capped at 30 minutes
    e = (await worker.get("/me/earnings")).json()
    assert [ln["status"] for ln in e["lines"]] == ["pending"]
    await pay.review("approve")
    e = (await worker.get("/me/earnings")).json()
    (line,) = e["lines"]
    assert line["status"] == "accepted" and line["kind"] == "work"
    # 40.00/h x 1.25 (PhD) x 0.8 (tier 2, BR) x 1 (core) x 30 min = 20.00
    assert line["amount"] == 2000 and e["total"] == 2000
    assert line["inputs"]["cap_seconds"] == 1800 and line["inputs"]["seconds"] == 2400
    assert "30 min" in line["explanation"]
    check_lines(e["lines"])

    r = await pay.admin.post("/payruns", json={"period_start": str(pay.week)})
    assert r.status_code == 409  # the week has not ended
    pay.after_week()
    run = await pay.run()
    again = await pay.run(expect=200)
    assert again == run
    assert run["statements"] == 2  # the worker and the reviewer
    mine = await pay.statements(worker)
    assert len(mine) == 1
    st = mine[0]
    assert st["total"] == sum(ln["amount"] for ln in st["lines"]) == 2000
    assert st["payout"]["amount"] == 2000 and st["carried_forward"] == 0
    check_lines(st["lines"])
    rv = await pay.statements(pay.reviewer)
    assert rv[0]["total"] == 300  # a review, per task, tier 1
    assert run["total"] == 2300
    # Another person's statement does not exist for you.
    assert (await pay.reviewer.get(f"/statements/{st['id']}")).status_code == 404
    assert (await pay.admin.get(f"/statements/{st['id']}")).status_code == 200

    csv_ = await pay.admin.get(f"/payruns/{run['id']}/payouts.csv")
    assert csv_.status_code == 200 and csv_.headers["content-type"].startswith("text/csv")
    rows = csv_.text.strip().splitlines()
    assert rows[0] == "payout_id,user_id,email,name,country,amount_minor,currency,statement_id"
    assert len(rows) == 3
    js = (await pay.admin.get(f"/payruns/{run['id']}/payouts.json")).json()["data"]
    assert {r["amount_minor"] for r in js} == {2000, 300}


async def test_a_rate_card_never_changes_a_closed_period(pay: Pay) -> None:
    await pay.setup()
    worker = pay.workers[0]
    await pay.attempt(worker, seconds=1800)
    pay.after_week()
    await pay.run()
    (closed,) = await pay.statements(worker)
    # Inside the closed week: refused, and nothing changes.
    r = await pay.owner.put(
        f"/projects/{pay.pid}/rate-card",
        json=card(
            f"{pay.week + timedelta(days=3)}T00:00:00Z", stages={"attempt": {"hourly": usd(9000)}}
        ),
    )
    assert r.status_code == 409
    assert r.json()["errors"][0]["loc"] == ["body", "effective_from"]
    # From the next week on: a new version that prices only later work.
    nxt = pay.week + timedelta(days=7)
    r = await pay.owner.put(
        f"/projects/{pay.pid}/rate-card",
        json=card(f"{nxt}T00:00:00Z", stages={"attempt": {"hourly": usd(8000)}}),
    )
    assert r.status_code == 200 and r.json()["version"] == 2
    seen = (await worker.get(f"/projects/{pay.pid}/rate-card")).json()
    assert seen["version"] == 2 and seen["max_minutes_per_task"] == 30
    assert seen["rejected_work"] == {"pay_fraction": 0.0}
    await pay.attempt(worker, seconds=1800)
    e = (await worker.get("/me/earnings")).json()
    assert [ln["amount"] for ln in e["lines"]] == [4000]  # 80/h x 1.25 x 0.8 x 0.5 h
    assert (await worker.get(f"/statements/{closed['id']}")).json() == closed


async def test_rejected_work_is_paid_at_the_projects_fraction(pay: Pay) -> None:
    await pay.setup(sample_rate=1.0, rejected_work={"pay_fraction": 0.5})
    worker = pay.workers[0]
    await pay.attempt(worker, seconds=1800)
    await pay.review("reject")
    (line,) = (await worker.get("/me/earnings")).json()["lines"]
    assert line["inputs"]["pay_fraction"] == 0.5 and line["labels"]["outcome"] == "rejected"
    assert line["amount"] == 1000 and "rejected" in line["explanation"]
    check_lines([line])


async def test_the_hourly_floor_tops_pay_up(pay: Pay) -> None:
    await pay.setup(stages={"attempt": {"per_task": usd(100)}}, hourly_floor=usd(1500))
    worker = pay.workers[0]
    await pay.attempt(worker, seconds=1800)  # per task: 1.00 x 1.25 x 0.8 = 1.00 for 30 min
    pay.after_week()
    await pay.run()
    (st,) = await pay.statements(worker)
    kinds = {ln["kind"]: ln for ln in st["lines"]}
    assert kinds["work"]["amount"] == 100
    # 15.00/h x 30 min = 7.50; 6.50 tops it up.
    assert kinds["floor_topup"]["amount"] == 650 and st["total"] == 750
    check_lines(st["lines"])


async def test_incentives_pay_explained_bonuses(pay: Pay) -> None:
    now = pay.clock.now()
    await pay.setup(
        stages={"attempt": {"per_task": usd(100)}},
        incentives=[
            {"kind": "approved_count", "threshold": 2, "bonus": usd(5000)},
            {
                "kind": "per_task",
                "bonus": usd(25),
                "starts_at": (now - timedelta(hours=1)).isoformat() + "Z",
                "ends_at": (now + timedelta(hours=1)).isoformat() + "Z",
            },
        ],
        workers=2,
    )
    a, b = pay.workers
    await pay.attempt(a)
    await pay.attempt(a)
    await pay.attempt(b)
    pay.after_week()
    await pay.run()
    (sa,) = await pay.statements(a)
    (sb,) = await pay.statements(b)
    inc_a = sorted(ln["amount"] for ln in sa["lines"] if ln["kind"] == "incentive")
    inc_b = sorted(ln["amount"] for ln in sb["lines"] if ln["kind"] == "incentive")
    assert inc_a == [50, 5000] and inc_b == [25]
    check_lines(sa["lines"] + sb["lines"])


async def test_small_balances_carry_forward_to_the_threshold(pay: Pay) -> None:
    await pay.setup(stages={"attempt": {"per_task": usd(1000)}})
    r = await pay.admin.put(
        "/settings/pay", json={"currency": "USD", "payout_threshold": usd(1500)}
    )
    assert r.status_code == 200, r.text
    worker = pay.workers[0]
    await pay.attempt(worker)  # 10.00 x 1.25 x 0.8 = 10.00 < 15.00
    pay.after_week()
    await pay.run()
    (first,) = await pay.statements(worker)
    assert first["total"] == 1000 and first["carried_forward"] == 1000 and first["payout"] is None
    await pay.attempt(worker)
    pay.after_week(2)
    await pay.run(pay.week + timedelta(days=7))
    second = (await pay.statements(worker))[0]
    assert {ln["kind"] for ln in second["lines"]} == {"carry_forward", "work"}
    assert second["total"] == 2000 and second["payout"]["amount"] == 2000
    check_lines(second["lines"])


async def test_a_failed_payout_returns_as_an_adjustment(pay: Pay) -> None:
    await pay.setup(stages={"attempt": {"per_task": usd(1000)}})
    worker = pay.workers[0]
    await pay.attempt(worker)
    pay.after_week()
    run = await pay.run()
    (st,) = await pay.statements(worker)
    pid = st["payout"]["id"]
    r = await pay.admin.post(
        f"/payouts/{pid}/result", json={"status": "failed", "reference": "B-7"}
    )
    assert r.status_code == 200 and r.json()["status"] == "failed"
    again = await pay.admin.post(
        f"/payouts/{pid}/result", json={"status": "failed", "reference": "B-7"}
    )
    assert again.status_code == 200
    other = await pay.admin.post(
        f"/payouts/{pid}/result", json={"status": "paid", "reference": "X"}
    )
    assert other.status_code == 409
    e = (await worker.get("/me/earnings")).json()
    (adj,) = [ln for ln in e["lines"] if ln["kind"] == "adjustment"]
    assert adj["amount"] == 1000 and "B-7" in adj["reason"]
    pay.after_week(2)
    await pay.run(pay.week + timedelta(days=7))
    latest = (await pay.statements(worker))[0]
    assert latest["total"] == 1000 and latest["payout"]["amount"] == 1000
    summary = (await worker.get("/me/earnings/summary", params={"year": pay.week.year})).json()
    assert summary["currency"] == "USD" and len(summary["payouts"]) >= 1
    assert run["total"] == 1000


async def test_a_late_review_becomes_an_adjustment_in_the_next_period(pay: Pay) -> None:
    await pay.setup(sample_rate=1.0, stages={"attempt": {"per_task": usd(1000)}})
    r = await pay.admin.put("/settings/pay", json={"currency": "USD", "auto_accept_days": 1})
    assert r.status_code == 200
    worker = pay.workers[0]
    await pay.attempt(worker)
    pay.after_week()
    await pay.run()  # auto-accepted a day after submission, and paid
    (first,) = await pay.statements(worker)
    assert first["total"] == 1000
    await pay.review("reject")  # pay_fraction 0
    e = (await worker.get("/me/earnings")).json()
    (adj,) = [ln for ln in e["lines"] if ln["kind"] == "adjustment"]
    assert adj["amount"] == -1000 and adj["formula"] == "now_due - already_counted"
    check_lines([adj])
    assert (await worker.get(f"/statements/{first['id']}")).json() == first


@pytest.mark.parametrize(
    "engine_name", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def test_concurrent_pay_runs_make_one(pay: Pay, engine_name: str) -> None:
    await pay.setup(stages={"attempt": {"per_task": usd(1000)}}, workers=2)
    for w in pay.workers:
        await pay.attempt(w)
    pay.after_week()
    calls = [pay.admin.post("/payruns", json={"period_start": str(pay.week)}) for _ in range(6)]
    answers = await asyncio.gather(*calls)
    codes = sorted(r.status_code for r in answers)
    assert codes.count(201) == 1 and set(codes) <= {200, 201, 409}, codes
    ids = {r.json()["id"] for r in answers if r.status_code < 300}
    assert len(ids) == 1
    for w in pay.workers:
        (st,) = await pay.statements(w)
        assert st["total"] == 1000
    listed = (await pay.admin.get("/payruns")).json()["data"]
    assert len(listed) == 1 and listed[0]["total"] == 2000


async def test_bad_pay_input_is_refused_by_field_and_changes_nothing(pay: Pay) -> None:
    await pay.setup()
    r = await pay.owner.put(
        f"/projects/{pay.pid}/rate-card",
        json=card(
            "2100-01-04T00:00:00Z", stages={"attempt": {"hourly": {"amount": 1, "currency": "EUR"}}}
        ),
    )
    assert r.status_code == 422 and r.json()["errors"][0]["loc"][-1] == "currency"
    r = await pay.owner.put(
        f"/projects/{pay.pid}/rate-card",
        json=card("2100-01-04T00:00:00Z", multipliers={"degree": {"PhD": 1.00001}}),
    )
    assert r.status_code == 422
    assert (await pay.owner.get(f"/projects/{pay.pid}/rate-card")).json()["version"] == 1
    r = await pay.admin.post("/payruns", json={"period_start": "2026-11-17"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "period_start"]
    r = await pay.workers[0].get("/me/earnings", params={"period": "soon"})
    assert r.status_code == 422
    r = await pay.admin.put("/settings/location-tiers", json={"br": 2})
    assert r.status_code == 422
    r = await pay.admin.put("/settings/pay", json={"currency": "USD", "timezone": "Mars/Base"})
    assert r.status_code == 422
    assert (await pay.admin.get("/payruns")).json()["data"] == []


def test_the_cli_runs_a_week_and_exports_its_payouts(cli: Any) -> None:
    assert cli.init().exit_code == 0
    r = cli("payruns", "create", "--period-start", "2020-01-06")
    assert r.exit_code == 0, r.output
    assert '"statements": 0' in r.stdout and '"created": true' in r.stdout
    again = cli("payruns", "create", "--period-start", "2020-01-06")
    assert '"created": false' in again.stdout
    bad = cli("payruns", "create", "--period-start", "2020-01-07")
    assert bad.exit_code == 2 and "Monday" in bad.output
    csv_ = cli("payouts", "export", "1", "--format", "csv")
    assert csv_.exit_code == 0 and csv_.stdout.startswith("payout_id,user_id")
    js = cli("payouts", "export", "1", "--format", "json")
    assert js.exit_code == 0 and '"data": []' in js.stdout
