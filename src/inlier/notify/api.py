"""REST routes for the caller's notifications."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from inlier.kit.auth import CurrentUser, Tx
from inlier.kit.errors import invalid
from inlier.kit.openapi import problems
from inlier.kit.pagination import Limit, decode_cursor, encode_cursor
from inlier.notify import service
from inlier.notify.schemas import ReadIn

router = APIRouter(tags=["notifications"])


@router.get("/me/notifications", responses=problems())
async def my_notifications(
    who: CurrentUser, s: Tx, unread: bool = False, limit: Limit = 50, cursor: str | None = None
) -> dict[str, Any]:
    """Newest first, with the count of unread ones; ``unread=true`` lists only those."""
    rows = await service.inbox(s, who.id, unread=unread, limit=limit, before=decode_cursor(cursor))
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "data": [service.notification_out(n) for n in rows],
        "unread": await service.unread_count(s, who.id),
        "next_cursor": encode_cursor(rows[-1].id) if more and rows else None,
    }


@router.post("/me/notifications/read", responses=problems())
async def mark_read(body: ReadIn, who: CurrentUser, s: Tx, request: Request) -> dict[str, Any]:
    """Mark some of your notifications read (ids that are not yours are ignored)."""
    ids: list[int] = []
    for i, raw in enumerate(body.ids):
        if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
            raise invalid(["body", "ids", i], "not a notification id")
        ids.append(int(raw))
    marked = await service.mark_read(s, who.id, ids, request.app.state.clock.now())
    return {"read": marked, "unread": await service.unread_count(s, who.id)}
