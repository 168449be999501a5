"""Privacy-policy versions and who accepted which."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from inlier.db.base import Base, BigId, pk


class Policy(Base):
    """One published version; the one in force is the latest whose ``effective_at`` arrived."""

    __tablename__ = "policies"
    __table_args__ = (Index("ix_policies_effective_at", "effective_at", "id"),)

    id: Mapped[int] = pk()
    version: Mapped[str] = mapped_column(String(50), unique=True)
    markdown: Mapped[str] = mapped_column(Text)
    #: What changed since the previous version, in the admin's words (optional markdown).
    changes: Mapped[str | None] = mapped_column(Text)
    effective_at: Mapped[datetime]
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"))


class Consent(Base):
    """A person accepted a version: when, and a keyed hash of the address they did it from."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("user_id", "policy_id"),)

    id: Mapped[int] = pk()
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    policy_id: Mapped[int] = mapped_column(BigId, ForeignKey("policies.id", ondelete="CASCADE"))
    policy_version: Mapped[str] = mapped_column(String(50))
    accepted_at: Mapped[datetime]
    address_hash: Mapped[str | None] = mapped_column(String(64))
