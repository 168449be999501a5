"""The ledger's sweep writes the same lines whichever way it runs: set-based on PostgreSQL for
everyone's missing lines, or response by response (SQLite, and anything left over)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select

from conftest import World
from inlier.kit.clock import Clock
from inlier.pay import formula
from inlier.pay import service as pay_service
from inlier.pay.models import EarningsLine
from test_pay import Pay, card, usd

COMPARED = (
    "source_key",
    "user_id",
    "project_id",
    "response_id",
    "stage",
    "kind",
    "status",
    "basis_status",
    "amount",
    "currency",
    "inputs",
    "formula",
    "labels",
    "reason",
    "seconds",
    "active_seconds",
    "phase",
    "rate_card_id",
    "work_at",
    "accepted_at",
    "period_start",
)


@pytest.fixture
def pay(world: World, clock: Clock) -> Pay:
    return Pay(world, clock)


async def _lines(app: Any, *, bulk: bool) -> list[tuple[Any, ...]]:
    """Forget the lines of the sweep's kind and write them again, one way or the other."""
    async with app.state.db.session() as s:
        await s.execute(delete(EarningsLine).where(EarningsLine.kind == "work"))
        await pay_service.accrue(s, app.state.clock.now(), bulk=bulk)
        rows = (await s.execute(select(EarningsLine).order_by(EarningsLine.source_key))).scalars()
        return [tuple(getattr(ln, k) for k in COMPARED) for ln in rows]


async def test_the_set_based_sweep_writes_the_lines_the_batch_sweep_writes(
    pay: Pay, app: Any
) -> None:
    await pay.setup(
        sample_rate=1.0,
        workers=2,
        rejected_work={"pay_fraction": 0.3},
        stages={"attempt": {"hourly": usd(4100)}, "review": {"per_task": usd(300)}},
    )
    one, two = pay.workers
    other = await pay.world.user("contributor", degree="MD", country="ZZ")
    await pay.world.member(pay.owner, pay.pid, other)
    # Skill levels multiply: the project requires a skill the people hold at various levels.
    for who, level in ((one, 4), (two, 5), (other, 1), (pay.reviewer, 3)):
        r = await pay.admin.put(f"/users/{who.id}/skills/math.olympiad", json={"level": level})
        assert r.status_code == 200, r.text
    needs = {"skills": {"math.olympiad": 1}}
    r = await pay.owner.patch(f"/projects/{pay.pid}", json={"requirements": needs})
    assert r.status_code == 200, r.text
    await pay.attempt(one, 1234)
    await pay.review("approve", 61)
    await pay.attempt(two, 99999 % 86400)
    await pay.review("improve", 7)
    # A second version of the card from later today: the rest is priced under it.
    pay.clock.advance(timedelta(minutes=5))
    later = pay.clock.now() + timedelta(seconds=1)
    r = await pay.owner.put(
        f"/projects/{pay.pid}/rate-card",
        json=card(later.isoformat() + "Z", phase="overtime", max_minutes_per_task=7),
    )
    assert r.status_code == 200, r.text
    pay.clock.advance(timedelta(seconds=2))
    await pay.attempt(other, 3333)
    await pay.review("reject", 0)
    await pay.attempt(one, 17)  # left unreviewed: pending
    rows_slow = await _lines(app, bulk=False)
    rows_bulk = await _lines(app, bulk=True)
    assert rows_bulk == rows_slow
    kinds = {(r[4], r[6], r[7]) for r in rows_bulk}
    assert ("attempt", "pending", "submitted") in kinds
    assert ("attempt", "accepted", "rejected") in kinds
    assert ("review", "accepted", "rejected") in kinds
    assert {r[12]["skill_level"] for r in rows_bulk} == {1, 3, 4, 5}
    for row in rows_bulk:
        line = dict(zip(COMPARED, row, strict=True))
        assert line["amount"] == formula.evaluate(line["formula"], line["inputs"])
