"""Pages for doing the work: the contributor's home and the workbench."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from inlier.experts import service as experts
from inlier.forum import service as forum
from inlier.kit.clock import iso
from inlier.kit.web import CsrfForm, PageUser, redirect, render
from inlier.projects import service as projects
from inlier.projects.models import Project
from inlier.questions import REGISTRY, Template
from inlier.workflow import overview, service
from inlier.workflow.service import REVIEW

router = APIRouter(include_in_schema=False)

# What each reason for an empty queue means to the person, and what would change it.
REASONS = {
    "queue_empty": (
        "Nothing is waiting for you right now.",
        "Every open task is leased, done, or one you have already worked. Check back later.",
    ),
    "no_eligible_project": (
        "No project is open to you yet.",
        "An owner adds you to a project, or an open project's requirements match your skills.",
    ),
    "not_approved": (
        "Your account is not approved yet.",
        "An admin reviews new accounts; you can work once yours is approved.",
    ),
    "paused": (
        "Your work on this project is paused.",
        "Your standing page explains why and how to appeal.",
    ),
    "assessment_required": (
        "This project needs an assessment first.",
        "Pass the project's assessment to start.",
    ),
    "consent_required": (
        "Please accept the current privacy policy.",
        "Work resumes once you have read and accepted it.",
    ),
    "inactive": ("This project is not active.", "Its owner has paused or completed it."),
}


@router.get("/", response_class=HTMLResponse)
async def home(
    request: Request,
    who: PageUser,
    reason: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    now = request.app.state.clock.now()
    async with request.app.state.db.session() as s:
        queues = await overview.my_queues(s, who, now)
        feedback = await overview.my_feedback(s, who)
        counts = await overview.my_counts(s, who)
        available = {q.project.id: q.open_attempts + (q.open_reviews or 0) for q in queues}
        # The projects not open to this person, with why and what would change it.
        blocked = [
            row for row in await experts.my_work(s, who, now, available) if not row["eligible"]
        ]
    return await render(
        request,
        "home.html",
        {
            "queues": queues,
            "feedback": feedback,
            "counts": counts,
            "blocked": blocked,
            "reason": REASONS.get(reason or ""),
            "reason_code": reason if reason in REASONS else None,
            "cap": overview.QUEUE_COUNT_CAP,
        },
        who=who,
    )


@router.post("/work/next")
async def start_working(
    request: Request,
    who: PageUser,
    _csrf: CsrfForm,
    project_id: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """The "Start working" button: the held lease, or the next one, or home with the reason."""
    state = request.app.state
    async with state.db.session() as s:
        a, _, reason = await service.next_assignment(
            s, who, project_id or None, state.clock.now(), state.pg, state.reclaim
        )
    if a is None:
        return redirect(f"/?reason={reason or 'queue_empty'}")
    return redirect(f"/work/{a.id}")


def _questions_view(template: Template, data: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for q in template.spec.questions:
        opts = REGISTRY[q.type].options(q)
        view: dict[str, Any] = {"q": q, "opts": opts}
        if q.type == "text":
            view["min_length"] = q.min_length if q.min_length is not None else opts.min_length
            view["max_length"] = q.max_length if q.max_length is not None else opts.max_length
        if q.type == "step_review":
            steps = data.get(opts.steps_field)
            view["steps"] = steps if isinstance(steps, list) else []
            view["steps_generated"] = template.fields[opts.steps_field].generated is not None
        out.append(view)
    return out


@router.get("/work/{assignment_id}", response_class=HTMLResponse)
async def workbench(request: Request, assignment_id: str, who: PageUser) -> Response:
    now = request.app.state.clock.now()
    async with request.app.state.db.session() as s:
        a = await service.own_assignment(s, who, assignment_id)
        project = await s.get(Project, a.project_id)
        assert project is not None
        # What the API's GET /assignments/{id} shows: the item, the attempt under review, the
        # draft, and the latest generations (the author's, when reviewing).
        view = await service.assignment_out(s, a, projects.Access(project, None), with_draft=True)
        pinned = await forum.pinned_answers(s, project.id)
    template = projects.template_of(project)
    live = a.state == "active" and a.expires_at > now
    generations: dict[str, Any] = view.get("generations", {})
    under_review: dict[str, Any] | None = view["under_review"]
    data = {**view["item"]["data"], **{name: g["value"] for name, g in generations.items()}}
    draft = view["draft"]
    return await render(
        request,
        "workbench.html",
        {
            "a": a,
            "live": live,
            "project": project,
            "template": template,
            "data": data,
            "questions": _questions_view(template, data),
            "under_review": under_review,
            "generations": generations,
            "can_generate": live and a.stage != REVIEW,
            "pinned": pinned,
            "boot": {
                "assignment_id": str(a.id),
                "project_id": str(project.id),
                "stage": a.stage,
                "expires_at": iso(a.expires_at),
                "now": iso(now),
                "active_seconds": a.active_seconds,
                "lease_minutes": project.lease_minutes,
                "draft": draft["answer"] if draft else None,
                "draft_saved_at": draft["saved_at"] if draft else None,
                "under_review": under_review["answer"] if under_review is not None else None,
                "generation_ids": (
                    {name: g["generation_id"] for name, g in generations.items()}
                    if a.stage != REVIEW
                    else {}
                ),
            },
        },
        who=who,
    )
