"""Full-text search over posts, on whichever database we run: one function for the callers.

SQLite: an FTS5 table ``forum_search`` whose rowid is the post id. PostgreSQL: the
``forum_posts.search`` tsvector column with a GIN index. Both use a language-neutral
tokenizer (experts write in many languages) and match every word of the query as a prefix.
Hidden posts are taken out of the index, so search never reveals what moderators hid.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Integer, Select, column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from inlier.forum.models import Post

# Letters and digits only: nothing a person types can reach the query syntax of either engine.
_WORD = re.compile(r"[^\W_]+")
MAX_WORDS = 12


def words(query: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(query)][:MAX_WORDS]


def _sqlite(s: AsyncSession) -> bool:
    return s.get_bind().dialect.name == "sqlite"


async def index_post(s: AsyncSession, post_id: int, content: str | None) -> None:
    """Index (or, with ``None``, un-index) one post's searchable text."""
    if _sqlite(s):
        await s.execute(text("DELETE FROM forum_search WHERE rowid = :id"), {"id": post_id})
        if content is not None:
            await s.execute(
                text("INSERT INTO forum_search (rowid, text) VALUES (:id, :t)"),
                {"id": post_id, "t": content},
            )
    else:
        await s.execute(
            text(
                "UPDATE forum_posts SET search = "
                "CASE WHEN CAST(:t AS text) IS NULL THEN NULL "
                "ELSE to_tsvector('simple', CAST(:t AS text)) END WHERE id = :id"
            ),
            {"id": post_id, "t": content},
        )


def matching_threads(s: AsyncSession, query: str) -> Select[Any] | None:
    """The ids of threads with a post matching every word of ``query``; ``None``: no words."""
    found = words(query)
    if not found:
        return None
    if _sqlite(s):
        match = " ".join(f'"{w}"*' for w in found)
        posts = text("SELECT rowid FROM forum_search WHERE forum_search MATCH :m").bindparams(
            m=match
        )
        return select(Post.thread_id).where(Post.id.in_(posts.columns(column("rowid", Integer()))))
    tsquery = " & ".join(f"{w}:*" for w in found)
    return select(Post.thread_id).where(
        text("forum_posts.search @@ to_tsquery('simple', :m)").bindparams(m=tsquery)
    )
