"""Pages for quality: a contributor's standing, its events and appeals; owners' contributor
table, weekly chart, appeals to decide, and one person's work."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from inlier.accounts import service as accounts
from inlier.accounts.service import Principal
from inlier.kit.errors import Conflict, NotFound
from inlier.kit.ids import parse_id
from inlier.kit.web import CsrfForm, PageUser, redirect, render
from inlier.projects import service as projects
from inlier.quality import charts, service
from inlier.quality.scoring import Thresholds

router = APIRouter(include_in_schema=False)

EVENTS_SHOWN = 50
MESSAGE_MAX = 10_000

KIND_NAMES = {
    "gold": "Gold check",
    "review": "Review",
    "agreement": "Agreement",
    "speed": "Speed",
    "authenticity": "Authenticity",
    "review_audit": "Review audit",
    "appeal": "Appeal",
}
STATE_NAMES = {
    "ok": "In good standing",
    "warning": "Warning",
    "paused": "Paused",
    "reviewer": "Reviewer",
}
VERDICTS = {"approve": "approved", "improve": "improved", "reject": "rejected"}


def event_note(e: dict[str, Any], *, owner: bool = False) -> str:
    """What an event means, in plain words (a gold check never names its item to the person)."""
    d = e.get("detail") or {}
    kind = e["kind"]
    note = ""
    if kind == "gold":
        if d.get("graded_by") == "reviewer":
            note = "A reviewer graded the written answer against the reference answer."
        elif owner and d.get("questions"):
            note = "; ".join(
                f"{q['question']}: "
                + ("pending" if q.get("score") is None else f"{float(q['score']):.2f}")
                + (f" ({q['detail']})" if q.get("detail") else "")
                for q in d["questions"]
            )
        else:
            note = "A check against a known answer; which task it was is not shown."
    elif kind == "review":
        verdict = d.get("verdict")
        note = f"A reviewer {VERDICTS.get(verdict, verdict)} the work." if verdict else ""
        if verdict == "improve":
            note += " The value is how much of the answer the reviewer kept."
    elif kind == "agreement":
        others = d.get("others")
        note = f"Agreement with the answer most of the {others + 1} people gave." if others else ""
    elif kind == "speed":
        note = (
            f"{d.get('active_seconds')} s of active time; this project expects at least "
            f"{d.get('min_seconds')} s."
        )
    elif kind == "authenticity":
        if "similarity_to_model" in d:
            note = (
                f"The written answer is {round(100 * float(d['similarity_to_model']))}% "
                "similar to the model's output; sent for review."
            )
        elif "pasted_chars" in d:
            note = (
                f"{d['pasted_chars']} of {d.get('answer_chars')} characters were pasted; "
                "sent for review."
            )
    elif kind == "review_audit":
        note = (
            f"Your verdict ({d.get('verdict')}) against what the gold says of the same work "
            f"({d.get('gold_score')})."
        )
    elif kind == "appeal":
        note = "A rejection overturned on appeal counts as approved."
    if e.get("weight") == 0:
        note = (note + " Not counted in the score.").strip()
    return note


def _common() -> dict[str, Any]:
    return {
        "kind_names": KIND_NAMES,
        "state_names": STATE_NAMES,
        "event_note": event_note,
        "interval_bar": charts.interval_bar,
    }


# ---- contributors ----------------------------------------------------------------------------


async def _standing_context(request: Request, who: Principal) -> dict[str, Any]:
    now = request.app.state.clock.now()
    async with request.app.state.db.session() as s:
        rows = await service.my_standing(s, who, now)
        appeals = await service.my_appeals(s, who, now)
        events = {
            r["project_id"]: await service.my_events(s, who, r["project_id"], EVENTS_SHOWN, None)
            for r in rows
        }
    names = {r["project_id"]: r["name"] for r in rows}
    open_pause = {str(a.project_id) for a in appeals if a.kind == "pause" and a.status == "open"}
    return {
        "rows": rows,
        "events": events,
        "events_shown": EVENTS_SHOWN,
        "appeals": [service.appeal_out(a) for a in appeals],
        "names": names,
        "open_pause": open_pause,
        "message_max": MESSAGE_MAX,
        **_common(),
    }


@router.get("/standing", response_class=HTMLResponse)
async def standing_page(
    request: Request,
    who: PageUser,
    appealed: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    ctx = await _standing_context(request, who)
    ctx["appealed"] = ctx["names"].get(appealed or "")
    return await render(request, "quality/standing.html", ctx, who=who)


@router.post("/standing/appeals")
async def appeal_page(
    request: Request,
    who: PageUser,
    _csrf: CsrfForm,
    project_id: Annotated[str, Form(max_length=40)] = "",
    message: Annotated[str, Form(max_length=MESSAGE_MAX)] = "",
) -> Response:
    """File an appeal against a pause; the page says what is wrong when it cannot be filed."""
    error: str | None = None
    status = 422
    if not message.strip():
        error = "Say why the pause should be lifted: the project reads your message."
    else:
        try:
            async with request.app.state.db.session() as s:
                await service.file_appeal(
                    s, who, project_id, message.strip(), None, request.app.state.clock.now()
                )
        except Conflict as exc:
            error, status = exc.detail, 409
    if error is None:
        return redirect(f"/standing?appealed={project_id}#appeals")
    ctx = await _standing_context(request, who)
    ctx.update({"error": error, "error_project": project_id, "draft": message})
    # Shown beside the project's appeal form when it has one, else at the top of the page.
    ctx["error_in_card"] = any(
        r["project_id"] == project_id and r["state"] == "paused" for r in ctx["rows"]
    )
    return await render(request, "quality/standing.html", ctx, who=who, status=status)


# ---- owners ------------------------------------------------------------------------------------

SORTS = (
    "name",
    "score",
    "state",
    "responses",
    "approved",
    "rejected",
    "mean_seconds",
    "gold_accuracy",
    "agreement",
    "review_score",
    "reviewer_audit",
    "flags",
)


def _sorted(rows: list[dict[str, Any]], key: str, descending: bool) -> list[dict[str, Any]]:
    """Rows by a column; a missing value sorts last either way."""
    present = [r for r in rows if r.get(key) is not None]
    missing = [r for r in rows if r.get(key) is None]
    if key in ("name", "state"):
        present.sort(key=lambda r: (str(r[key]).lower(), int(r["user_id"])), reverse=descending)
    else:
        present.sort(key=lambda r: (r[key], -int(r["user_id"])), reverse=descending)
    return present + missing


async def _quality_context(
    request: Request, who: Principal, project_id: str, sort: str, order: str
) -> dict[str, Any]:
    now = request.app.state.clock.now()
    async with request.app.state.db.session() as s:
        acc = await projects.manage(s, who, project_id)
        rows = await service.contributors(s, acc.project)
        weekly = await service.weekly_series(s, acc.project.id)
        appeals = await service.project_appeals(s, acc.project.id, None, now)
    thresholds = Thresholds.of(acc.project.quality).out()
    names = {r["user_id"]: r["name"] for r in rows}
    key = sort if sort in SORTS else "name"
    descending = order == "desc"
    return {
        "project": acc.project,
        "thresholds": thresholds,
        "marks": charts.threshold_marks(thresholds),
        "appeal_days": (acc.project.quality or {}).get("appeal_days", 7),
        "rows": _sorted(rows, key, descending),
        "sort": key,
        "order": "desc" if descending else "asc",
        "sorts": SORTS,
        "chart": charts.weekly_chart(weekly, thresholds),
        "weekly": weekly,
        "appeals": [
            {**service.appeal_out(a), "user_id": str(a.user_id), "name": names.get(str(a.user_id))}
            for a in appeals
        ],
        "message_max": MESSAGE_MAX,
        **_common(),
    }


@router.get("/projects/{project_id}/quality", response_class=HTMLResponse)
async def quality_page(
    request: Request,
    project_id: str,
    who: PageUser,
    sort: Annotated[str, Query(max_length=20)] = "name",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "asc",
) -> Response:
    ctx = await _quality_context(request, who, project_id, sort, order)
    return await render(request, "quality/project.html", ctx, who=who)


@router.post("/projects/{project_id}/quality/appeals/{appeal_id}/decision")
async def decide_page(
    request: Request,
    project_id: str,
    appeal_id: str,
    who: PageUser,
    _csrf: CsrfForm,
    decision: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=MESSAGE_MAX)] = "",
) -> Response:
    """Uphold or reinstate an appeal on this project; both need a reason the person reads."""
    now = request.app.state.clock.now()
    error: str | None = None
    status = 422
    async with request.app.state.db.session() as s:
        acc = await projects.manage(s, who, project_id)
        wanted = parse_id(appeal_id, "appeal")
        appeals = await service.project_appeals(s, acc.project.id, None, now)
        if not any(a.id == wanted for a in appeals):
            raise NotFound("appeal not found")
    if decision not in ("uphold", "reinstate"):
        error = "Choose to uphold the decision or to reinstate."
    elif not reason.strip():
        error = "Give a reason: the person reads it."
    else:
        try:
            async with request.app.state.db.session() as s:
                await service.decide_appeal(s, who, wanted, decision, reason.strip(), now)
        except Conflict as exc:
            error, status = exc.detail, 409
    if error is None:
        return redirect(f"/projects/{acc.project.id}/quality#appeals")
    ctx = await _quality_context(request, who, project_id, "name", "asc")
    ctx.update({"error": error, "error_appeal": str(wanted), "draft": reason})
    return await render(request, "quality/project.html", ctx, who=who, status=status)


@router.get("/projects/{project_id}/quality/{user_id}", response_class=HTMLResponse)
async def person_page(request: Request, project_id: str, user_id: str, who: PageUser) -> Response:
    """One person's standing, events (gold details included) and attempts on the project."""
    now = request.app.state.clock.now()
    async with request.app.state.db.session() as s:
        acc = await projects.manage(s, who, project_id)
        uid = parse_id(user_id, "user")
        events = await service.person_events(s, acc.project.id, uid, 200)
        responses = await service.person_responses(s, acc.project.id, uid, 200)
        if not events and not responses:
            # Nobody without work here: the page must not tell who else has an account.
            raise NotFound("no work by this person on the project")
        person = await accounts.get_user(s, uid)
        standing = await service.person_standing(s, acc.project, uid)
        appeals = [
            service.appeal_out(a)
            for a in await service.project_appeals(s, acc.project.id, None, now)
            if a.user_id == uid
        ]
    return await render(
        request,
        "quality/person.html",
        {
            "project": acc.project,
            "person": person,
            "standing": standing,
            "events": events,
            "responses": responses,
            "appeals": appeals,
            **_common(),
        },
        who=who,
    )
