"""The pay ledger: rate cards, earnings lines, pay runs, statements and payouts.

Money is integer minor units of the deployment's one currency. A balance is always a sum of
lines; statements and payouts only point at lines, they never hold amounts of their own
that the lines do not add up to.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from inlier.db.base import Base, BigId, Json, pk

Money = BigInteger()


class PaySettings(Base):
    """The deployment's pay settings: one row, id 1."""

    __tablename__ = "pay_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    payout_threshold: Mapped[int] = mapped_column(Money, default=0)
    auto_accept_days: Mapped[int] = mapped_column(default=7)
    default_location_tier: Mapped[int] = mapped_column(default=1)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    location_tiers: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    updated_at: Mapped[datetime | None]


class RateCard(Base):
    """One version of a project's rate card; it applies to work submitted from its time on."""

    __tablename__ = "rate_cards"
    __table_args__ = (
        UniqueConstraint("project_id", "version"),
        Index("ix_rate_cards_project_effective", "project_id", "effective_from"),
    )

    id: Mapped[int] = pk()
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"))
    version: Mapped[int]
    effective_from: Mapped[datetime]
    card: Mapped[dict[str, Any]] = mapped_column(Json)
    created_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"))
    created_at: Mapped[datetime]


class PayRun(Base):
    __tablename__ = "payruns"

    id: Mapped[int] = pk()
    period_start: Mapped[datetime] = mapped_column(unique=True)
    period_end: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="building")
    statements: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(Money, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    created_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"))
    created_at: Mapped[datetime]


class Statement(Base):
    """What one person earned in one pay run: the sum of the lines that point at it."""

    __tablename__ = "statements"
    __table_args__ = (
        UniqueConstraint("payrun_id", "user_id"),
        Index("ix_statements_user", "user_id", "id"),
    )

    id: Mapped[int] = pk()
    payrun_id: Mapped[int] = mapped_column(BigId, ForeignKey("payruns.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"))
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    total: Mapped[int] = mapped_column(Money, default=0)
    carried_forward: Mapped[int] = mapped_column(Money, default=0)
    created_at: Mapped[datetime]


class Payout(Base):
    __tablename__ = "payouts"

    id: Mapped[int] = pk()
    payrun_id: Mapped[int] = mapped_column(BigId, ForeignKey("payruns.id", ondelete="CASCADE"))
    statement_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("statements.id", ondelete="CASCADE"), unique=True
    )
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"), index=True)
    amount: Mapped[int] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    # pending | paid | failed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reference: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class EarningsLine(Base):
    """One explained amount: ``amount == round_half_up(formula(inputs))``, always.

    ``source_key`` names what the line is for (``work:<response>``, ``adj:<response>:<status>``,
    ``inc:…``, ``floor:…``, ``carry:<statement>``, ``payout:<payout>``) and is unique, so every
    writer — the queue's hooks, the sweep, concurrent pay runs — writes a line at most once.
    """

    __tablename__ = "earnings_lines"
    __table_args__ = (
        Index("ix_earnings_lines_user_period", "user_id", "period_start"),
        # Partial: a line leaves these once it is on a statement (or accepted), so closing a
        # week writes fewer index entries and the indexes hold only what is still open.
        Index(
            "ix_earnings_lines_open",
            "period_start",
            sqlite_where=text("statement_id IS NULL"),
            postgresql_where=text("statement_id IS NULL"),
        ),
        Index("ix_earnings_lines_response", "response_id", "basis_status"),
        Index("ix_earnings_lines_statement", "statement_id"),
        Index(
            "ix_earnings_lines_pending",
            "work_at",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_earnings_lines_project_accepted", "project_id", "accepted_at"),
    )

    id: Mapped[int] = pk()
    source_key: Mapped[str] = mapped_column(String(120), unique=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"))
    project_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("projects.id", ondelete="SET NULL")
    )
    response_id: Mapped[int | None] = mapped_column(BigId)
    stage: Mapped[str | None] = mapped_column(String(16))
    # work | incentive | floor_topup | adjustment | carry_forward
    kind: Mapped[str] = mapped_column(String(16))
    # pending (awaiting review) | accepted
    status: Mapped[str] = mapped_column(String(16))
    # The response status the amount was computed from (work and adjustment lines).
    basis_status: Mapped[str | None] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    inputs: Mapped[dict[str, Any]] = mapped_column(Json)
    formula: Mapped[str] = mapped_column(String(2000))
    labels: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    reason: Mapped[str | None] = mapped_column(String(1000))
    # Active seconds counted (capped) — the time the hourly floor compares pay against.
    seconds: Mapped[int] = mapped_column(default=0)
    # All the active time the work reported, capped or not: what effective hourly wages divide by.
    active_seconds: Mapped[int] = mapped_column(default=0, server_default="0")
    # The project phase of the rate card the line was priced under (work lines).
    phase: Mapped[str | None] = mapped_column(String(16))
    rate_card_id: Mapped[int | None] = mapped_column(BigId)
    work_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    period_start: Mapped[datetime | None]
    statement_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("statements.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]
