"""REST routes for applications, the skill taxonomy, assessments and the work overview."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from inlier.audit import service as audit
from inlier.experts import service
from inlier.experts.schemas import (
    ApplicationCreated,
    ApplicationIn,
    ApplicationOut,
    AssessmentIn,
    AssessmentOut,
    AttemptOut,
    AttemptResult,
    AttemptSubmitIn,
    DecisionIn,
    GradesIn,
    SkillIn,
    SkillOut,
    WorkOut,
)
from inlier.kit.auth import Admin, CurrentUser, OwnerOrAdmin, Tx
from inlier.kit.openapi import problems
from inlier.kit.pagination import Limit, decode_cursor, page

router = APIRouter(tags=["experts"])


@router.post(
    "/applications", status_code=201, response_model=ApplicationCreated, responses=problems(409)
)
async def apply(body: ApplicationIn, s: Tx, request: Request) -> dict[str, Any]:
    """Apply as an expert (no sign-in): the account can sign in at once, with status
    ``pending`` until an admin decides."""
    state = request.app.state
    address = request.client.host if request.client else None
    a = await service.apply(s, body, state.clock.now(), state.passwords, address)
    return {"id": str(a.id), "status": a.status}


@router.get("/applications", responses=problems(403))
async def list_applications(
    who: Admin,
    s: Tx,
    status: Literal["pending", "approved", "declined"] | None = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    rows = await service.list_applications(s, status, limit, decode_cursor(cursor))
    return page(rows, limit, key=lambda r: int(r["id"]))


@router.post(
    "/applications/{application_id}/decision",
    response_model=ApplicationOut,
    responses=problems(403, 404, 409),
)
async def decide(
    application_id: str, body: DecisionIn, who: Admin, s: Tx, request: Request
) -> dict[str, Any]:
    """Approve (an approved contributor) or decline (``reason`` required, shown to them)."""
    a = await service.decide(
        s, who, application_id, body.decision, body.reason, request.app.state.clock.now()
    )
    return await service.application_out(s, a)


@router.get("/skills", response_model=list[SkillOut])
async def list_skills(s: Tx) -> list[dict[str, Any]]:
    """The skill taxonomy: the defaults and every skill added to them (no sign-in needed)."""
    return await service.list_skills(s)


@router.post("/skills", status_code=201, response_model=SkillOut, responses=problems(403, 409))
async def create_skill(body: SkillIn, who: OwnerOrAdmin, s: Tx, request: Request) -> Any:
    skill = await service.create_skill(s, who, body, request.app.state.clock.now())
    return {"key": skill.key, "name": skill.name, "parent": skill.parent}


@router.post("/assessments", status_code=201, response_model=AssessmentOut, responses=problems(403))
async def create_assessment(
    body: AssessmentIn, who: OwnerOrAdmin, s: Tx, request: Request
) -> dict[str, Any]:
    now = request.app.state.clock.now()
    a = await service.create_assessment(s, who, body, now)
    return await service.assessment_view(s, who, a.id, now)


@router.get("/assessments", responses=problems())
async def list_assessments(who: CurrentUser, s: Tx, request: Request) -> dict[str, Any]:
    """The assessments open to you, with your attempts left, next attempt and best score."""
    rows = await service.list_assessments(s, who, request.app.state.clock.now())
    return {"data": rows, "next_cursor": None}


@router.post(
    "/assessments/{assessment_id}/attempts",
    status_code=201,
    response_model=AttemptOut,
    responses={
        **problems(404, 409),
        200: {"description": "The attempt you already have open"},
    },
)
async def start_attempt(
    assessment_id: str, who: CurrentUser, s: Tx, request: Request, response: Response
) -> dict[str, Any]:
    """Start an attempt (its items, without gold); an open attempt is returned again (200).
    Over the limit or inside the cooldown → 409 with ``retry_at`` and ``Retry-After``."""
    state = request.app.state
    attempt, created = await service.start_attempt(
        s, who, assessment_id, state.clock.now(), state.pg
    )
    if not created:
        response.status_code = 200
    return await service.attempt_out(s, attempt)


@router.post(
    "/assessment-attempts/{attempt_id}/submit",
    response_model=AttemptResult,
    responses=problems(404, 409),
)
async def submit_attempt(
    attempt_id: str, body: AttemptSubmitIn, who: CurrentUser, s: Tx, request: Request
) -> dict[str, Any]:
    """Grade the attempt: score, pass, the level granted, and feedback per item."""
    return await service.submit_attempt(s, who, attempt_id, body, request.app.state.clock.now())


@router.get("/assessments/{assessment_id}/grading", responses=problems(403, 404))
async def grading_queue(assessment_id: str, who: OwnerOrAdmin, s: Tx) -> dict[str, Any]:
    """Owners and admins: submitted attempts whose written answers wait for a grade, with the
    reference answers (the candidates are not named)."""
    return {"data": await service.grading_queue(s, assessment_id)}


@router.post(
    "/assessment-attempts/{attempt_id}/grades",
    response_model=AttemptResult,
    responses=problems(403, 404, 409),
)
async def grade_attempt(
    attempt_id: str, body: GradesIn, who: OwnerOrAdmin, s: Tx, request: Request
) -> dict[str, Any]:
    """Grade written answers (0..1, with feedback); the last grade settles the attempt's
    score and pass, sets the skill level on a pass, and tells the candidate."""
    now = request.app.state.clock.now()
    attempt = await service.grade_attempt(s, attempt_id, body.grades, now)
    out = service.result_out(attempt)
    diff = {"after": {"grades": [g.model_dump() for g in body.grades], "passed": out["passed"]}}
    await audit.record(s, who.id, "assessment.grade", f"attempt:{attempt.id}", diff, None)
    return out


@router.get("/me/work", response_model=WorkOut, responses=problems())
async def my_work(who: CurrentUser, s: Tx, request: Request) -> dict[str, Any]:
    """For each project you belong to or could qualify for: whether you may work it now,
    the reason if not, what would change it, and how many tasks are open."""
    now = request.app.state.clock.now()
    available = await service.available_work(s, who, now)
    return {"projects": await service.my_work(s, who, now, available)}


Status = Annotated[str | None, Query(max_length=16)]
