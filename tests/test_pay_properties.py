"""Invariants of pay over random inputs and random work histories (hypothesis).

- every line's amount is its formula evaluated exactly on its inputs;
- every statement's total is the sum of its lines;
- a pay run repeated, or run twice at once, pays nothing twice;
- a rate change never alters a closed period;
- no accepted work is left unpaid across periods, or paid twice.

Histories run on SQLite always, and on PostgreSQL (where the sweep is set-based) when
INLIER_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from conftest import GOOD_ANSWER, World, make_settings, truncate_pg
from inlier.app import create_app
from inlier.kit.clock import Clock
from inlier.pay import formula, rules
from test_pay import Pay, card, usd

multipliers = st.decimals(min_value=0, max_value=3, places=2).map(float)


@given(
    rate=st.integers(0, 10**6),
    degree=multipliers,
    tier=multipliers,
    phase=multipliers,
    seconds=st.integers(0, 10**5),
    cap=st.integers(1, 24 * 60),
    hourly=st.booleans(),
    outcome=st.sampled_from(["submitted", "approved", "improved", "rejected"]),
    fraction=st.decimals(min_value=0, max_value=1, places=3).map(float),
)
def test_amount_equals_its_formula_on_its_inputs(
    rate: int,
    degree: float,
    tier: float,
    phase: float,
    seconds: int,
    cap: int,
    hourly: bool,
    outcome: str,
    fraction: float,
) -> None:
    money = {"amount": rate, "currency": "USD"}
    card = {
        "stages": {"attempt": {"hourly": money} if hourly else {"per_task": money}},
        "multipliers": {"degree": {"PhD": degree}, "location_tier": {"2": tier}},
        "phase": "overtime",
        "phase_multipliers": {"overtime": phase},
        "max_minutes_per_task": cap,
        "rejected_work": {"pay_fraction": fraction},
    }
    c = rules.work_line(card, 1, "attempt", seconds, outcome, rules.Worker("PhD", 2, None))
    stored = json.loads(json.dumps(c.inputs))  # as the database gives them back
    assert c.amount == formula.evaluate(c.formula, stored)
    exact = (
        Fraction(rate)
        * Fraction(str(degree))
        * Fraction(str(tier))
        * Fraction(str(phase))
        * (Fraction(min(seconds, cap * 60), 3600) if hourly else 1)
        * (Fraction(str(fraction)) if outcome == "rejected" else 1)
    )
    assert c.amount == formula.round_half_up(exact)


@given(st.fractions(max_denominator=10**6))
def test_rounding_is_half_away_from_zero(x: Fraction) -> None:
    got = formula.round_half_up(x)
    assert abs(Fraction(got) - x) <= Fraction(1, 2)
    if abs(Fraction(got) - x) == Fraction(1, 2):
        assert abs(got) > abs(x)  # a half goes away from zero
        as_decimal = Decimal(x.numerator) / Decimal(x.denominator)
        assert got == int(as_decimal.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@given(st.text(max_size=40))
def test_the_parser_reads_or_refuses_never_runs_code(text: str) -> None:
    with contextlib.suppress(formula.FormulaError):
        formula.evaluate(text, {"a": 1, "b": 2})


# ---- random work histories through the API ---------------------------------------------------

work = st.lists(
    st.tuples(
        st.integers(0, 2),  # which worker
        st.integers(0, 4000),  # active seconds
        st.sampled_from(["approve", "improve", "reject", None]),  # review verdict (None: none)
        st.integers(0, 1),  # in which of two weeks
    ),
    min_size=1,
    max_size=8,
)


async def _review(pay: Pay, verdict: str) -> set[str]:
    """The reviewer reviews the attempt just made; a rejected item is open for attempts
    again, and the queue may offer the reviewer that first: they work it, then review. A
    second attempt at an item they reviewed before is not theirs to review (nobody works an
    item twice): it stays unreviewed and is accepted automatically after auto_accept_days."""
    done: set[str] = set()
    while True:
        a = await pay.reviewer.next(pay.pid)
        if a.status_code == 204:
            return done
        assert a.status_code == 200, a.text
        if a.json()["stage"] == "review":
            break
        r = await pay.reviewer.post(
            f"/assignments/{a.json()['id']}/submit",
            json={"answer": GOOD_ANSWER, "active_seconds": 100},
        )
        assert r.status_code == 201, r.text
        done.add(r.json()["id"])
    body: dict[str, Any] = {"verdict": verdict, "active_seconds": 60}
    if verdict == "improve":
        body["answer"] = GOOD_ANSWER
    r = await pay.reviewer.post(f"/assignments/{a.json()['id']}/submit", json=body)
    assert r.status_code == 201, r.text
    return done | {r.json()["id"]}


async def _history(db: str, items: list[tuple[int, int, str | None, int]], threshold: int) -> None:
    clock = Clock()
    app = create_app(make_settings(db), clock=clock)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as client:
            pay = Pay(World(app, client), clock)
            await pay.setup(
                sample_rate=1.0,
                n_items=20,
                workers=3,
                rejected_work={"pay_fraction": 0.25},
                hourly_floor=usd(1000),
                incentives=[{"kind": "approved_count", "threshold": 2, "bonus": usd(500)}],
            )
            r = await pay.admin.put(
                "/settings/pay",
                json={"currency": "USD", "payout_threshold": usd(threshold), "auto_accept_days": 3},
            )
            assert r.status_code == 200
            everyone = [*pay.workers, pay.reviewer]
            runs = []
            work: set[str] = set()  # every response submitted, attempts and reviews
            closed: dict[str, list[dict[str, Any]]] = {}  # statements as the week-0 run left them
            for week in (0, 1):
                for who, seconds, verdict, when in items:
                    if when != week:
                        continue
                    a = await pay.workers[who].next(pay.pid)
                    if a.status_code == 204:
                        continue  # nothing left this person may work: the history moves on
                    r = await pay.workers[who].post(
                        f"/assignments/{a.json()['id']}/submit",
                        json={"answer": GOOD_ANSWER, "active_seconds": seconds},
                    )
                    assert r.status_code == 201, r.text
                    work.add(r.json()["id"])
                    if verdict is not None:
                        work |= await _review(pay, verdict)
                pay.after_week(week + 1)
                monday = str(pay.week + timedelta(days=7 * week))
                # Two pay runs at once make one: one creates it, the other gets it (or 409
                # while it is being built), and nothing is paid twice.
                both = await asyncio.gather(
                    *(pay.admin.post("/payruns", json={"period_start": monday}) for _ in range(2))
                )
                codes = sorted(b.status_code for b in both)
                assert codes[0] in (200, 201) and set(codes) <= {200, 201, 409}, codes
                assert codes.count(201) <= 1
                runs.append(await pay.run(pay.week + timedelta(days=7 * week), expect=200))
                assert {b.json()["id"] for b in both if b.status_code < 300} == {runs[-1]["id"]}
                if week == 0:
                    for who in everyone:
                        closed[str(who.id)] = await pay.statements(who)
                    # A rate change never alters a closed period: dated inside it, it is
                    # refused; dated in the open week, it re-prices only open work.
                    inside = f"{pay.week}T12:00:00Z"
                    r = await pay.owner.put(
                        f"/projects/{pay.pid}/rate-card", json=card(inside, max_minutes_per_task=5)
                    )
                    assert r.status_code == 409, r.text
                    later = f"{pay.week + timedelta(days=7)}T00:00:00Z"
                    higher = {"attempt": {"hourly": usd(9000)}, "review": {"per_task": usd(700)}}
                    r = await pay.owner.put(
                        f"/projects/{pay.pid}/rate-card", json=card(later, stages=higher)
                    )
                    assert r.status_code == 200, r.text
            # Running every week again changes nothing.
            for week, run in enumerate(runs):
                again = await pay.run(pay.week + timedelta(days=7 * week), expect=200)
                assert again == run
            paid = carried_last = 0
            work_lines: dict[str, int] = {}
            for who in everyone:
                statements = await pay.statements(who)
                # The week-0 statements are exactly as the run left them.
                assert [
                    x for x in statements if x["id"] in {c["id"] for c in closed[str(who.id)]}
                ] == closed[str(who.id)]
                for stmt in statements:
                    lines = stmt["lines"]
                    assert stmt["total"] == sum(ln["amount"] for ln in lines)
                    for ln in lines:
                        assert ln["amount"] == formula.evaluate(ln["formula"], ln["inputs"])
                        if ln["kind"] == "work":
                            work_lines[ln["response_id"]] = work_lines.get(ln["response_id"], 0) + 1
                    if stmt["payout"]:
                        paid += stmt["payout"]["amount"]
                if statements:
                    carried_last += statements[0]["carried_forward"]
                e = (await who.get("/me/earnings")).json()
                assert all(
                    ln["status"] == "pending" or ln["kind"] == "carry_forward" or ln["period_start"]
                    for ln in e["lines"]
                )
            # No accepted work is left unpaid: every piece of work is on exactly one statement
            # (all of it was accepted by the end: reviewed, or auto-accepted after 3 days).
            assert set(work_lines) == work
            assert all(n == 1 for n in work_lines.values())
            # Nothing is paid twice or lost: what was paid plus what is carried is what was earned.
            earned = 0
            for who in everyone:
                for stmt in await pay.statements(who):
                    earned += sum(
                        ln["amount"] for ln in stmt["lines"] if ln["kind"] != "carry_forward"
                    )
            assert paid + carried_last == earned
    finally:
        await app.state.db.dispose()


HISTORY_SETTINGS = dict(
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking a history takes minutes
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@settings(max_examples=6, **HISTORY_SETTINGS)
@given(items=work, threshold=st.sampled_from([0, 1500, 10**6]))
def test_random_histories_pay_everything_once(
    sqlite_template: Path, tmp_path_factory: Any, items: Any, threshold: int
) -> None:
    path = tmp_path_factory.mktemp("pay") / "pay.db"
    shutil.copyfile(sqlite_template, path)
    asyncio.run(_history(f"sqlite:///{path}", items, threshold))


@pytest.mark.postgres
@settings(max_examples=3, **HISTORY_SETTINGS)
@given(items=work, threshold=st.sampled_from([0, 1500, 10**6]))
def test_random_histories_pay_everything_once_on_postgresql(
    pg_migrated: str, items: Any, threshold: int
) -> None:
    asyncio.run(truncate_pg(pg_migrated))
    asyncio.run(_history(pg_migrated, items, threshold))
