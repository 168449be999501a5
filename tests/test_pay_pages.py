"""The pay pages: a contributor checks a statement line by line; an admin runs the week."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conftest import World
from inlier.kit.clock import Clock
from test_pages import csrf_of, sign_in
from test_pay import Pay, usd


@pytest.fixture
def pay(world: World, clock: Clock) -> Pay:
    return Pay(world, clock)


async def test_a_contributor_reads_earnings_and_a_statement_and_an_admin_runs_the_week(
    pay: Pay, app: Any
) -> None:
    await pay.setup(stages={"attempt": {"per_task": usd(1000)}})
    worker = pay.workers[0]
    await pay.attempt(worker)
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://test") as contributor,
        httpx.AsyncClient(transport=transport, base_url="http://test") as admin,
    ):
        await sign_in(contributor, worker.email)
        page = await contributor.get("/earnings")
        assert page.status_code == 200
        assert "round(rate * degree_mult" in page.text and "10.00 USD" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert (await contributor.get("/admin/payruns")).status_code == 403

        await sign_in(admin, "admin@example.org", "admin-password")
        pay.after_week()
        runs = await admin.get("/admin/payruns")
        assert runs.status_code == 200
        r = await admin.post(
            "/admin/payruns", data={"csrf": csrf_of(runs.text), "period_start": str(pay.week)}
        )
        assert r.status_code == 303
        detail = await admin.get(r.headers["location"])
        assert detail.status_code == 200 and "10.00 USD" in detail.text
        csv_ = await admin.get(r.headers["location"] + "/payouts.csv")
        assert csv_.text.startswith("payout_id,user_id,email")

        (st,) = (await worker.get("/me/statements")).json()["data"]
        page = await contributor.get(f"/earnings/statements/{st['id']}")
        assert page.status_code == 200 and "the sum of the lines" in page.text
        lines = await contributor.get(f"/earnings/statements/{st['id']}.csv")
        assert lines.text.splitlines()[-1].startswith("total,")
        # Someone else's statement is not there for you.
        other = await pay.world.user("contributor")
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            await sign_in(c, other.email)
            assert (await c.get(f"/earnings/statements/{st['id']}")).status_code == 404
