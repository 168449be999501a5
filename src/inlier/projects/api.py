"""REST routes for projects, their members and items, stats and export."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from inlier.accounts.service import Principal
from inlier.audit import service as audit
from inlier.datasets import service as datasets
from inlier.kit.auth import CurrentUser, OwnerOrAdmin, Tx
from inlier.kit.errors import InvalidInput
from inlier.kit.middleware import NDJSON_TYPES
from inlier.kit.openapi import problems
from inlier.kit.pagination import Limit, decode_cursor, page
from inlier.projects import service
from inlier.projects.schemas import (
    CreatedOut,
    MemberIn,
    MemberOut,
    ProjectIn,
    ProjectOut,
    ProjectPatch,
)
from inlier.workflow import service as workflow

router = APIRouter(tags=["projects"])


@router.post("/projects", status_code=201, response_model=ProjectOut, responses=problems(403))
async def create_project(
    body: ProjectIn, who: OwnerOrAdmin, s: Tx, request: Request
) -> dict[str, Any]:
    now = request.app.state.clock.now()
    project = await service.create_project(s, who, body, now)
    await audit.record(
        s,
        who.id,
        "project.create",
        f"project:{project.id}",
        {"after": service.audit_view(project)},
        request.state.request_id,
        at=now,
    )
    return service.project_out(project, "owner")


@router.get("/projects", responses=problems())
async def list_projects(
    who: CurrentUser, s: Tx, limit: Limit = 50, cursor: str | None = None
) -> dict[str, Any]:
    rows = await service.list_projects(s, who, limit, decode_cursor(cursor))
    return page(rows, limit, key=lambda p: int(p["id"]))


@router.get("/projects/{project_id}", response_model=ProjectOut, responses=problems(404))
async def get_project(project_id: str, who: CurrentUser, s: Tx) -> dict[str, Any]:
    acc = await service.access(s, who, project_id)
    return service.project_out(acc.project, acc.role)


@router.patch(
    "/projects/{project_id}", response_model=ProjectOut, responses=problems(403, 404, 409)
)
async def patch_project(
    project_id: str, body: ProjectPatch, who: CurrentUser, s: Tx, request: Request
) -> dict[str, Any]:
    acc = await service.manage(s, who, project_id)
    now = request.app.state.clock.now()
    before = service.audit_view(acc.project)
    project = await service.patch_project(s, acc, body, now)
    await audit.record(
        s,
        who.id,
        "project.update",
        f"project:{project.id}",
        audit.changes(before, service.audit_view(project)),
        request.state.request_id,
        at=now,
    )
    return service.project_out(project, acc.role)


@router.get("/projects/{project_id}/stats", responses=problems(403, 404))
async def project_stats(project_id: str, who: CurrentUser, s: Tx) -> dict[str, Any]:
    acc = await service.manage(s, who, project_id)
    return await workflow.stats(s, acc.project.id)


@router.post(
    "/projects/{project_id}/members",
    status_code=201,
    response_model=MemberOut,
    responses=problems(403, 404),
)
async def add_member(
    project_id: str, body: MemberIn, who: CurrentUser, s: Tx, request: Request
) -> dict[str, Any]:
    acc = await service.manage(s, who, project_id)
    now = request.app.state.clock.now()
    m = await service.add_member(s, acc, body.user_id, body.role, now)
    await audit.record(
        s,
        who.id,
        "project.member_add",
        f"project:{acc.project.id}",
        {"after": {"user_id": str(m.user_id), "role": m.role}},
        request.state.request_id,
        at=now,
    )
    return {"project_id": str(m.project_id), "user_id": str(m.user_id), "role": m.role}


@router.get("/projects/{project_id}/members", responses=problems(403, 404))
async def list_members(
    project_id: str, who: CurrentUser, s: Tx, limit: Limit = 50, cursor: str | None = None
) -> dict[str, Any]:
    acc = await service.manage(s, who, project_id)
    rows = await service.list_members(s, acc.project.id, limit, decode_cursor(cursor))
    return page(rows, limit, key=lambda m: int(m["id"]))


_ITEMS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    }
}


@router.post(
    "/projects/{project_id}/items",
    status_code=201,
    response_model=CreatedOut,
    responses=problems(403, 404, 409),
    openapi_extra=_ITEMS_BODY,
)
async def import_items(
    project_id: str, who: CurrentUser, s: Tx, request: Request
) -> dict[str, Any]:
    """A JSON array, or NDJSON (one item a line); the batch is all-or-nothing."""
    acc = await service.manage(s, who, project_id)
    rows = _parse_items_body(await request.body(), request.headers.get("content-type", ""))
    now = request.app.state.clock.now()
    created = await service.import_items(s, acc, rows, now)
    await audit.record(
        s,
        who.id,
        "items.import",
        f"project:{acc.project.id}",
        {"after": {"created": created}},
        request.state.request_id,
        at=now,
    )
    return {"created": created}


def _parse_items_body(body: bytes, content_type: str) -> list[Any]:
    ctype = content_type.split(";")[0].strip().lower()
    try:
        if ctype in NDJSON_TYPES:
            rows: list[Any] = []
            # Lines end at \n only: U+2028 and friends may stand inside a JSON string. Rows
            # are counted as validation counts them: blank lines are not rows.
            for line in body.decode("utf-8").split("\n"):
                if line.strip():
                    n = len(rows) + 1
                    try:
                        rows.append(json.loads(line))
                    except (ValueError, RecursionError) as exc:
                        raise InvalidInput(
                            f"row {n}: not valid JSON ({exc})",
                            errors=[{"loc": ["body", n - 1], "msg": "not valid JSON"}],
                        ) from exc
            return rows
        parsed = json.loads(body)
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            "body: not UTF-8", errors=[{"loc": ["body"], "msg": "not UTF-8"}]
        ) from exc
    except (ValueError, RecursionError) as exc:
        # RecursionError: nesting deeper than the parser goes is not JSON we take either.
        raise InvalidInput(
            f"body: not valid JSON ({exc})", errors=[{"loc": ["body"], "msg": "not valid JSON"}]
        ) from exc
    if not isinstance(parsed, list):
        raise InvalidInput(
            "body: send a JSON array of items",
            errors=[{"loc": ["body"], "msg": "must be an array of items"}],
        )
    return parsed


@router.get("/projects/{project_id}/items", responses=problems(403, 404))
async def list_items(
    project_id: str, who: CurrentUser, s: Tx, limit: Limit = 50, cursor: str | None = None
) -> dict[str, Any]:
    acc = await service.manage(s, who, project_id)
    rows = await service.list_items(s, acc.project.id, limit, decode_cursor(cursor))
    return page(rows, limit, key=lambda i: int(i["id"]))


_EXPORT_CONTENT = {
    "application/x-ndjson": {"schema": {"type": "string"}},
    "text/csv": {"schema": {"type": "string"}},
    "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
    "application/x-tar": {"schema": {"type": "string", "format": "binary"}},
}


def _choice(values: tuple[str, ...], doc: str) -> Any:
    return Query(None, description=doc, json_schema_extra={"enum": list(values)})


@router.get(
    "/projects/{project_id}/export",
    responses={**problems(403, 404), 200: {"content": _EXPORT_CONTENT}},
)
async def export(
    project_id: str,
    who: CurrentUser,
    s: Tx,
    request: Request,
    format: str | None = _choice(datasets.FORMATS, "jsonl (default), csv, parquet or hf"),
    kind: str | None = _choice(datasets.KINDS, "raw (default) or a trainer dataset kind"),
    status: str | None = _choice(
        datasets.STATUSES, "default: all for raw, submitted for trainer kinds"
    ),
    form: str | None = _choice(datasets.FORMS, "trainer kinds: conversational (default)"),
    submitted_from: str | None = Query(None, description="RFC 3339; attempts at or after"),
    submitted_to: str | None = Query(None, description="RFC 3339; attempts before"),
    gold: str | None = _choice(
        datasets.GOLD, "items with a gold answer; default include for raw, exclude otherwise"
    ),
    split: str | None = Query(None, description="test fraction (0..1): adds a split column"),
    seed: str | None = Query(None, description="seed of the split by item (default 0)"),
    part: str | None = _choice(datasets.PARTS, "with split: only the train or test rows"),
    neutral_as: str | None = Query(None, description="stepwise: label of a 0 step (true)"),
    rewrites: str | None = Query(None, description="stepwise: the expert-corrected chain"),
    aggregate: str | None = Query(
        None, description="raw, ratings, ranking, preference: one row per item (consensus)"
    ),
    min_agreement: str | None = Query(
        None, description="with aggregate: drop items whose consensus confidence is below (0..1)"
    ),
) -> StreamingResponse:
    """Stream a dataset file; contributors appear only as per-project pseudonyms."""
    acc = await service.manage(s, who, project_id)
    return await export_file(s, who, acc, request)


async def export_file(
    s: Any, who: Principal, acc: service.Access, request: Request
) -> StreamingResponse:
    """The dataset file the query asks for (the API's export and the project page's form),
    recorded in the audit log in the caller's transaction."""
    opts = datasets.parse_options(dict(request.query_params))
    job = datasets.prepare(acc.project, opts)
    await datasets_audit(s, who.id, acc.project.id, opts, request)
    # Rows are read after the route returns, in their own short transactions.
    return StreamingResponse(
        job.stream(request.app.state.db),
        media_type=job.media_type,
        headers={"Content-Disposition": f'attachment; filename="{job.filename}"'},
    )


async def datasets_audit(
    s: Any, actor_id: int, project_id: int, opts: Any, request: Request
) -> None:
    """An export is recorded when it starts (what was asked for; the rows follow)."""
    await audit.record(
        s,
        actor_id,
        "export.create",
        f"project:{project_id}",
        {"after": {"kind": opts.kind, "format": opts.format, "filters": opts.filters()}},
        request.state.request_id,
        at=request.app.state.clock.now(),
    )
