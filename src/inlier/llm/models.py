"""Every call to a model made for an assignment: what was asked, what came back, what it cost."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from inlier.db.base import Base, BigId, Json, pk


class Generation(Base):
    """One generation of one field, successful or not (``error`` says why not).

    Failed attempts are kept for the record but never count against the regeneration limit.
    """

    __tablename__ = "generations"
    __table_args__ = (
        # The regeneration count and "latest per field" both read one assignment's rows.
        Index("ix_generations_assignment_field", "assignment_id", "field", "id"),
        Index("ix_generations_project_id_id", "project_id", "id"),
    )

    id: Mapped[int] = pk()
    assignment_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("assignments.id", ondelete="CASCADE")
    )
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(BigId, ForeignKey("items.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"))
    field: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict[str, Any]]
    inputs: Mapped[dict[str, Any]]
    # The field's value (a list of steps for a `steps` field) and the model's text it came from.
    value: Mapped[Any | None] = mapped_column(Json)
    text: Mapped[str | None]
    latency_ms: Mapped[int]
    prompt_tokens: Mapped[int | None]
    completion_tokens: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime]
