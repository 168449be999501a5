"""Delivering the outbox: a pluggable sender (SMTP by default) with retries and backoff.

Rows are claimed in one short transaction (their ``next_attempt_at`` moves past the time a
send may take, so a second ``inlier mail send`` leaves them alone), sent outside any
transaction, and settled in another: ``sent``, or ``pending`` again with exponential backoff,
or ``failed`` after ``MAX_ATTEMPTS``. A crash while sending leaves the row to be retried.
"""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, Protocol

from sqlalchemy import func, select

from inlier.notify.models import OutboxMail
from inlier.settings import Settings

MAX_ATTEMPTS = 5
CLAIM = timedelta(minutes=10)


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8… minutes after the n-th failed attempt, at most a day."""
    return min(timedelta(minutes=2 ** (attempts - 1)), timedelta(days=1))


class MailSender(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class SmtpSender:
    """Sends through an SMTP server: ``INLIER_SMTP_HOST``, ``_PORT``, ``_USERNAME``,
    ``_PASSWORD``, ``_FROM``, ``_STARTTLS``."""

    def __init__(self, settings: Settings) -> None:
        if not settings.smtp_host:
            raise ValueError("INLIER_SMTP_HOST is not set")
        self.settings = settings
        self.sender = settings.smtp_from

    def _send(self, message: EmailMessage) -> None:
        st = self.settings
        assert st.smtp_host is not None
        with smtplib.SMTP(st.smtp_host, st.smtp_port, timeout=st.smtp_timeout_seconds) as smtp:
            if st.smtp_starttls:
                smtp.starttls()
            if st.smtp_username:
                smtp.login(st.smtp_username, st.smtp_password or "")
            smtp.send_message(message)

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._send, message)


@dataclass
class Delivery:
    sent: int = 0
    retried: int = 0
    failed: int = 0

    @property
    def done(self) -> int:
        return self.sent + self.retried + self.failed


def message_of(row: OutboxMail, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = row.to_addr
    msg["Subject"] = row.subject
    msg["Message-ID"] = f"<outbox-{row.id}@inlier>"
    msg.set_content(row.body)
    return msg


async def pending_count(db: Any, now: datetime) -> int:
    async with db.session() as s:
        q = select(func.count()).where(
            OutboxMail.state == "pending", OutboxMail.next_attempt_at <= now
        )
        return int(await s.scalar(q) or 0)


async def deliver_pending(
    db: Any,
    sender: Any,
    limit: int,
    *,
    now: Callable[[], datetime],
    from_addr: str | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Delivery:
    """Send up to ``limit`` due emails; ``on_progress(1)`` after each one is settled."""
    started = now()
    async with db.session() as s:
        q = (
            select(OutboxMail)
            .where(OutboxMail.state == "pending", OutboxMail.next_attempt_at <= started)
            .order_by(OutboxMail.next_attempt_at, OutboxMail.id)
            .limit(limit)
        )
        if not db.sqlite:
            q = q.with_for_update(skip_locked=True)
        rows = list((await s.scalars(q)).all())
        for row in rows:
            row.next_attempt_at = started + CLAIM
            row.attempts += 1
    result = Delivery()
    origin = from_addr or getattr(sender, "sender", None) or "Inlier <inlier@localhost>"
    for row in rows:
        error: str | None = None
        try:
            await sender.send(message_of(row, origin))
        except Exception as exc:  # any failure of the sender is recorded and retried
            error = f"{type(exc).__name__}: {exc}"[:1000]
        async with db.session() as s:
            fresh = await s.get(OutboxMail, row.id)
            assert fresh is not None
            at = now()
            if error is None:
                fresh.state, fresh.sent_at, fresh.last_error = "sent", at, None
                result.sent += 1
            elif fresh.attempts >= MAX_ATTEMPTS:
                fresh.state, fresh.last_error = "failed", error
                result.failed += 1
            else:
                fresh.last_error = error
                fresh.next_attempt_at = at + backoff(fresh.attempts)
                result.retried += 1
        if on_progress is not None:
            on_progress(1)
    return result
