"""REST routes for doing the work: next, submit, heartbeat, skip, release, drafts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Request, Response
from fastapi.responses import JSONResponse

from inlier.kit.auth import CurrentUser, Tx
from inlier.kit.clock import iso
from inlier.kit.openapi import problems
from inlier.workflow import service
from inlier.workflow.schemas import DraftIn, HeartbeatIn, NextIn, SubmitIn

router = APIRouter(tags=["work"])


@router.post(
    "/assignments/next",
    responses={**problems(404, 409), 204: {"description": "Nothing to do; see Inlier-Reason"}},
)
async def next_assignment(
    who: CurrentUser,
    request: Request,
    s: Tx,
    body: Annotated[NextIn | None, Body()] = None,
) -> Any:
    """Your current lease, or a new one on the best slot you may work; 204 says why not."""
    state = request.app.state
    now = state.clock.now()
    project_id = body.project_id if body else None
    # One person's concurrent calls are serialized in the service (a row lock on PostgreSQL,
    # the single writer on SQLite), so they all get the same lease.
    out, reason = await service.next_assignment_out(
        s, who, project_id, now, state.pg, state.reclaim
    )
    if out is None:
        return Response(status_code=204, headers={"Inlier-Reason": reason or "queue_empty"})
    # Already plain JSON values: FastAPI's encoder would only walk it again.
    return JSONResponse(out)


@router.get("/assignments/{assignment_id}", responses=problems(404))
async def get_assignment(assignment_id: str, who: CurrentUser, s: Tx) -> dict[str, Any]:
    a = await service.own_assignment(s, who, assignment_id)
    return await service.assignment_out(s, a, None, with_draft=True)


@router.post(
    "/assignments/{assignment_id}/submit",
    status_code=201,
    responses={**problems(404, 409), 200: {"description": "The same key again: the original"}},
)
async def submit(
    assignment_id: str,
    body: SubmitIn,
    who: CurrentUser,
    s: Tx,
    request: Request,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    out, created = await service.submit_out(
        s, who, assignment_id, body, idempotency_key, request.app.state.clock.now()
    )
    return JSONResponse(out, status_code=201 if created else 200)


@router.post("/assignments/{assignment_id}/heartbeat", responses=problems(404, 409))
async def heartbeat(
    assignment_id: str, body: HeartbeatIn, who: CurrentUser, s: Tx, request: Request
) -> dict[str, Any]:
    a = await service.heartbeat(
        s, who, assignment_id, body.active_seconds, request.app.state.clock.now()
    )
    return {"id": str(a.id), "expires_at": iso(a.expires_at), "active_seconds": a.active_seconds}


@router.post("/assignments/{assignment_id}/skip", responses=problems(404, 409))
async def skip(assignment_id: str, who: CurrentUser, s: Tx, request: Request) -> dict[str, Any]:
    a = await service.give_back(s, who, assignment_id, "skip", request.app.state.clock.now())
    return {"id": str(a.id), "state": a.state}


@router.post("/assignments/{assignment_id}/release", responses=problems(404, 409))
async def release(assignment_id: str, who: CurrentUser, s: Tx, request: Request) -> dict[str, Any]:
    a = await service.give_back(s, who, assignment_id, "release", request.app.state.clock.now())
    return {"id": str(a.id), "state": a.state}


@router.put("/assignments/{assignment_id}/draft", responses=problems(404, 409))
async def save_draft(
    assignment_id: str, body: DraftIn, who: CurrentUser, s: Tx, request: Request
) -> dict[str, Any]:
    a = await service.save_draft(s, who, assignment_id, body.answer, request.app.state.clock.now())
    return {"id": str(a.id), "saved_at": iso(a.draft_saved_at)}
