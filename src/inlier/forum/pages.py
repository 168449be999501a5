"""Pages for the forums: the list, a forum's threads (with search), a thread, and its forms.

Every action is an ordinary form post with its CSRF token, answered by a redirect back, so the
pages work from the keyboard and without scripts; the one script adds the live preview.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from inlier.forum import service
from inlier.forum.schemas import ThreadIn
from inlier.kit.errors import NotFound, invalid
from inlier.kit.web import CsrfForm, PageUser, redirect, render
from inlier.projects import service as projects
from inlier.projects.models import Project

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Form(max_length=100_000)]


def _editor(label: str, min_length: int = 1) -> dict[str, Any]:
    """The markup of a markdown text question (templates/questions/text.html), for a post."""
    return {
        "q": {"name": "body", "title": label, "description": None, "required": True},
        "opts": {"markdown": True},
        "min_length": min_length,
        "max_length": 100_000,
    }


def _blank(field: str, value: str) -> str:
    if not value.strip():
        raise invalid(["body", field], "must not be empty")
    return value


@router.get("/forums", response_class=HTMLResponse)
async def forums_page(request: Request, who: PageUser) -> Response:
    async with request.app.state.db.session() as s:
        rows = await service.list_forums(
            s, who, request.app.state.clock.now(), limit=1000, after=None
        )
    return await render(request, "forum/forums.html", {"forums": rows}, who=who)


@router.get("/projects/{project_id}/forum")
async def project_forum_page(
    request: Request,
    project_id: str,
    who: PageUser,
    item: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    """A project's forum by the project's id (e.g. "Ask about this case" from the workbench)."""
    async with request.app.state.db.session() as s:
        rows = await service.list_forums(
            s, who, request.app.state.clock.now(), limit=1, after=None, project_id=project_id
        )
    if not rows:
        raise NotFound("forum not found")
    suffix = f"?item={quote(item)}" if item else ""
    return redirect(f"/forums/{rows[0]['id']}{suffix}")


@router.get("/forums/{forum_id}", response_class=HTMLResponse)
async def forum_page(
    request: Request,
    forum_id: str,
    who: PageUser,
    q: Annotated[str, Query(max_length=200)] = "",
    item: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    async with request.app.state.db.session() as s:
        fa = await service.forum_for(s, who, forum_id)
        threads = await service.list_threads(s, fa, q=q or None, limit=100, after=None)
        pinned = [] if q else await service.pinned_threads(s, fa)
    pinned_ids = {t["id"] for t in pinned}
    ctx = {
        "forum": service.forum_out(fa.forum, fa),
        "q": q,
        "pinned": pinned,
        "threads": [t for t in threads if t["id"] not in pinned_ids],
        "item_id": item,
        "view": _editor("Your question"),
    }
    return await render(request, "forum/forum.html", ctx, who=who)


@router.post("/forums/{forum_id}/threads")
async def ask(
    request: Request,
    forum_id: str,
    who: PageUser,
    _csrf: CsrfForm,
    title: Annotated[str, Form(max_length=200)] = "",
    body: Annotated[str, Form(alias="q-body", max_length=100_000)] = "",
    item_id: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    state = request.app.state
    async with state.db.session() as s:
        fa = await service.forum_for(s, who, forum_id)
        data = ThreadIn(
            title=_blank("title", title).strip(),
            body=_blank("body", body),
            item_id=item_id or None,
        )
        thread = await service.create_thread(
            s, fa, who.id, data, state.clock.now(), per_minute=state.settings.forum_posts_per_minute
        )
    return redirect(f"/threads/{thread.id}")


@router.get("/threads/{thread_id}", response_class=HTMLResponse)
async def thread_page(request: Request, thread_id: str, who: PageUser) -> Response:
    async with request.app.state.db.session() as s:
        ta = await service.thread_for(s, who, thread_id)
        view = await service.thread_out(s, ta)
        histories = {}
        for post in view["posts"]:
            if post["edits"]:
                p, _ = await service.post_for(s, who, post["id"])
                histories[post["id"]] = await service.post_history(s, p, ta)
        template = None
        if view["item"] is not None and ta.fa.forum.project_id is not None:
            project = await s.get(Project, ta.fa.forum.project_id)
            template = projects.template_of(project) if project is not None else None
    ctx = {
        "t": view,
        "forum": service.forum_out(ta.fa.forum, ta.fa),
        "histories": histories,
        "template": template,
        "view": _editor("Your reply"),
    }
    return await render(request, "forum/thread.html", ctx, who=who)


@router.post("/threads/{thread_id}/reply")
async def reply_form(
    request: Request,
    thread_id: str,
    who: PageUser,
    _csrf: CsrfForm,
    body: Annotated[str, Form(alias="q-body", max_length=100_000)] = "",
) -> Response:
    state = request.app.state
    async with state.db.session() as s:
        ta = await service.thread_for(s, who, thread_id)
        post = await service.reply(
            s,
            ta,
            who,
            _blank("body", body),
            state.clock.now(),
            per_minute=state.settings.forum_posts_per_minute,
        )
    return redirect(f"/threads/{ta.thread.id}#post-{post.id}")


@router.post("/threads/{thread_id}/moderate")
async def moderate_thread(
    request: Request,
    thread_id: str,
    who: PageUser,
    _csrf: CsrfForm,
    action: Annotated[str, Form(pattern="^(pin|unpin|lock|unlock)$")],
) -> Response:
    async with request.app.state.db.session() as s:
        ta = await service.thread_for(s, who, thread_id)
        if action in ("pin", "unpin"):
            await service.set_pinned(s, ta, action == "pin")
        else:
            await service.set_locked(s, ta, action == "lock")
    return redirect(f"/threads/{ta.thread.id}")


@router.post("/posts/{post_id}/moderate")
async def moderate_post(
    request: Request,
    post_id: str,
    who: PageUser,
    _csrf: CsrfForm,
    action: Annotated[str, Form(pattern="^(official|unofficial|hide|show)$")],
) -> Response:
    now = request.app.state.clock.now()
    async with request.app.state.db.session() as s:
        post, ta = await service.post_for(s, who, post_id)
        if action in ("official", "unofficial"):
            await service.set_official(s, post, ta, action == "official", now)
        else:
            await service.set_hidden(s, post, ta, action == "hide")
    return redirect(f"/threads/{ta.thread.id}#post-{post.id}")


@router.post("/posts/{post_id}/edit")
async def edit_form(
    request: Request, post_id: str, who: PageUser, _csrf: CsrfForm, body: Text = ""
) -> Response:
    async with request.app.state.db.session() as s:
        post, ta = await service.post_for(s, who, post_id)
        await service.edit_post(
            s, post, ta, who, _blank("body", body), request.app.state.clock.now()
        )
    return redirect(f"/threads/{ta.thread.id}#post-{post.id}")


@router.post("/posts/{post_id}/report")
async def report_form(
    request: Request,
    post_id: str,
    who: PageUser,
    _csrf: CsrfForm,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    async with request.app.state.db.session() as s:
        post, ta = await service.post_for(s, who, post_id)
        await service.report(
            s, post, ta, who, _blank("reason", reason), request.app.state.clock.now()
        )
    return redirect(f"/threads/{ta.thread.id}?reported={post.id}#post-{post.id}")
