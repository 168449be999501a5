"""The rules of the forums: who reads and moderates what, threads and posts, search, pins.

Who sees a forum:
- a project's forum: the project's members (any role) and admins; for everyone else it, its
  threads and its posts do not exist (404, the same answer as for an id that was never issued);
- a community forum: approved contributors, reviewers and owners, and admins.
Who moderates (official answers, pins, hiding, locking, editing others' posts): the project's
owners and reviewers and admins; in community forums, admins.

People are shown to each other by a pseudonym stable within a forum; the project's staff
(owners, reviewers) and admins by name, so that an official answer says who gave it.
"""

from __future__ import annotations

import difflib
import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, case, cast, exists, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from inlier.accounts import service as accounts
from inlier.accounts.models import User
from inlier.accounts.service import Principal
from inlier.audit import service as audit
from inlier.forum import search
from inlier.forum.models import COMMUNITY, PROJECT, Forum, Post, PostEdit, PostReport, Thread
from inlier.forum.schemas import ForumIn, ThreadIn
from inlier.kit.clock import iso
from inlier.kit.errors import Conflict, Forbidden, NotFound, RateLimited, invalid
from inlier.kit.ids import parse_id, sid
from inlier.kit.markdown import render
from inlier.notify import service as notify
from inlier.projects.models import Item, Membership, Project

MODERATOR_ROLES = ("owner", "reviewer")
COMMUNITY_ROLES = ("contributor", "reviewer", "owner", "admin")


@dataclass
class ForumAccess:
    forum: Forum
    moderator: bool
    who: Principal | None


# ---- who sees what ---------------------------------------------------------------------------


async def _role_in(s: AsyncSession, project_id: int, user_id: int) -> str | None:
    q = select(Membership.role).where(
        Membership.project_id == project_id, Membership.user_id == user_id
    )
    return (await s.execute(q)).scalar_one_or_none()


async def _access(s: AsyncSession, who: Principal, forum: Forum) -> ForumAccess | None:
    if forum.kind == COMMUNITY:
        if who.is_admin:
            return ForumAccess(forum, True, who)
        if who.status == "approved" and who.has(*COMMUNITY_ROLES):
            return ForumAccess(forum, False, who)
        return None
    assert forum.project_id is not None
    role = await _role_in(s, forum.project_id, who.id)
    if who.is_admin:
        return ForumAccess(forum, True, who)
    if role is None:
        return None
    return ForumAccess(forum, role in MODERATOR_ROLES, who)


async def forum_for(s: AsyncSession, who: Principal, forum_id: str | int) -> ForumAccess:
    """The forum if ``who`` may read it; otherwise it does not exist for them."""
    forum = await s.get(Forum, parse_id(forum_id, "forum"))
    acc = await _access(s, who, forum) if forum is not None else None
    if acc is None:
        raise NotFound("forum not found")
    return acc


@dataclass
class ThreadAccess:
    thread: Thread
    fa: ForumAccess


async def thread_for(s: AsyncSession, who: Principal, thread_id: str | int) -> ThreadAccess:
    row = (
        await s.execute(
            select(Thread, Forum)
            .join(Forum, Forum.id == Thread.forum_id)
            .where(Thread.id == parse_id(thread_id, "thread"))
        )
    ).first()
    acc = await _access(s, who, row[1]) if row is not None else None
    if row is None or acc is None:
        raise NotFound("thread not found")
    return ThreadAccess(row[0], acc)


async def post_for(
    s: AsyncSession, who: Principal, post_id: str | int
) -> tuple[Post, ThreadAccess]:
    row = (
        await s.execute(
            select(Post, Thread, Forum)
            .join(Thread, Thread.id == Post.thread_id)
            .join(Forum, Forum.id == Thread.forum_id)
            .where(Post.id == parse_id(post_id, "post"))
        )
    ).first()
    acc = await _access(s, who, row[2]) if row is not None else None
    if row is None or acc is None:
        raise NotFound("post not found")
    return row[0], ThreadAccess(row[1], acc)


def require_moderator(fa: ForumAccess) -> None:
    if not fa.moderator:
        raise Forbidden("only the forum's moderators (project owners, reviewers, admins) may")


# ---- forums ----------------------------------------------------------------------------------


async def ensure_project_forums(s: AsyncSession, project_ids: list[int], now: datetime) -> None:
    """Create the forums of these projects that do not exist yet (race-free: unique key)."""
    if not project_ids:
        return
    missing = (
        await s.execute(
            select(Project.id, Project.name).where(
                Project.id.in_(project_ids),
                ~exists().where(Forum.project_id == Project.id),
            )
        )
    ).all()
    if not missing:
        return
    dialect = s.get_bind().dialect.name
    insert = sqlite_insert if dialect == "sqlite" else pg_insert
    rows = [
        {
            "kind": PROJECT,
            "project_id": pid,
            "title": name,
            "description": "",
            "salt": secrets.token_hex(16),
            "created_at": now,
        }
        for pid, name in missing
    ]
    await s.execute(insert(Forum).values(rows).on_conflict_do_nothing())


async def project_forum(s: AsyncSession, project: Project, now: datetime) -> Forum:
    await ensure_project_forums(s, [project.id], now)
    forum = (await s.execute(select(Forum).where(Forum.project_id == project.id))).scalar_one()
    return forum


def forum_out(forum: Forum, fa: ForumAccess | None = None) -> dict[str, Any]:
    return {
        "id": str(forum.id),
        "kind": forum.kind,
        "project_id": sid(forum.project_id),
        "title": forum.title,
        "description": forum.description,
        "moderator": bool(fa and fa.moderator),
        "created_at": iso(forum.created_at),
    }


async def create_community(
    s: AsyncSession, body: ForumIn, now: datetime, actor_id: int | None = None
) -> Forum:
    forum = Forum(
        kind=COMMUNITY,
        project_id=None,
        title=body.title,
        description=body.description,
        salt=secrets.token_hex(16),
        created_at=now,
    )
    s.add(forum)
    await s.flush()
    after = {"title": forum.title}
    await audit.record(s, actor_id, "forum.create", f"forum:{forum.id}", {"after": after}, None)
    return forum


async def list_forums(
    s: AsyncSession,
    who: Principal,
    now: datetime,
    *,
    limit: int,
    after: int | None,
    project_id: str | None = None,
) -> list[dict[str, Any]]:
    """The forums ``who`` may read, oldest first: community forums and their projects'."""
    mine = select(Membership.project_id).where(Membership.user_id == who.id)
    if project_id is not None:
        try:
            pid = parse_id(project_id, "project")
        except NotFound:
            return []  # a filter that matches nothing, not a missing resource
        if not (who.is_admin or await _role_in(s, pid, who.id) is not None):
            return []
        await ensure_project_forums(s, [pid], now)
        q = select(Forum).where(Forum.project_id == pid)
    else:
        if who.is_admin:
            wanted = list((await s.scalars(select(Project.id))).all())
        else:
            wanted = list((await s.scalars(mine)).all())
        await ensure_project_forums(s, wanted, now)
        projects = Forum.kind == PROJECT if who.is_admin else Forum.project_id.in_(mine)
        reads_community = who.is_admin or (who.status == "approved" and who.has(*COMMUNITY_ROLES))
        q = select(Forum).where(
            or_(projects, Forum.kind == COMMUNITY) if reads_community else projects
        )
    if after is not None:
        q = q.where(Forum.id > after)
    forums = (await s.scalars(q.order_by(Forum.id).limit(limit + 1))).all()
    return [forum_out(f, await _access(s, who, f)) for f in forums]


# ---- threads and posts -----------------------------------------------------------------------


async def check_rate(s: AsyncSession, who: Principal, now: datetime, per_minute: int) -> None:
    """At most ``per_minute`` posts (threads included) in any 60 seconds, or 429.

    The person's row is locked first (PostgreSQL), so concurrent posts are counted one after
    the other and cannot slip past the limit together; SQLite has one writer anyway.
    """
    await accounts.lock_user(s, who.id)
    since = now - timedelta(minutes=1)
    q = select(func.count(), func.min(Post.created_at)).where(
        Post.author_id == who.id, Post.created_at > since
    )
    count, oldest = (await s.execute(q)).one()
    if count >= per_minute:
        wait = max(1, math.ceil(60 - (now - oldest).total_seconds()))
        raise RateLimited(
            f"at most {per_minute} posts a minute; try again in {wait} s",
            headers={"Retry-After": str(wait)},
            extra={"retry_after": wait},
        )


async def _item_of(s: AsyncSession, forum: Forum, item_id: str | None) -> Item | None:
    if item_id is None:
        return None
    if forum.project_id is None:
        raise invalid(["body", "item_id"], "only a project's forum can link to an item")
    try:
        iid = parse_id(item_id, "item")
    except NotFound:
        raise invalid(["body", "item_id"], "no such item in this project") from None
    item = await s.get(Item, iid)
    if item is None or item.project_id != forum.project_id:
        raise invalid(["body", "item_id"], "no such item in this project")
    return item


async def _add_post(
    s: AsyncSession, thread: Thread, author_id: int | None, body: str, now: datetime
) -> Post:
    post = Post(
        thread_id=thread.id,
        author_id=author_id,
        body=body,
        official=False,
        hidden=False,
        created_at=now,
        edited_at=None,
    )
    s.add(post)
    thread.last_post_at = now
    await s.flush()
    return post


async def _first_post_id(s: AsyncSession, thread_id: int) -> int | None:
    return await s.scalar(select(func.min(Post.id)).where(Post.thread_id == thread_id))


async def _reindex(s: AsyncSession, post: Post, thread: Thread) -> None:
    if post.hidden:
        await search.index_post(s, post.id, None)
        return
    first = await _first_post_id(s, thread.id)
    content = f"{thread.title}\n\n{post.body}" if first == post.id else post.body
    await search.index_post(s, post.id, content)


async def create_thread(
    s: AsyncSession,
    fa: ForumAccess,
    author_id: int | None,
    body: ThreadIn,
    now: datetime,
    *,
    per_minute: int | None = None,
) -> Thread:
    """Open a thread whose first post is the question; ``per_minute`` applies the rate limit."""
    item = await _item_of(s, fa.forum, body.item_id)
    if per_minute is not None and fa.who is not None:
        await check_rate(s, fa.who, now, per_minute)
    thread = Thread(
        forum_id=fa.forum.id,
        title=body.title,
        item_id=item.id if item is not None else None,
        author_id=author_id,
        pinned=False,
        locked=False,
        created_at=now,
        last_post_at=now,
    )
    s.add(thread)
    await s.flush()
    post = await _add_post(s, thread, author_id, body.body, now)
    await _reindex(s, post, thread)
    return thread


async def reply(
    s: AsyncSession,
    ta: ThreadAccess,
    who: Principal,
    body: str,
    now: datetime,
    *,
    per_minute: int | None = None,
) -> Post:
    thread = ta.thread
    if thread.locked:
        raise Conflict("the thread is locked: no more replies")
    if per_minute is not None:
        await check_rate(s, who, now, per_minute)
    post = await _add_post(s, thread, who.id, body, now)
    await _reindex(s, post, thread)
    if thread.author_id is not None and thread.author_id != who.id:
        await notify.send(
            s,
            thread.author_id,
            "reply",
            f"New reply: {thread.title}"[:200],
            body[:500],
            f"/threads/{thread.id}#post-{post.id}",
            now,
        )
    return post


async def list_threads(
    s: AsyncSession, fa: ForumAccess, *, q: str | None, limit: int, after: int | None
) -> list[dict[str, Any]]:
    """Newest first; with ``q``, the threads with a post matching every word of it."""
    stmt = select(Thread).where(Thread.forum_id == fa.forum.id)
    if q:
        matching = search.matching_threads(s, q)
        if matching is not None:
            stmt = stmt.where(Thread.id.in_(matching))
    if after is not None:
        stmt = stmt.where(Thread.id < after)
    threads = list((await s.scalars(stmt.order_by(Thread.id.desc()).limit(limit + 1))).all())
    return await _thread_summaries(s, threads)


async def pinned_threads(s: AsyncSession, fa: ForumAccess) -> list[dict[str, Any]]:
    stmt = select(Thread).where(Thread.forum_id == fa.forum.id, Thread.pinned.is_(True))
    threads = list((await s.scalars(stmt.order_by(Thread.id.desc()).limit(100))).all())
    return await _thread_summaries(s, threads)


async def _thread_summaries(s: AsyncSession, threads: list[Thread]) -> list[dict[str, Any]]:
    ids = [t.id for t in threads]
    counts: dict[int, tuple[int, bool]] = {}
    if ids:
        rows = await s.execute(
            select(
                Post.thread_id,
                func.count(),
                func.max(case((Post.official & ~Post.hidden, 1), else_=0)),
            )
            .where(Post.thread_id.in_(ids))
            .group_by(Post.thread_id)
        )
        counts = {tid: (n, bool(off)) for tid, n, off in rows}
    return [
        {
            "id": str(t.id),
            "forum_id": str(t.forum_id),
            "title": t.title,
            "item_id": sid(t.item_id),
            "pinned": t.pinned,
            "locked": t.locked,
            "replies": max(0, counts.get(t.id, (1, False))[0] - 1),
            "answered": counts.get(t.id, (0, False))[1],
            "created_at": iso(t.created_at),
            "last_post_at": iso(t.last_post_at),
        }
        for t in threads
    ]


def _pseudonym(forum: Forum, user_id: int) -> str:
    digest = hmac.new(forum.salt.encode(), str(user_id).encode(), hashlib.sha256).hexdigest()
    return f"Expert {digest[:6]}"


async def _authors(
    s: AsyncSession, forum: Forum, user_ids: set[int], viewer: Principal | None
) -> dict[int, dict[str, Any]]:
    if not user_ids:
        return {}
    users = {u.id: u for u in (await s.scalars(select(User).where(User.id.in_(user_ids)))).all()}
    roles: dict[int, str] = {}
    if forum.project_id is not None:
        rows = await s.execute(
            select(Membership.user_id, Membership.role).where(
                Membership.project_id == forum.project_id, Membership.user_id.in_(user_ids)
            )
        )
        roles = dict(rows.tuples().all())
    out: dict[int, dict[str, Any]] = {}
    for uid in user_ids:
        user = users.get(uid)
        admin = user is not None and "admin" in (user.roles or [])
        role = "admin" if admin else roles.get(uid, "contributor")
        staff = admin or role in MODERATOR_ROLES
        if user is not None and user.status == ERASED:
            name = DELETED_USER  # erased: their posts stay, without a name or pseudonym
        elif staff and user is not None and user.active:
            name = user.name
        else:
            name = _pseudonym(forum, uid)
        out[uid] = {"name": name, "role": role, "you": viewer is not None and viewer.id == uid}
    return out


SYSTEM_AUTHOR = {"name": "Inlier", "role": "system", "you": False}
DELETED_USER = "deleted user"
# The status erasure gives an account (privacy.service.ERASED; not imported: privacy reads us).
ERASED = "erased"


def _post_out(
    post: Post, authors: dict[int, dict[str, Any]], moderator: bool, edits: int
) -> dict[str, Any]:
    shown = moderator or not post.hidden
    author = authors.get(post.author_id, SYSTEM_AUTHOR) if post.author_id else SYSTEM_AUTHOR
    return {
        "id": str(post.id),
        "author": author,
        "body": post.body if shown else "",
        "html": render(post.body) if shown else "",
        "official": post.official,
        "hidden": post.hidden,
        "created_at": iso(post.created_at),
        "edited_at": iso(post.edited_at),
        "edits": edits if shown else 0,
    }


async def thread_out(s: AsyncSession, ta: ThreadAccess) -> dict[str, Any]:
    thread, fa = ta.thread, ta.fa
    posts = list(
        (await s.scalars(select(Post).where(Post.thread_id == thread.id).order_by(Post.id))).all()
    )
    edit_counts = dict(
        (
            await s.execute(
                select(PostEdit.post_id, func.count())
                .where(PostEdit.post_id.in_([p.id for p in posts]))
                .group_by(PostEdit.post_id)
            )
        )
        .tuples()
        .all()
    )
    authors = await _authors(s, fa.forum, {p.author_id for p in posts if p.author_id}, fa.who)
    item = await s.get(Item, thread.item_id) if thread.item_id is not None else None
    return {
        "id": str(thread.id),
        "forum_id": str(thread.forum_id),
        "title": thread.title,
        "item_id": sid(thread.item_id),
        # The item's fields only: never its gold answer, never anyone's answers to it.
        "item": {"id": str(item.id), "data": item.data} if item is not None else None,
        "pinned": thread.pinned,
        "locked": thread.locked,
        "created_at": iso(thread.created_at),
        "moderator": fa.moderator,
        "posts": [_post_out(p, authors, fa.moderator, edit_counts.get(p.id, 0)) for p in posts],
    }


async def post_view(s: AsyncSession, post: Post, ta: ThreadAccess) -> dict[str, Any]:
    ids = {post.author_id} if post.author_id else set()
    authors = await _authors(s, ta.fa.forum, ids, ta.fa.who)
    n = await s.scalar(select(func.count()).where(PostEdit.post_id == post.id))
    return _post_out(post, authors, ta.fa.moderator, int(n or 0))


# ---- moderation ------------------------------------------------------------------------------


async def _moderated(
    s: AsyncSession, ta: ThreadAccess, action: str, target: str, **after: Any
) -> None:
    """Every moderator action is in the audit log (who, what, on which thread or post)."""
    actor = ta.fa.who.id if ta.fa.who is not None else None
    await audit.record(s, actor, f"forum.{action}", target, {"after": after}, None)


async def set_official(
    s: AsyncSession, post: Post, ta: ThreadAccess, official: bool, now: datetime
) -> Post:
    require_moderator(ta.fa)
    if post.official == official:
        return post
    post.official = official
    await s.flush()
    await _moderated(s, ta, "official", f"post:{post.id}", official=official)
    thread = ta.thread
    asker = thread.author_id
    if official and asker is not None and ta.fa.who is not None and asker != ta.fa.who.id:
        await notify.send(
            s,
            asker,
            "official",
            f"Official answer: {thread.title}"[:200],
            post.body[:500],
            f"/threads/{thread.id}#post-{post.id}",
            now,
        )
    return post


async def set_pinned(s: AsyncSession, ta: ThreadAccess, pinned: bool) -> Thread:
    require_moderator(ta.fa)
    ta.thread.pinned = pinned
    await s.flush()
    await _moderated(s, ta, "pin", f"thread:{ta.thread.id}", pinned=pinned)
    return ta.thread


async def set_locked(s: AsyncSession, ta: ThreadAccess, locked: bool) -> Thread:
    require_moderator(ta.fa)
    ta.thread.locked = locked
    await s.flush()
    await _moderated(s, ta, "lock", f"thread:{ta.thread.id}", locked=locked)
    return ta.thread


async def set_hidden(s: AsyncSession, post: Post, ta: ThreadAccess, hidden: bool) -> Post:
    require_moderator(ta.fa)
    post.hidden = hidden
    await s.flush()
    await _reindex(s, post, ta.thread)
    await _moderated(s, ta, "hide", f"post:{post.id}", hidden=hidden)
    return post


async def report(
    s: AsyncSession, post: Post, ta: ThreadAccess, who: Principal, reason: str, now: datetime
) -> PostReport:
    row = PostReport(post_id=post.id, reporter_id=who.id, reason=reason, created_at=now)
    s.add(row)
    await s.flush()
    # The forum's moderators hear about it; the reporter is not named to them.
    for moderator in await _moderators(s, ta.fa.forum):
        if moderator != who.id:
            await notify.send(
                s,
                moderator,
                "report",
                f"A post was reported: {ta.thread.title}"[:200],
                reason[:500],
                f"/threads/{ta.thread.id}#post-{post.id}",
                now,
            )
    return row


async def _moderators(s: AsyncSession, forum: Forum) -> list[int]:
    """Who moderates a forum: the project's owners and reviewers, or, for a community forum,
    the admins."""
    if forum.project_id is not None:
        rows = await s.scalars(
            select(Membership.user_id).where(
                Membership.project_id == forum.project_id, Membership.role.in_(MODERATOR_ROLES)
            )
        )
        return list(rows.all())
    # Roles are a JSON list on the user's row; its text names "admin" exactly when they are one.
    admins = await s.scalars(
        select(User.id).where(User.active.is_(True), cast(User.roles, String).like('%"admin"%'))
    )
    return list(admins.all())


async def edit_post(
    s: AsyncSession, post: Post, ta: ThreadAccess, who: Principal, body: str, now: datetime
) -> Post:
    """The author or a moderator; the previous text is kept. A locked thread: moderators only."""
    if not ta.fa.moderator:
        if post.author_id != who.id or post.hidden:
            raise Forbidden("only the post's author or a moderator may edit it")
        if ta.thread.locked:
            raise Conflict("the thread is locked: its posts can no longer be edited")
    if body == post.body:
        return post
    s.add(PostEdit(post_id=post.id, editor_id=who.id, body=post.body, at=now))
    post.body = body
    post.edited_at = now
    await s.flush()
    await _reindex(s, post, ta.thread)
    if post.author_id != who.id:  # a moderator changed someone else's words
        await _moderated(s, ta, "edit", f"post:{post.id}", edits=True)
    return post


async def post_history(s: AsyncSession, post: Post, ta: ThreadAccess) -> list[dict[str, Any]]:
    """Earlier versions, oldest first (what the post said before each edit)."""
    if post.hidden and not ta.fa.moderator:
        return []
    edits = list(
        (
            await s.scalars(
                select(PostEdit).where(PostEdit.post_id == post.id).order_by(PostEdit.id)
            )
        ).all()
    )
    ids = {e.editor_id for e in edits if e.editor_id}
    authors = await _authors(s, ta.fa.forum, ids, ta.fa.who)
    return [
        {
            "body": e.body,
            "html": render(e.body),
            "replaced_at": iso(e.at),
            "editor": authors.get(e.editor_id, SYSTEM_AUTHOR) if e.editor_id else SYSTEM_AUTHOR,
        }
        for e in edits
    ]


# ---- what other areas call -------------------------------------------------------------------


async def pinned_answers(s: AsyncSession, project_id: int) -> list[dict[str, Any]]:
    """The project forum's pinned threads with their official answers, for the workbench."""
    threads = list(
        (
            await s.scalars(
                select(Thread)
                .join(Forum, Forum.id == Thread.forum_id)
                .where(Forum.project_id == project_id, Thread.pinned.is_(True))
                .order_by(Thread.id.desc())
                .limit(50)
            )
        ).all()
    )
    if not threads:
        return []
    posts = (
        await s.scalars(
            select(Post)
            .where(
                Post.thread_id.in_([t.id for t in threads]),
                Post.official.is_(True),
                Post.hidden.is_(False),
            )
            .order_by(Post.id)
        )
    ).all()
    answers: dict[int, list[str]] = {}
    for p in posts:
        answers.setdefault(p.thread_id, []).append(render(p.body))
    return [
        {
            "thread_id": str(t.id),
            "title": t.title,
            "link": f"/threads/{t.id}",
            "answers": answers.get(t.id, []),
        }
        for t in threads
    ]


def _fence(content: str) -> str:
    """A code fence longer than any run of backticks inside, so the diff cannot close it."""
    longest = max((len(run) for run in re.findall(r"`+", content)), default=0)
    return "`" * max(3, longest + 1)


def guidelines_diff(old: str, new: str) -> str:
    lines = difflib.unified_diff(
        (old or "").splitlines(),
        (new or "").splitlines(),
        "guidelines (before)",
        "guidelines (after)",
        lineterm="",
    )
    return "\n".join(lines)


async def on_guidelines_changed(
    s: AsyncSession,
    project: Project,
    old: str,
    new: str,
    actor_id: int | None,
    now: datetime,
) -> Thread | None:
    """Post the change to the project's forum as a thread holding the unified diff."""
    if (old or "") == (new or ""):
        return None
    forum = await project_forum(s, project, now)
    diff = guidelines_diff(old, new)
    fence = _fence(diff)
    body = f"The project's guidelines changed.\n\n{fence}diff\n{diff}\n{fence}\n"
    fa = ForumAccess(forum, True, None)
    when = now.strftime("%Y-%m-%d %H:%M UTC")
    return await create_thread(
        s,
        fa,
        actor_id,
        # Built by us, not sent by a client: a long diff may exceed what a person may post.
        ThreadIn.model_construct(title=f"Guidelines updated ({when})", body=body, item_id=None),
        now,
    )
