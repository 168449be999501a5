"""forum: forums, threads, posts, edits, reports; notifications and the mail outbox;
full-text search over posts (an FTS5 table on SQLite, a tsvector column + GIN on PostgreSQL)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_outbox",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("user_id", ID, nullable=True),
        sa.Column("to_addr", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.String(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_mail_outbox_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
    )
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mail_outbox_state_next_attempt_at", ["state", "next_attempt_at"], unique=False
        )

    op.create_table(
        "notifications",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.String(), nullable=False),
        sa.Column("link", sa.String(length=500), nullable=True),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index("ix_notifications_user_id_id", ["user_id", "id"], unique=False)

    op.create_table(
        "forums",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("project_id", ID, nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_forums_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forums")),
        sa.UniqueConstraint("project_id", name=op.f("uq_forums_project_id")),
    )
    op.create_table(
        "forum_threads",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("forum_id", ID, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("item_id", ID, nullable=True),
        sa.Column("author_id", ID, nullable=True),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_post_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_forum_threads_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["forum_id"],
            ["forums.id"],
            name=op.f("fk_forum_threads_forum_id_forums"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_forum_threads_item_id_items"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forum_threads")),
    )
    with op.batch_alter_table("forum_threads", schema=None) as batch_op:
        batch_op.create_index("ix_forum_threads_forum_id_id", ["forum_id", "id"], unique=False)

    op.create_table(
        "forum_posts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("thread_id", ID, nullable=False),
        sa.Column("author_id", ID, nullable=True),
        sa.Column("body", sa.String(), nullable=False),
        sa.Column("official", sa.Boolean(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("edited_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_forum_posts_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["forum_threads.id"],
            name=op.f("fk_forum_posts_thread_id_forum_threads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forum_posts")),
    )
    with op.batch_alter_table("forum_posts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_forum_posts_author_id_created_at", ["author_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_forum_posts_thread_id_id", ["thread_id", "id"], unique=False)

    op.create_table(
        "forum_post_edits",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("post_id", ID, nullable=False),
        sa.Column("editor_id", ID, nullable=True),
        sa.Column("body", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["editor_id"], ["users.id"], name=op.f("fk_forum_post_edits_editor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["forum_posts.id"],
            name=op.f("fk_forum_post_edits_post_id_forum_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forum_post_edits")),
    )
    with op.batch_alter_table("forum_post_edits", schema=None) as batch_op:
        batch_op.create_index("ix_forum_post_edits_post_id_id", ["post_id", "id"], unique=False)

    op.create_table(
        "forum_reports",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("post_id", ID, nullable=False),
        sa.Column("reporter_id", ID, nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["forum_posts.id"],
            name=op.f("fk_forum_reports_post_id_forum_posts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"], ["users.id"], name=op.f("fk_forum_reports_reporter_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forum_reports")),
    )
    with op.batch_alter_table("forum_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_forum_reports_post_id"), ["post_id"], unique=False)

    _create_search()


def _create_search() -> None:
    """The search index the models cannot declare (see inlier.forum.models)."""
    if op.get_bind().dialect.name == "sqlite":
        # The post id is the FTS rowid; unicode61 folds case and diacritics.
        op.execute(
            "CREATE VIRTUAL TABLE forum_search USING fts5("
            "text, tokenize = 'unicode61 remove_diacritics 2')"
        )
    else:
        op.execute("ALTER TABLE forum_posts ADD COLUMN search tsvector")
        op.execute("CREATE INDEX ix_forum_posts_search ON forum_posts USING gin (search)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE forum_search")
    else:
        op.execute("DROP INDEX ix_forum_posts_search")
    with op.batch_alter_table("forum_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_forum_reports_post_id"))

    op.drop_table("forum_reports")
    with op.batch_alter_table("forum_post_edits", schema=None) as batch_op:
        batch_op.drop_index("ix_forum_post_edits_post_id_id")

    op.drop_table("forum_post_edits")
    with op.batch_alter_table("forum_posts", schema=None) as batch_op:
        batch_op.drop_index("ix_forum_posts_thread_id_id")
        batch_op.drop_index("ix_forum_posts_author_id_created_at")

    op.drop_table("forum_posts")
    with op.batch_alter_table("forum_threads", schema=None) as batch_op:
        batch_op.drop_index("ix_forum_threads_forum_id_id")

    op.drop_table("forum_threads")
    op.drop_table("forums")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_user_id_id")

    op.drop_table("notifications")
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_mail_outbox_state_next_attempt_at")

    op.drop_table("mail_outbox")
