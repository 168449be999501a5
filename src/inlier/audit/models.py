"""The audit log: an append-only hash chain of who did what to what."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from inlier.db.base import Base, BigId, Json, pk


class AuditEntry(Base):
    """One change an owner or admin made. Rows are only ever inserted.

    ``actor_id`` is deliberately not a foreign key: the log outlives anything it names, and
    erasing a person never rewrites it (it holds ids, never personal data).
    """

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_actor_id", "actor_id", "id"),
        Index("ix_audit_entries_action", "action", "id"),
        Index("ix_audit_entries_target", "target", "id"),
    )

    id: Mapped[int] = pk()
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(BigId)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200))
    diff: Mapped[dict[str, Any]] = mapped_column(Json)
    request_id: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The chain's last link, kept apart from the entries so that deleting the newest entries
    (which leaves an intact, shorter chain) is detected too. One row, ``name = 'chain'``."""

    __tablename__ = "audit_head"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigId)
    last_hash: Mapped[str] = mapped_column(String(64))
    entries: Mapped[int] = mapped_column(BigId)
