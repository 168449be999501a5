"""Lines are written when work is accepted, in the transaction that records it, and they are
the lines the sweep would write; a statement's lines are its person's lines in its run's
periods; a late verdict is an adjustment in the open period, with its reason."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, text

from conftest import World
from inlier.kit.clock import Clock
from inlier.pay import formula
from inlier.pay import service as pay_service
from inlier.pay.models import EarningsLine
from test_pay import Pay, card, usd
from test_pay_sweep import COMPARED


@pytest.fixture
def pay(world: World, clock: Clock) -> Pay:
    return Pay(world, clock)


async def _stored(app: Any) -> dict[str, dict[str, Any]]:
    """Every line as stored, by source key, read without sweeping anything first."""
    async with app.state.db.session() as s:
        rows = (await s.execute(select(EarningsLine))).scalars().all()
        return {ln.source_key: {k: getattr(ln, k) for k in COMPARED} for ln in rows}


async def _swept(app: Any, *, bulk: bool) -> dict[str, dict[str, Any]]:
    """The work lines the sweep writes when the ledger has none."""
    async with app.state.db.session() as s:
        await s.execute(delete(EarningsLine).where(EarningsLine.kind == "work"))
        await pay_service.accrue(s, app.state.clock.now(), bulk=bulk)
    return await _stored(app)


async def test_accepted_work_has_its_line_when_it_is_recorded(pay: Pay, app: Any) -> None:
    await pay.setup(stages={"attempt": {"hourly": usd(4000)}})
    worker = pay.workers[0]
    made = await pay.attempt(worker, seconds=2400)
    lines = await _stored(app)
    line = lines[f"work:{made['id']}"]
    # Accepted at once (no review): 40.00/h x 1.25 (PhD) x 0.8 (tier 2) x 30 min (capped).
    assert line["status"] == "accepted" and line["amount"] == 2000
    assert line["inputs"] == {
        "rate": 4000,
        "degree_mult": 1.25,
        "skill_mult": 1,
        "tier_mult": 0.8,
        "phase_mult": 1,
        "seconds": 2400,
        "cap_seconds": 1800,
    }
    assert line["amount"] == formula.evaluate(line["formula"], line["inputs"])
    assert line["accepted_at"] == line["work_at"]
    monday = datetime.combine(pay.week, datetime.min.time())
    assert line["period_start"] == monday and line["seconds"] == 1800
    assert line["active_seconds"] == 2400 and line["phase"] == "core"


async def test_reviewed_work_is_pending_then_accepted_on_the_verdict(pay: Pay, app: Any) -> None:
    await pay.setup(sample_rate=1.0, rejected_work={"pay_fraction": 0.5})
    worker = pay.workers[0]
    made = await pay.attempt(worker, seconds=1800)
    line = (await _stored(app))[f"work:{made['id']}"]
    assert line["status"] == "pending" and line["period_start"] is None
    assert line["accepted_at"] is None
    pay.clock.advance(timedelta(minutes=3))
    review = await pay.review("reject", 60)
    lines = await _stored(app)
    line = lines[f"work:{made['id']}"]
    assert line["status"] == "accepted" and line["basis_status"] == "rejected"
    own = lines[f"work:{review['id']}"]
    assert line["accepted_at"] == own["work_at"]  # when the verdict was recorded
    assert line["inputs"]["pay_fraction"] == 0.5 and line["amount"] == 1000
    assert own["stage"] == "review" and own["status"] == "accepted" and own["amount"] == 300


async def test_lines_written_at_acceptance_are_the_lines_the_sweep_writes(
    pay: Pay, app: Any
) -> None:
    await pay.setup(
        sample_rate=1.0,
        workers=2,
        rejected_work={"pay_fraction": 0.3},
        stages={"attempt": {"hourly": usd(4100)}, "review": {"per_task": usd(300)}},
    )
    one, two = pay.workers
    for who, level in ((one, 4), (two, 5), (pay.reviewer, 3)):
        r = await pay.admin.put(f"/users/{who.id}/skills/math.olympiad", json={"level": level})
        assert r.status_code == 200, r.text
    needs = {"skills": {"math.olympiad": 1}}
    r = await pay.owner.patch(f"/projects/{pay.pid}", json={"requirements": needs})
    assert r.status_code == 200, r.text
    await pay.attempt(one, 1234)
    await pay.review("approve", 61)
    await pay.attempt(two, 2999)
    await pay.review("improve", 7)
    await pay.attempt(two, 333)
    await pay.review("reject", 0)
    await pay.attempt(one, 17)  # left unreviewed: pending
    hooked = await _stored(app)
    assert len(hooked) == 7
    assert {v["status"] for v in hooked.values()} == {"pending", "accepted"}
    assert {v["labels"]["skill_level"] for v in hooked.values()} == {
        3,
        4,
        5,
    }
    # The bench seeds lines set-based: it must write these same rows.
    assert await _swept(app, bulk=True) == hooked
    assert await _swept(app, bulk=False) == hooked


async def test_a_project_without_a_rate_card_writes_no_line_on_submit(
    world: World, app: Any
) -> None:
    from conftest import GOOD_ANSWER, pairwise_item

    owner = await world.user("owner")
    project = await world.project(owner)
    await world.items(owner, project["id"], [pairwise_item(0)])
    worker = await world.user("contributor")
    await world.member(owner, project["id"], worker)
    a = await worker.next(project["id"])
    r = await worker.post(
        f"/assignments/{a.json()['id']}/submit",
        json={"answer": GOOD_ANSWER, "active_seconds": 60},
    )
    assert r.status_code == 201, r.text
    assert await _stored(app) == {}
    # The sweep still writes its 0 line, which says why.
    (line,) = (await worker.get("/me/earnings")).json()["lines"]
    assert line["amount"] == 0 and "no rate card" in line["reason"]


async def test_a_late_rejection_adjusts_in_the_next_period(pay: Pay, app: Any) -> None:
    await pay.setup(sample_rate=1.0, stages={"attempt": {"per_task": usd(1000)}})
    r = await pay.admin.put("/settings/pay", json={"currency": "USD", "auto_accept_days": 1})
    assert r.status_code == 200
    worker = pay.workers[0]
    made = await pay.attempt(worker)
    pay.after_week()
    await pay.run()
    (first,) = await pay.statements(worker)
    await pay.review("reject")  # pay_fraction 0: the 10.00 paid comes back
    adj = (await _stored(app))[f"adj:{made['id']}:rejected"]  # written with the verdict
    nxt = datetime.combine(pay.week + timedelta(days=7), datetime.min.time())
    assert adj["kind"] == "adjustment" and adj["amount"] == -1000
    assert adj["period_start"] == nxt and adj["status"] == "accepted"
    assert adj["inputs"] == {"now_due": 0, "already_counted": 1000}
    assert "rejected in review after the period that paid it closed" in adj["reason"]
    pay.after_week(2)
    await pay.run(pay.week + timedelta(days=7))
    second = (await pay.statements(worker))[0]
    assert second["id"] != first["id"]
    assert [ln["kind"] for ln in second["lines"]] == ["adjustment"]
    assert second["total"] == -1000 == second["carried_forward"]
    assert (await worker.get(f"/statements/{first['id']}")).json() == first


async def test_a_rate_card_change_reprices_open_work_only(pay: Pay, app: Any) -> None:
    await pay.setup(stages={"attempt": {"per_task": usd(1000)}})
    worker = pay.workers[0]
    await pay.attempt(worker)
    pay.after_week()
    await pay.run()
    await pay.attempt(worker)
    nxt = pay.week + timedelta(days=7)
    r = await pay.owner.put(
        f"/projects/{pay.pid}/rate-card",
        json=card(f"{nxt}T00:00:00Z", stages={"attempt": {"per_task": usd(2000)}}),
    )
    assert r.status_code == 200, r.text
    amounts = sorted(v["amount"] for v in (await _stored(app)).values())
    assert amounts == [1000, 2000]  # the closed week's line kept its price


# ---- migration 0012_pay_ledger: stamped lines become lines in their run's periods ------------


async def _seed_stamped_ledger(url: str) -> None:
    """Two closed weeks as the old pay run left them, with a line of each kind of straggler."""
    from inlier.db.engine import Database
    from inlier.settings import Settings

    db = Database(Settings(database_url=url, log_level="WARNING"), null_pool=True)
    w1, w2, w3 = (datetime(2026, 11, 2) + timedelta(days=7 * i) for i in range(3))
    json_ = "CAST({} AS jsonb)" if url.startswith("postgresql") else "{}"
    empty, roles = json_.format("'{}'"), json_.format("'[]'")
    async with db.session() as s:
        await s.execute(
            text(
                "INSERT INTO users (id, email, name, password_hash, roles, profile, status, "
                f"active, created_at) VALUES (1, 'a@x', 'A', 'x', {roles}, {empty}, "
                "'approved', true, :at)"
            ),
            {"at": w1},
        )
        for run, (lo, hi) in enumerate(((w1, w2), (w2, w3)), start=1):
            await s.execute(
                text(
                    "INSERT INTO payruns (id, period_start, period_end, status, statements, "
                    "total, currency, created_at) VALUES (:id, :lo, :hi, 'closed', 1, 0, "
                    "'USD', :hi)"
                ),
                {"id": run, "lo": lo, "hi": hi},
            )
            await s.execute(
                text(
                    "INSERT INTO statements (id, payrun_id, user_id, period_start, period_end, "
                    "total, carried_forward, created_at) VALUES (:id, :id, 1, :lo, :hi, 0, 0, :hi)"
                ),
                {"id": run, "lo": lo, "hi": hi},
            )
        # key, period, statement: closed in its week; closed a week late (written while the
        # first run was closing its week); accepted in a closed week but never closed (the
        # same race, after the second run); pending.
        for key, period, stmt, status in (
            ("a", w1, 1, "accepted"),
            ("b", w1, 2, "accepted"),
            ("c", w2, None, "accepted"),
            ("d", None, None, "pending"),
        ):
            await s.execute(
                text(
                    "INSERT INTO earnings_lines (source_key, user_id, kind, status, amount, "
                    "currency, inputs, formula, labels, seconds, work_at, period_start, "
                    f"statement_id, created_at) VALUES (:k, 1, 'work', :st, 100, 'USD', {empty}, "
                    f"'100', {empty}, 0, :at, :p, :stmt, :at)"
                ),
                {"k": key, "st": status, "at": w1, "p": period, "stmt": stmt},
            )
    async with db.session() as s:
        assert (await s.execute(text("SELECT count(*) FROM earnings_lines"))).scalar() == 4
    await db.dispose()


async def _ledger(url: str) -> dict[str, Any]:
    from inlier.db.engine import Database
    from inlier.settings import Settings

    db = Database(Settings(database_url=url, log_level="WARNING"), null_pool=True)
    async with db.session() as s:
        lines = dict(
            (await s.execute(text("SELECT source_key, period_start FROM earnings_lines"))).all()
        )
        runs = dict((await s.execute(text("SELECT id, lines_from FROM payruns"))).all())
        closed = (await s.execute(text("SELECT closed_until FROM pay_settings"))).scalar()
    await db.dispose()
    return {"lines": lines, "runs": runs, "closed": closed}


async def _stamps(url: str) -> dict[str, Any]:
    from inlier.db.engine import Database
    from inlier.settings import Settings

    db = Database(Settings(database_url=url, log_level="WARNING"), null_pool=True)
    async with db.session() as s:
        rows = (await s.execute(text("SELECT source_key, statement_id FROM earnings_lines"))).all()
    await db.dispose()
    return dict(rows)


def _as_dt(value: Any) -> Any:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


@pytest.mark.parametrize(
    "engine_name", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_the_ledger_migration_keeps_every_closed_statement(engine_name: str, tmp_path: Any) -> None:
    import asyncpg

    from conftest import PG_URL

    scratch = None
    if engine_name == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        assert PG_URL
        base, _, name = PG_URL.rpartition("/")
        scratch = f"{name}_ledger"
        url = f"{base}/{scratch}"

    async def recreate(drop_only: bool = False) -> None:
        assert PG_URL
        conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
            if not drop_only:
                await conn.execute(f'CREATE DATABASE "{scratch}"')
        finally:
            await conn.close()

    if scratch:
        asyncio.run(recreate())
    try:
        _migrate_a_stamped_ledger(url)
    finally:
        if scratch:
            asyncio.run(recreate(drop_only=True))


def _migrate_a_stamped_ledger(url: str) -> None:
    from inlier.db.migrate import downgrade, upgrade

    upgrade(url, "0010_pay_costs")
    asyncio.run(_seed_stamped_ledger(url))
    upgrade(url)
    got = asyncio.run(_ledger(url))
    w1, w2, w3 = (datetime(2026, 11, 2) + timedelta(days=7 * i) for i in range(3))
    lines = {k: _as_dt(v) for k, v in got["lines"].items()}
    # a stays in week 1 (run 1); b moves into run 2's periods; c into the first open week.
    assert lines == {"a": w1, "b": w2, "c": w3, "d": None}
    assert {k: _as_dt(v) for k, v in got["runs"].items()} == {1: None, 2: w2}
    assert got["closed"] is None  # no settings row yet: a run writes it
    downgrade(url, "0010_pay_costs")  # each line stamped with the statement that holds it
    assert asyncio.run(_stamps(url)) == {"a": 1, "b": 2, "c": None, "d": None}
    upgrade(url)


@pytest.mark.parametrize("engine_name", [pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_the_queue_and_the_ledger_pages_do_not_wait_for_a_pay_run(
    pay: Pay, app: Any, engine_name: str
) -> None:
    from inlier.pay.models import PaySettings

    await pay.setup(stages={"attempt": {"per_task": usd(1000)}})
    worker = pay.workers[0]
    async with app.state.db.session() as held:
        # What a pay run holds while it closes a week.
        await held.execute(select(PaySettings).where(PaySettings.id == 1).with_for_update())
        made = await pay.attempt(worker)  # recorded at once, without its line
        assert f"work:{made['id']}" not in await _stored(app)
        # Nor do the pages that read the ledger: they show it as it stands.
        for who, path in (
            (worker, "/me/earnings"),
            (worker, "/me/earnings/summary"),
            (pay.owner, f"/projects/{pay.pid}/costs"),
        ):
            r = await asyncio.wait_for(who.get(path), timeout=20)
            assert r.status_code == 200, (path, r.text)
        assert (await worker.get("/me/earnings")).json()["lines"] == []
        await held.rollback()
    e = (await worker.get("/me/earnings")).json()  # the sweep writes it, the same line
    (line,) = e["lines"]
    assert line["response_id"] == made["id"] and line["amount"] == 1000
    assert line["status"] == "accepted"
