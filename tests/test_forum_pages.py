"""Forum and inbox pages over HTTP: who may open them, CSRF on every form, bad input."""

from __future__ import annotations

import httpx

from conftest import World
from test_pages import csrf_of, sign_in


async def test_forum_pages_are_for_members_only(
    world: World, browser_client: httpx.AsyncClient
) -> None:
    _owner, project, (member,) = await world.team(n_items=1, n_workers=1)
    fid = (await member.get("/forums", params={"project_id": project["id"]})).json()["data"][0][
        "id"
    ]
    r = await member.post(f"/forums/{fid}/threads", json={"title": "Hidden Q", "body": "b"})
    tid = r.json()["id"]
    outsider = await world.user("contributor")
    await sign_in(browser_client, outsider.email)
    for path in (f"/forums/{fid}", f"/threads/{tid}", "/forums/999", "/threads/abc"):
        r = await browser_client.get(path)
        assert r.status_code == 404, path
        assert "Hidden Q" not in r.text
    listing = await browser_client.get("/forums")
    assert listing.status_code == 200 and f"/forums/{fid}" not in listing.text
    csrf = csrf_of(listing.text)
    r = await browser_client.post(f"/threads/{tid}/reply", data={"csrf": csrf, "q-body": "hi"})
    assert r.status_code == 404


async def test_forms_need_csrf_and_say_what_was_wrong(
    world: World, browser_client: httpx.AsyncClient
) -> None:
    _owner, project, (member,) = await world.team(n_items=1, n_workers=1)
    fid = (await member.get("/forums", params={"project_id": project["id"]})).json()["data"][0][
        "id"
    ]
    csrf = await sign_in(browser_client, member.email)
    r = await browser_client.post(f"/forums/{fid}/threads", data={"title": "T", "q-body": "B"})
    assert r.status_code == 403
    r = await browser_client.post(
        f"/forums/{fid}/threads", data={"csrf": csrf, "title": "  ", "q-body": "B"}
    )
    assert r.status_code == 422 and "title" in r.text
    r = await browser_client.post(
        f"/forums/{fid}/threads", data={"csrf": csrf, "title": "T", "q-body": "B", "item_id": "x"}
    )
    assert r.status_code == 422
    assert (await member.get(f"/forums/{fid}/threads")).json()["data"] == []
    r = await browser_client.post(
        f"/forums/{fid}/threads", data={"csrf": csrf, "title": "T", "q-body": "**B**"}
    )
    assert r.status_code == 303
    thread = await browser_client.get(r.headers["location"])
    assert "<strong>B</strong>" in thread.text and 'id="reply-form"' in thread.text
    # A contributor's page has no moderator buttons, and moderating is refused.
    assert 'id="pin"' not in thread.text
    tid = r.headers["location"].rsplit("/", 1)[1]
    r = await browser_client.post(f"/threads/{tid}/moderate", data={"csrf": csrf, "action": "pin"})
    assert r.status_code == 403
    r = await browser_client.post(f"/threads/{tid}/moderate", data={"csrf": csrf, "action": "x"})
    assert r.status_code == 422


async def test_the_inbox_lists_and_marks_read(
    world: World, browser_client: httpx.AsyncClient
) -> None:
    owner, project, (member,) = await world.team(n_items=1, n_workers=1)
    fid = (await member.get("/forums", params={"project_id": project["id"]})).json()["data"][0][
        "id"
    ]
    tid = (await member.post(f"/forums/{fid}/threads", json={"title": "Q", "body": "b"})).json()[
        "id"
    ]
    await owner.post(f"/threads/{tid}/posts", json={"body": "An answer <b>bold</b>"})
    csrf = await sign_in(browser_client, member.email)
    page = await browser_client.get("/inbox")
    assert "1 unread" in page.text and f'href="/threads/{tid}#post-' in page.text
    assert "<b>bold</b>" not in page.text  # shown as text, never as markup
    r = await browser_client.post("/inbox/read", data={"csrf": csrf})
    assert r.status_code == 303
    assert "Nothing unread." in (await browser_client.get("/inbox")).text


async def test_a_project_forum_is_reached_by_the_project_id(
    world: World, browser_client: httpx.AsyncClient
) -> None:
    _owner, project, (member,) = await world.team(n_items=1, n_workers=1)
    await sign_in(browser_client, member.email)
    r = await browser_client.get(f"/projects/{project['id']}/forum?item=7")
    assert r.status_code == 303 and r.headers["location"].endswith("?item=7")
    page = await browser_client.get(r.headers["location"])
    assert 'id="thread-item" name="item_id" value="7"' in page.text
    outsider = await world.user("contributor")
    await browser_client.post("/logout", data={"csrf": csrf_of(page.text)})
    await sign_in(browser_client, outsider.email)
    for pid in (project["id"], "999", "x"):
        assert (await browser_client.get(f"/projects/{pid}/forum")).status_code == 404
