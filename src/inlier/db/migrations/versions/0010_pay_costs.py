"""pay costs: each line's phase and whole active time, an index to read a project's costs,
and partial indexes of the lines still open (closing a week writes fewer index entries)

Revision ID: 0010_pay_costs
Revises: 0011_jobs
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_pay_costs"
down_revision = "0011_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("earnings_lines") as batch:
        batch.add_column(sa.Column("phase", sa.String(length=16), nullable=True))
        batch.add_column(
            sa.Column("active_seconds", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_index(
        "ix_earnings_lines_project_accepted",
        "earnings_lines",
        ["project_id", "accepted_at"],
    )
    op.drop_index("ix_earnings_lines_open", table_name="earnings_lines")
    op.drop_index("ix_earnings_lines_pending", table_name="earnings_lines")
    open_ = sa.text("statement_id IS NULL")
    pending = sa.text("status = 'pending'")
    op.create_index(
        "ix_earnings_lines_open",
        "earnings_lines",
        ["period_start"],
        sqlite_where=open_,
        postgresql_where=open_,
    )
    op.create_index(
        "ix_earnings_lines_pending",
        "earnings_lines",
        ["work_at"],
        sqlite_where=pending,
        postgresql_where=pending,
    )
    # Lines written before: the phase their card named, the active time their work reported.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE earnings_lines SET phase = labels ->> 'phase'")
    else:
        op.execute("UPDATE earnings_lines SET phase = json_extract(labels, '$.phase')")
    op.execute(
        "UPDATE earnings_lines SET active_seconds = COALESCE((SELECT r.active_seconds "
        "FROM responses r WHERE r.id = earnings_lines.response_id), 0) "
        "WHERE kind = 'work' AND response_id IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index("ix_earnings_lines_pending", table_name="earnings_lines")
    op.drop_index("ix_earnings_lines_open", table_name="earnings_lines")
    op.create_index("ix_earnings_lines_pending", "earnings_lines", ["status", "work_at"])
    op.create_index(
        "ix_earnings_lines_open", "earnings_lines", ["period_start", "status", "statement_id"]
    )
    op.drop_index("ix_earnings_lines_project_accepted", table_name="earnings_lines")
    with op.batch_alter_table("earnings_lines") as batch:
        batch.drop_column("active_seconds")
        batch.drop_column("phase")
