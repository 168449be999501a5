"""Pages for signing in and out."""

from __future__ import annotations

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
    token = None
    try:
        async with app.state.db.session() as s:
            signed = await service.sign_in(
                s,
                email=email,
                password=password,
                address=request.client.host if request.client else "unknown",
                now=app.state.clock.now(),
                settings=app.state.settings,
                passwords=app.state.passwords,
                token_name="session",
                days=SESSION_DAYS,
            )
            token = signed[1] if signed else None
    except RateLimited:
        error = "Too many failed sign-ins. Wait a few minutes and try again."
        ctx = {"next": safe_next(next), "email": email, "error": error}
        return await render(request, "login.html", ctx, status=429)
    if token is None:
        ctx = {"next": safe_next(next), "email": email, "error": "Wrong email or password."}
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
