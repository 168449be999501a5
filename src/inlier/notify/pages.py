"""The inbox page: notifications, newest first, and marking them read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from inlier.kit.web import CsrfForm, PageUser, redirect, render
from inlier.notify import service

router = APIRouter(include_in_schema=False)


@router.get("/inbox", response_class=HTMLResponse)
async def inbox_page(request: Request, who: PageUser) -> Response:
    async with request.app.state.db.session() as s:
        rows = await service.inbox(s, who.id, unread=False, limit=200, before=None)
        unread = await service.unread_count(s, who.id)
    ctx = {"notes": [service.notification_out(n) for n in rows[:200]], "unread": unread}
    return await render(request, "inbox.html", ctx, who=who)


@router.post("/inbox/read")
async def read_form(
    request: Request,
    who: PageUser,
    _csrf: CsrfForm,
    ids: Annotated[list[str] | None, Form(max_length=1000)] = None,
) -> Response:
    """Mark the listed notifications read, or all of them when none are listed."""
    async with request.app.state.db.session() as s:
        if ids:
            wanted = [int(i) for i in ids if i.isascii() and i.isdigit() and len(i) <= 18]
        else:
            rows = await service.inbox(s, who.id, unread=True, limit=1000, before=None)
            wanted = [n.id for n in rows]
        await service.mark_read(s, who.id, wanted, request.app.state.clock.now())
    return redirect("/inbox")
