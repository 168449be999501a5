"""REST routes for quality: standing, the events behind it, appeals, and owners' views."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from inlier.accounts import service as accounts
from inlier.kit.auth import CurrentUser, Tx
from inlier.kit.ids import parse_id
from inlier.kit.openapi import problems
from inlier.kit.pagination import Limit, decode_cursor, page
from inlier.projects import service as projects
from inlier.quality import service
from inlier.quality.schemas import AppealDecisionIn, AppealIn
from inlier.quality.scoring import Thresholds

router = APIRouter(tags=["quality"])


def _now(request: Request) -> Any:
    return request.app.state.clock.now()


@router.get("/me/standing", responses=problems())
async def my_standing(who: CurrentUser, s: Tx, request: Request) -> dict[str, Any]:
    """My score on each project, its 90% credible interval, the thresholds and the reasons."""
    return {"projects": await service.my_standing(s, who, _now(request))}


@router.get("/me/quality-events", responses=problems(400, 404))
async def my_quality_events(
    who: CurrentUser,
    s: Tx,
    project_id: Annotated[str | None, Query(max_length=40)] = None,
    limit: Limit = 100,
    cursor: str | None = None,
) -> dict[str, Any]:
    """The events behind my scores, newest first (a gold check shows neither item nor time)."""
    if project_id is not None:
        parse_id(project_id, "project")
    rows = await service.my_events(s, who, project_id, limit + 1, decode_cursor(cursor))
    return page(rows, limit, lambda r: int(r["id"]))


@router.post("/appeals", status_code=201, responses=problems(404, 409))
async def file_appeal(body: AppealIn, who: CurrentUser, s: Tx, request: Request) -> dict[str, Any]:
    """Appeal my pause on a project, or (``response_id``) a rejection of my work; 409 when
    there is nothing to appeal or the same appeal is open."""
    appeal = await service.file_appeal(
        s, who, body.project_id, body.message, body.response_id, _now(request)
    )
    return service.appeal_out(appeal)


@router.get("/me/appeals", responses=problems())
async def my_appeals(who: CurrentUser, s: Tx, request: Request) -> dict[str, Any]:
    return {
        "data": [service.appeal_out(a) for a in await service.my_appeals(s, who, _now(request))]
    }


@router.post("/appeals/{appeal_id}/decision", responses=problems(403, 404, 409))
async def decide_appeal(
    appeal_id: str, body: AppealDecisionIn, who: CurrentUser, s: Tx, request: Request
) -> dict[str, Any]:
    """Owners of the project and admins: uphold, or reinstate (lifts the pause; a rejected
    piece of work counts as approved)."""
    appeal = await service.decide_appeal(
        s, who, appeal_id, body.decision, body.reason, _now(request)
    )
    return service.appeal_out(appeal)


@router.get("/projects/{project_id}/appeals", responses=problems(403, 404))
async def project_appeals(
    project_id: str,
    who: CurrentUser,
    s: Tx,
    request: Request,
    status: Annotated[str | None, Query(pattern="^(open|upheld|reinstated)$")] = None,
) -> dict[str, Any]:
    acc = await projects.manage(s, who, project_id)
    rows = await service.project_appeals(s, acc.project.id, status, _now(request))
    return {"data": [service.appeal_out(a) for a in rows]}


@router.get("/projects/{project_id}/quality", responses=problems(403, 404))
async def project_quality(project_id: str, who: CurrentUser, s: Tx) -> dict[str, Any]:
    """Owners: each contributor's score, volume, speed, gold accuracy and agreement, and the
    project's quality per week."""
    acc = await projects.manage(s, who, project_id)
    return {
        "thresholds": Thresholds.of(acc.project.quality).out(),
        "contributors": await service.contributors(s, acc.project),
        "weekly": await service.weekly_series(s, acc.project.id),
    }


@router.get("/projects/{project_id}/quality/{user_id}", responses=problems(403, 404))
async def person_quality(
    project_id: str, user_id: str, who: CurrentUser, s: Tx, limit: Limit = 200
) -> dict[str, Any]:
    """Owners: one contributor's standing and events on the project, gold details included."""
    acc = await projects.manage(s, who, project_id)
    person = await accounts.get_user(s, parse_id(user_id, "user"))
    return {
        "user_id": str(person.id),
        "name": person.name,
        "standing": await service.person_standing(s, acc.project, person.id),
        "events": await service.person_events(s, acc.project.id, person.id, limit),
        "responses": await service.person_responses(s, acc.project.id, person.id, limit),
    }
