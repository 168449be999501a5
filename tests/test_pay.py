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
    # 40.00/h × 1.25 (PhD) × 0.8 (tier 2, BR) × 1 (core) × 30 min = 20.00
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
