"""REST routes for model in the loop: generate a field, read the latest generations."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from inlier.kit.auth import CurrentUser, Tx
from inlier.kit.errors import DomainError
from inlier.kit.openapi import problems
from inlier.llm import service
from inlier.llm.providers import Completion, Delta, ProviderError
from inlier.llm.schemas import GenerateIn, GenerationOut, LatestOut
from inlier.workflow import service as workflow

log = structlog.get_logger("inlier.llm")
router = APIRouter(tags=["work"])

SSE = "text/event-stream"
_SSE_DOC = {
    "description": (
        "With `Accept: text/event-stream`: `event: delta` chunks `{text}` as the model writes, "
        "then `event: done` with the generation (as in 201), or `event: error` with a problem"
    ),
    "content": {SSE: {"schema": {"type": "string"}}},
}


def problem_body(exc: DomainError) -> dict[str, Any]:
    """The problem+json object the error handler would send, for an SSE ``error`` event."""
    body: dict[str, Any] = {
        "type": f"https://inlier.dev/problems/{exc.type}",
        "title": exc.title,
        "status": exc.status,
        "detail": exc.detail,
    }
    if exc.errors is not None:
        body["errors"] = exc.errors
    body.update(exc.extra)
    return body


INTERNAL = {
    "type": "https://inlier.dev/problems/internal",
    "title": "Internal error",
    "status": 500,
    "detail": "an unexpected error occurred",
}


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.post(
    "/assignments/{assignment_id}/generate",
    status_code=201,
    response_model=GenerationOut,
    responses={**problems(404, 409, 429, 502), 200: _SSE_DOC},
)
async def generate(
    assignment_id: str, body: GenerateIn, who: CurrentUser, s: Tx, request: Request
) -> Any:
    """Fill a generated field of the template with the project's model (holder of the lease).

    After the first generation a field may be regenerated ``max_regenerations`` times (429
    after that). A provider failure is 502 and changes nothing the expert wrote.
    """
    state = request.app.state
    plan = await service.plan_generation(
        s, who, assignment_id, body, state.clock.now(), state.settings.llm_timeout_seconds
    )
    # The checks are done: end their transaction, so that no lock is held while the model
    # thinks (the session hands its connection back to the pool).
    await s.commit()
    if SSE in request.headers.get("accept", ""):
        return StreamingResponse(
            _stream(request, plan),
            media_type=SSE,
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    outcome = await service.run(plan)
    async with state.db.session() as s2:
        g = await service.record(s2, plan, outcome, state.clock.now())
        out = service.generation_out(g, service.left_after(plan))
    if outcome.error is not None:
        raise service.ProviderFailed(outcome.error)
    return JSONResponse(out, status_code=201)


async def _stream(request: Request, plan: service.Plan) -> AsyncIterator[str]:
    state = request.app.state
    started = time.perf_counter()
    outcome: service.Outcome | None = None
    try:
        async for event in plan.provider.stream(plan.call):
            if isinstance(event, Delta):
                yield sse("delta", {"text": event.text})
            elif isinstance(event, Completion):
                outcome = service.finish(plan, event, started)
    except ProviderError as exc:
        outcome = service.Outcome(service.elapsed_ms(started), error=str(exc))
    if outcome is None:
        outcome = service.Outcome(service.elapsed_ms(started), error="the model sent no answer")
    try:
        async with state.db.session() as s:
            g = await service.record(s, plan, outcome, state.clock.now())
            out = service.generation_out(g, service.left_after(plan))
    except DomainError as exc:
        yield sse("error", problem_body(exc))
        return
    except Exception:  # the stream has begun: an error can only be told as an event
        log.exception("recording a streamed generation failed")
        yield sse("error", INTERNAL)
        return
    if outcome.error is not None:
        yield sse("error", problem_body(service.ProviderFailed(outcome.error)))
    else:
        yield sse("done", out)


@router.get(
    "/assignments/{assignment_id}/generations",
    response_model=LatestOut,
    responses=problems(404),
)
async def latest_generations(assignment_id: str, who: CurrentUser, s: Tx) -> Any:
    """The latest generation of each field of your assignment, to pick up after a reload."""
    a = await workflow.own_assignment(s, who, assignment_id)
    return {"latest": await service.generations_for(s, a.id)}
