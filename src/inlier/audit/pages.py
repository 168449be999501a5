"""The audit log page for admins: newest first, filtered exactly like ``GET /audit``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from inlier.audit import service
from inlier.kit.errors import Forbidden
from inlier.kit.pagination import decode_cursor, encode_cursor
from inlier.kit.web import PageUser, render

router = APIRouter(include_in_schema=False)
PAGE = 100


@router.get("/admin/audit", response_class=HTMLResponse)
async def audit_page(
    request: Request,
    who: PageUser,
    actor: Annotated[str, Query(max_length=40)] = "",
    action: Annotated[str, Query(max_length=64)] = "",
    target: Annotated[str, Query(max_length=200)] = "",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    if not who.is_admin:
        raise Forbidden("only admins read the audit log")
    async with request.app.state.db.session() as s:
        rows = await service.list_entries(
            s,
            actor=actor.strip() or None,
            action=action.strip() or None,
            target=target.strip() or None,
            limit=PAGE,
            after=decode_cursor(cursor),
            newest_first=True,
        )
        total = await service.count(s)
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return await render(
        request,
        "audit/log.html",
        {
            "rows": rows,
            "total": total,
            "filters": {"actor": actor, "action": action, "target": target},
            "next_cursor": encode_cursor(int(rows[-1]["id"])) if more and rows else None,
        },
        who=who,
    )
