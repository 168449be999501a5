"""What the server-rendered pages share: templates, the session cookie, CSRF, page errors.

A browser session is an ordinary API token (named ``session``) kept in an HttpOnly cookie, so
signing out revokes it on the server and every process checks it the same way as a bearer
token. Every state-changing request from a page carries a CSRF token: a hidden ``csrf`` form
field, or an ``X-CSRF-Token`` header from the page's scripts. The token is an HMAC of the
session token (or, before sign-in, of a random cookie) under the deployment's secret key.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from inlier import __version__
from inlier.accounts.service import Principal, principal_for_token, secret_key
from inlier.kit.clock import iso
from inlier.kit.errors import DomainError
from inlier.kit.markdown import highlight
from inlier.kit.markdown import render as render_markdown

SESSION_COOKIE = "inlier_session"
PRESESSION_COOKIE = "inlier_pre"
CSRF_HEADER = "x-csrf-token"
SESSION_DAYS = 14

PACKAGE = Path(__file__).resolve().parent.parent
STATIC_DIR = PACKAGE / "static"
TEMPLATES_DIR = PACKAGE / "templates"


def _static_version() -> str:
    """Changes whenever a static file changes, so browsers never run a stale script."""
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(str(path.stat().st_mtime_ns).encode())
    return digest.hexdigest()[:10]


def _json_script(value: Any) -> Markup:
    """JSON safe inside ``<script type="application/json">``: no ``</script>`` break-out."""
    text = json.dumps(value, ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


def humanize(name: str) -> str:
    """``response_a`` → ``Response a``: names from templates, as a person reads them."""
    text = str(name).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    env = templates.env
    env.filters["markdown"] = lambda text: Markup(render_markdown(text or ""))
    env.filters["json_script"] = _json_script
    env.filters["iso"] = lambda value: iso(value) if isinstance(value, datetime) else ""
    env.filters["humanize"] = humanize
    env.filters["highlight"] = lambda code, language=None: Markup(highlight(code or "", language))
    env.globals["static_version"] = _static_version()
    env.globals["version"] = __version__
    return templates


class PageRedirect(DomainError):
    """A page needs something first (usually: sign in); the browser is sent there."""

    status = 303
    title = "See other"

    def __init__(self, location: str) -> None:
        super().__init__(f"continue at {location}")
        self.location = location


async def deployment_secret(request: Request) -> bytes:
    """The signing key: the setting when given, else the one kept in the database."""
    state = request.app.state
    cached: bytes | None = getattr(state, "web_secret", None)
    if cached is not None:
        return cached
    configured = state.settings.secret_key
    if configured:
        key = configured
    else:
        lock: asyncio.Lock = state.web_secret_lock
        async with lock:
            cached = getattr(state, "web_secret", None)
            if cached is not None:
                return cached
            async with state.db.session() as s:
                key = await secret_key(s)
    state.web_secret = key.encode()
    return state.web_secret


def _mac(secret: bytes, value: str) -> str:
    return hmac.new(secret, b"csrf:" + value.encode(), hashlib.sha256).hexdigest()[:40]


async def csrf_token(request: Request) -> str:
    """The CSRF token for this browser: bound to its session, or to its pre-sign-in cookie."""
    secret = await deployment_secret(request)
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        return _mac(secret, session)
    pre = request.cookies.get(PRESESSION_COOKIE) or getattr(request.state, "pre_session", None)
    if not pre:
        pre = secrets.token_urlsafe(24)
        request.state.pre_session = pre
    return _mac(secret, "pre:" + pre)


async def csrf_ok(request: Request, given: str | None) -> bool:
    if not given:
        return False
    return hmac.compare_digest(given, await csrf_token(request))


async def session_principal(request: Request, s: Any) -> Principal | None:
    """The person signed in by cookie, or ``None``."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    principal = await principal_for_token(s, raw, request.app.state.clock.now())
    if principal is not None:
        request.state.user_id = principal.id
    return principal


async def _page_user(request: Request) -> Principal:
    async with request.app.state.db.session() as s:
        who = await session_principal(request, s)
    if who is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise PageRedirect(f"/login?next={quote(target, safe='/')}")
    return who


class CsrfFailed(DomainError):
    status = 403
    title = "Forbidden"
    type = "csrf"

    def __init__(self) -> None:
        super().__init__("the form expired or did not come from this site; reload and retry")


async def _csrf_checked(request: Request) -> None:
    form = await request.form()
    given = form.get("csrf")
    if not await csrf_ok(request, given if isinstance(given, str) else None):
        raise CsrfFailed()


PageUser = Annotated[Principal, Depends(_page_user)]
CsrfForm = Annotated[None, Depends(_csrf_checked)]


def set_pre_session_cookie(request: Request, response: Any) -> None:
    pre = getattr(request.state, "pre_session", None)
    if pre:
        response.set_cookie(
            PRESESSION_COOKIE,
            pre,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )


def set_session_cookie(request: Request, response: Any, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_DAYS * 86400,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(PRESESSION_COOKIE, path="/")


def clear_session_cookie(response: Any) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


async def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    who: Principal | None = None,
    status: int = 200,
) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    ctx = {"who": who, "csrf": await csrf_token(request), **(context or {})}
    response = templates.TemplateResponse(request, name, ctx, status_code=status)
    set_pre_session_cookie(request, response)
    return response


def safe_next(target: str | None) -> str:
    """Only same-site paths: ``next=//evil.example`` must not send a person elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


async def page_error(
    request: Request, status: int, title: str, detail: str, exc: DomainError | None
) -> Response:
    """How a page shows a failure: sign-in redirects go through, the rest is a short page."""
    if isinstance(exc, PageRedirect):
        return redirect(exc.location)
    if isinstance(exc, DomainError) and exc.status == 404:
        detail = "This page does not exist, or it is not yours to see."
    response = await render(
        request, "error.html", {"title": title, "detail": detail}, status=status
    )
    for key, value in (exc.headers if exc else {}).items():
        response.headers[key] = value
    return response
