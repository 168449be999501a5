"""The rules for experts: applying and being decided on, the skill taxonomy, assessments
(taking, grading, attempt limits and cooldowns), and why each project is or is not open to
someone."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from inlier.accounts import service as accounts
from inlier.accounts.passwords import Passwords
from inlier.accounts.service import Principal
from inlier.audit import service as audit
from inlier.experts.models import (
    Application,
    Assessment,
    AssessmentAttempt,
    AssessmentItem,
    Skill,
)
from inlier.experts.schemas import ApplicationIn, AssessmentIn, AttemptSubmitIn, SkillIn
from inlier.experts.taxonomy import DEFAULT_KEYS, DEFAULT_SKILLS, SKILL_KEY
from inlier.kit.clock import iso
from inlier.kit.errors import Conflict, InvalidInput, NotFound, invalid
from inlier.kit.ids import parse_id, sid
from inlier.notify import service as notify
from inlier.projects import service as projects
from inlier.quality.models import Standing
from inlier.quality.scoring import DEFAULT_APPEAL_DAYS, PAUSED
from inlier.questions import Template, grade_answer, parse_template

OPEN, SUBMITTED = "open", "submitted"
PENDING, APPROVED, DECLINED = "pending", "approved", "declined"

# ---- the skill taxonomy --------------------------------------------------------------------


async def list_skills(s: AsyncSession) -> list[dict[str, Any]]:
    """The default taxonomy and every skill added to it, by key."""
    added = (await s.execute(select(Skill).order_by(Skill.key))).scalars()
    rows = [*DEFAULT_SKILLS, *({"key": k.key, "name": k.name, "parent": k.parent} for k in added)]
    return sorted(rows, key=lambda r: str(r["key"]))


async def unknown_skills(s: AsyncSession, keys: list[str]) -> list[str]:
    """The keys that are neither default skills nor added ones."""
    rest = sorted({k for k in keys if k not in DEFAULT_KEYS})
    if not rest:
        return []
    known = set((await s.execute(select(Skill.key).where(Skill.key.in_(rest)))).scalars())
    return [k for k in keys if k not in DEFAULT_KEYS and k not in known]


async def create_skill(s: AsyncSession, who: Principal, body: SkillIn, now: datetime) -> Skill:
    if not SKILL_KEY.match(body.key):
        raise invalid(["body", "key"], "a dotted key of letters, digits, _ and -")
    parent = body.parent
    implied = body.key.rpartition(".")[0] or None
    if parent is None:
        parent = implied
    elif parent != implied:
        raise invalid(["body", "parent"], f"the parent of {body.key!r} is {implied!r}")
    if parent is not None and await unknown_skills(s, [parent]):
        raise invalid(["body", "parent"], f"no skill {parent!r}; add it first")
    if body.key in DEFAULT_KEYS:
        raise Conflict(f"the skill {body.key!r} already exists")
    skill = Skill(key=body.key, name=body.name, parent=parent, created_by=who.id, created_at=now)
    s.add(skill)
    try:
        async with s.begin_nested():
            await s.flush()
    except IntegrityError as exc:
        raise Conflict(f"the skill {body.key!r} already exists") from exc
    after = {"key": skill.key, "name": skill.name, "parent": skill.parent}
    await audit.record(s, who.id, "skill.create", f"skill:{skill.key}", {"after": after}, None)
    return skill


# ---- applications --------------------------------------------------------------------------


async def apply(
    s: AsyncSession,
    body: ApplicationIn,
    now: datetime,
    passwords: Passwords,
    address: str | None = None,
) -> Application:
    """A pending contributor account that can sign in at once, and its application.

    Once a privacy policy is published, the version accepted must be the one in force (or one
    published to come); the consent is recorded as if accepted with ``POST /me/consents``.
    """
    # Imported here: privacy erases applications, so the two areas read each other.
    from inlier.privacy import service as privacy

    policy = None
    if await privacy.current_policy(s, now) is not None:
        policy = await privacy.policy_to_accept(s, body.consent.policy_version, now)
    unknown = await unknown_skills(s, body.profile.specialties)
    if unknown:
        i = body.profile.specialties.index(unknown[0])
        raise invalid(
            ["body", "profile", "specialties", i], f"{unknown[0]!r} is not in the skill taxonomy"
        )
    profile = body.profile.model_dump(exclude_none=True)
    user = await accounts.create_user(
        s,
        email=str(body.email),
        name=body.name,
        password=body.password,
        roles=["contributor"],
        profile=profile,
        now=now,
        passwords=passwords,
        status=PENDING,
    )
    application = Application(
        user_id=user.id,
        status=PENDING,
        profile=profile,
        consent={"policy_version": body.consent.policy_version, "at": iso(now)},
        created_at=now,
    )
    s.add(application)
    await s.flush()
    if policy is not None:
        await privacy.record_consent(s, user.id, policy, address, now)
    return application


async def application_out(s: AsyncSession, a: Application) -> dict[str, Any]:
    user = await accounts.get_user(s, a.user_id)
    return _application_out(a, user.email, user.name)


def _application_out(a: Application, email: str | None, name: str | None) -> dict[str, Any]:
    return {
        "id": str(a.id),
        "user_id": str(a.user_id),
        "email": email,
        "name": name,
        "status": a.status,
        "profile": a.profile,
        "consent": a.consent,
        "reason": a.reason,
        "decided_by": sid(a.decided_by),
        "decided_at": iso(a.decided_at),
        "created_at": iso(a.created_at),
    }


async def list_applications(
    s: AsyncSession, status: str | None, limit: int, after: int | None
) -> list[dict[str, Any]]:
    q = select(Application).order_by(Application.id).limit(limit + 1)
    if status is not None:
        q = q.where(Application.status == status)
    if after is not None:
        q = q.where(Application.id > after)
    apps = list((await s.execute(q)).scalars())
    people = {}
    for a in apps:
        user = await accounts.get_user(s, a.user_id)
        people[a.id] = (user.email, user.name)
    return [_application_out(a, *people[a.id]) for a in apps]


async def decide(
    s: AsyncSession,
    who: Principal,
    application_id: str,
    decision: str,
    reason: str,
    now: datetime,
) -> Application:
    """Approve (the account becomes an approved contributor) or decline (with the reason the
    applicant sees). A decision is final: deciding again is a conflict."""
    a = await s.get(Application, parse_id(application_id, "application"))
    if a is None:
        raise NotFound("application not found")
    if decision == "decline" and not reason.strip():
        raise invalid(["body", "reason"], "say why the application is declined")
    if a.status != PENDING:
        raise Conflict(f"the application was already {a.status}")
    user = await accounts.get_user(s, a.user_id)
    a.status = APPROVED if decision == "approve" else DECLINED
    a.reason = reason.strip() or None
    a.decided_by = who.id
    a.decided_at = now
    user.status = a.status
    await s.flush()
    # The reason can name the person: the log keeps the decision, not the words.
    await audit.record(
        s,
        who.id,
        "application.decide",
        f"application:{a.id}",
        {"before": {"status": PENDING}, "after": {"status": a.status}},
        None,
        at=now,
    )
    return a


async def application_of(s: AsyncSession, user_id: int) -> Application | None:
    return (
        await s.execute(select(Application).where(Application.user_id == user_id))
    ).scalar_one_or_none()


async def standing_of_application(s: AsyncSession, user_id: int) -> dict[str, Any] | None:
    """What ``GET /me`` adds for applicants: ``{id, status, reason, decided_at}``."""
    a = await application_of(s, user_id)
    if a is None:
        return None
    return {
        "id": str(a.id),
        "status": a.status,
        "reason": a.reason,
        "decided_at": iso(a.decided_at),
    }


# ---- assessments ---------------------------------------------------------------------------


async def create_assessment(
    s: AsyncSession, who: Principal, body: AssessmentIn, now: datetime
) -> Assessment:
    if await unknown_skills(s, [body.skill]):
        raise invalid(["body", "skill"], f"{body.skill!r} is not in the skill taxonomy")
    template = parse_template(body.template, ["body", "template"])
    for i, item in enumerate(body.items):
        problems = template.check_data(item.data, ["body", "items", i, "data"])
        if not problems:
            problems = template.check_answer(
                item.gold, item.data, ["body", "items", i, "gold"], partial=True
            )
        if not problems and not item.gold:
            problems = [{"loc": ["body", "items", i, "gold"], "msg": "give the gold answer"}]
        if problems:
            where = ".".join(str(p) for p in problems[0]["loc"][1:])
            raise InvalidInput(f"{where}: {problems[0]['msg']}", errors=problems)
    assessment = Assessment(
        name=body.name,
        skill=body.skill,
        level_on_pass=body.level_on_pass,
        pass_mark=body.pass_mark,
        max_attempts=body.max_attempts,
        cooldown_hours=body.cooldown_hours,
        paid=body.paid,
        template=template.dump(),
        created_by=who.id,
        created_at=now,
    )
    s.add(assessment)
    await s.flush()
    for i, item in enumerate(body.items):
        s.add(
            AssessmentItem(assessment_id=assessment.id, position=i, data=item.data, gold=item.gold)
        )
    await s.flush()
    after = {"name": assessment.name, "skill": assessment.skill, "items": len(body.items)}
    target = f"assessment:{assessment.id}"
    await audit.record(s, who.id, "assessment.create", target, {"after": after}, None, at=now)
    return assessment


@dataclass(frozen=True)
class Gate:
    """Whether someone may start an attempt now, and if not, when they may (``None``: never)."""

    allowed: bool
    retry_at: datetime | None
    attempts_left: int


def attempt_gate(
    max_attempts: int,
    cooldown: timedelta,
    used: int,
    last_finished: datetime | None,
    passed: bool,
    now: datetime,
) -> Gate:
    """The attempt limit and the cooldown after the last submitted attempt; once passed, an
    assessment is not taken again."""
    left = max(max_attempts - used, 0)
    if passed or left == 0:
        return Gate(False, None, 0 if passed else left)
    if last_finished is not None and last_finished + cooldown > now:
        return Gate(False, last_finished + cooldown, left)
    return Gate(True, None, left)


async def _history(
    s: AsyncSession, user_id: int, assessment_ids: list[int]
) -> dict[int, list[AssessmentAttempt]]:
    out: dict[int, list[AssessmentAttempt]] = {i: [] for i in assessment_ids}
    if not assessment_ids:
        return out
    rows = await s.execute(
        select(AssessmentAttempt)
        .where(
            AssessmentAttempt.user_id == user_id,
            AssessmentAttempt.assessment_id.in_(assessment_ids),
        )
        .order_by(AssessmentAttempt.id)
    )
    for attempt in rows.scalars():
        out[attempt.assessment_id].append(attempt)
    return out


def _gate_for(a: Assessment, attempts: list[AssessmentAttempt], now: datetime) -> Gate:
    finished = [t.submitted_at for t in attempts if t.submitted_at is not None]
    return attempt_gate(
        a.max_attempts,
        timedelta(hours=a.cooldown_hours),
        len(attempts),
        max(finished) if finished else None,
        any(t.passed for t in attempts),
        now,
    )


def _assessment_out(
    a: Assessment, n_items: int, attempts: list[AssessmentAttempt], now: datetime
) -> dict[str, Any]:
    gate = _gate_for(a, attempts, now)
    scores = [t.score for t in attempts if t.score is not None]
    open_one = any(t.state == OPEN for t in attempts)
    return {
        "id": str(a.id),
        "name": a.name,
        "skill": a.skill,
        "level_on_pass": a.level_on_pass,
        "pass_mark": a.pass_mark,
        "max_attempts": a.max_attempts,
        "cooldown_hours": a.cooldown_hours,
        "paid": a.paid,
        "items": n_items,
        "attempts_left": gate.attempts_left,
        "next_attempt_at": None if gate.allowed or open_one else iso(gate.retry_at),
        "best_score": max(scores) if scores else None,
        "passed": any(t.passed for t in attempts),
    }


async def list_assessments(s: AsyncSession, who: Principal, now: datetime) -> list[dict[str, Any]]:
    """Every assessment, with this person's attempts left, next attempt time and best score."""
    assessments = list((await s.execute(select(Assessment).order_by(Assessment.id))).scalars())
    ids = [a.id for a in assessments]
    counts: dict[int, int] = {}
    if ids:
        rows = await s.execute(
            select(AssessmentItem.assessment_id, func.count())
            .where(AssessmentItem.assessment_id.in_(ids))
            .group_by(AssessmentItem.assessment_id)
        )
        counts = {k: int(v) for k, v in rows.all()}
    history = await _history(s, who.id, ids)
    return [_assessment_out(a, counts.get(a.id, 0), history[a.id], now) for a in assessments]


async def get_assessment(s: AsyncSession, assessment_id: str | int) -> Assessment:
    a = await s.get(Assessment, parse_id(assessment_id, "assessment"))
    if a is None:
        raise NotFound("assessment not found")
    return a


async def assessment_view(
    s: AsyncSession, who: Principal, assessment_id: str | int, now: datetime
) -> dict[str, Any]:
    a = await get_assessment(s, assessment_id)
    n = await s.scalar(select(func.count()).where(AssessmentItem.assessment_id == a.id))
    return _assessment_out(a, int(n or 0), (await _history(s, who.id, [a.id]))[a.id], now)


class AttemptRefused(Conflict):
    title = "No attempt available"
    type = "attempt-refused"


async def start_attempt(
    s: AsyncSession, who: Principal, assessment_id: str, now: datetime, pg: bool
) -> tuple[AssessmentAttempt, bool]:
    """An open attempt (the one already open, or a new one) and whether it is new.

    Over the attempt limit, inside the cooldown or after passing → 409 with ``retry_at``
    (``None`` when no attempt is left) and ``Retry-After``."""
    a = await get_assessment(s, assessment_id)
    if pg:
        # Two concurrent starts by one person must not both pass the limit.
        await accounts.lock_user(s, who.id)
    attempts = (await _history(s, who.id, [a.id]))[a.id]
    for t in attempts:
        if t.state == OPEN:
            return t, False
    gate = _gate_for(a, attempts, now)
    if not gate.allowed:
        raise _refusal(gate, any(t.passed for t in attempts), now)
    attempt = AssessmentAttempt(
        assessment_id=a.id, user_id=who.id, state=OPEN, started_at=now, active_seconds=0
    )
    s.add(attempt)
    await s.flush()
    return attempt, True


def _refusal(gate: Gate, passed: bool, now: datetime) -> AttemptRefused:
    if gate.retry_at is None:
        why = "you passed this assessment already" if passed else "no attempt is left"
        return AttemptRefused(why, extra={"retry_at": None})
    wait = max(math.ceil((gate.retry_at - now).total_seconds()), 1)
    return AttemptRefused(
        f"the next attempt opens at {iso(gate.retry_at)}",
        headers={"Retry-After": str(wait)},
        extra={"retry_at": iso(gate.retry_at)},
    )


async def _items(s: AsyncSession, assessment_id: int) -> list[AssessmentItem]:
    rows = await s.execute(
        select(AssessmentItem)
        .where(AssessmentItem.assessment_id == assessment_id)
        .order_by(AssessmentItem.position)
    )
    return list(rows.scalars())


async def attempt_out(s: AsyncSession, attempt: AssessmentAttempt) -> dict[str, Any]:
    """The attempt as the candidate sees it: items without their gold."""
    a = await get_assessment(s, attempt.assessment_id)
    return {
        "id": str(attempt.id),
        "assessment_id": str(a.id),
        "state": attempt.state,
        "started_at": iso(attempt.started_at),
        "items": [{"id": str(i.id), "data": i.data} for i in await _items(s, a.id)],
        "template": a.template,
    }


async def own_attempt(s: AsyncSession, who: Principal, attempt_id: str) -> AssessmentAttempt:
    attempt = await s.get(AssessmentAttempt, parse_id(attempt_id, "attempt"))
    if attempt is None or attempt.user_id != who.id:
        raise NotFound("attempt not found")
    return attempt


async def my_attempts(
    s: AsyncSession, who: Principal, assessment_id: str | int
) -> list[dict[str, Any]]:
    """Someone's attempts at one assessment, newest first."""
    attempts = (await _history(s, who.id, [parse_id(assessment_id, "assessment")])).values()
    return [
        {
            "id": str(t.id),
            "state": t.state,
            "started_at": iso(t.started_at),
            "submitted_at": iso(t.submitted_at),
            "score": t.score,
            "passed": t.passed,
        }
        for rows in attempts
        for t in reversed(rows)
    ]


def grade_item(template: Template, item: AssessmentItem, answer: dict[str, Any]) -> dict[str, Any]:
    """One item's feedback: each gold question graded by its type; a question left
    unanswered scores 0; questions a person grades (text) are pending and left out."""
    questions, score = grade_answer(template, item.gold, answer)
    return {
        "item_id": str(item.id),
        "correct": None if score is None else score >= 1.0,
        "score": score,
        "detail": "; ".join(f"{q['question']}: {q['detail']}" for q in questions),
        "questions": questions,
    }


async def submit_attempt(
    s: AsyncSession, who: Principal, attempt_id: str, body: AttemptSubmitIn, now: datetime
) -> dict[str, Any]:
    """Grade the answers once; passing sets the skill level (never lowering it)."""
    attempt = await own_attempt(s, who, attempt_id)
    if attempt.state != OPEN:
        raise Conflict("this attempt was already submitted")
    a = await get_assessment(s, attempt.assessment_id)
    template = parse_template(a.template, ["template"])
    items = await _items(s, a.id)
    by_id = {str(i.id): i for i in items}
    for key, answer in body.answers.items():
        item = by_id.get(key)
        if item is None:
            raise invalid(["body", "answers", key], "not an item of this attempt")
        problems = template.check_answer(answer, item.data, ["body", "answers", key], partial=True)
        if problems:
            where = ".".join(str(p) for p in problems[0]["loc"][1:])
            raise InvalidInput(f"{where}: {problems[0]['msg']}", errors=problems)
    feedback = [grade_item(template, i, body.answers.get(str(i.id), {})) for i in items]
    attempt.state = SUBMITTED
    attempt.submitted_at = now
    attempt.answers = body.answers
    attempt.active_seconds = body.active_seconds or 0
    await _conclude(s, a, attempt, feedback, now)
    await s.flush()
    return result_out(attempt)


def _pending(feedback: list[dict[str, Any]]) -> bool:
    return any(q["score"] is None for f in feedback for q in f["questions"])


async def _conclude(
    s: AsyncSession,
    a: Assessment,
    attempt: AssessmentAttempt,
    feedback: list[dict[str, Any]],
    now: datetime,
) -> None:
    """Score the attempt from its feedback; it passes (and sets the skill level, never
    lowering it) only once no written answer waits for a grader."""
    scored = [f["score"] for f in feedback if f["score"] is not None]
    attempt.score = sum(scored) / len(scored) if scored else None
    attempt.feedback = {"items": feedback}
    final = not _pending(feedback)
    attempt.passed = final and attempt.score is not None and attempt.score >= a.pass_mark - 1e-9
    attempt.level_granted = None
    if attempt.passed:
        current = (await accounts.skills_of(s, attempt.user_id)).get(a.skill, 0)
        attempt.level_granted = max(current, a.level_on_pass)
        await accounts.set_skill(s, attempt.user_id, a.skill, attempt.level_granted, now)


async def grading_queue(s: AsyncSession, assessment_id: str) -> list[dict[str, Any]]:
    """Submitted attempts with written answers waiting for a grade, oldest first, each with
    the reference answer; graders do not see who wrote them."""
    a = await get_assessment(s, assessment_id)
    items = {str(i.id): i for i in await _items(s, a.id)}
    rows = (
        await s.execute(
            select(AssessmentAttempt)
            .where(
                AssessmentAttempt.assessment_id == a.id,
                AssessmentAttempt.state == SUBMITTED,
            )
            .order_by(AssessmentAttempt.id)
        )
    ).scalars()
    out = []
    for t in rows:
        waiting = []
        for f in (t.feedback or {}).get("items", []):
            item = items.get(f["item_id"])
            for q in f["questions"]:
                if q["score"] is None and item is not None:
                    waiting.append(
                        {
                            "item_id": f["item_id"],
                            "data": item.data,
                            "question": q["question"],
                            "answer": ((t.answers or {}).get(f["item_id"]) or {}).get(
                                q["question"]
                            ),
                            "reference": item.gold.get(q["question"]),
                        }
                    )
        if waiting:
            out.append(
                {"attempt_id": str(t.id), "submitted_at": iso(t.submitted_at), "answers": waiting}
            )
    return out


async def grade_attempt(
    s: AsyncSession, attempt_id: str, grades: list[Any], now: datetime
) -> AssessmentAttempt:
    """A grader's scores (0..1, with feedback) for written answers waiting in an attempt;
    the last one settles the attempt's score and pass, and the candidate is told."""
    attempt = await s.get(
        AssessmentAttempt,
        parse_id(attempt_id, "attempt"),
        with_for_update=True,
        populate_existing=True,
    )
    if attempt is None:
        raise NotFound("attempt not found")
    if attempt.state != SUBMITTED or not _pending((attempt.feedback or {}).get("items", [])):
        raise Conflict("this attempt has no written answer waiting for a grade")
    feedback = json.loads(json.dumps((attempt.feedback or {}).get("items", [])))
    by_key = {(f["item_id"], q["question"]): (f, q) for f in feedback for q in f["questions"]}
    for i, g in enumerate(grades):
        found = by_key.get((g.item_id, g.question))
        if found is None or found[1]["score"] is not None:
            raise invalid(["body", "grades", i], "not a written answer waiting for a grade")
        f, q = found
        q["score"] = g.score
        q["detail"] = g.feedback or "graded by a reviewer"
        scores = [x["score"] for x in f["questions"] if x["score"] is not None]
        f["score"] = sum(scores) / len(scores) if scores else None
        f["correct"] = None if f["score"] is None else f["score"] >= 1.0
        f["detail"] = "; ".join(f"{x['question']}: {x['detail']}" for x in f["questions"])
    a = await get_assessment(s, attempt.assessment_id)
    await _conclude(s, a, attempt, feedback, now)
    if not _pending(feedback):
        verdict = "passed" if attempt.passed else "did not pass"
        await notify.send(
            s,
            attempt.user_id,
            "assessment.graded",
            f"Your assessment {a.name!r} is graded",
            f"Score {attempt.score:.0%}: you {verdict}."
            if attempt.score is not None
            else f"You {verdict}.",
            "/assessments",
            now,
        )
    await s.flush()
    return attempt


def result_out(attempt: AssessmentAttempt) -> dict[str, Any]:
    feedback = (attempt.feedback or {}).get("items", [])
    return {
        "id": str(attempt.id),
        "score": attempt.score,
        "passed": bool(attempt.passed),
        "pending": _pending(feedback),
        "level_granted": attempt.level_granted,
        "feedback": feedback,
    }


# ---- why someone can or cannot work each project -------------------------------------------

ACTIONS = {
    "not_approved": "An admin reviews your application; you can work once it is approved.",
    "declined": "Your application was declined: {reason}",
    "inactive": "Its owner has paused or finished it; nothing to do until it is active again.",
    "closed": "It stopped taking work at {at}.",
    "queue_empty": "Every open task is leased, done, or one you already worked. Check back later.",
    "contributors_only": "Open projects are worked by contributors; ask an admin for the role.",
    "profile": "It needs {needs}; update your profile if that fits you.",
    "no_assessment": "It needs {skill} at level {level}; no assessment grants that yet. "
    "Ask the project's owner.",
    "take": "Pass the assessment {name!r} ({skill}, level {level}).",
    "cooldown": "Pass the assessment {name!r}; your next attempt opens at {at}.",
    "no_attempts": "It needs {skill} at level {level}; you have no attempt left at {name!r}. "
    "Ask an admin.",
    "paused": "Your work here is paused for quality: {reason} Appeal it from your standing "
    "page; the project answers within {days} days, or the pause is lifted.",
    "work": "Start working.",
}


def _profile_gap(project: Any, who: Principal) -> str | None:
    req = project.requirements or {}
    languages = req.get("languages")
    if languages and not set(languages) & set(who.profile.get("languages") or []):
        return "one of the languages " + ", ".join(languages)
    countries = req.get("countries")
    if countries and who.profile.get("country") not in countries:
        return "residence in one of " + ", ".join(countries)
    return None


async def my_work(
    s: AsyncSession, who: Principal, now: datetime, available: dict[int, int]
) -> list[dict[str, Any]]:
    """For each project someone belongs to or could qualify for: may they work it now, why
    not, what would change that, and how much is open.

    ``available`` maps the projects they may work now to their open tasks (the workflow's
    count). An open project whose requirements they cannot meet by an assessment (languages,
    countries) is not shown: it is not theirs to see.
    """
    from inlier.quality import service as quality  # it reads the projects area, as we do

    await quality.settle_overdue(s, now, user_id=who.id)  # a pause past its appeal's deadline
    rows: list[dict[str, Any]] = []
    assessments = list((await s.execute(select(Assessment).order_by(Assessment.id))).scalars())
    history = await _history(s, who.id, [a.id for a in assessments])
    skills = await accounts.skills_of(s, who.id)
    declined = None
    if who.status == DECLINED:
        app = await application_of(s, who.id)
        declined = (app.reason if app else None) or "no reason was given"
    for acc in await projects.candidate_projects(s, who):
        p = acc.project
        member = acc.role is not None
        row: dict[str, Any] = {
            "project_id": str(p.id),
            "name": p.name,
            "eligible": False,
            "reason": None,
            "action": None,
            "available": 0,
            "assessment": None,
            "closes_at": iso(p.closes_at),
        }
        gap = _profile_gap(p, who)
        if gap is not None and not member:
            continue
        missing = [
            (skill, level)
            for skill, level in ((p.requirements or {}).get("skills") or {}).items()
            if skills.get(skill, 0) < level
        ]
        manager = acc.role in projects.MANAGER_ROLES
        offer = None if manager else _offer(missing, assessments, history, now)
        if not member and missing and offer is None:
            continue  # an open project nobody can qualify for by an assessment
        if who.status != APPROVED:
            row["reason"] = "not_approved"
            row["action"] = (
                ACTIONS["declined"].format(reason=declined) if declined else ACTIONS["not_approved"]
            )
        elif p.status != "active":
            row["reason"], row["action"] = "inactive", ACTIONS["inactive"]
        elif projects.is_closed(p, now):
            row["reason"] = "inactive"
            row["action"] = ACTIONS["closed"].format(at=iso(p.closes_at))
        elif not member and not who.has("contributor"):
            row["reason"], row["action"] = "no_eligible_project", ACTIONS["contributors_only"]
        elif gap is not None and not manager:
            row["reason"] = "no_eligible_project"
            row["action"] = ACTIONS["profile"].format(needs=gap)
        elif acc.standing == PAUSED and not manager:
            row["reason"] = "paused"
            row["action"] = ACTIONS["paused"].format(
                reason=await _pause_reason(s, p.id, who.id),
                days=(p.quality or {}).get("appeal_days", DEFAULT_APPEAL_DAYS),
            )
        elif missing and not manager:
            row["reason"] = "assessment_required"
            row["action"], row["assessment"] = offer or (
                ACTIONS["no_assessment"].format(skill=missing[0][0], level=missing[0][1]),
                None,
            )
        else:
            n = available.get(p.id, 0)
            row["eligible"] = True
            row["available"] = n
            if n:
                row["action"] = ACTIONS["work"]
            else:
                row["reason"], row["action"] = "queue_empty", ACTIONS["queue_empty"]
        rows.append(row)
    return rows


def _offer(
    missing: list[tuple[str, int]],
    assessments: list[Assessment],
    history: dict[int, list[AssessmentAttempt]],
    now: datetime,
) -> tuple[str, dict[str, Any]] | None:
    """What to do about the first missing skill: the assessment that grants enough of it
    (one that can be taken now first), or ``None`` when no assessment does."""
    if not missing:
        return None
    skill, level = missing[0]
    fitting = [a for a in assessments if a.skill == skill and a.level_on_pass >= level]
    if not fitting:
        return None
    gated = [(a, _gate_for(a, history[a.id], now)) for a in fitting]
    open_first = sorted(
        gated,
        key=lambda ag: (
            not (ag[1].allowed or any(t.state == OPEN for t in history[ag[0].id])),
            ag[1].retry_at is None,
            ag[0].level_on_pass,
            ag[0].id,
        ),
    )
    a, gate = open_first[0]
    info = {
        "id": str(a.id),
        "name": a.name,
        "skill": a.skill,
        "level_on_pass": a.level_on_pass,
        "attempts_left": gate.attempts_left,
        "next_attempt_at": iso(gate.retry_at),
    }
    has_open = any(t.state == OPEN for t in history[a.id])
    if gate.allowed or has_open:
        text = ACTIONS["take"].format(name=a.name, skill=skill, level=a.level_on_pass)
    elif gate.retry_at is not None:
        text = ACTIONS["cooldown"].format(name=a.name, at=iso(gate.retry_at))
    else:
        text = ACTIONS["no_attempts"].format(skill=skill, level=level, name=a.name)
    return text, info


async def available_work(s: AsyncSession, who: Principal, now: datetime) -> dict[int, int]:
    """Open tasks (attempts and, for reviewers, reviews) per project ``who`` may work now."""
    from inlier.workflow import overview

    return {
        q.project.id: q.open_attempts + (q.open_reviews or 0)
        for q in await overview.my_queues(s, who, now)
    }


async def nothing_to_do_reason(s: AsyncSession, who: Principal, now: datetime) -> str:
    """Why `next` without a project found no project to work: ``not_approved``, ``paused``
    (paused for quality where they could otherwise work), ``assessment_required`` (an
    assessment would open one), else ``no_eligible_project``."""
    if who.status != APPROVED:
        return "not_approved"
    rows = await my_work(s, who, now, {})
    if any(row["reason"] == "paused" for row in rows):
        return "paused"
    for row in rows:
        if row["reason"] == "assessment_required" and row["assessment"] is not None:
            return "assessment_required"
    return "no_eligible_project"


async def _pause_reason(s: AsyncSession, project_id: int, user_id: int) -> str:
    reason = await s.scalar(
        select(Standing.reason).where(
            Standing.project_id == project_id, Standing.user_id == user_id
        )
    )
    return reason or "your quality score is below the project's pause threshold."
