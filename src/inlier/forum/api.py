"""REST routes for forums, threads and posts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from inlier.forum import service
from inlier.forum.schemas import (
    ForumIn,
    HideIn,
    LockIn,
    OfficialIn,
    PinIn,
    PostIn,
    ReportIn,
    ThreadIn,
)
from inlier.kit.auth import Admin, CurrentUser, Tx
from inlier.kit.clock import iso
from inlier.kit.openapi import problems
from inlier.kit.pagination import Limit, decode_cursor, encode_cursor, page

router = APIRouter(tags=["forums"])


def _now(request: Request) -> Any:
    return request.app.state.clock.now()


def _rate(request: Request) -> int:
    return int(request.app.state.settings.forum_posts_per_minute)


@router.get("/forums", responses=problems())
async def list_forums(
    request: Request,
    who: CurrentUser,
    s: Tx,
    limit: Limit = 50,
    cursor: str | None = None,
    project_id: Annotated[str | None, Query(max_length=40)] = None,
) -> dict[str, Any]:
    """The forums you may read: community forums and the forums of your projects."""
    rows = await service.list_forums(
        s,
        who,
        _now(request),
        limit=limit,
        after=decode_cursor(cursor),
        project_id=project_id,
    )
    return page(rows, limit, key=lambda f: int(f["id"]))


@router.post("/forums", status_code=201, responses=problems(403))
async def create_forum(body: ForumIn, who: Admin, s: Tx, request: Request) -> dict[str, Any]:
    """A community forum (a category every approved contributor reads); admins only."""
    forum = await service.create_community(s, body, _now(request), actor_id=who.id)
    return service.forum_out(forum, service.ForumAccess(forum, True, who))


@router.get("/forums/{forum_id}", responses=problems(404))
async def get_forum(forum_id: str, who: CurrentUser, s: Tx) -> dict[str, Any]:
    fa = await service.forum_for(s, who, forum_id)
    return service.forum_out(fa.forum, fa)


@router.get("/forums/{forum_id}/threads", responses=problems(404))
async def list_threads(
    forum_id: str,
    who: CurrentUser,
    s: Tx,
    q: Annotated[str | None, Query(max_length=200, description="words to search for")] = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Newest first; with ``q``, threads whose title or posts contain every word (as prefixes)."""
    fa = await service.forum_for(s, who, forum_id)
    rows = await service.list_threads(s, fa, q=q, limit=limit, after=decode_cursor(cursor))
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "data": rows,
        "next_cursor": encode_cursor(int(rows[-1]["id"])) if more and rows else None,
    }


@router.post("/forums/{forum_id}/threads", status_code=201, responses=problems(404, 429))
async def create_thread(
    forum_id: str, body: ThreadIn, who: CurrentUser, s: Tx, request: Request
) -> dict[str, Any]:
    """Ask a question: the thread's first post. ``item_id`` links a case of the project."""
    fa = await service.forum_for(s, who, forum_id)
    thread = await service.create_thread(
        s, fa, who.id, body, _now(request), per_minute=_rate(request)
    )
    return await service.thread_out(s, service.ThreadAccess(thread, fa))


@router.get("/threads/{thread_id}", responses=problems(404))
async def get_thread(thread_id: str, who: CurrentUser, s: Tx) -> dict[str, Any]:
    ta = await service.thread_for(s, who, thread_id)
    return await service.thread_out(s, ta)


@router.post("/threads/{thread_id}/posts", status_code=201, responses=problems(404, 409, 429))
async def create_post(
    thread_id: str, body: PostIn, who: CurrentUser, s: Tx, request: Request
) -> dict[str, Any]:
    """Reply; a locked thread takes no more replies (409)."""
    ta = await service.thread_for(s, who, thread_id)
    post = await service.reply(s, ta, who, body.body, _now(request), per_minute=_rate(request))
    return await service.post_view(s, post, ta)


@router.post("/threads/{thread_id}/pin", responses=problems(403, 404))
async def pin_thread(
    thread_id: str, who: CurrentUser, s: Tx, body: PinIn | None = None
) -> dict[str, Any]:
    """Pin (or with ``{"pinned": false}`` unpin); moderators only."""
    ta = await service.thread_for(s, who, thread_id)
    await service.set_pinned(s, ta, (body or PinIn()).pinned)
    return await service.thread_out(s, ta)


@router.post("/threads/{thread_id}/lock", responses=problems(403, 404))
async def lock_thread(
    thread_id: str, who: CurrentUser, s: Tx, body: LockIn | None = None
) -> dict[str, Any]:
    """Lock (or with ``{"locked": false}`` unlock); moderators only."""
    ta = await service.thread_for(s, who, thread_id)
    await service.set_locked(s, ta, (body or LockIn()).locked)
    return await service.thread_out(s, ta)


@router.patch("/posts/{post_id}", responses=problems(403, 404, 409))
async def edit_post(
    post_id: str, body: PostIn, who: CurrentUser, s: Tx, request: Request
) -> dict[str, Any]:
    """Edit a post (its author, or a moderator); the earlier text is kept in its history."""
    post, ta = await service.post_for(s, who, post_id)
    await service.edit_post(s, post, ta, who, body.body, _now(request))
    return await service.post_view(s, post, ta)


@router.get("/posts/{post_id}/history", responses=problems(404))
async def post_history(post_id: str, who: CurrentUser, s: Tx) -> dict[str, Any]:
    """What the post said before each edit, oldest first."""
    post, ta = await service.post_for(s, who, post_id)
    return {"data": await service.post_history(s, post, ta)}


@router.post("/posts/{post_id}/official", responses=problems(403, 404))
async def mark_official(
    post_id: str, who: CurrentUser, s: Tx, request: Request, body: OfficialIn | None = None
) -> dict[str, Any]:
    """Mark the official answer (or with ``{"official": false}`` unmark); moderators only."""
    post, ta = await service.post_for(s, who, post_id)
    await service.set_official(s, post, ta, (body or OfficialIn()).official, _now(request))
    return await service.post_view(s, post, ta)


@router.post("/posts/{post_id}/hide", responses=problems(403, 404))
async def hide_post(
    post_id: str, who: CurrentUser, s: Tx, body: HideIn | None = None
) -> dict[str, Any]:
    """Hide (or with ``{"hidden": false}`` show again); moderators only."""
    post, ta = await service.post_for(s, who, post_id)
    await service.set_hidden(s, post, ta, (body or HideIn()).hidden)
    return await service.post_view(s, post, ta)


@router.post("/posts/{post_id}/report", status_code=201, responses=problems(404))
async def report_post(
    post_id: str, body: ReportIn, who: CurrentUser, s: Tx, request: Request
) -> dict[str, Any]:
    """Report a post to the forum's moderators."""
    post, ta = await service.post_for(s, who, post_id)
    row = await service.report(s, post, ta, who, body.reason, _now(request))
    return {"id": str(row.id), "post_id": str(post.id), "created_at": iso(row.created_at)}
