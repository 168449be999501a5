"""Pages for signing in and out."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from inlier.accounts import service
from inlier.kit.errors import RateLimited
from inlier.kit.web import (
    SESSION_COOKIE,
    SESSION_DAYS,
    CsrfForm,
    clear_session_cookie,
    redirect,
    render,
    safe_next,
    session_principal,
    set_session_cookie,
)

router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: Annotated[str, Query()] = "/") -> Response:
    async with request.app.state.db.session() as s:
        who = await session_principal(request, s)
    if who is not None:
        return redirect(safe_next(next))
    return await render(request, "login.html", {"next": safe_next(next), "email": ""})


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    _csrf: CsrfForm,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    app = request.app
    now = app.state.clock.now()
    settings = app.state.settings
    address = request.client.host if request.client else "unknown"
    error = None
    token = None
    try:
        async with app.state.db.session() as s:
            user = await service.authenticate(
                s,
                email=email,
                password=password,
                address=address,
                now=now,
                max_failures=settings.login_max_failures,
                window=timedelta(minutes=settings.login_window_minutes),
                passwords=app.state.passwords,
            )
            if user is not None:
                token = await service.issue_token(
                    s, user, now=now, name="session", days=SESSION_DAYS
                )
    except RateLimited:
        error = "Too many failed sign-ins. Wait a few minutes and try again."
        ctx = {"next": safe_next(next), "email": email, "error": error}
        return await render(request, "login.html", ctx, status=429)
    if token is None:
        error = "Wrong email or password."
        ctx = {"next": safe_next(next), "email": email, "error": error}
        return await render(request, "login.html", ctx, status=401)
    response = redirect(safe_next(next))
    set_session_cookie(request, response, token)
    return response


@router.post("/logout")
async def logout(request: Request, _csrf: CsrfForm) -> Response:
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        async with request.app.state.db.session() as s:
            await service.revoke_token(s, raw)
    response = redirect("/login")
    clear_session_cookie(response)
    return response
