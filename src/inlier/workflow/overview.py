"""Read-only views of the work for a person's home page: queues, held leases, feedback."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from inlier.accounts.service import Principal
from inlier.projects import service as projects
from inlier.projects.models import Project
from inlier.workflow.models import OPEN, Assignment, Response, Slot
from inlier.workflow.service import ATTEMPT, REVIEW

# Counting a million open slots on every page view would be wasted work: past this the page
# says "1,000+".
QUEUE_COUNT_CAP = 1000


@dataclass(frozen=True)
class ProjectQueue:
    project: Project
    open_attempts: int
    open_reviews: int | None  # None: this person does not review on the project
    held_assignment_id: int | None
    held_expires_at: datetime | None


async def _open_slots(s: AsyncSession, project_id: int, stage: str) -> int:
    capped = (
        select(Slot.id)
        .where(Slot.project_id == project_id, Slot.stage == stage, Slot.state == OPEN)
        .limit(QUEUE_COUNT_CAP)
        .subquery()
    )
    return int(await s.scalar(select(func.count()).select_from(capped)) or 0)


async def my_queues(s: AsyncSession, who: Principal, now: datetime) -> list[ProjectQueue]:
    """The projects this person may work now, with their queue sizes and any lease they hold."""
    out: list[ProjectQueue] = []
    for acc in await projects.workable_projects(s, who, now):
        pid = acc.project.id
        held = (
            await s.execute(
                select(Assignment.id, Assignment.expires_at).where(
                    Assignment.user_id == who.id,
                    Assignment.project_id == pid,
                    Assignment.state == "active",
                    Assignment.expires_at > now,
                )
            )
        ).first()
        reviews = await _open_slots(s, pid, REVIEW) if projects.may_review(who, acc) else None
        out.append(
            ProjectQueue(
                project=acc.project,
                open_attempts=await _open_slots(s, pid, ATTEMPT),
                open_reviews=reviews,
                held_assignment_id=held[0] if held else None,
                held_expires_at=held[1] if held else None,
            )
        )
    return out


async def my_feedback(s: AsyncSession, who: Principal, limit: int = 10) -> list[dict[str, Any]]:
    """The latest review verdicts on this person's own attempts, newest first.

    Reviewers are not named: contributors see what was said about their work, not by whom.
    """
    attempt = Response.__table__.alias("attempt")
    review = Response.__table__.alias("review")
    rows = await s.execute(
        select(
            attempt.c.id,
            attempt.c.item_id,
            attempt.c.created_at,
            review.c.verdict,
            review.c.feedback,
            review.c.score,
            review.c.created_at,
            Project.name,
        )
        .join(review, review.c.id == attempt.c.review_id)
        .join(Project, Project.id == attempt.c.project_id)
        .where(attempt.c.user_id == who.id, attempt.c.stage == ATTEMPT)
        .order_by(review.c.id.desc())
        .limit(limit)
    )
    return [
        {
            "response_id": r[0],
            "item_id": r[1],
            "submitted_at": r[2],
            "verdict": r[3],
            "feedback": r[4],
            "score": r[5],
            "reviewed_at": r[6],
            "project": r[7],
        }
        for r in rows.all()
    ]


async def my_counts(s: AsyncSession, who: Principal) -> dict[str, int]:
    """How much this person has submitted, and how it fared in review."""
    rows = await s.execute(
        select(Response.status, func.count())
        .where(Response.user_id == who.id, Response.stage == ATTEMPT)
        .group_by(Response.status)
    )
    counts = {status: int(n) for status, n in rows.all()}
    return {
        "submitted": sum(counts.values()),
        "approved": counts.get("approved", 0) + counts.get("improved", 0),
        "rejected": counts.get("rejected", 0),
    }
