"""Dynamic overlap: more attempts for the items the crowd disagrees on.

A project's ``workflow.dynamic_overlap`` — ``{"min": 2, "max": 5, "confidence": 0.8,
"question": "topic"}``, ``min`` being the overlap — asks for ``min`` attempts per item, then
one more at a time while the item's agreement on ``question`` stays below ``confidence``, up to
``max``. The rule is local and cheap, so it runs inside the submission that completes an
item's attempts: the agreement is the majority's share of the item's accepted answers (for a
``multi_label`` question, the lowest such share over its labels: chosen or not), never a
whole-project model.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from inlier.projects.models import Item, Project
from inlier.projects.service import template_of
from inlier.workflow.models import DONE, OPEN, Response, Slot

ATTEMPT = "attempt"


def agreement(qtype: str, values: list[Any], labels: list[str] | None = None) -> float:
    """The majority's share of ``values`` (1.0 for none)."""
    if qtype == "pairwise":
        values = [v.get("choice") for v in values if isinstance(v, dict)]
    if not values:
        return 1.0
    if qtype == "multi_label":
        lists = [v for v in values if isinstance(v, list)]
        if not lists:
            return 1.0
        shares = []
        for label in labels or []:
            chosen = sum(label in v for v in lists)
            shares.append(max(chosen, len(lists) - chosen) / len(lists))
        return min(shares, default=1.0)
    top = Counter(map(_key, values)).most_common(1)[0][1]
    return top / len(values)


def _key(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) else repr(value)


async def top_up_slots(s: AsyncSession, project_id: int, item_id: int) -> int:
    """Open one more attempt slot for the item when all its attempt slots are done, the
    agreement on the project's dynamic-overlap question is below the target, and it has fewer
    than ``max`` slots; returns how many slots it opened (0 or 1). Runs in the caller's
    transaction (the submission that completed an attempt)."""
    project = await s.get(Project, project_id)
    dynamic = (project.workflow or {}).get("dynamic_overlap") if project else None
    if project is None or not dynamic:
        return 0
    # Two last attempts submitted at once must not both miss the top-up: the item's row is
    # the lock they take turns on (FOR NO KEY UPDATE does not block the rows that reference
    # the item); each statement after it sees what the other committed. SQLite runs one
    # writer at a time already.
    priority = (
        await s.execute(
            select(Item.priority).where(Item.id == item_id).with_for_update(key_share=True)
        )
    ).scalar_one()
    slots, open_slots = (
        await s.execute(
            select(func.count(), func.count().filter(Slot.state != DONE)).where(
                Slot.item_id == item_id, Slot.stage == ATTEMPT
            )
        )
    ).one()
    if open_slots or slots >= int(dynamic["max"]):
        return 0
    name = dynamic["question"]
    answers = (
        await s.execute(
            select(Response.answer).where(
                Response.item_id == item_id,
                Response.stage == ATTEMPT,
                Response.status != "rejected",
            )
        )
    ).scalars()
    values = [a.get(name) for a in answers if a and a.get(name) is not None]
    q = template_of(project).questions.get(name)
    if q is None:
        return 0
    labels = list(q.options.get("labels") or []) if q.type == "multi_label" else None
    if agreement(q.type, values, labels) >= float(dynamic["confidence"]):
        return 0
    s.add(
        Slot(
            project_id=project_id,
            item_id=item_id,
            stage=ATTEMPT,
            replica=slots,
            state=OPEN,
            priority=priority,
        )
    )
    await s.flush()
    return 1
