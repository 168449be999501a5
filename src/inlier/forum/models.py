"""Forums (one per project, plus community categories), their threads, posts and edits.

Search: each post's text (the question post also carries its thread's title) is indexed by
the database's own full-text engine: an FTS5 table ``forum_search`` on SQLite, a ``search``
tsvector column with a GIN index on PostgreSQL. Neither is declared here (SQLAlchemy has no
portable type for them); the migration creates them and ``forum.search`` maintains them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from inlier.db.base import Base, BigId, pk

PROJECT = "project"
COMMUNITY = "community"


class Forum(Base):
    __tablename__ = "forums"

    id: Mapped[int] = pk()
    kind: Mapped[str] = mapped_column(String(16))
    # One forum per project: the unique constraint makes on-demand creation race-free.
    project_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("projects.id", ondelete="CASCADE"), unique=True
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(default="")
    # Authors are shown by a pseudonym stable within the forum, derived with this salt.
    salt: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]


class Thread(Base):
    __tablename__ = "forum_threads"
    __table_args__ = (Index("ix_forum_threads_forum_id_id", "forum_id", "id"),)

    id: Mapped[int] = pk()
    forum_id: Mapped[int] = mapped_column(BigId, ForeignKey("forums.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    item_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("items.id", ondelete="SET NULL"))
    author_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"))
    pinned: Mapped[bool] = mapped_column(default=False)
    locked: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    last_post_at: Mapped[datetime]


class Post(Base):
    __tablename__ = "forum_posts"
    __table_args__ = (
        Index("ix_forum_posts_thread_id_id", "thread_id", "id"),
        # The posting rate limit counts one person's recent posts.
        Index("ix_forum_posts_author_id_created_at", "author_id", "created_at"),
    )

    id: Mapped[int] = pk()
    thread_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("forum_threads.id", ondelete="CASCADE")
    )
    author_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"))
    body: Mapped[str]
    official: Mapped[bool] = mapped_column(default=False)
    hidden: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    edited_at: Mapped[datetime | None]


class PostEdit(Base):
    """The text a post had before an edit, kept so that every change stays visible."""

    __tablename__ = "forum_post_edits"
    __table_args__ = (Index("ix_forum_post_edits_post_id_id", "post_id", "id"),)

    id: Mapped[int] = pk()
    post_id: Mapped[int] = mapped_column(BigId, ForeignKey("forum_posts.id", ondelete="CASCADE"))
    editor_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id"))
    body: Mapped[str]
    at: Mapped[datetime]


class PostReport(Base):
    __tablename__ = "forum_reports"

    id: Mapped[int] = pk()
    post_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("forum_posts.id", ondelete="CASCADE"), index=True
    )
    reporter_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime]
