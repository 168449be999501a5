"""Pages for applicants (sign-up), admins deciding on them, and taking assessments."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from inlier.accounts import service as accounts
from inlier.experts import service
from inlier.experts.schemas import ApplicationIn
from inlier.experts.taxonomy import DEGREES, timezones
from inlier.kit.errors import Conflict, DomainError, Forbidden
from inlier.kit.web import (
    CsrfForm,
    PageUser,
    redirect,
    render,
    session_principal,
    set_session_cookie,
)
from inlier.privacy import service as privacy
from inlier.questions import REGISTRY, parse_template

router = APIRouter(include_in_schema=False)

# Before any privacy policy is published, sign-up records this version.
SIGNUP_POLICY_VERSION = "1"


async def _policy_version(s: Any, now: Any) -> str:
    """The version the sign-up form asks to accept: the policy in force, if there is one."""
    policy = await privacy.current_policy(s, now)
    return policy.version if policy is not None else SIGNUP_POLICY_VERSION


FIELD_NAMES = {
    "email": "Email",
    "name": "Name",
    "password": "Password",
    "country": "Country",
    "degree": "Highest degree",
    "specialties": "Specialties",
    "languages": "Languages",
    "timezone": "Time zone",
    "policy_version": "Privacy policy",
}


async def _signup_context(s: Any, values: dict[str, Any], now: Any) -> dict[str, Any]:
    skills = await service.list_skills(s)
    groups: dict[str, list[dict[str, Any]]] = {}
    names = {str(k["key"]): str(k["name"]) for k in skills}
    for k in skills:
        if k["parent"] is not None:
            top = str(k["key"]).split(".")[0]
            groups.setdefault(names.get(top, top), []).append(k)
    return {
        "values": values,
        "degrees": DEGREES,
        "groups": groups,
        "timezones": sorted(timezones()),
        "policy_version": await _policy_version(s, now),
    }


@router.get("/signup", response_class=HTMLResponse)
async def signup_page(request: Request) -> Response:
    async with request.app.state.db.session() as s:
        if await session_principal(request, s) is not None:
            return redirect("/")
        ctx = await _signup_context(
            s, {"timezone": "UTC", "specialties": []}, request.app.state.clock.now()
        )
    return await render(request, "experts/signup.html", ctx)


@router.post("/signup", response_class=HTMLResponse)
async def signup(
    request: Request,
    _csrf: CsrfForm,
    email: Annotated[str, Form(max_length=320)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    country: Annotated[str, Form(max_length=2)] = "",
    degree: Annotated[str, Form(max_length=40)] = "",
    specialties: Annotated[list[str] | None, Form()] = None,
    languages: Annotated[str, Form(max_length=1000)] = "",
    timezone: Annotated[str, Form(max_length=64)] = "",
    consent: Annotated[str, Form(max_length=10)] = "",
    policy_version: Annotated[str, Form(max_length=100)] = SIGNUP_POLICY_VERSION,
) -> Response:
    """Apply through the form: on success the applicant is signed in and sees their status."""
    state = request.app.state
    now = state.clock.now()
    values = {
        "email": email,
        "name": name,
        "country": country,
        "degree": degree,
        "specialties": specialties or [],
        "languages": languages,
        "timezone": timezone,
    }
    raw = {
        "email": email.strip(),
        "name": name.strip(),
        "password": password,
        "profile": {
            "country": country.strip().upper(),
            "degree": degree,
            "specialties": specialties or [],
            "languages": [x.strip() for x in languages.replace(";", ",").split(",") if x.strip()],
            "timezone": timezone or None,
        },
        "consent": {"policy_version": policy_version},
    }
    error = None
    field = None
    token = None
    if consent != "yes":
        error, field = "Please read and accept the privacy policy to apply.", "consent"
    else:
        try:
            body = ApplicationIn.model_validate(raw)
            async with state.db.session() as s:
                address = request.client.host if request.client else None
                a = await service.apply(s, body, now, state.passwords, address)
                user = await accounts.get_user(s, a.user_id)
                token = await accounts.issue_token(s, user, now=now, name="session", days=14)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = str(first["loc"][-1] if isinstance(first["loc"][-1], str) else first["loc"][-2])
            error = f"{FIELD_NAMES.get(field, field)}: {first['msg']}"
        except Conflict:
            error, field = "An account with this email already exists. Sign in instead.", "email"
        except DomainError as exc:
            loc = (exc.errors or [{"loc": []}])[0]["loc"]
            field = next((str(p) for p in reversed(loc) if isinstance(p, str)), None)
            error = exc.detail
    if token is None:
        async with state.db.session() as s:
            ctx = await _signup_context(s, values, now)
        ctx.update(error=error, error_field=field)
        return await render(request, "experts/signup.html", ctx, status=422)
    response = redirect("/assessments?welcome=1")
    set_session_cookie(request, response, token)
    return response


# ---- admins: applicants ----------------------------------------------------------------------


@router.get("/admin/applications", response_class=HTMLResponse)
async def applications_page(
    request: Request,
    who: PageUser,
    status: Annotated[str, Query(pattern="^(pending|approved|declined)$")] = "pending",
) -> Response:
    if not who.is_admin:
        raise Forbidden("only admins review applications")
    async with request.app.state.db.session() as s:
        rows = await service.list_applications(s, status, 1000, None)
        names = {str(k["key"]): str(k["name"]) for k in await service.list_skills(s)}
    return await render(
        request,
        "experts/applications.html",
        {"rows": rows, "status": status, "skill_names": names},
        who=who,
    )


@router.post("/admin/applications/{application_id}/decision")
async def decide_page(
    request: Request,
    application_id: str,
    who: PageUser,
    _csrf: CsrfForm,
    decision: Annotated[str, Form(pattern="^(approve|decline)$")],
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    if not who.is_admin:
        raise Forbidden("only admins review applications")
    async with request.app.state.db.session() as s:
        await service.decide(
            s, who, application_id, decision, reason, request.app.state.clock.now()
        )
    return redirect("/admin/applications?status=pending")


# ---- assessments -----------------------------------------------------------------------------


@router.get("/assessments", response_class=HTMLResponse)
async def assessments_page(
    request: Request, who: PageUser, welcome: Annotated[str | None, Query(max_length=2)] = None
) -> Response:
    now = request.app.state.clock.now()
    async with request.app.state.db.session() as s:
        rows = await service.list_assessments(s, who, now)
        work = await service.my_work(s, who, now, await service.available_work(s, who, now))
        application = await service.standing_of_application(s, who.id)
    return await render(
        request,
        "experts/assessments.html",
        {"rows": rows, "work": work, "welcome": bool(welcome), "application": application},
        who=who,
    )


@router.get("/assessments/{assessment_id}", response_class=HTMLResponse)
async def assessment_page(request: Request, assessment_id: str, who: PageUser) -> Response:
    now = request.app.state.clock.now()
    async with request.app.state.db.session() as s:
        view = await service.assessment_view(s, who, assessment_id, now)
        attempts = await service.my_attempts(s, who, view["id"])
    return await render(
        request, "experts/assessment.html", {"a": view, "attempts": attempts}, who=who
    )


@router.post("/assessments/{assessment_id}/start")
async def start_page(
    request: Request, assessment_id: str, who: PageUser, _csrf: CsrfForm
) -> Response:
    state = request.app.state
    now = state.clock.now()
    try:
        async with state.db.session() as s:
            attempt, _ = await service.start_attempt(s, who, assessment_id, now, state.pg)
    except service.AttemptRefused as exc:
        async with state.db.session() as s:
            view = await service.assessment_view(s, who, assessment_id, now)
            attempts = await service.my_attempts(s, who, view["id"])
        ctx = {"a": view, "attempts": attempts, "refused": exc.detail}
        return await render(request, "experts/assessment.html", ctx, who=who, status=409)
    return redirect(f"/assessment-attempts/{attempt.id}")


def _question_views(template: Any, item_id: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    """The workbench's question widgets, named per item so that many items share a page."""
    out = []
    for q in template.spec.questions:
        opts = REGISTRY[q.type].options(q)
        renamed = q.model_copy(
            update={
                "name": f"i{item_id}__{q.name}",
                "title": q.title or q.name.replace("_", " ").capitalize(),
            }
        )
        view: dict[str, Any] = {"q": renamed, "opts": opts, "question": q.name}
        if q.type == "text":
            view["min_length"] = opts.min_length
            view["max_length"] = opts.max_length
        if q.type == "step_review":
            steps = data.get(opts.steps_field)
            view["steps"] = steps if isinstance(steps, list) else []
            view["steps_generated"] = False
        out.append(view)
    return out


@router.get("/assessment-attempts/{attempt_id}", response_class=HTMLResponse)
async def attempt_page(request: Request, attempt_id: str, who: PageUser) -> Response:
    async with request.app.state.db.session() as s:
        attempt = await service.own_attempt(s, who, attempt_id)
        out = await service.attempt_out(s, attempt)
        a = await service.get_assessment(s, attempt.assessment_id)
    template = parse_template(out["template"], ["template"])
    items = [
        {
            "id": item["id"],
            "n": n,
            "data": item["data"],
            "questions": _question_views(template, item["id"], item["data"]),
        }
        for n, item in enumerate(out["items"], start=1)
    ]
    result = service.result_out(attempt) if attempt.state == service.SUBMITTED else None
    return await render(
        request,
        "experts/attempt.html",
        {
            "a": a,
            "attempt": out,
            "template": template,
            "items": items,
            "result": result,
            "boot": {"attempt_id": out["id"], "assessment_id": str(a.id)},
        },
        who=who,
    )
