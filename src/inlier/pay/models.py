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
    # The end of the latest closed pay period, kept on this row so that a line writer holding
    # it (FOR KEY SHARE) reads the value a pay run committed: no line lands in a closed week.
    closed_until: Mapped[datetime | None]
    # The pay run's sweep checks responses after ``swept_through``; ``sweep_mark`` (the last
    # response seen at ``sweep_mark_at``) becomes it once no transaction can still be writing
    # a response below it.
    swept_through: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    sweep_mark: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    sweep_mark_at: Mapped[datetime | None]


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
    # The first pay period whose lines the run closes (the end of the run before it; ``None``:
    # from the beginning). Its statements hold the lines of ``[lines_from, period_end)``.
    lines_from: Mapped[datetime | None]


class Statement(Base):
    """What one person earned in one pay run: the sum of their lines in the run's periods."""

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

    ``period_start`` is the pay period the line belongs to, chosen when it is accepted (the
    week of the work's acceptance, or the first open week when that one is closed); a pending
    line has none. A line is on the statement of its person in the pay run whose periods hold
    its period, so closing a week never rewrites its lines.

    ``source_key`` names what the line is for (``work:<response>``, ``adj:<response>:<status>``,
    ``inc:…``, ``floor:…``, ``carry:<statement>``, ``payout:<payout>``) and is unique, so every
    writer — the queue's hooks, the sweep, concurrent pay runs — writes a line at most once.
    """

    __tablename__ = "earnings_lines"
    __table_args__ = (
        Index("ix_earnings_lines_user_period", "user_id", "period_start"),
        Index("ix_earnings_lines_period", "period_start"),
        Index("ix_earnings_lines_response", "response_id", "basis_status"),
        # Partial: a line leaves it once accepted, so it holds only work awaiting review.
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
    created_at: Mapped[datetime]
