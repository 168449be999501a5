"""Snapshots: exports frozen once, as a file on disk, named and versioned per project."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from inlier.db.base import Base, BigId, pk


class Snapshot(Base):
    __tablename__ = "snapshots"
    # Versions count up per project and name; the constraint makes a race a conflict.
    __table_args__ = (UniqueConstraint("project_id", "name", "version"),)

    id: Mapped[int] = pk()
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))
    format: Mapped[str] = mapped_column(String(16))
    form: Mapped[str] = mapped_column(String(16))
    filters: Mapped[dict[str, Any]]
    rows: Mapped[int] = mapped_column(BigInteger)
    bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    #: The file, relative to the data directory.
    path: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"))
    created_at: Mapped[datetime]
