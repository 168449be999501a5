"""Projects, who belongs to them, and the items they hold."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from inlier.db.base import Base, BigId, pk


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = pk()
    name: Mapped[str] = mapped_column(String(200))
    guidelines: Mapped[str] = mapped_column(default="")
    # Counts guideline changes; each response records the version it was made under.
    guidelines_version: Mapped[int] = mapped_column(default=1)
    template: Mapped[dict[str, Any]]
    workflow: Mapped[dict[str, Any]]
    requirements: Mapped[dict[str, Any]]
    models: Mapped[dict[str, Any]] = mapped_column(default=dict)
    quality: Mapped[dict[str, Any]] = mapped_column(default=dict)
    export: Mapped[dict[str, Any]] = mapped_column(default=dict)
    lease_minutes: Mapped[int] = mapped_column(default=30)
    status: Mapped[str] = mapped_column(String(16), default="active")
    visibility: Mapped[str] = mapped_column(String(16), default="members")
    # When the project stops taking work (contributors were told when it was set).
    closes_at: Mapped[datetime | None]
    pseudonym_salt: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Membership(Base):
    __tablename__ = "project_members"
    __table_args__ = (UniqueConstraint("project_id", "user_id"),)

    id: Mapped[int] = pk()
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (
        Index("ix_items_project_id_id", "project_id", "id"),
        Index("ix_items_batch", "import_batch"),
        # Gold items of a project: the honeypots `next` mixes in.
        Index(
            "ix_items_gold",
            "project_id",
            "id",
            sqlite_where=text("gold IS NOT NULL"),
            postgresql_where=text("gold IS NOT NULL"),
        ),
        UniqueConstraint("project_id", "external_id"),
    )

    id: Mapped[int] = pk()
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any]]
    gold: Mapped[dict[str, Any] | None]
    priority: Mapped[int] = mapped_column(default=0)
    import_batch: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
