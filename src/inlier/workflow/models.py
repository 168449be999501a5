"""The queue: slots to fill, the leases on them, and what people submitted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from inlier.db.base import Base, BigId, Json, pk

OPEN, LEASED, DONE = "open", "leased", "done"


class Slot(Base):
    """One unit of work to be done: (item, stage, replica)."""

    __tablename__ = "slots"
    __table_args__ = (
        # The hot path of `next`: open slots of a project and stage, best first.
        Index(
            "ix_slots_open",
            "project_id",
            "stage",
            text("priority DESC"),
            "id",
            sqlite_where=text("state = 'open'"),
            postgresql_where=text("state = 'open'"),
        ),
        Index(
            "ix_slots_leased",
            "project_id",
            "lease_expires_at",
            sqlite_where=text("state = 'leased'"),
            postgresql_where=text("state = 'leased'"),
        ),
        Index("ix_slots_item", "item_id"),
    )

    id: Mapped[int] = pk()
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(BigId, ForeignKey("items.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(16))
    replica: Mapped[int] = mapped_column(default=0)
    state: Mapped[str] = mapped_column(String(16), default=OPEN)
    priority: Mapped[int] = mapped_column(default=0)
    # For a review slot: the attempt under review.
    target_response_id: Mapped[int | None] = mapped_column(BigId)
    assignment_id: Mapped[int | None] = mapped_column(BigId)
    leased_by: Mapped[int | None] = mapped_column(BigId)
    lease_expires_at: Mapped[datetime | None]


class Touch(Base):
    """Who has an item in hand or has worked it: nobody works the same item twice."""

    __tablename__ = "touches"
    __table_args__ = (UniqueConstraint("item_id", "user_id"),)

    id: Mapped[int] = pk()
    item_id: Mapped[int] = mapped_column(BigId, ForeignKey("items.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))


class Assignment(Base):
    """A lease of one slot to one person."""

    __tablename__ = "assignments"
    __table_args__ = (
        Index("ix_assignments_user_state", "user_id", "project_id", "state"),
        # A person's latest task: `next` without a project continues where they worked last.
        Index("ix_assignments_user_id_id", "user_id", "id"),
        Index("ix_assignments_slot", "slot_id"),
        # At most one open lease per person and project, even under concurrent `next` calls.
        Index(
            "uq_assignments_one_active",
            "user_id",
            "project_id",
            unique=True,
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
    )

    id: Mapped[int] = pk()
    slot_id: Mapped[int] = mapped_column(BigId, ForeignKey("slots.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(BigId, ForeignKey("items.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(16))
    # active | submitted | skipped | released | expired
    state: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    active_seconds: Mapped[int] = mapped_column(default=0)
    draft: Mapped[dict[str, Any] | None]
    draft_saved_at: Mapped[datetime | None]
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    response_id: Mapped[int | None] = mapped_column(BigId)


class Response(Base):
    """A submitted attempt, or a review of one (with the reviewer's revision when improved)."""

    __tablename__ = "responses"
    __table_args__ = (
        Index("ix_responses_project_id_id", "project_id", "id"),
        Index("ix_responses_item", "item_id"),
        Index("ix_responses_user", "user_id"),
        UniqueConstraint("assignment_id"),
    )

    id: Mapped[int] = pk()
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(BigId, ForeignKey("items.id", ondelete="CASCADE"))
    slot_id: Mapped[int] = mapped_column(BigId, ForeignKey("slots.id", ondelete="CASCADE"))
    assignment_id: Mapped[int] = mapped_column(BigId, ForeignKey("assignments.id"))
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"))
    stage: Mapped[str] = mapped_column(String(16))
    answer: Mapped[dict[str, Any] | None]
    active_seconds: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    # Attempts: submitted | approved | improved | rejected; reviews: the verdict they gave.
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    needs_review: Mapped[bool] = mapped_column(default=False)
    # Reviews only: which attempt, what verdict, what was said.
    target_response_id: Mapped[int | None] = mapped_column(BigId, index=True)
    verdict: Mapped[str | None] = mapped_column(String(16))
    feedback: Mapped[str | None]
    score: Mapped[int | None]
    # Attempts only: the review that decided it, once reviewed.
    review_id: Mapped[int | None] = mapped_column(BigId)
    generation_ids: Mapped[list[str] | None] = mapped_column(Json)
    # The version of the project's guidelines the work was done under.
    guidelines_version: Mapped[int | None]
    # Why a review rejected an attempt (a code from REJECT_REASONS), on the review.
    reason_code: Mapped[str | None] = mapped_column(String(32))
