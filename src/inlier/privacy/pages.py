"""Pages for privacy: accepting the policy in force, and the account page (see my data,
download it, delete my account)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from inlier.accounts import service as accounts
from inlier.kit.web import CsrfForm, PageUser, clear_session_cookie, redirect, render
from inlier.privacy import service
from inlier.privacy.api import client_address, request_id, zip_response

router = APIRouter(include_in_schema=False)


@router.get("/consent", response_class=HTMLResponse)
async def consent_page(request: Request, who: PageUser) -> Response:
    """The policy in force, what changed since the version you accepted, and an accept form."""
    async with request.app.state.db.session() as s:
        view = await service.consent_view(s, who, request.app.state.clock.now())
    return await render(request, "privacy/consent.html", {"view": view}, who=who)


@router.post("/consent")
async def accept(
    request: Request,
    who: PageUser,
    _csrf: CsrfForm,
    policy_version: Annotated[str, Form(max_length=50)] = "",
) -> Response:
    async with request.app.state.db.session() as s:
        await service.accept(
            s, who, policy_version, client_address(request), request.app.state.clock.now()
        )
    return redirect("/")


@router.get("/account", response_class=HTMLResponse)
async def account_page(request: Request, who: PageUser) -> Response:
    async with request.app.state.db.session() as s:
        user = await accounts.get_user(s, who.id)
        skills = await accounts.skills_of(s, who.id)
        view = await service.consent_view(s, who, request.app.state.clock.now())
    return await render(
        request, "privacy/account.html", {"user": user, "skills": skills, "view": view}, who=who
    )


@router.get("/account/data-export")
async def account_data_export(request: Request, who: PageUser) -> Response:
    """The "Download my data" link: the same zip as ``GET /api/v1/me/data-export``."""
    async with request.app.state.db.session() as s:
        fh = await service.data_export(s, who.id, request.app.state.clock.now())
    return zip_response(fh, who.id)


@router.post("/account/delete", response_class=HTMLResponse)
async def delete_account(
    request: Request,
    who: PageUser,
    _csrf: CsrfForm,
    confirm: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    """Erase the account once the person has typed their email to confirm."""
    if confirm.strip().lower() != who.email.lower():
        async with request.app.state.db.session() as s:
            user = await accounts.get_user(s, who.id)
            skills = await accounts.skills_of(s, who.id)
            view = await service.consent_view(s, who, request.app.state.clock.now())
        ctx = {
            "user": user,
            "skills": skills,
            "view": view,
            "delete_error": "Type your email exactly as shown to confirm.",
        }
        return await render(request, "privacy/account.html", ctx, who=who, status=400)
    async with request.app.state.db.session() as s:
        await service.erase(s, who.id, who.id, request.app.state.clock.now(), request_id(request))
    response = await render(request, "privacy/erased.html", {}, who=None)
    clear_session_cookie(response)
    return response


@router.get("/privacy", response_class=HTMLResponse)
async def policy_page(request: Request) -> Response:
    """The privacy policy in force, for anyone (people read it before they apply)."""
    async with request.app.state.db.session() as s:
        policy = await service.current_policy(s, request.app.state.clock.now())
    return await render(request, "privacy/policy.html", {"policy": policy})
