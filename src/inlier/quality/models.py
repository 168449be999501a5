"""Quality events, the scores folded from them, and appeals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from inlier.db.base import Base, BigId, pk


class QualityEvent(Base):
    """One signal about one person's work: a value in 0..1 with a weight (0 = informational).

    Events are never changed; a score is the fold of a person's events in id order, so it can
    always be recomputed from them.
    """

    __tablename__ = "quality_events"
    __table_args__ = (
        Index("ix_quality_events_user_project", "user_id", "project_id", "id"),
        Index("ix_quality_events_project_at", "project_id", "created_at"),
    )

    id: Mapped[int] = pk()
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    # gold | review | agreement | speed | authenticity | review_audit | appeal
    kind: Mapped[str] = mapped_column(String(24))
    value: Mapped[float]
    weight: Mapped[float] = mapped_column(default=1.0)
    item_id: Mapped[int | None] = mapped_column(BigId)
    response_id: Mapped[int | None] = mapped_column(BigId)
    # What the value was computed from, for the person and for owners (never a gold answer).
    detail: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class Standing(Base):
    """A person's score on one project, folded from their events, and what it allows."""

    __tablename__ = "standings"
    __table_args__ = (
        UniqueConstraint("project_id", "user_id"),
        Index("ix_standings_user", "user_id"),
    )

    id: Mapped[int] = pk()
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    # Decayed evidence for and against: the posterior is Beta(1 + good, 1 + bad).
    good: Mapped[float] = mapped_column(default=0.0)
    bad: Mapped[float] = mapped_column(default=0.0)
    events: Mapped[int] = mapped_column(default=0)
    # Events counted when the last pause was lifted: only later ones can pause again.
    events_at_reinstatement: Mapped[int] = mapped_column(default=0)
    # ok | warning | paused | reviewer
    state: Mapped[str] = mapped_column(String(16), default="ok")
    reason: Mapped[str | None] = mapped_column(String(500))
    state_since: Mapped[datetime | None]
    last_event_id: Mapped[int | None] = mapped_column(BigId)
    updated_at: Mapped[datetime]


class SkillScore(Base):
    """A person's score in one skill, folded from the events of projects that require it."""

    __tablename__ = "skill_scores"
    __table_args__ = (UniqueConstraint("user_id", "skill"),)

    id: Mapped[int] = pk()
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    skill: Mapped[str] = mapped_column(String(200))
    good: Mapped[float] = mapped_column(default=0.0)
    bad: Mapped[float] = mapped_column(default=0.0)
    events: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime]


class Appeal(Base):
    """A person's appeal against a pause or a rejected piece of their work."""

    __tablename__ = "appeals"
    __table_args__ = (
        Index("ix_appeals_user", "user_id", "id"),
        Index("ix_appeals_project_status", "project_id", "status", "id"),
    )

    id: Mapped[int] = pk()
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    # pause | rejection
    kind: Mapped[str] = mapped_column(String(16))
    response_id: Mapped[int | None] = mapped_column(BigId)
    message: Mapped[str]
    # open | upheld | reinstated
    status: Mapped[str] = mapped_column(String(16), default="open")
    decision_reason: Mapped[str | None]
    decided_by: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime | None]
    due_at: Mapped[datetime]
    created_at: Mapped[datetime]
