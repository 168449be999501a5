"""REST route for reading the audit log (admins)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from inlier.audit import service
from inlier.kit.auth import Admin, Tx
from inlier.kit.openapi import problems
from inlier.kit.pagination import Limit, decode_cursor, page

router = APIRouter(tags=["audit"])


@router.get("/audit", responses=problems(403))
async def list_audit(
    who: Admin,
    s: Tx,
    actor: str | None = Query(None, max_length=40, description="a user id"),
    action: str | None = Query(None, max_length=64, description="e.g. project.update"),
    target: str | None = Query(None, max_length=200, description='"<kind>:<id>"'),
    limit: Limit = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Append-only entries, oldest first; every filter matches its value exactly."""
    rows = await service.list_entries(
        s, actor=actor, action=action, target=target, limit=limit, after=decode_cursor(cursor)
    )
    return page(rows, limit, key=lambda e: int(e["id"]))
