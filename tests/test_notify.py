"""Notifications: the inbox other areas write to, and email delivered through a real SMTP
server on loopback (aiosmtpd), with retries, backoff and failure."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from conftest import GOOD_ANSWER, Cli, World, make_settings
from inlier.db.engine import Database
from inlier.notify import mail, service
from inlier.notify.models import OutboxMail
from inlier.workflow.models import Response


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


async def test_send_fills_the_inbox_and_queues_email(world: World) -> None:
    who = await world.user("contributor")
    now = world.app.state.clock.now()
    async with world.app.state.db.session() as s:
        await service.send(s, int(who.id), "pause", "Paused", "Why.", "/standing", now)
        await service.send(s, int(who.id), "statement", "Paid", "$10", None, now, email=True)
    r = await who.get("/me/notifications")
    body = r.json()
    assert body["unread"] == 2
    assert [n["kind"] for n in body["data"]] == ["statement", "pause"]  # newest first
    assert body["data"][1]["link"] == "/standing"
    async with world.app.state.db.session() as s:
        rows = (await s.scalars(select(OutboxMail))).all()
    assert [(m.to_addr, m.subject, m.state) for m in rows] == [(who.email, "Paid", "pending")]
    # Pages of one.
    r = await who.get("/me/notifications", params={"limit": 1})
    assert len(r.json()["data"]) == 1 and r.json()["next_cursor"]
    r = await who.get("/me/notifications", params={"limit": 1, "cursor": r.json()["next_cursor"]})
    assert [n["kind"] for n in r.json()["data"]] == ["pause"] and r.json()["next_cursor"] is None
    assert (await who.get("/me/notifications", params={"cursor": "nope"})).status_code == 400


async def test_review_feedback_reaches_the_author(world: World) -> None:
    owner, project, (worker,) = await world.team(n_items=1, n_workers=1)
    lease = (await worker.next(project["id"])).json()
    r = await worker.post(
        f"/assignments/{lease['id']}/submit",
        json={"answer": GOOD_ANSWER},
        headers={"Idempotency-Key": "k1"},
    )
    assert r.status_code == 201, r.text
    async with world.app.state.db.session() as s:
        attempt = (await s.scalars(select(Response))).one()
        review = Response(
            project_id=attempt.project_id,
            item_id=attempt.item_id,
            slot_id=attempt.slot_id,
            assignment_id=attempt.assignment_id,
            user_id=int(owner.id),
            stage="review",
            verdict="reject",
            feedback="The rationale ignores renal dosing.",
            created_at=world.app.state.clock.now(),
        )
        await service.on_review(s, attempt, review, world.app.state.clock.now())
    (note,) = (await worker.get("/me/notifications")).json()["data"]
    assert note["kind"] == "review" and note["title"] == "Your work was rejected"
    assert note["body"] == "The rationale ignores renal dosing."
    assert owner.user["name"] not in str(note)


async def test_pending_mail_is_delivered_over_smtp(
    world: World, smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, port = smtp
    who = await world.user("contributor")
    clock = world.app.state.clock
    async with world.app.state.db.session() as s:
        for n in range(3):
            await service.send(
                s, int(who.id), "reply", f"Reply {n}", "body", "/x", clock.now(), email=True
            )
    settings = make_settings(
        world.app.state.settings.database_url, smtp_host="127.0.0.1", smtp_port=port
    )
    db: Database = world.app.state.db
    progress: list[int] = []
    result = await mail.deliver_pending(
        db, mail.SmtpSender(settings), 2, now=clock.now, on_progress=progress.append
    )
    assert (result.sent, result.retried, result.failed) == (2, 0, 0) and progress == [1, 1]
    result = await mail.deliver_pending(db, mail.SmtpSender(settings), 10, now=clock.now)
    assert result.sent == 1
    assert sorted(m["Subject"] for _, m in inbox.messages) == ["Reply 0", "Reply 1", "Reply 2"]
    rcpts, msg = inbox.messages[0]
    assert rcpts == [who.email] and msg["From"] == settings.smtp_from
    assert "/x" in msg.get_payload()
    # Nothing is sent twice.
    assert (await mail.deliver_pending(db, mail.SmtpSender(settings), 10, now=clock.now)).done == 0
    async with db.session() as s:
        states = {m.state for m in (await s.scalars(select(OutboxMail))).all()}
    assert states == {"sent"}


async def test_failed_sends_back_off_then_fail_for_good(world: World) -> None:
    who = await world.user("contributor")
    clock = world.app.state.clock
    async with world.app.state.db.session() as s:
        await service.send(s, int(who.id), "reply", "R", "b", None, clock.now(), email=True)
    # Nothing listens on this port: every attempt is refused.
    settings = make_settings(
        world.app.state.settings.database_url, smtp_host="127.0.0.1", smtp_port=free_port()
    )
    sender = mail.SmtpSender(settings)
    db: Database = world.app.state.db
    waits = []
    for attempt in range(1, mail.MAX_ATTEMPTS + 1):
        result = await mail.deliver_pending(db, sender, 10, now=clock.now)
        async with db.session() as s:
            row = (await s.scalars(select(OutboxMail))).one()
        assert row.attempts == attempt and "Refused" in (row.last_error or "")
        if attempt < mail.MAX_ATTEMPTS:
            assert result.retried == 1 and row.state == "pending"
            # Not due again before its backoff.
            assert (await mail.deliver_pending(db, sender, 10, now=clock.now)).done == 0
            waits.append(row.next_attempt_at - clock.now())
            clock.advance(row.next_attempt_at - clock.now() + timedelta(seconds=1))
        else:
            assert result.failed == 1 and row.state == "failed"
    assert waits == sorted(waits) and waits[0] < waits[-1]
    clock.advance(timedelta(days=2))
    assert (await mail.deliver_pending(db, sender, 10, now=clock.now)).done == 0


def test_the_cli_sends_the_outbox(cli: Cli, smtp: tuple[Inbox, int]) -> None:
    import asyncio

    inbox, port = smtp
    assert cli.init().exit_code == 0
    settings = make_settings(cli.url)

    async def queue() -> None:
        db = Database(settings, null_pool=True)
        async with db.session() as s:
            from inlier.kit.clock import Clock

            await service.send(
                s, 1, "statement", "Your pay statement", "Ready.", None, Clock().now(), email=True
            )
        await db.dispose()

    asyncio.run(queue())
    r = cli("mail", "send")
    assert r.exit_code == 2 and "INLIER_SMTP_HOST" in r.output
    cli.env.update({"INLIER_SMTP_HOST": "127.0.0.1", "INLIER_SMTP_PORT": str(port)})
    r = cli("mail", "send")
    assert r.exit_code == 0, r.output
    assert "1 sent" in r.output
    assert [m["Subject"] for _, m in inbox.messages] == ["Your pay statement"]


async def test_a_pay_run_puts_each_statement_in_its_owners_inbox(world: World, clock: Any) -> None:
    from test_pay import monday_of

    owner, proj, (w,) = await world.team(n_workers=1, n_items=1)
    admin = await world.admin()
    start = monday_of(clock.now())
    usd = {"amount": 700, "currency": "USD"}
    card = {"effective_from": f"{start}T00:00:00Z", "stages": {"attempt": {"per_task": usd}}}
    assert (await owner.put(f"/projects/{proj['id']}/rate-card", json=card)).status_code == 200
    a = (await w.next(proj["id"])).json()
    r = await w.post(
        f"/assignments/{a['id']}/submit",
        json={"answer": GOOD_ANSWER},
        headers={"Idempotency-Key": "k"},
    )
    assert r.status_code == 201
    clock.advance(timedelta(days=8))
    r = await admin.post("/payruns", json={"period_start": str(start)})
    assert r.status_code == 201, r.text
    [statement] = (await w.get("/me/statements")).json()["data"]
    inbox = (await w.get("/me/notifications")).json()
    [note] = [n for n in inbox["data"] if n["kind"] == "statement"]
    assert note["link"] == f"/earnings/statements/{statement['id']}"
    assert str(start) in note["title"]
    theirs = (await owner.get("/me/notifications")).json()["data"]
    assert not [n for n in theirs if n["kind"] == "statement"]
