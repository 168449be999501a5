"""Personal data is purged once its retention period is over, and only then."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from conftest import GOOD_ANSWER, World, make_settings
from inlier.accounts.models import LoginFailure
from inlier.notify.models import Notification
from inlier.privacy import retention
from inlier.privacy.models import Consent
from inlier.workflow.models import Assignment


async def count(app: Any, stmt: Any) -> int:
    async with app.state.db.session() as s:
        return int(await s.scalar(stmt) or 0)


async def test_old_addresses_drafts_and_read_notifications_go_recent_ones_stay(
    world: World, app: Any, clock: Any, db_url: str
) -> None:
    admin = await world.admin()
    owner, proj, (w1, w2) = await world.team(
        n_items=2, workflow={"overlap": 1, "review": {"sample_rate": 1.0}}
    )
    await world.member(owner, proj["id"], w2, role="reviewer")
    r = await admin.post("/policies", json={"version": "v1", "markdown": "policy"})
    assert r.status_code == 201
    for who in (w1, w2):
        assert (await who.post("/me/consents", json={"policy_version": "v1"})).status_code == 201
    bad = await world.client.post(
        "/api/v1/auth/token", json={"email": w1.email, "password": "wrong-password"}
    )
    assert bad.status_code == 401
    # w1: a draft on a task they then skip (ended), and a submitted attempt w2 reviews.
    a = (await w1.next(proj["id"])).json()
    assert (
        await w1.put(f"/assignments/{a['id']}/draft", json={"answer": {"x": 1}})
    ).status_code == 200
    assert (await w1.post(f"/assignments/{a['id']}/skip")).status_code == 200
    b = (await w1.next(proj["id"])).json()
    r = await w1.post(
        f"/assignments/{b['id']}/submit",
        json={"answer": GOOD_ANSWER},
        headers={"Idempotency-Key": "k"},
    )
    assert r.status_code == 201
    review = (await w2.next(proj["id"])).json()
    r = await w2.post(
        f"/assignments/{review['id']}/submit",
        json={"verdict": "approve"},
        headers={"Idempotency-Key": "r"},
    )
    assert r.status_code == 201
    inbox = (await w1.get("/me/notifications")).json()["data"]
    assert inbox, "the review notified its author"
    read = await w1.post("/me/notifications/read", json={"ids": [n["id"] for n in inbox]})
    assert read.status_code == 200

    settings = make_settings(db_url)
    # Nothing is old yet: nothing goes.
    async with app.state.db.session() as s:
        assert await retention.purge(s, settings, clock.now()) == retention.Purged(0, 0, 0, 0)

    later = clock.now() + timedelta(days=settings.retention_notification_days + 1)
    async with app.state.db.session() as s:
        done = await retention.purge(s, settings, later)
    assert done.sign_in_failures == 1 and done.drafts == 1
    assert done.consent_addresses == 2 and done.notifications == len(inbox)
    assert await count(app, select(func.count()).select_from(LoginFailure)) == 0
    assert await count(app, select(func.count()).where(Consent.address_hash.is_not(None))) == 0
    assert await count(app, select(func.count()).where(Assignment.draft.is_not(None))) == 0
    assert await count(app, select(func.count()).select_from(Notification)) == 0
    # Consents themselves stay (version and time): only the address goes.
    assert await count(app, select(func.count()).select_from(Consent)) == 2
    # Again: nothing more to do.
    async with app.state.db.session() as s:
        assert await retention.purge(s, settings, later) == retention.Purged(0, 0, 0, 0)


async def test_a_live_tasks_draft_and_unread_notifications_are_kept(
    world: World, app: Any, clock: Any, db_url: str
) -> None:
    _owner, proj, (w1,) = await world.team(n_items=1, n_workers=1)
    a = (await w1.next(proj["id"])).json()
    assert (
        await w1.put(f"/assignments/{a['id']}/draft", json={"answer": {"x": 1}})
    ).status_code == 200
    async with app.state.db.session() as s:
        from inlier.notify import service as notify

        await notify.send(s, int(w1.id), "note", "unread", "", None, clock.now())
    far = clock.now() + timedelta(days=3650)
    async with app.state.db.session() as s:
        done = await retention.purge(s, make_settings(db_url), far)
    assert done.drafts == 0 and done.notifications == 0
    held = (await w1.get(f"/assignments/{a['id']}")).json()
    assert held["draft"]["answer"] == {"x": 1}


def test_the_cli_purges_once(cli: Any) -> None:
    assert cli.init().exit_code == 0
    r = cli("privacy", "purge")
    assert r.exit_code == 0, r.output
    assert "purged: 0 sign-in failures" in r.output
