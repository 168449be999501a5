"""Pages for owners: their projects and how the work on each is going."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from inlier.datasets import service as datasets
from inlier.kit.errors import Forbidden
from inlier.kit.web import PageUser, render
from inlier.pay import service as pay
from inlier.pay.rules import money
from inlier.projects import service
from inlier.projects.api import export_file
from inlier.workflow import service as workflow

router = APIRouter(include_in_schema=False)


def _progress(stats: dict[str, Any]) -> dict[str, Any]:
    slots = stats["slots"]
    total = sum(slots.values()) or 1
    reviews = stats["reviews"]
    reviewed = sum(reviews.values())
    return {
        "done_pct": round(100 * slots["done"] / total, 1),
        "leased_pct": round(100 * slots["leased"] / total, 1),
        "open_pct": round(100 * slots["open"] / total, 1),
        "approval_pct": (
            round(100 * (reviews["approved"] + reviews["improved"]) / reviewed, 1)
            if reviewed
            else None
        ),
    }


@router.get("/projects", response_class=HTMLResponse)
async def projects_page(request: Request, who: PageUser) -> Response:
    if not who.has("owner", "admin"):
        raise Forbidden("only owners and admins manage projects")
    async with request.app.state.db.session() as s:
        rows = []
        for acc in await service.managed_projects(s, who):
            stats = await workflow.stats(s, acc.project.id)
            rows.append({"project": acc.project, "stats": stats, "progress": _progress(stats)})
    return await render(request, "projects.html", {"rows": rows}, who=who)


@router.get("/projects/{project_id}", response_class=HTMLResponse)
async def project_page(
    request: Request,
    project_id: str,
    who: PageUser,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
) -> Response:
    now = request.app.state.clock.now()
    async with request.app.state.db.session() as s:
        acc = await service.manage(s, who, project_id)
        stats = await workflow.stats(s, acc.project.id)
        members = await service.list_members(s, acc.project.id, limit=10_000, after=None)
        costs = await pay.project_costs(
            s, acc.project, pay.parse_day(start, "from"), pay.parse_day(end, "to"), now, top=20
        )
    return await render(
        request,
        "project.html",
        {
            "project": acc.project,
            "template": acc.template,
            "stats": stats,
            "progress": _progress(stats),
            "costs": costs,
            "money": money,
            "kinds": datasets.KINDS,
            "formats": datasets.FORMATS,
            "roles": {
                role: sum(1 for m in members if m["role"] == role)
                for role in ("owner", "reviewer", "contributor")
            },
        },
        who=who,
    )


@router.get("/projects/{project_id}/download")
async def download(request: Request, project_id: str, who: PageUser) -> Response:
    """The export form's target: the same file as ``GET /api/v1/projects/{id}/export``."""
    async with request.app.state.db.session() as s:
        acc = await service.manage(s, who, project_id)
        return await export_file(s, who, acc, request)
