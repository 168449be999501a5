"""pay: rate cards, earnings lines, pay runs, statements and payouts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
)


def upgrade() -> None:
    op.create_table(
        "pay_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("payout_threshold", sa.BigInteger(), nullable=False),
        sa.Column("auto_accept_days", sa.Integer(), nullable=False),
        sa.Column("default_location_tier", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("location_tiers", JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pay_settings")),
    )
    op.create_table(
        "payruns",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("period_start", sa.DateTime(), nullable=False),
        sa.Column("period_end", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("statements", sa.Integer(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_payruns_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payruns")),
        sa.UniqueConstraint("period_start", name=op.f("uq_payruns_period_start")),
    )
    op.create_table(
        "rate_cards",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.DateTime(), nullable=False),
        sa.Column("card", JSON, nullable=False),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_rate_cards_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_rate_cards_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_cards")),
        sa.UniqueConstraint("project_id", "version", name=op.f("uq_rate_cards_project_id")),
    )
    with op.batch_alter_table("rate_cards", schema=None) as batch_op:
        batch_op.create_index(
            "ix_rate_cards_project_effective", ["project_id", "effective_from"], unique=False
        )

    op.create_table(
        "statements",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("payrun_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("period_start", sa.DateTime(), nullable=False),
        sa.Column("period_end", sa.DateTime(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("carried_forward", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["payrun_id"],
            ["payruns.id"],
            name=op.f("fk_statements_payrun_id_payruns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_statements_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statements")),
        sa.UniqueConstraint("payrun_id", "user_id", name=op.f("uq_statements_payrun_id")),
    )
    with op.batch_alter_table("statements", schema=None) as batch_op:
        batch_op.create_index("ix_statements_user", ["user_id", "id"], unique=False)

    op.create_table(
        "earnings_lines",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("source_key", sa.String(length=120), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=True),
        sa.Column("response_id", ID, nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("basis_status", sa.String(length=16), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("inputs", JSON, nullable=False),
        sa.Column("formula", sa.String(length=2000), nullable=False),
        sa.Column("labels", JSON, nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=True),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.Column("rate_card_id", ID, nullable=True),
        sa.Column("work_at", sa.DateTime(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(), nullable=True),
        sa.Column("period_start", sa.DateTime(), nullable=True),
        sa.Column("statement_id", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_earnings_lines_project_id_projects"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["statements.id"],
            name=op.f("fk_earnings_lines_statement_id_statements"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_earnings_lines_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_earnings_lines")),
        sa.UniqueConstraint("source_key", name=op.f("uq_earnings_lines_source_key")),
    )
    with op.batch_alter_table("earnings_lines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_earnings_lines_open", ["period_start", "status", "statement_id"], unique=False
        )
        batch_op.create_index("ix_earnings_lines_pending", ["status", "work_at"], unique=False)
        batch_op.create_index(
            "ix_earnings_lines_response", ["response_id", "basis_status"], unique=False
        )
        batch_op.create_index("ix_earnings_lines_statement", ["statement_id"], unique=False)
        batch_op.create_index(
            "ix_earnings_lines_user_period", ["user_id", "period_start"], unique=False
        )

    op.create_table(
        "payouts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("payrun_id", ID, nullable=False),
        sa.Column("statement_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["payrun_id"],
            ["payruns.id"],
            name=op.f("fk_payouts_payrun_id_payruns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["statements.id"],
            name=op.f("fk_payouts_statement_id_statements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_payouts_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payouts")),
        sa.UniqueConstraint("statement_id", name=op.f("uq_payouts_statement_id")),
    )
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payouts_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slots_open"), sqlite_where=sa.text("state = 'open'"))
        batch_op.create_index(
            "ix_slots_open",
            ["project_id", "stage", sa.literal_column("priority DESC"), "id"],
            unique=False,
            sqlite_where=sa.text("state = 'open'"),
            postgresql_where=sa.text("state = 'open'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_slots_open",
            sqlite_where=sa.text("state = 'open'"),
            postgresql_where=sa.text("state = 'open'"),
        )
        batch_op.create_index(
            batch_op.f("ix_slots_open"),
            ["project_id", "stage", "priority", "id"],
            unique=False,
            sqlite_where=sa.text("state = 'open'"),
        )

    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payouts_user_id"))

    op.drop_table("payouts")
    with op.batch_alter_table("earnings_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_earnings_lines_user_period")
        batch_op.drop_index("ix_earnings_lines_statement")
        batch_op.drop_index("ix_earnings_lines_response")
        batch_op.drop_index("ix_earnings_lines_pending")
        batch_op.drop_index("ix_earnings_lines_open")

    op.drop_table("earnings_lines")
    with op.batch_alter_table("statements", schema=None) as batch_op:
        batch_op.drop_index("ix_statements_user")

    op.drop_table("statements")
    with op.batch_alter_table("rate_cards", schema=None) as batch_op:
        batch_op.drop_index("ix_rate_cards_project_effective")

    op.drop_table("rate_cards")
    op.drop_table("payruns")
    op.drop_table("pay_settings")
