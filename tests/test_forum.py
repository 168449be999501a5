"""Forums: who reads what, threads and posts, moderation, rate limits, search, pins."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

from conftest import Actor, World, pairwise_item
from inlier.forum import service as forum

V1 = "/api/v1"


async def project_forum(who: Actor, project_id: str) -> str:
    r = await who.get("/forums", params={"project_id": project_id})
    assert r.status_code == 200, r.text
    (f,) = r.json()["data"]
    assert f["kind"] == "project" and f["project_id"] == project_id
    return str(f["id"])


async def ask(who: Actor, forum_id: str, **body: Any) -> dict[str, Any]:
    payload = {"title": "How strict is 'clinically sound'?", "body": "Is $x^2$ fine?", **body}
    r = await who.post(f"/forums/{forum_id}/threads", json=payload)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def setup(world: World) -> tuple[Actor, dict[str, Any], list[Actor], str]:
    owner, project, workers = await world.team(n_items=2, n_workers=2)
    fid = await project_forum(workers[0], project["id"])
    return owner, project, workers, fid


async def test_a_member_asks_and_the_owner_answers_officially_and_pins(world: World) -> None:
    owner, project, (asker, other), fid = await setup(world)
    thread = await ask(asker, fid)
    assert thread["posts"][0]["body"] == "Is $x^2$ fine?"
    assert "<math" in thread["posts"][0]["html"]
    assert set(thread) >= {"id", "forum_id", "title", "item_id", "pinned", "created_at", "posts"}
    assert set(thread["posts"][0]) >= {
        "id", "author", "body", "html", "official", "hidden", "created_at",
    }  # fmt: skip
    r = await owner.post(f"/threads/{thread['id']}/posts", json={"body": "Yes: cite the dose."})
    assert r.status_code == 201, r.text
    answer = r.json()
    # Contributors may not moderate; the owner may.
    assert (await other.post(f"/posts/{answer['id']}/official")).status_code == 403
    assert (await other.post(f"/threads/{thread['id']}/pin")).status_code == 403
    r = await owner.post(f"/posts/{answer['id']}/official")
    assert r.status_code == 200 and r.json()["official"] is True
    r = await owner.post(f"/threads/{thread['id']}/pin")
    assert r.status_code == 200 and r.json()["pinned"] is True

    seen = (await other.get(f"/threads/{thread['id']}")).json()
    assert [p["official"] for p in seen["posts"]] == [False, True]
    # The owner is named; the asker is a pseudonym to others, and "you" to themselves.
    assert seen["posts"][1]["author"]["name"] == owner.user["name"]
    assert seen["posts"][0]["author"]["name"].startswith("Expert ")
    assert asker.user["name"] not in str(seen)
    mine = (await asker.get(f"/threads/{thread['id']}")).json()
    assert mine["posts"][0]["author"]["you"] is True

    async with world.app.state.db.session() as s:
        pinned = await forum.pinned_answers(s, int(project["id"]))
    assert [p["title"] for p in pinned] == [thread["title"]]
    assert pinned[0]["answers"] == ["<p>Yes: cite the dose.</p>\n"]

    # The asker was told about the reply and the official answer.
    r = await asker.get("/me/notifications", params={"unread": "true"})
    body = r.json()
    assert body["unread"] == 2
    assert {n["kind"] for n in body["data"]} == {"reply", "official"}
    ids = [n["id"] for n in body["data"]]
    r = await asker.post("/me/notifications/read", json={"ids": ids[:1]})
    assert r.status_code == 200 and r.json() == {"read": 1, "unread": 1}
    # Someone else's ids change nothing.
    r = await other.post("/me/notifications/read", json={"ids": ids})
    assert r.json()["read"] == 0
    assert (await asker.get("/me/notifications")).json()["unread"] == 1
    r = await asker.post("/me/notifications/read", json={"ids": ["x1"]})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "ids", 0]


async def test_posts_are_sanitized_and_keep_their_math(world: World) -> None:
    _, _, (asker, _), fid = await setup(world)
    hostile = (
        "<script>alert(1)</script> <img src=x onerror=alert(2)> "
        "[click](javascript:alert(3)) <a href='javascript:alert(4)' onclick='x()'>a</a>\n\n"
        "[ok](https://example.org) <b onmouseover=alert(5)>b</b>\n\n"
        "$$\\frac{a}{b}$$ and $e^{i\\pi}$"
    )
    thread = await ask(asker, fid, body=hostile)
    r = await asker.post(f"/threads/{thread['id']}/posts", json={"body": hostile})
    for post in (thread["posts"][0], r.json()):
        elements = parse(post["html"])
        tags = [tag for tag, _ in elements]
        assert "script" not in tags and "img" not in tags
        for _, attrs in elements:
            assert not any(name.startswith("on") for name in attrs), attrs
            assert not any("javascript:" in (v or "").lower() for v in attrs.values()), attrs
        assert tags.count("math") == 2
        assert post["body"] == hostile  # the markdown itself is returned as written


def parse(html: str) -> list[tuple[str, dict[str, str | None]]]:
    """Every element of an HTML fragment, with its attributes, as a browser would see them."""
    found: list[tuple[str, dict[str, str | None]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, dict(attrs)))

    Collect().feed(html)
    return found


async def test_an_item_link_shows_the_fields_never_gold_or_answers(world: World) -> None:
    owner, project, workers = await world.team(n_items=0, n_workers=1)
    await world.items(
        owner,
        project["id"],
        [pairwise_item(1, gold={"preference": {"choice": "left", "strength": 3}})],
    )
    items = (await owner.get(f"/projects/{project['id']}/items")).json()["data"]
    fid = await project_forum(workers[0], project["id"])
    thread = await ask(workers[0], fid, item_id=items[0]["id"])
    assert thread["item"] == {"id": items[0]["id"], "data": items[0]["data"]}
    assert "gold" not in str(thread) and "strength" not in str(thread)
    # An item of another project, or a made-up one, is named as the bad field.
    other_owner, other, _ = await world.team(n_items=1, n_workers=0)
    foreign = (await other_owner.get(f"/projects/{other['id']}/items")).json()["data"][0]["id"]
    for bad in (foreign, "999999", "abc"):
        r = await workers[0].post(
            f"/forums/{fid}/threads", json={"title": "t", "body": "b", "item_id": bad}
        )
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["loc"] == ["body", "item_id"]
    listed = (await workers[0].get(f"/forums/{fid}/threads")).json()["data"]
    assert len(listed) == 1  # bad input changed nothing


async def test_posting_is_rate_limited_per_person(world: World) -> None:
    _, _, (a, b), fid = await setup(world)
    thread = await ask(a, fid)
    for n in range(9):
        r = await a.post(f"/threads/{thread['id']}/posts", json={"body": f"more {n}"})
        assert r.status_code == 201, r.text
    r = await a.post(f"/threads/{thread['id']}/posts", json={"body": "one too many"})
    assert r.status_code == 429
    assert r.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(r.headers["retry-after"]) <= 60
    r = await a.post(f"/forums/{fid}/threads", json={"title": "t", "body": "b"})
    assert r.status_code == 429
    # Someone else is not limited by it, and the limit lifts after a minute.
    assert (await b.post(f"/threads/{thread['id']}/posts", json={"body": "hi"})).status_code == 201
    world.app.state.clock.advance(timedelta(seconds=61))
    assert (await a.post(f"/threads/{thread['id']}/posts", json={"body": "ok"})).status_code == 201
    posts = (await a.get(f"/threads/{thread['id']}")).json()["posts"]
    assert len(posts) == 12


async def test_a_locked_thread_takes_no_replies(world: World) -> None:
    owner, _, (a, _), fid = await setup(world)
    thread = await ask(a, fid)
    assert (await a.post(f"/threads/{thread['id']}/lock")).status_code == 403
    r = await owner.post(f"/threads/{thread['id']}/lock")
    assert r.status_code == 200 and r.json()["locked"] is True
    r = await a.post(f"/threads/{thread['id']}/posts", json={"body": "still here?"})
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem")
    r = await a.patch(f"/posts/{thread['posts'][0]['id']}", json={"body": "changed"})
    assert r.status_code == 409
    r = await owner.post(f"/threads/{thread['id']}/lock", json={"locked": False})
    assert r.json()["locked"] is False
    assert (await a.post(f"/threads/{thread['id']}/posts", json={"body": "x"})).status_code == 201


async def test_edits_keep_their_history(world: World) -> None:
    owner, _, (a, b), fid = await setup(world)
    thread = await ask(a, fid, body="first version")
    pid = thread["posts"][0]["id"]
    assert (await b.patch(f"/posts/{pid}", json={"body": "vandal"})).status_code == 403
    r = await a.patch(f"/posts/{pid}", json={"body": "second version"})
    assert r.status_code == 200 and r.json()["edits"] == 1 and r.json()["edited_at"]
    r = await owner.patch(f"/posts/{pid}", json={"body": "third version"})
    assert r.status_code == 200
    assert (await a.patch(f"/posts/{pid}", json={"bodyy": "x"})).status_code == 422
    history = (await b.get(f"/posts/{pid}/history")).json()["data"]
    assert [h["body"] for h in history] == ["first version", "second version"]
    assert history[1]["editor"]["name"] == owner.user["name"]
    assert (await b.get(f"/threads/{thread['id']}")).json()["posts"][0]["body"] == "third version"


async def test_hidden_posts_are_hidden_from_everyone_but_moderators(world: World) -> None:
    owner, _, (a, b), fid = await setup(world)
    thread = await ask(a, fid, body="secret remedy zyxwv")
    pid = thread["posts"][0]["id"]
    assert (await b.post(f"/posts/{pid}/hide")).status_code == 403
    r = await b.post(f"/posts/{pid}/report", json={"reason": "spam"})
    assert r.status_code == 201
    assert (await b.post(f"/posts/{pid}/report", json={"reason": " "})).status_code == 422
    assert (await owner.post(f"/posts/{pid}/hide")).json()["hidden"] is True
    for who in (a, b):
        post = (await who.get(f"/threads/{thread['id']}")).json()["posts"][0]
        assert post["hidden"] is True and post["body"] == "" and post["html"] == ""
        assert (await who.get(f"/posts/{pid}/history")).json()["data"] == []
    post = (await owner.get(f"/threads/{thread['id']}")).json()["posts"][0]
    assert post["body"] == "secret remedy zyxwv"
    # Search does not find what was hidden.
    found = (await b.get(f"/forums/{fid}/threads", params={"q": "zyxwv"})).json()["data"]
    assert found == []
    await owner.post(f"/posts/{pid}/hide", json={"hidden": False})
    found = (await b.get(f"/forums/{fid}/threads", params={"q": "zyxwv"})).json()["data"]
    assert [t["id"] for t in found] == [thread["id"]]


async def test_search_finds_threads_by_title_and_posts(world: World) -> None:
    owner, _, (a, _), fid = await setup(world)
    t1 = await ask(a, fid, title="Anticoagulation in renal failure", body="CrCl below 30?")
    t2 = await ask(a, fid, title="Dosing question", body="What about warfarin bridging?")
    await owner.post(f"/threads/{t2['id']}/posts", json={"body": "Apixaban is preferred."})

    async def search(q: str) -> list[str]:
        r = await a.get(f"/forums/{fid}/threads", params={"q": q})
        assert r.status_code == 200, r.text
        return [t["id"] for t in r.json()["data"]]

    assert await search("anticoag") == [t1["id"]]  # a prefix of a title word
    assert await search("RENAL crcl") == [t1["id"]]  # every word, any case
    assert await search("apixaban") == [t2["id"]]  # a reply
    assert await search("warfarin renal") == []
    assert set(await search("")) == {t1["id"], t2["id"]}
    # Query syntax of either engine is just text.
    for q in ('"', "a OR b", "NEAR(x y)", "x:* & !y", "'; drop table forums;--", "*", "()"):
        assert isinstance(await search(q), list)
    # Edits are searchable at once.
    await a.patch(f"/posts/{t1['posts'][0]['id']}", json={"body": "eGFR matters more"})
    assert await search("egfr") == [t1["id"]]
    assert await search("crcl") == []


async def test_community_forums_are_for_every_approved_contributor(world: World) -> None:
    admin = await world.admin()
    owner, _project, (member, _), _ = await setup(world)
    outsider = await world.user("contributor")
    r = await owner.post("/forums", json={"title": "Cardiology lounge"})
    assert r.status_code == 403
    r = await admin.post("/forums", json={"title": "Cardiology lounge", "bogus": 1})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "bogus"]
    r = await admin.post("/forums", json={"title": "Cardiology lounge", "description": "Chat"})
    assert r.status_code == 201
    cid = r.json()["id"]
    kinds = {f["id"]: f["kind"] for f in (await outsider.get("/forums")).json()["data"]}
    assert kinds == {cid: "community"}
    kinds = {f["kind"] for f in (await member.get("/forums")).json()["data"]}
    assert kinds == {"community", "project"}
    thread = await ask(outsider, cid)
    # Only admins moderate community forums; items cannot be linked there.
    assert (await owner.post(f"/threads/{thread['id']}/pin")).status_code == 403
    assert (await admin.post(f"/threads/{thread['id']}/pin")).status_code == 200
    r = await outsider.post(
        f"/forums/{cid}/threads", json={"title": "t", "body": "b", "item_id": "1"}
    )
    assert r.status_code == 422


async def test_guideline_changes_post_a_thread_with_the_diff(world: World) -> None:
    owner, project, (a, _), fid = await setup(world)
    r = await owner.patch(
        f"/projects/{project['id']}",
        json={"guidelines": "Prefer the clinically sound answer.\nCite doses in mg."},
    )
    assert r.status_code == 200
    # The same guidelines again post nothing.
    await owner.patch(f"/projects/{project['id']}", json={"guidelines": r.json()["guidelines"]})
    threads = (await a.get(f"/forums/{fid}/threads")).json()["data"]
    assert len(threads) == 1 and threads[0]["title"].startswith("Guidelines updated")
    body = (await a.get(f"/threads/{threads[0]['id']}")).json()["posts"][0]["body"]
    assert "```diff\n" in body
    assert "+Cite doses in mg." in body and " Prefer the clinically sound answer." in body


async def test_an_outsider_can_neither_read_nor_guess_a_project_forum(world: World) -> None:
    """Every forum, thread and post endpoint: existing ids of a project the caller is not a
    member of answer exactly as ids that never existed."""
    _owner, project, (member, _), fid = await setup(world)
    thread = await ask(member, fid)
    pid = thread["posts"][0]["id"]
    outsider = await world.user("contributor")
    other_owner = await world.user("owner")
    assert fid not in {f["id"] for f in (await outsider.get("/forums")).json()["data"]}
    assert (await outsider.get("/forums", params={"project_id": project["id"]})).json()[
        "data"
    ] == []

    def calls(f: str, t: str, p: str) -> list[tuple[str, str, Any]]:
        return [
            ("GET", f"/forums/{f}", None),
            ("GET", f"/forums/{f}/threads", None),
            ("GET", f"/forums/{f}/threads?q=dose", None),
            ("POST", f"/forums/{f}/threads", {"title": "t", "body": "b"}),
            ("GET", f"/threads/{t}", None),
            ("POST", f"/threads/{t}/posts", {"body": "b"}),
            ("POST", f"/threads/{t}/pin", None),
            ("POST", f"/threads/{t}/lock", None),
            ("PATCH", f"/posts/{p}", {"body": "b"}),
            ("GET", f"/posts/{p}/history", None),
            ("POST", f"/posts/{p}/official", None),
            ("POST", f"/posts/{p}/hide", None),
            ("POST", f"/posts/{p}/report", {"reason": "r"}),
        ]

    real = calls(fid, thread["id"], pid)
    for fake_ids in (("987654", "987654", "987654"), ("x", "0", "-1")):
        fake = calls(*fake_ids)
        for who in (outsider, other_owner):
            for (method, path, body), (_, fpath, _) in zip(real, fake, strict=True):
                kw = {"json": body} if body is not None else {}
                r = await who.request(method, path, **kw)
                g = await who.request(method, fpath, **kw)
                assert r.status_code == 404, (method, path, r.text)
                assert g.status_code == 404, (method, fpath, g.text)
                assert r.json() == g.json(), (method, path)
    # Nothing was written by all those tries.
    seen = (await member.get(f"/threads/{thread['id']}")).json()
    assert len(seen["posts"]) == 1 and not seen["pinned"] and not seen["locked"]


async def test_a_report_reaches_the_moderators_without_naming_the_reporter(world: World) -> None:
    owner, _, (a, b), fid = await setup(world)
    thread = await ask(a, fid)
    pid = thread["posts"][0]["id"]
    r = await b.post(f"/posts/{pid}/report", json={"reason": "This gives a patient's name"})
    assert r.status_code == 201, r.text
    notes = (await owner.get("/me/notifications")).json()["data"]
    [note] = [n for n in notes if n["kind"] == "report"]
    assert "patient's name" in note["body"] and f"#post-{pid}" in note["link"]
    assert b.email not in str(note) and b.user["name"] not in str(note)
    assert not [
        n for n in (await a.get("/me/notifications")).json()["data"] if n["kind"] == "report"
    ]


async def test_concurrent_posts_never_pass_the_rate_limit(world: World) -> None:
    _, _, (a, _b), fid = await setup(world)
    thread = await ask(a, fid)

    async def post(n: int) -> int:
        r = await a.post(f"/threads/{thread['id']}/posts", json={"body": f"burst {n}"})
        return r.status_code

    codes = await asyncio.gather(*(post(n) for n in range(15)))
    # One thread was already posted: nine more fit in the minute, the rest are refused.
    assert codes.count(201) == 9 and codes.count(429) == 6
