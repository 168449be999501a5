"""quality: events, standings, skill scores, appeals; guideline versions, closing dates;
gold and routing indexes

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
)

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str, ondelete: str | None = "CASCADE") -> sa.Constraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete=ondelete,
    )


def upgrade() -> None:
    op.create_table(
        "quality_events",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("weight", sa.Double(), nullable=False),
        sa.Column("item_id", ID, nullable=True),
        sa.Column("response_id", ID, nullable=True),
        sa.Column("detail", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _fk("quality_events", "project_id", "projects"),
        _fk("quality_events", "user_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_events")),
    )
    op.create_index(
        "ix_quality_events_user_project", "quality_events", ["user_id", "project_id", "id"]
    )
    op.create_index("ix_quality_events_project_at", "quality_events", ["project_id", "created_at"])
    op.create_table(
        "standings",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("good", sa.Double(), nullable=False),
        sa.Column("bad", sa.Double(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("events_at_reinstatement", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("state_since", sa.DateTime(), nullable=True),
        sa.Column("last_event_id", ID, nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        _fk("standings", "project_id", "projects"),
        _fk("standings", "user_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_standings")),
        sa.UniqueConstraint("project_id", "user_id", name=op.f("uq_standings_project_id")),
    )
    op.create_index("ix_standings_user", "standings", ["user_id"])
    op.create_table(
        "skill_scores",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("skill", sa.String(length=200), nullable=False),
        sa.Column("good", sa.Double(), nullable=False),
        sa.Column("bad", sa.Double(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        _fk("skill_scores", "user_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_skill_scores")),
        sa.UniqueConstraint("user_id", "skill", name=op.f("uq_skill_scores_user_id")),
    )
    op.create_table(
        "appeals",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("response_id", ID, nullable=True),
        sa.Column("message", sa.String(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decision_reason", sa.String(), nullable=True),
        sa.Column("decided_by", ID, nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _fk("appeals", "project_id", "projects"),
        _fk("appeals", "user_id", "users"),
        _fk("appeals", "decided_by", "users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeals")),
    )
    op.create_index("ix_appeals_user", "appeals", ["user_id", "id"])
    op.create_index("ix_appeals_project_status", "appeals", ["project_id", "status", "id"])
    with op.batch_alter_table("projects") as batch:
        batch.add_column(
            sa.Column("guidelines_version", sa.Integer(), nullable=False, server_default="1")
        )
        batch.add_column(sa.Column("closes_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("responses") as batch:
        batch.add_column(sa.Column("guidelines_version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("reason_code", sa.String(length=32), nullable=True))
    op.create_index("ix_assignments_user_id_id", "assignments", ["user_id", "id"])
    op.create_index(
        "ix_items_gold",
        "items",
        ["project_id", "id"],
        sqlite_where=sa.text("gold IS NOT NULL"),
        postgresql_where=sa.text("gold IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_items_gold", table_name="items")
    op.drop_index("ix_assignments_user_id_id", table_name="assignments")
    with op.batch_alter_table("responses") as batch:
        batch.drop_column("reason_code")
        batch.drop_column("guidelines_version")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("closes_at")
        batch.drop_column("guidelines_version")
    op.drop_table("appeals")
    op.drop_table("skill_scores")
    op.drop_table("standings")
    op.drop_table("quality_events")
