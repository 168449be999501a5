"""Applications, the skills added to the default taxonomy, and assessments with their attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from inlier.db.base import Base, BigId, pk


class Skill(Base):
    """A skill added by an owner or admin (the defaults are in ``taxonomy.py``)."""

    __tablename__ = "skills"

    id: Mapped[int] = pk()
    key: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]


class Application(Base):
    """Someone's request to join as an expert: the account exists (status ``pending``) and can
    sign in; an admin's decision approves or declines it, with a reason."""

    __tablename__ = "applications"
    __table_args__ = (Index("ix_applications_status_id", "status", "id"),)

    id: Mapped[int] = pk()
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(16))
    profile: Mapped[dict[str, Any]]
    # {policy_version, at}: which privacy policy the applicant accepted, and when.
    consent: Mapped[dict[str, Any]]
    reason: Mapped[str | None] = mapped_column(String(2000))
    decided_by: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class Assessment(Base):
    """A qualification test for one skill: gold items, a pass mark, attempts and a cooldown."""

    __tablename__ = "assessments"

    id: Mapped[int] = pk()
    name: Mapped[str] = mapped_column(String(200))
    skill: Mapped[str] = mapped_column(String(200), index=True)
    level_on_pass: Mapped[int]
    pass_mark: Mapped[float]
    max_attempts: Mapped[int]
    cooldown_hours: Mapped[int]
    paid: Mapped[bool] = mapped_column(default=False)
    template: Mapped[dict[str, Any]]
    created_by: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]


class AssessmentItem(Base):
    __tablename__ = "assessment_items"
    __table_args__ = (
        Index("ix_assessment_items_assessment_position", "assessment_id", "position"),
    )

    id: Mapped[int] = pk()
    assessment_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("assessments.id", ondelete="CASCADE")
    )
    position: Mapped[int]
    data: Mapped[dict[str, Any]]
    gold: Mapped[dict[str, Any]]


class AssessmentAttempt(Base):
    """One sitting of an assessment: ``open`` until submitted, then graded once."""

    __tablename__ = "assessment_attempts"
    __table_args__ = (
        Index("ix_assessment_attempts_user_assessment", "user_id", "assessment_id", "id"),
    )

    id: Mapped[int] = pk()
    assessment_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("assessments.id", ondelete="CASCADE")
    )
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    answers: Mapped[dict[str, Any] | None]
    score: Mapped[float | None]
    passed: Mapped[bool | None]
    level_granted: Mapped[int | None]
    feedback: Mapped[dict[str, Any] | None]
    active_seconds: Mapped[int] = mapped_column(default=0)
