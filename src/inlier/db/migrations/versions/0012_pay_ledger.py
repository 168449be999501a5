"""pay ledger: a statement's lines are its person's lines in its run's pay periods, not lines
stamped with its id; the end of the closed periods and the sweep's watermark on the settings row

A run closes the periods from the end of the run before it (``payruns.lines_from``) to its own
end; closing a week writes statements, never its lines again. Lines closed before this revision
keep their statements: a line whose period lies outside its run's periods (written while a
run was closing its week) moves to the first period of that run, and an open accepted line in
a closed period (the same race, not yet closed) moves to the first open period, where the old
pay run would have closed it.

Revision ID: 0012_pay_ledger
Revises: 0010_pay_costs
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_pay_ledger"
down_revision = "0010_pay_costs"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("payruns") as batch:
        batch.add_column(sa.Column("lines_from", sa.DateTime(), nullable=True))
    with op.batch_alter_table("pay_settings") as batch:
        batch.add_column(sa.Column("closed_until", sa.DateTime(), nullable=True))
        batch.add_column(
            sa.Column("swept_through", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("sweep_mark", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("sweep_mark_at", sa.DateTime(), nullable=True))
    # Each run closed what the runs before it (in the order they were made) had not.
    op.execute(
        "UPDATE payruns SET lines_from = (SELECT max(p.period_end) FROM payruns p "
        "WHERE p.id < payruns.id)"
    )
    op.execute(
        "UPDATE pay_settings SET closed_until = (SELECT max(period_end) FROM payruns "
        "WHERE status = 'closed')"
    )
    op.execute(
        "UPDATE earnings_lines SET period_start = (SELECT r.lines_from FROM statements st "
        "JOIN payruns r ON r.id = st.payrun_id WHERE st.id = earnings_lines.statement_id) "
        "WHERE statement_id IS NOT NULL AND period_start < (SELECT r.lines_from "
        "FROM statements st JOIN payruns r ON r.id = st.payrun_id "
        "WHERE st.id = earnings_lines.statement_id)"
    )
    op.execute(
        "UPDATE earnings_lines SET period_start = (SELECT max(period_end) FROM payruns "
        "WHERE status = 'closed') WHERE statement_id IS NULL AND period_start < "
        "(SELECT max(period_end) FROM payruns WHERE status = 'closed')"
    )
    op.drop_index("ix_earnings_lines_open", table_name="earnings_lines")
    op.drop_index("ix_earnings_lines_statement", table_name="earnings_lines")
    with op.batch_alter_table("earnings_lines") as batch:
        batch.drop_constraint("fk_earnings_lines_statement_id_statements", type_="foreignkey")
        batch.drop_column("statement_id")
    op.create_index("ix_earnings_lines_period", "earnings_lines", ["period_start"])


def downgrade() -> None:
    op.drop_index("ix_earnings_lines_period", table_name="earnings_lines")
    with op.batch_alter_table("earnings_lines") as batch:
        batch.add_column(sa.Column("statement_id", ID, nullable=True))
        batch.create_foreign_key(
            "fk_earnings_lines_statement_id_statements",
            "statements",
            ["statement_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.execute(
        "UPDATE earnings_lines SET statement_id = (SELECT st.id FROM statements st "
        "JOIN payruns r ON r.id = st.payrun_id WHERE st.user_id = earnings_lines.user_id "
        "AND (r.lines_from IS NULL OR earnings_lines.period_start >= r.lines_from) "
        "AND earnings_lines.period_start < r.period_end) WHERE period_start IS NOT NULL"
    )
    op.create_index("ix_earnings_lines_statement", "earnings_lines", ["statement_id"])
    open_ = sa.text("statement_id IS NULL")
    op.create_index(
        "ix_earnings_lines_open",
        "earnings_lines",
        ["period_start"],
        sqlite_where=open_,
        postgresql_where=open_,
    )
    with op.batch_alter_table("pay_settings") as batch:
        batch.drop_column("sweep_mark_at")
        batch.drop_column("sweep_mark")
        batch.drop_column("swept_through")
        batch.drop_column("closed_until")
    with op.batch_alter_table("payruns") as batch:
        batch.drop_column("lines_from")
