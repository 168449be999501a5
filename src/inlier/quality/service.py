"""Quality signals as events, the standing they fold into, and appeals.

Every signal is one ``QualityEvent``; the person's ``Standing`` on the project (and their
``SkillScore`` in each skill the project requires) is updated from it at once, in the same
transaction — never by rescanning history. A standing row is locked before its event is
written, so events fold in the order of their ids and a recomputation gives the same score.
"""

from __future__ import annotations

import difflib
import json
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, Integer, cast, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from inlier.accounts.service import Principal
from inlier.audit import service as audit
from inlier.kit.clock import iso
from inlier.kit.errors import Conflict, InvalidInput, NotFound
from inlier.kit.ids import parse_id
from inlier.notify import service as notify
from inlier.projects import service as projects
from inlier.projects.models import Membership, Project
from inlier.quality import scoring
from inlier.quality.models import Appeal, QualityEvent, SkillScore, Standing
from inlier.quality.scoring import PAUSED, REVIEWER, WARNING, Evidence, Thresholds
from inlier.questions import REGISTRY, Template, grade_answer
from inlier.workflow.models import Response

# Kinds of event a person sees with their item and time; a gold check is shown without
# either, so no payload ever says which item was gold.
KINDS = ("gold", "review", "agreement", "speed", "authenticity", "review_audit", "appeal")
SIMILAR_TO_MODEL = 0.9  # a written answer this close to the model's output is flagged
MIN_COMPARED_CHARS = 40
PASTED_SHARE = 0.9


@dataclass(frozen=True)
class ProjectRules:
    """What recording an event needs of its project (callers often hold these as columns)."""

    id: int
    quality: dict[str, Any]
    requirements: dict[str, Any]

    @classmethod
    def of(cls, p: Project) -> ProjectRules:
        return cls(p.id, p.quality or {}, p.requirements or {})


def _upsert(s: AsyncSession) -> Any:
    return pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert


async def record(
    s: AsyncSession,
    project: ProjectRules,
    user_id: int,
    kind: str,
    value: float,
    now: datetime,
    *,
    weight: float = 1.0,
    item_id: int | None = None,
    response_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> Standing:
    """Store one event and fold it into the person's standing and skill scores."""
    value = min(1.0, max(0.0, float(value)))
    skills = sorted((project.requirements.get("skills") or {}).keys())
    ins = _upsert(s)
    await s.execute(
        ins(Standing)
        .values(project_id=project.id, user_id=user_id, updated_at=now)
        .on_conflict_do_nothing(index_elements=["project_id", "user_id"])
    )
    standing = (
        await s.execute(
            select(Standing)
            .where(Standing.project_id == project.id, Standing.user_id == user_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    scores: list[SkillScore] = []
    for skill in skills:
        await s.execute(
            ins(SkillScore)
            .values(user_id=user_id, skill=skill, updated_at=now)
            .on_conflict_do_nothing(index_elements=["user_id", "skill"])
        )
        scores.append(
            (
                await s.execute(
                    select(SkillScore)
                    .where(SkillScore.user_id == user_id, SkillScore.skill == skill)
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
            ).scalar_one()
        )
    event_id = (
        await s.execute(
            insert(QualityEvent)
            .values(
                project_id=project.id,
                user_id=user_id,
                kind=kind,
                value=value,
                weight=weight,
                item_id=item_id,
                response_id=response_id,
                detail={**(detail or {}), "skills": skills},
                created_at=now,
            )
            .returning(QualityEvent.id)
        )
    ).scalar_one()
    e = Evidence(standing.good, standing.bad, standing.events).add(value, weight)
    standing.good, standing.bad, standing.events = e.good, e.bad, e.events
    standing.last_event_id = event_id
    standing.updated_at = now
    for sc in scores:
        se = Evidence(sc.good, sc.bad, sc.events).add(value, weight)
        sc.good, sc.bad, sc.events, sc.updated_at = se.good, se.bad, se.events, now
    state, reason = scoring.next_state(
        standing.state, e, standing.events_at_reinstatement, Thresholds.of(project.quality)
    )
    if state != standing.state:
        await _change_state(s, standing, state, reason, now)
    await s.flush()
    return standing


_STATE_TITLES = {
    PAUSED: "Your work on a project is paused",
    WARNING: "Your quality score needs attention",
    REVIEWER: "You may now review on a project",
    scoring.OK: "Your standing on a project is back to normal",
}


async def _change_state(
    s: AsyncSession, standing: Standing, state: str, reason: str | None, now: datetime
) -> None:
    before = standing.state
    standing.state, standing.reason, standing.state_since = state, reason, now
    project = await s.get(Project, standing.project_id)
    name = project.name if project else "a project"
    body = f"{name}: {reason}" if reason else f"{name}: your standing is {state}."
    if state == PAUSED:
        body += " You can appeal on your standing page; the project answers by its deadline."
        await audit.record(
            s,
            None,
            "standing.pause",
            f"user:{standing.user_id}",
            {"project_id": standing.project_id, "before": before, "reason": reason},
            None,
            at=now,
        )
    await notify.send(
        s, standing.user_id, f"standing.{state}", _STATE_TITLES[state], body, "/standing", now
    )


# ---- signals from the queue ----------------------------------------------------------------


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(_text_of(v) for v in value)
    if isinstance(value, dict):
        return _text_of(value.get("content", ""))
    return ""


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def kept_share(template: Template, before: dict[str, Any], after: dict[str, Any]) -> float:
    """How much of an answer a reviewer's improvement kept, 0..1: each question's own
    grade of the original against the improved version, text by similarity."""
    shares: list[float] = []
    for name, q in template.questions.items():
        old, new = before.get(name), after.get(name)
        if old is None and new is None:
            continue
        if old == new:
            shares.append(1.0)
        elif old is None or new is None:
            shares.append(0.0)
        elif q.type == "text":
            shares.append(similarity(_text_of(old), _text_of(new)))
        else:
            g = REGISTRY[q.type].grade(q, old, new).score
            shares.append(0.0 if g is None else min(1.0, max(0.0, float(g))))
    return sum(shares) / len(shares) if shares else 1.0


@dataclass
class AttemptSignals:
    """What submitting an attempt recorded; ``review`` asks for the attempt to be reviewed."""

    review: bool = False


async def on_attempt(
    s: AsyncSession,
    project: ProjectRules,
    template: Template,
    response_id: int,
    user_id: int,
    item_id: int,
    item_gold: dict[str, Any] | None,
    answer: dict[str, Any],
    active_seconds: int,
    generated: dict[str, Any],
    authenticity: dict[str, Any] | None,
    now: datetime,
) -> AttemptSignals:
    """Gold checks, speed and authenticity of one attempt, in the submission's transaction."""
    out = AttemptSignals()
    q = project.quality
    if item_gold:
        questions, score = grade_answer(template, item_gold, answer)
        if score is not None:
            await record(
                s,
                project,
                user_id,
                "gold",
                score,
                now,
                item_id=item_id,
                response_id=response_id,
                detail={"questions": questions},
            )
        if any(x["score"] is None for x in questions):
            out.review = True  # a written gold answer is graded by a reviewer
    min_seconds = q.get("min_seconds")
    if min_seconds and active_seconds < min_seconds:
        await record(
            s,
            project,
            user_id,
            "speed",
            0.0,
            now,
            item_id=item_id,
            response_id=response_id,
            detail={"active_seconds": active_seconds, "min_seconds": min_seconds},
        )
        out.review = True
    if await _authenticity(
        s, project, template, response_id, user_id, item_id, answer, generated, authenticity, now
    ):
        out.review = True
    return out


async def _authenticity(
    s: AsyncSession,
    project: ProjectRules,
    template: Template,
    response_id: int,
    user_id: int,
    item_id: int,
    answer: dict[str, Any],
    generated: dict[str, Any],
    authenticity: dict[str, Any] | None,
    now: datetime,
) -> bool:
    """Flag a written answer nearly identical to the model's output (scored 0, reviewed) and
    one pasted almost whole (reviewed; informational, weight 0)."""
    texts = {
        name: _text_of(answer.get(name))
        for name, q in template.questions.items()
        if q.type == "text" and answer.get(name)
    }
    if not texts:
        return False
    flagged = False
    outputs = [_text_of(v) for v in generated.values()]
    for name, text in texts.items():
        if len(text) < MIN_COMPARED_CHARS:
            continue
        best = max((similarity(text, o) for o in outputs if o), default=0.0)
        if best >= SIMILAR_TO_MODEL:
            await record(
                s,
                project,
                user_id,
                "authenticity",
                0.0,
                now,
                item_id=item_id,
                response_id=response_id,
                detail={"question": name, "similarity_to_model": round(best, 3)},
            )
            flagged = True
    if authenticity:
        total = sum(len(t) for t in texts.values())
        pasted = int(authenticity.get("pasted_chars") or 0)
        if total >= MIN_COMPARED_CHARS and pasted >= PASTED_SHARE * total:
            await record(
                s,
                project,
                user_id,
                "authenticity",
                0.0,
                now,
                weight=0.0,
                item_id=item_id,
                response_id=response_id,
                detail={
                    "pasted_chars": pasted,
                    "answer_chars": total,
                    "typing_seconds": authenticity.get("typing_seconds"),
                },
            )
            flagged = True
    return flagged


async def on_review(
    s: AsyncSession,
    project: ProjectRules,
    template: Template,
    target: Response,
    gold: dict[str, Any] | None,
    reviewer_id: int,
    review_id: int,
    verdict: str,
    improved: dict[str, Any] | None,
    now: datetime,
) -> None:
    """A verdict scores the author (approve 1, improve by how much was kept, reject 0); on a
    gold item (``gold``: the item's, which the submission already read) it grades a written
    answer, and it audits the reviewer against the gold."""
    if verdict == "improve" and improved is not None:
        value = kept_share(template, target.answer or {}, improved)
    else:
        value = scoring.VERDICT_VALUE[verdict]
    detail: dict[str, Any] = {"verdict": verdict, "review_id": str(review_id)}
    if not gold:
        await record(
            s,
            project,
            target.user_id,
            "review",
            value,
            now,
            item_id=target.item_id,
            response_id=target.id,
            detail=detail,
        )
        return
    questions, auto = grade_answer(template, gold, target.answer or {})
    if any(x["score"] is None for x in questions):
        # The reviewer grades the written part against the reference answer.
        await record(
            s,
            project,
            target.user_id,
            "gold",
            value,
            now,
            item_id=target.item_id,
            response_id=target.id,
            detail={**detail, "graded_by": "reviewer"},
        )
    if auto is not None:
        # The verdict against what the gold says of the same attempt: a harsh or lenient
        # reviewer drifts away from it.
        expected = scoring.VERDICT_VALUE[verdict]
        await record(
            s,
            project,
            reviewer_id,
            "review_audit",
            1.0 - abs(expected - auto),
            now,
            item_id=target.item_id,
            response_id=review_id,
            detail={"verdict": verdict, "gold_score": round(auto, 3)},
        )


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def consensus(template: Template, answers: list[dict[str, Any]]) -> dict[str, Any]:
    """Per question, the answer more than half of ``answers`` gave (written ones excluded)."""
    out: dict[str, Any] = {}
    for name, q in template.questions.items():
        if q.type == "text":
            continue
        values = [a[name] for a in answers if a.get(name) is not None]
        if not values:
            continue
        key, n = Counter(_key(v) for v in values).most_common(1)[0]
        if n * 2 > len(answers):
            out[name] = json.loads(key)
    return out


async def on_item_complete(
    s: AsyncSession,
    project: ProjectRules,
    template: Template,
    item_id: int,
    overlap: int,
    now: datetime,
) -> None:
    """When an overlapped item has all its attempts, each author is scored by agreement
    with the others' consensus."""
    rows = (
        await s.execute(
            select(Response.id, Response.user_id, Response.answer).where(
                Response.item_id == item_id,
                Response.stage == "attempt",
                Response.status != "rejected",
            )
        )
    ).all()
    if len(rows) != overlap:
        return
    agreed = consensus(template, [r.answer or {} for r in rows])
    if not agreed:
        return
    for r in rows:
        _, score = grade_answer(template, agreed, r.answer or {})
        if score is None:
            continue
        await record(
            s,
            project,
            r.user_id,
            "agreement",
            score,
            now,
            item_id=item_id,
            response_id=r.id,
            detail={"questions": sorted(agreed), "others": overlap - 1},
        )


# ---- what a person sees ------------------------------------------------------------------


def standing_out(st: Standing | None, project: Project) -> dict[str, Any]:
    t = Thresholds.of(project.quality)
    e = Evidence(st.good, st.bad, st.events) if st else Evidence()
    lo, hi = e.interval
    reasons: list[str] = []
    if st is not None and st.reason:
        reasons.append(st.reason)
    if e.events < t.min_events:
        reasons.append(
            f"{e.events} of {t.min_events} checked tasks so far: nothing is decided on fewer."
        )
    return {
        "project_id": str(project.id),
        "name": project.name,
        "score": round(e.score, 4),
        "interval": [round(lo, 4), round(hi, 4)],
        "events": e.events,
        "state": st.state if st else scoring.OK,
        "since": iso(st.state_since) if st else None,
        "thresholds": t.out(),
        "reasons": reasons,
    }


async def my_standing(s: AsyncSession, who: Principal, now: datetime) -> list[dict[str, Any]]:
    """Every project where the person has a score or may work."""
    await settle_overdue(s, now, user_id=who.id)
    rows = (
        await s.execute(
            select(Standing, Project)
            .join(Project, Project.id == Standing.project_id)
            .where(Standing.user_id == who.id)
            .order_by(Project.id)
        )
    ).all()
    out = [standing_out(st, p) for st, p in rows]
    seen = {st.project_id for st, _ in rows}
    for acc in await projects.workable_projects(s, who, now):
        if acc.project.id not in seen and acc.project.quality:
            out.append(standing_out(None, acc.project))
    return out


def event_out(e: QualityEvent, *, owner: bool = False) -> dict[str, Any]:
    hidden = e.kind == "gold" and not owner
    detail = {k: v for k, v in (e.detail or {}).items() if k != "skills"}
    if hidden:
        detail = {}  # the grading detail would name the expected answer
    return {
        "id": str(e.id),
        "kind": e.kind,
        "value": round(e.value, 4),
        "weight": e.weight,
        # A gold check shows its day only, and no item: nothing says which item was gold.
        "at": e.created_at.date().isoformat() if hidden else iso(e.created_at),
        "item_id": None if hidden or e.item_id is None else str(e.item_id),
        "detail": detail,
    }


async def my_events(
    s: AsyncSession,
    who: Principal,
    project_id: str | None,
    limit: int,
    after: int | None,
) -> list[dict[str, Any]]:
    q = select(QualityEvent).where(QualityEvent.user_id == who.id)
    if project_id is not None:
        q = q.where(QualityEvent.project_id == parse_id(project_id, "project"))
    if after is not None:
        q = q.where(QualityEvent.id < after)
    rows = (await s.execute(q.order_by(QualityEvent.id.desc()).limit(limit))).scalars()
    return [event_out(e) for e in rows]


# ---- appeals -----------------------------------------------------------------------------


def appeal_out(a: Appeal) -> dict[str, Any]:
    return {
        "id": str(a.id),
        "project_id": str(a.project_id),
        "kind": a.kind,
        "response_id": None if a.response_id is None else str(a.response_id),
        "message": a.message,
        "status": a.status,
        "decision": {
            "reinstated": "reinstate",
            "upheld": "uphold",
        }.get(a.status),
        "reason": a.decision_reason,
        "due_at": iso(a.due_at),
        "decided_at": iso(a.decided_at),
        "created_at": iso(a.created_at),
    }


async def file_appeal(
    s: AsyncSession,
    who: Principal,
    project_id: str,
    message: str,
    response_id: str | None,
    now: datetime,
) -> Appeal:
    """Appeal a pause, or (with ``response_id``) a rejection of one's own work; else 409."""
    acc = await projects.access(s, who, project_id)
    project = acc.project
    rid: int | None = None
    if response_id is not None:
        rid = parse_id(response_id, "response")
        r = await s.get(Response, rid)
        if r is None or r.user_id != who.id or r.project_id != project.id:
            raise NotFound("response not found")
        if r.stage != "attempt" or r.status != "rejected":
            raise Conflict("only a rejected piece of your own work can be appealed")
        kind = "rejection"
    else:
        st = await s.scalar(
            select(Standing).where(Standing.project_id == project.id, Standing.user_id == who.id)
        )
        if st is None or st.state != PAUSED:
            raise Conflict("your work on this project is not paused; there is nothing to appeal")
        kind = "pause"
    open_one = await s.scalar(
        select(Appeal.id).where(
            Appeal.user_id == who.id,
            Appeal.project_id == project.id,
            Appeal.kind == kind,
            Appeal.response_id.is_(None) if rid is None else Appeal.response_id == rid,
            Appeal.status == "open",
        )
    )
    if open_one is not None:
        raise Conflict("this appeal is already open; the project answers by its deadline")
    days = int((project.quality or {}).get("appeal_days", scoring.DEFAULT_APPEAL_DAYS))
    appeal = Appeal(
        project_id=project.id,
        user_id=who.id,
        kind=kind,
        response_id=rid,
        message=message,
        status="open",
        due_at=now + timedelta(days=days),
        created_at=now,
    )
    s.add(appeal)
    await s.flush()
    owners = (
        await s.execute(
            select(Membership.user_id).where(
                Membership.project_id == project.id, Membership.role == "owner"
            )
        )
    ).scalars()
    for owner_id in owners:
        await notify.send(
            s,
            owner_id,
            "appeal.filed",
            "An appeal waits for your decision",
            f"{project.name}: an appeal against a {kind}, to be answered by {iso(appeal.due_at)}.",
            f"/projects/{project.id}/quality",
            now,
        )
    return appeal


async def my_appeals(s: AsyncSession, who: Principal, now: datetime) -> list[Appeal]:
    await settle_overdue(s, now, user_id=who.id)
    q = select(Appeal).where(Appeal.user_id == who.id).order_by(Appeal.id.desc())
    return list((await s.execute(q)).scalars())


async def project_appeals(
    s: AsyncSession, project_id: int, status: str | None, now: datetime
) -> list[Appeal]:
    await settle_overdue(s, now, project_id=project_id)
    q = select(Appeal).where(Appeal.project_id == project_id)
    if status is not None:
        q = q.where(Appeal.status == status)
    return list((await s.execute(q.order_by(Appeal.id.desc()))).scalars())


async def decide_appeal(
    s: AsyncSession,
    who: Principal | None,
    appeal_id: str | int,
    decision: str,
    reason: str,
    now: datetime,
) -> Appeal:
    """Uphold or reinstate (owners of the project and admins; ``who=None``: the deadline)."""
    appeal = await s.get(
        Appeal, parse_id(str(appeal_id), "appeal"), with_for_update=True, populate_existing=True
    )
    if appeal is None:
        raise NotFound("appeal not found")
    if who is not None:
        await projects.manage(s, who, appeal.project_id)
    if appeal.status != "open":
        raise Conflict(f"this appeal was already decided ({appeal.status})")
    if decision not in ("uphold", "reinstate"):
        raise InvalidInput(
            "decision: one of uphold, reinstate",
            errors=[{"loc": ["body", "decision"], "msg": "one of uphold, reinstate"}],
        )
    before = appeal_out(appeal)
    appeal.status = "reinstated" if decision == "reinstate" else "upheld"
    appeal.decision_reason = reason
    appeal.decided_by = who.id if who else None
    appeal.decided_at = now
    project = await s.get(Project, appeal.project_id)
    assert project is not None
    if decision == "reinstate":
        await _reinstate(s, appeal, project, now)
    await audit.record(
        s,
        who.id if who else None,
        "appeal.decide",
        f"appeal:{appeal.id}",
        {"before": {"status": before["status"]}, "after": {"status": appeal.status}},
        None,
        at=now,
    )
    verdict = "reinstated" if decision == "reinstate" else "upheld"
    await notify.send(
        s,
        appeal.user_id,
        "appeal.decided",
        f"Your appeal was {'granted' if decision == 'reinstate' else 'not granted'}",
        f"{project.name}: the {appeal.kind} was {verdict}. {reason}",
        "/standing",
        now,
    )
    await s.flush()
    return appeal


async def _reinstate(s: AsyncSession, appeal: Appeal, project: Project, now: datetime) -> None:
    rules = ProjectRules.of(project)
    if appeal.kind == "pause":
        st = (
            await s.execute(
                select(Standing)
                .where(Standing.project_id == project.id, Standing.user_id == appeal.user_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()
        if st is not None and st.state == PAUSED:
            st.events_at_reinstatement = st.events
            await _change_state(s, st, scoring.OK, "Reinstated on appeal.", now)
        return
    # A rejection overturned: the work counts as approved, and the score gets it back.
    r = await s.get(Response, appeal.response_id)
    if r is not None and r.status == "rejected":
        r.status = "approved"
        await record(
            s,
            rules,
            appeal.user_id,
            "appeal",
            1.0,
            now,
            item_id=r.item_id,
            response_id=r.id,
            detail={"appeal_id": str(appeal.id)},
        )


async def settle_overdue(
    s: AsyncSession, now: datetime, *, user_id: int | None = None, project_id: int | None = None
) -> int:
    """An appeal not answered by its deadline is granted: a person is never left waiting."""
    q = select(Appeal.id).where(Appeal.status == "open", Appeal.due_at <= now)
    if user_id is not None:
        q = q.where(Appeal.user_id == user_id)
    if project_id is not None:
        q = q.where(Appeal.project_id == project_id)
    ids = list((await s.execute(q)).scalars())
    for appeal_id in ids:
        await decide_appeal(
            s, None, appeal_id, "reinstate", "The project did not answer by its deadline.", now
        )
    return len(ids)


async def paused_projects(s: AsyncSession, user_id: int) -> set[int]:
    rows = await s.execute(
        select(Standing.project_id).where(Standing.user_id == user_id, Standing.state == PAUSED)
    )
    return set(rows.scalars())


# ---- owners' views -----------------------------------------------------------------------


async def contributors(s: AsyncSession, project: Project) -> list[dict[str, Any]]:
    """Each contributor's score, volume, speed, gold accuracy and agreement on the project."""
    volume = (
        select(
            Response.user_id,
            func.count().label("responses"),
            func.avg(Response.active_seconds).label("mean_seconds"),
            func.sum((Response.status == "approved").cast(Integer)).label("approved"),
            func.sum((Response.status == "rejected").cast(Integer)).label("rejected"),
        )
        .where(Response.project_id == project.id, Response.stage == "attempt")
        .group_by(Response.user_id)
        .subquery()
    )
    by_kind = (
        select(
            QualityEvent.user_id,
            QualityEvent.kind,
            func.avg(QualityEvent.value).label("mean"),
            func.count().label("n"),
        )
        .where(QualityEvent.project_id == project.id, QualityEvent.weight > 0)
        .group_by(QualityEvent.user_id, QualityEvent.kind)
    )
    kinds: dict[int, dict[str, tuple[float, int]]] = {}
    for r in await s.execute(by_kind):
        kinds.setdefault(r.user_id, {})[r.kind] = (float(r.mean), int(r.n))
    from inlier.accounts.models import User

    rows = await s.execute(
        select(User.id, User.name, Standing, volume)
        .select_from(User)
        .outerjoin(Standing, (Standing.user_id == User.id) & (Standing.project_id == project.id))
        .outerjoin(volume, volume.c.user_id == User.id)
        .where((Standing.id.is_not(None)) | (volume.c.user_id.is_not(None)))
        .order_by(User.id)
    )
    out = []
    for r in rows:
        st = r.Standing
        row = standing_out(st, project)
        k = kinds.get(r.id, {})
        out.append(
            {
                "user_id": str(r.id),
                "name": r.name,
                "score": row["score"],
                "interval": row["interval"],
                "events": row["events"],
                "state": row["state"],
                "responses": int(r.responses or 0),
                "approved": int(r.approved or 0),
                "rejected": int(r.rejected or 0),
                "mean_seconds": None if r.mean_seconds is None else round(float(r.mean_seconds)),
                "gold_accuracy": _mean(k.get("gold")),
                "agreement": _mean(k.get("agreement")),
                "review_score": _mean(k.get("review")),
                "reviewer_audit": _mean(k.get("review_audit")),
                "flags": sum(n for kind, (_, n) in k.items() if kind in ("speed", "authenticity")),
            }
        )
    return out


def _mean(pair: tuple[float, int] | None) -> float | None:
    return None if pair is None else round(pair[0], 4)


async def person_events(
    s: AsyncSession, project_id: int, user_id: int, limit: int
) -> list[dict[str, Any]]:
    rows = await s.execute(
        select(QualityEvent)
        .where(QualityEvent.project_id == project_id, QualityEvent.user_id == user_id)
        .order_by(QualityEvent.id.desc())
        .limit(limit)
    )
    return [event_out(e, owner=True) for e in rows.scalars()]


async def weekly_series(s: AsyncSession, project_id: int) -> list[dict[str, Any]]:
    """Mean event value per week (from Monday) and kind: the project's quality over time.

    The database sums per day; the days fold into weeks here (a few hundred rows at most).
    """
    day = (
        cast(QualityEvent.created_at, Date)
        if s.get_bind().dialect.name == "postgresql"
        else func.date(QualityEvent.created_at)
    ).label("day")
    rows = (
        await s.execute(
            select(day, QualityEvent.kind, func.sum(QualityEvent.value), func.count())
            .where(QualityEvent.project_id == project_id, QualityEvent.weight > 0)
            .group_by(day, QualityEvent.kind)
        )
    ).all()
    weeks: dict[tuple[str, str], list[float]] = {}
    for d, kind, total, n in rows:
        when = d if isinstance(d, date) else date.fromisoformat(str(d))
        monday = (when - timedelta(days=when.weekday())).isoformat()
        acc = weeks.setdefault((monday, kind), [0.0, 0])
        acc[0] += float(total)
        acc[1] += int(n)
    return [
        {"week": w, "kind": k, "mean": round(v[0] / v[1], 4), "events": int(v[1])}
        for (w, k), v in sorted(weeks.items())
    ]


async def person_standing(s: AsyncSession, project: Project, user_id: int) -> dict[str, Any]:
    st = await s.scalar(
        select(Standing).where(Standing.project_id == project.id, Standing.user_id == user_id)
    )
    return standing_out(st, project)


async def person_responses(
    s: AsyncSession, project_id: int, user_id: int, limit: int
) -> list[dict[str, Any]]:
    """One contributor's attempts on the project, newest first, with their outcome."""
    rows = await s.execute(
        select(Response)
        .where(
            Response.project_id == project_id,
            Response.user_id == user_id,
            Response.stage == "attempt",
        )
        .order_by(Response.id.desc())
        .limit(limit)
    )
    return [
        {
            "id": str(r.id),
            "item_id": str(r.item_id),
            "status": r.status,
            "active_seconds": r.active_seconds,
            "guidelines_version": r.guidelines_version,
            "created_at": iso(r.created_at),
        }
        for r in rows.scalars()
    ]
