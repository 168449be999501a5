"""Exports. Rows are read in keyset batches, each in its own short transaction, so an export
of any size streams in constant memory and never holds the database while a client reads."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased

from inlier.db.engine import Database
from inlier.kit.clock import iso
from inlier.kit.errors import InvalidInput
from inlier.projects.models import Item, Project
from inlier.workflow.models import Response

KINDS = ("raw",)
STATUSES = ("all", "submitted", "approved")


def pseudonym(project: Project, user_id: int | None) -> str | None:
    """Stable per project, unlinkable across projects."""
    if user_id is None:
        return None
    digest = hashlib.sha256(f"{project.pseudonym_salt}:{user_id}".encode()).hexdigest()
    return "c_" + digest[:12]


def check_export(kind: str, fmt: str, status: str | None) -> str:
    if kind not in KINDS:
        raise InvalidInput(
            f"kind: {kind!r} is not available yet; one of {list(KINDS)}",
            errors=[{"loc": ["query", "kind"], "msg": f"one of {list(KINDS)}"}],
        )
    if fmt != "jsonl":
        raise InvalidInput(
            "format: only jsonl for now",
            errors=[{"loc": ["query", "format"], "msg": "one of ['jsonl']"}],
        )
    status = status or "all"
    if status not in STATUSES:
        raise InvalidInput(
            f"status: one of {list(STATUSES)}",
            errors=[{"loc": ["query", "status"], "msg": f"one of {list(STATUSES)}"}],
        )
    return status


async def raw_rows(
    db: Database, project: Project, status: str, batch: int = 1000
) -> AsyncIterator[dict[str, Any]]:
    """One row per attempt: what was answered, by whom (pseudonym), and what review said."""
    review = aliased(Response)
    after = 0
    while True:
        q = (
            select(Response, Item.external_id, review)
            .join(Item, Item.id == Response.item_id)
            .outerjoin(review, review.id == Response.review_id)
            .where(
                Response.project_id == project.id,
                Response.stage == "attempt",
                Response.id > after,
            )
            .order_by(Response.id)
            .limit(batch)
        )
        if status == "submitted":
            q = q.where(Response.status != "rejected")
        elif status == "approved":
            q = q.where(
                Response.status.in_(("approved", "improved"))
                | ((Response.status == "submitted") & Response.needs_review.is_(False))
            )
        async with db.sessions() as s:
            rows = (await s.execute(q)).all()
        if not rows:
            return
        for r, external_id, rv in rows:
            answer = r.answer
            if status == "approved" and rv is not None and rv.verdict == "improve":
                answer = rv.answer
            yield {
                "response_id": str(r.id),
                "item_id": str(r.item_id),
                "external_id": external_id,
                "stage": r.stage,
                "contributor": pseudonym(project, r.user_id),
                "answer": answer,
                "status": r.status,
                "verdict": rv.verdict if rv else None,
                "reviewer": pseudonym(project, rv.user_id) if rv else None,
                "feedback": rv.feedback if rv else None,
                "reviewed_answer": rv.answer if rv and rv.verdict == "improve" else None,
                "active_seconds": r.active_seconds,
                "submitted_at": iso(r.created_at),
                "generation_ids": r.generation_ids or [],
            }
        after = rows[-1][0].id


async def jsonl(rows: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    buf: list[str] = []
    async for row in rows:
        buf.append(json.dumps(row, ensure_ascii=False))
        if len(buf) >= 500:
            yield ("\n".join(buf) + "\n").encode()
            buf = []
    if buf:
        yield ("\n".join(buf) + "\n").encode()
