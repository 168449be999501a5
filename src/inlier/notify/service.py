"""Notifications: an in-app inbox every area writes to through ``send``, and an email outbox.

Other areas call ``send(s, user_id, kind, title, body, link, now, email=...)`` inside their own
transaction, so a notification exists exactly when the event that caused it was committed.
Email goes to the ``mail_outbox`` table in the same transaction and is delivered later by
``deliver_pending`` (``inlier mail send``), so a slow or failing mail server never slows or
fails the request that caused it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, literal, null, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from inlier.accounts.models import User
from inlier.kit.clock import iso
from inlier.kit.ids import sid
from inlier.notify.models import Notification, OutboxMail

# Kinds other areas use; the inbox shows any kind, these are the ones we send today.
KINDS = ("reply", "official", "review", "pause", "statement", "guidelines", "report")


async def send(
    s: AsyncSession,
    user_id: int,
    kind: str,
    title: str,
    body: str,
    link: str | None,
    now: datetime,
    *,
    email: bool = False,
) -> Notification:
    """Put a notification in ``user_id``'s inbox and, with ``email``, queue an email too."""
    note = Notification(
        user_id=user_id,
        kind=kind[:32],
        title=title[:200],
        body=body,
        link=link,
        read_at=None,
        created_at=now,
    )
    s.add(note)
    if email:
        user = await s.get(User, user_id)
        if user is not None and user.active and user.email:
            text = body + (f"\n\n{link}" if link else "")
            s.add(
                OutboxMail(
                    user_id=user_id,
                    to_addr=user.email,
                    subject=title[:300],
                    body=text,
                    state="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    await s.flush()
    return note


def notification_out(n: Notification) -> dict[str, Any]:
    return {
        "id": str(n.id),
        "kind": n.kind,
        "title": n.title,
        "body": n.body,
        "link": n.link,
        "read": n.read_at is not None,
        "read_at": iso(n.read_at),
        "created_at": iso(n.created_at),
    }


async def unread_count(s: AsyncSession, user_id: int) -> int:
    q = select(func.count()).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    return int(await s.scalar(q) or 0)


async def inbox(
    s: AsyncSession, user_id: int, *, unread: bool, limit: int, before: int | None
) -> list[Notification]:
    """Newest first; ``before`` is the id the previous page ended on."""
    q = select(Notification).where(Notification.user_id == user_id)
    if unread:
        q = q.where(Notification.read_at.is_(None))
    if before is not None:
        q = q.where(Notification.id < before)
    return list((await s.scalars(q.order_by(Notification.id.desc()).limit(limit + 1))).all())


async def mark_read(s: AsyncSession, user_id: int, ids: list[int], now: datetime) -> int:
    """Mark the caller's own notifications read; ids of others' are ignored. Returns how many."""
    if not ids:
        return 0
    result = await s.execute(
        update(Notification)
        .where(
            Notification.user_id == user_id,
            Notification.id.in_(ids),
            Notification.read_at.is_(None),
        )
        .values(read_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# ---- events other areas report ----------------------------------------------------------------

VERDICT_TITLES = {
    "approve": "Your work was approved",
    "improve": "A reviewer improved your work",
    "reject": "Your work was rejected",
}


async def send_each(
    s: AsyncSession, rows: Select[*tuple[Any, ...]], kind: str, now: datetime
) -> None:
    """One in-app notification per row of ``rows`` — columns ``user_id``, ``title``, ``body``,
    ``link`` — in one statement, for notices to many people at once (pay statements)."""
    src = rows.subquery()
    await s.execute(
        insert(Notification).from_select(
            ["user_id", "kind", "title", "body", "link", "read_at", "created_at"],
            select(
                src.c.user_id,
                literal(kind[:32]),
                src.c.title,
                src.c.body,
                src.c.link,
                null(),
                literal(now),
            ),
        )
    )


async def on_review(
    s: AsyncSession, attempt_response: Any, review_response: Any, now: datetime
) -> Notification | None:
    """Tell the author of an attempt how it was reviewed, with the reviewer's feedback.

    ``attempt_response`` and ``review_response`` are ``workflow.models.Response`` rows; the
    reviewer is never named. Call it in the review's transaction, after the verdict is stored.
    """
    verdict = review_response.verdict or "approve"
    title = VERDICT_TITLES.get(verdict, "Your work was reviewed")
    feedback = (review_response.feedback or "").strip()
    body = feedback or "The reviewer left no feedback."
    return await send(
        s,
        attempt_response.user_id,
        "review",
        title,
        body,
        f"/?feedback={sid(attempt_response.id)}",
        now,
        email=verdict == "reject",
    )
