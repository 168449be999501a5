"""The Python SDK against a real server: uvicorn on a socket, SQLite or PostgreSQL behind it.

Only the first admin is made through the service layer (as ``World.admin`` does); everything
else goes through ``inlier.Client`` and ``inlier.AsyncClient``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
import uvicorn

import inlier
from conftest import GOOD_ANSWER, PAIRWISE_TEMPLATE, World, make_settings, pairwise_item
from inlier.app import create_app
from inlier.kit.clock import Clock
from inlier.sdk import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)

PASSWORD = "correct-horse"


async def _first_admin(app: Any) -> str:
    """The bootstrap admin, made through the service layer as ``World.admin`` does; its token."""
    try:
        return (await World(app, client=None).admin()).token  # type: ignore[arg-type]
    finally:
        await app.state.db.dispose()  # its connections belong to this loop, not the server's


class Live:
    """A running server, its first admin, and a way to make signed-in people."""

    def __init__(self, url: str, admin_token: str, clock: Clock) -> None:
        self.url = url
        self.clock = clock
        self._clients: list[inlier.Client] = []
        self.admin = self.client(admin_token)
        self._n = 0

    def client(self, token: str | None = None, **kw: Any) -> inlier.Client:
        """A client of this server, closed when the server stops (if not before)."""
        c = inlier.Client(self.url, token=token, **kw)
        self._clients.append(c)
        return c

    def close(self) -> None:
        for c in self._clients:
            c.close()

    def new_email(self) -> str:
        self._n += 1
        return f"user{self._n}@example.org"

    def person(self, *roles: str, **client_kw: Any) -> inlier.Client:
        """A new user made by the admin, signed in with ``login`` on a client of their own."""
        email = self.new_email()
        self.admin.create_user(email, email.split("@")[0], PASSWORD, roles=roles or ["contributor"])
        c = self.client(**client_kw)
        c.login(email, PASSWORD)
        return c


@contextmanager
def serve(db_url: str, **overrides: Any) -> Iterator[Live]:
    clock = Clock()
    app = create_app(make_settings(db_url, **overrides), clock=clock)
    admin_token = asyncio.run(_first_admin(app))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    host, port = sock.getsockname()
    live = Live(f"http://{host}:{port}", admin_token, clock)
    try:
        yield live
    finally:
        live.close()
        server.should_exit = True
        thread.join(20)
        sock.close()


@pytest.fixture
def live(db_url: str) -> Iterator[Live]:
    with serve(db_url) as running:
        yield running


def team(
    live: Live,
    *,
    n_items: int = 2,
    sample_rate: float = 0.0,
    worker_transport: httpx.BaseTransport | None = None,
    **project: Any,
) -> tuple[inlier.Client, dict[str, Any], inlier.Client]:
    """An owner, a project with items, and one contributor who is its member."""
    owner = live.person("owner")
    proj = owner.create_project(
        "Cardiology preference",
        PAIRWISE_TEMPLATE,
        guidelines="Prefer the clinically sound answer.",
        workflow={"overlap": 1, "review": {"sample_rate": sample_rate}},
        **project,
    )
    assert owner.import_items(proj["id"], [pairwise_item(i) for i in range(n_items)]) == n_items
    worker = live.person(transport=worker_transport)
    owner.add_member(proj["id"], worker.me()["id"])
    return owner, proj, worker


class Recorder(httpx.BaseTransport):
    """A real HTTP transport that remembers requests and can lose the answers to submits."""

    def __init__(self, lose_submits: int = 0) -> None:
        self.inner = httpx.HTTPTransport()
        self.requests: list[httpx.Request] = []
        self.lose_submits = lose_submits

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.inner.handle_request(request)
        if self.lose_submits and request.url.path.endswith("/submit"):
            self.lose_submits -= 1
            response.read()
            response.close()
            raise httpx.ReadError("connection reset after the server answered", request=request)
        return response

    def close(self) -> None:
        self.inner.close()

    def to(self, suffix: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith(suffix)]


# ---- auth and users ------------------------------------------------------------------------


def test_login_keeps_the_token_and_me_is_the_signed_in_user(live: Live) -> None:
    email = live.new_email()
    made = live.admin.create_user(email, "Dr Ada", PASSWORD, roles=["contributor", "reviewer"])
    with live.client() as c:
        with pytest.raises(AuthenticationError) as anonymous:
            c.me()
        assert anonymous.value.status == 401
        assert anonymous.value.headers["www-authenticate"] == "Bearer"
        out = c.login(email, PASSWORD)
        assert c.token == out["token"] and out["user"]["id"] == made["id"]
        me = c.me()
        assert me["email"] == email and me["roles"] == ["contributor", "reviewer"]
    # The token works on its own, from another client.
    with live.client(out["token"]) as again:
        assert again.me()["id"] == made["id"]


def test_a_wrong_password_is_401_and_repeated_failures_are_429(db_url: str) -> None:
    with serve(db_url, login_max_failures=2) as live, live.client() as c:
        live.admin.create_user("ada@example.org", "Ada", PASSWORD)
        for _ in range(2):
            with pytest.raises(AuthenticationError):
                c.login("ada@example.org", "wrong-password")
        with pytest.raises(RateLimitError) as limited:
            c.login("ada@example.org", PASSWORD)
        assert limited.value.status == 429
        assert limited.value.retry_after is not None and limited.value.retry_after > 0
        assert c.token is None


def test_users_are_created_listed_across_pages_and_given_skills(live: Live) -> None:
    made = [
        live.admin.create_user(
            f"expert{i}@example.org",
            f"Expert {i}",
            PASSWORD,
            profile={"country": "BR", "degree": "MD", "languages": ["pt"]},
        )
        for i in range(4)
    ]
    listed = list(live.admin.list_users(page_size=2))  # admin + 4 users: three pages
    assert [u["email"] for u in listed] == ["admin@example.org"] + [u["email"] for u in made]
    assert live.admin.get_user(made[0]["id"])["profile"]["degree"] == "MD"
    out = live.admin.set_skill(made[0]["id"], "medicine.cardiology", 4)
    assert out["level"] == 4
    assert live.admin.get_user(made[0]["id"])["skills"] == {"medicine.cardiology": 4}


def test_only_admins_manage_users(live: Live) -> None:
    owner = live.person("owner")
    with pytest.raises(PermissionDeniedError) as denied:
        owner.create_user("x@example.org", "X", PASSWORD)
    assert denied.value.status == 403
    with pytest.raises(PermissionDeniedError):
        owner.set_skill(owner.me()["id"], "medicine.cardiology", 5)
    with pytest.raises(NotFoundError):
        live.admin.get_user("999999")


def test_an_invalid_user_names_the_field(live: Live) -> None:
    with pytest.raises(InvalidInputError) as bad:
        live.admin.create_user("not-an-email", "X", "short")
    err = bad.value
    assert err.status == 422 and err.title == "Invalid input"
    locs = [e["loc"] for e in err.errors]
    assert ["body", "email"] in locs and ["body", "password"] in locs
    assert err.body["status"] == 422 and err.body["errors"] == err.errors
    assert err.request_id


# ---- projects --------------------------------------------------------------------------------


def test_projects_are_created_read_changed_and_listed_across_pages(live: Live) -> None:
    owner = live.person("owner")
    made = [
        owner.create_project(f"Project {i}", PAIRWISE_TEMPLATE, lease_minutes=10 + i)
        for i in range(3)
    ]
    assert made[1]["lease_minutes"] == 11 and made[1]["my_role"] == "owner"
    assert [p["id"] for p in owner.list_projects(page_size=2)] == [p["id"] for p in made]
    assert owner.get_project(made[0]["id"])["name"] == "Project 0"
    changed = owner.update_project(made[0]["id"], name="Renamed", guidelines="Be careful.")
    assert changed["name"] == "Renamed" and changed["lease_minutes"] == 10
    assert owner.get_project(made[0]["id"])["guidelines"] == "Be careful."
    # Someone who is not a member sees none of them.
    outsider = live.person()
    assert list(outsider.list_projects()) == []
    with pytest.raises(NotFoundError):
        outsider.get_project(made[0]["id"])


def test_members_are_added_and_listed_by_the_owner(live: Live) -> None:
    owner, proj, worker = team(live)
    reviewer = live.person()
    reviewer_id = reviewer.me()["id"]
    out = owner.add_member(proj["id"], reviewer_id, "reviewer")
    assert out == {"project_id": proj["id"], "user_id": reviewer_id, "role": "reviewer"}
    members = {m["user_id"]: m["role"] for m in owner.list_members(proj["id"], page_size=1)}
    assert members[worker.me()["id"]] == "contributor"
    assert members[reviewer_id] == "reviewer"
    # A member sees the project but not its member list or stats.
    assert worker.get_project(proj["id"])["my_role"] == "contributor"
    with pytest.raises((PermissionDeniedError, NotFoundError)):
        list(worker.list_members(proj["id"]))
    with pytest.raises((PermissionDeniedError, NotFoundError)):
        worker.project_stats(proj["id"])


def test_an_invalid_project_names_the_unknown_field(live: Live) -> None:
    owner = live.person("owner")
    with pytest.raises(InvalidInputError) as bad:
        owner.create_project("P", PAIRWISE_TEMPLATE, colour="blue")
    assert ["body", "colour"] in [e["loc"] for e in bad.value.errors]
    with pytest.raises(InvalidInputError) as bad_lease:
        owner.create_project("P", PAIRWISE_TEMPLATE, lease_minutes=0)
    assert ["body", "lease_minutes"] in [e["loc"] for e in bad_lease.value.errors]
    contributor = live.person()
    with pytest.raises(PermissionDeniedError):
        contributor.create_project("P", PAIRWISE_TEMPLATE)


def test_ids_are_path_segments_and_cannot_reach_another_route(live: Live) -> None:
    # Unquoted, "../users" would resolve to GET /users and list every user.
    for odd in ("../users", "..", "1/stats", "a?b=c", "%2e%2e"):
        with pytest.raises(NotFoundError):
            live.admin.get_project(odd)


# ---- items and export --------------------------------------------------------------------------


def test_items_import_as_json_and_as_ndjson_in_chunks(live: Live) -> None:
    recorder = Recorder()
    owner = live.person("owner", transport=recorder)
    proj = owner.create_project("Import", PAIRWISE_TEMPLATE)
    assert owner.import_items(proj["id"], [pairwise_item(0), pairwise_item(1)]) == 2

    def rows() -> Iterator[dict[str, Any]]:  # a generator: the SDK must not need a list
        for i in range(2, 7):
            yield pairwise_item(i, priority=i)

    assert owner.import_items_ndjson(proj["id"], rows(), chunk_size=2) == 5
    imports = recorder.to("/items")
    assert [r.headers["content-type"] for r in imports] == ["application/json"] + [
        "application/x-ndjson"
    ] * 3
    assert [len(r.content.splitlines()) for r in imports[1:]] == [2, 2, 1]
    items = list(owner.list_items(proj["id"], page_size=3))
    assert [i["external_id"] for i in items] == [f"item-{i}" for i in range(7)]
    assert items[6]["priority"] == 6
    assert owner.project_stats(proj["id"])["items"] == 7


def test_a_bad_chunk_fails_alone_and_says_how_many_rows_came_before(live: Live) -> None:
    owner = live.person("owner")
    proj = owner.create_project("Import", PAIRWISE_TEMPLATE)
    rows = [pairwise_item(i) for i in range(5)]
    rows[3] = {"data": {"prompt": "no responses"}}  # row 4 of the input, row 2 of its batch
    with pytest.raises(InvalidInputError) as bad:
        owner.import_items_ndjson(proj["id"], rows, chunk_size=2)
    assert bad.value.imported == 2
    assert "row 2" in bad.value.detail
    assert any("2 rows before this batch" in note for note in bad.value.__notes__)
    assert [i["external_id"] for i in owner.list_items(proj["id"])] == ["item-0", "item-1"]
    # A JSON import is all or nothing: the bad row rejects the whole batch.
    with pytest.raises(InvalidInputError) as whole:
        owner.import_items(proj["id"], rows)
    assert "row 4" in whole.value.detail
    assert owner.project_stats(proj["id"])["items"] == 2


def test_export_streams_rows_and_checks_its_parameters(live: Live) -> None:
    owner, proj, worker = team(live, n_items=3)
    for _ in range(3):
        a = worker.next_assignment(proj["id"])
        assert a is not None
        worker.submit(a["id"], answer=GOOD_ANSWER, active_seconds=30)
    rows = owner.export(proj["id"])
    assert not isinstance(rows, list)  # an iterator, read as the lines arrive
    exported = list(rows)
    assert [r["external_id"] for r in exported] == ["item-0", "item-1", "item-2"]
    assert all(r["answer"] == GOOD_ANSWER and r["active_seconds"] == 30 for r in exported)
    with pytest.raises(InvalidInputError) as bad:
        list(owner.export(proj["id"], kind="no-such-kind"))
    assert bad.value.errors[0]["loc"] == ["query", "kind"]
    with pytest.raises((PermissionDeniedError, NotFoundError)):
        list(worker.export(proj["id"]))


def test_export_gives_trainer_kinds_and_binary_files(live: Live) -> None:
    import io

    import pyarrow.parquet as pq

    owner, proj, worker = team(live, n_items=2)
    for _ in range(2):
        a = worker.next_assignment(proj["id"])
        assert a is not None
        worker.submit(a["id"], answer=GOOD_ANSWER, active_seconds=30)
    rows = list(owner.export(proj["id"], kind="preference", form="standard", split=0.5, seed=3))
    assert [(r["chosen"], r["rejected"], r["margin"]) for r in rows] == [
        (" A0", " B0", 2.0),
        (" A1", " B1", 2.0),
    ]
    assert {r["split"] for r in rows} <= {"train", "test"}
    data = b"".join(owner.export_bytes(proj["id"], kind="kto", format="parquet"))
    assert pq.read_table(io.BytesIO(data)).column("label").to_pylist() == [True, False] * 2
    with pytest.raises(InvalidInputError) as bad:
        b"".join(owner.export_bytes(proj["id"], format="xlsx"))
    assert bad.value.errors[0]["loc"] == ["query", "format"]


def test_a_snapshot_is_made_read_and_downloaded_with_its_checksum(live: Live) -> None:
    import hashlib

    owner, proj, worker = team(live, n_items=2)
    a = worker.next_assignment(proj["id"])
    assert a is not None
    worker.submit(a["id"], answer=GOOD_ANSWER, active_seconds=30)
    snap = owner.create_snapshot(proj["id"], "train", kind="raw", status="submitted")
    assert snap["version"] == 1 and snap["manifest"]["rows"] == 1
    assert owner.get_snapshot(snap["id"]) == snap
    data = b"".join(owner.snapshot_bytes(snap["id"]))
    assert hashlib.sha256(data).hexdigest() == snap["manifest"]["sha256"]
    assert owner.create_snapshot(proj["id"], "train")["version"] == 2
    with pytest.raises(InvalidInputError) as bad:
        owner.create_snapshot(proj["id"], "train", status="done")
    assert bad.value.errors[0]["loc"] == ["body", "filters", "status"]


# ---- work --------------------------------------------------------------------------------------


def test_a_contributor_drafts_heartbeats_and_submits_once(live: Live) -> None:
    owner, proj, worker = team(live, n_items=1)
    a = worker.next_assignment(proj["id"])
    assert a is not None and a["stage"] == "attempt" and "gold" not in a["item"]
    assert worker.last_reason is None
    assert worker.next_assignment()["id"] == a["id"]  # type: ignore[index]  # the same lease

    saved = worker.save_draft(a["id"], {"rationale": "half-written"})
    assert saved["id"] == a["id"] and saved["saved_at"].endswith("Z")
    got = worker.get_assignment(a["id"])
    assert got["draft"]["answer"] == {"rationale": "half-written"}
    beat = worker.heartbeat(a["id"], 120)
    assert beat["active_seconds"] == 120

    first = worker.submit(a["id"], answer=GOOD_ANSWER, idempotency_key="attempt-1")
    again = worker.submit(a["id"], answer=GOOD_ANSWER, idempotency_key="attempt-1")
    assert again == first and first["answer"] == GOOD_ANSWER
    assert first["active_seconds"] == 120
    with pytest.raises(ConflictError):  # the same key with another body
        other = {**GOOD_ANSWER, "preference": {"choice": "tie"}}
        worker.submit(a["id"], answer=other, idempotency_key="attempt-1")
    with pytest.raises(ConflictError):  # a fresh key: the lease is over
        worker.submit(a["id"], answer=GOOD_ANSWER)
    stats = owner.project_stats(proj["id"])
    assert stats["responses"] == 1 and stats["slots"]["done"] == 1

    assert worker.next_assignment(proj["id"]) is None
    assert worker.last_reason == "queue_empty"


def test_submit_retries_a_lost_answer_with_the_same_key(live: Live) -> None:
    recorder = Recorder(lose_submits=1)
    owner, proj, worker = team(live, n_items=1, worker_transport=recorder)
    a = worker.next_assignment(proj["id"])
    assert a is not None
    out = worker.submit(a["id"], answer=GOOD_ANSWER)  # the first answer is lost on the way back
    sent = recorder.to("/submit")
    assert len(sent) == 2
    keys = {r.headers["idempotency-key"] for r in sent}
    assert len(keys) == 1 and uuid.UUID(keys.pop()).version == 4
    assert out["answer"] == GOOD_ANSWER
    assert owner.project_stats(proj["id"])["responses"] == 1
    assert [r["response_id"] for r in owner.export(proj["id"])] == [out["id"]]


def test_submit_gives_up_after_its_retries(live: Live) -> None:
    recorder = Recorder(lose_submits=3)
    owner, proj, worker = team(live, n_items=1, worker_transport=recorder)
    a = worker.next_assignment(proj["id"])
    assert a is not None
    with pytest.raises(httpx.ReadError):
        worker.submit(a["id"], answer=GOOD_ANSWER, retries=1)
    assert len(recorder.to("/submit")) == 2
    # Both answers were lost, but the server stored the work once.
    assert owner.project_stats(proj["id"])["responses"] == 1


def test_an_invalid_answer_names_the_field_and_keeps_the_lease(live: Live) -> None:
    _, proj, worker = team(live, n_items=1)
    a = worker.next_assignment(proj["id"])
    assert a is not None
    bad = {"preference": {"choice": "left", "strength": 9}, "rationale": "too short"}
    with pytest.raises(InvalidInputError) as err:
        worker.submit(a["id"], answer=bad)
    assert err.value.errors[0]["loc"] == ["body", "answer", "preference", "strength"]
    with pytest.raises(InvalidInputError) as beat:
        worker.heartbeat(a["id"], -1)
    assert beat.value.errors[0]["loc"] == ["body", "active_seconds"]
    assert worker.submit(a["id"], answer=GOOD_ANSWER)["status"] == "submitted"


def test_release_offers_the_item_again_and_skip_does_not(live: Live) -> None:
    _, proj, worker = team(live, n_items=1)
    a = worker.next_assignment(proj["id"])
    assert a is not None
    assert worker.release(a["id"]) == {"id": a["id"], "state": "released"}
    with pytest.raises(ConflictError):
        worker.release(a["id"])
    b = worker.next_assignment(proj["id"])
    assert b is not None and b["item"]["id"] == a["item"]["id"]
    assert worker.skip(b["id"])["state"] == "skipped"
    assert worker.next_assignment(proj["id"]) is None
    assert worker.last_reason == "queue_empty"


def test_an_expired_lease_is_a_conflict(live: Live) -> None:
    _, proj, worker = team(live, n_items=1, lease_minutes=5)
    a = worker.next_assignment(proj["id"])
    assert a is not None
    live.clock.advance(timedelta(minutes=6))
    with pytest.raises(ConflictError) as lost:
        worker.heartbeat(a["id"], 10)
    assert lost.value.status == 409
    with pytest.raises(ConflictError):
        worker.submit(a["id"], answer=GOOD_ANSWER)


def test_someone_elses_assignment_is_not_found(live: Live) -> None:
    owner, proj, worker = team(live)
    other = live.person()
    owner.add_member(proj["id"], other.me()["id"])
    a = worker.next_assignment(proj["id"])
    assert a is not None
    with pytest.raises(NotFoundError):
        other.get_assignment(a["id"])
    with pytest.raises(NotFoundError):
        other.save_draft(a["id"], {"rationale": "mine now"})
    with pytest.raises(NotFoundError):
        other.submit(a["id"], answer=GOOD_ANSWER)


def test_next_without_projects_returns_none_with_the_reason(live: Live) -> None:
    loner = live.person()
    assert loner.next_assignment() is None
    assert loner.last_reason == "no_eligible_project"
    owner = live.person("owner")
    hidden = owner.create_project("Hidden", PAIRWISE_TEMPLATE)
    with pytest.raises(NotFoundError):
        loner.next_assignment(hidden["id"])


def test_a_reviewer_approves_and_the_owner_exports_pseudonyms(live: Live) -> None:
    owner, proj, worker = team(live, n_items=1, sample_rate=1.0)
    reviewer = live.person()
    owner.add_member(proj["id"], reviewer.me()["id"], "reviewer")
    a = worker.next_assignment(proj["id"])
    assert a is not None
    attempt = worker.submit(a["id"], answer=GOOD_ANSWER, active_seconds=40)
    assert attempt["needs_review"] is True
    assert owner.project_stats(proj["id"])["reviews"]["approved"] == 0
    assert list(owner.export(proj["id"], status="approved")) == []

    r = reviewer.next_assignment(proj["id"])
    assert r is not None and r["stage"] == "review"
    assert r["under_review"] == {"response_id": attempt["id"], "answer": GOOD_ANSWER}
    review = reviewer.submit(r["id"], verdict="approve", feedback="Well argued.", score=5)
    assert review["verdict"] == "approve" and review["score"] == 5

    assert owner.project_stats(proj["id"])["reviews"] == {
        "approved": 1,
        "improved": 0,
        "rejected": 0,
    }
    [row] = list(owner.export(proj["id"], status="approved"))
    assert row["response_id"] == attempt["id"] and row["verdict"] == "approve"
    assert row["feedback"] == "Well argued."
    people = [worker.me(), reviewer.me()]
    assert row["contributor"].startswith("c_") and row["reviewer"].startswith("c_")
    assert row["contributor"] != row["reviewer"]
    text = json.dumps(row)
    for p in people:
        assert p["email"] not in text and p["name"] not in text
        assert p["id"] not in (row["contributor"], row["reviewer"])


def test_a_closed_client_sends_nothing(live: Live) -> None:
    with live.client(live.admin.token) as c:
        assert c.me()["email"] == "admin@example.org"
    with pytest.raises(RuntimeError):
        c.me()


def test_the_base_url_may_name_the_api_root(live: Live) -> None:
    with inlier.Client(live.url + "/api/v1/", token=live.admin.token) as c:
        assert c.me()["roles"] == ["admin"]


# ---- model in the loop ---------------------------------------------------------------------

GENERATING_TEMPLATE: dict[str, Any] = {
    "fields": [
        {"name": "topic", "type": "text"},
        {
            "name": "cot",
            "type": "steps",
            "generated": {"model": "demo", "from": ["prompt"], "max_regenerations": 1},
        },
    ],
    "questions": [
        {"name": "prompt", "type": "text"},
        {"name": "steps", "type": "step_review", "options": {"steps_field": "cot"}},
    ],
}
REPLAY_MODELS = {
    "demo": {"provider": "replay", "responses": {"t-1": "Step 1: Look.\nStep 2: Answer."}}
}


def test_a_contributor_generates_a_field_and_reads_it_back(live: Live) -> None:
    owner = live.person("owner")
    proj = owner.create_project("CoT", GENERATING_TEMPLATE, models=REPLAY_MODELS)
    owner.import_items(
        proj["id"],
        [
            {"external_id": "t-1", "data": {"topic": "a"}},
            {"external_id": "t-2", "data": {"topic": "b"}},
        ],
    )
    worker = live.person()
    owner.add_member(proj["id"], worker.me()["id"])
    a = worker.next_assignment(proj["id"])
    assert a is not None and a["item"]["data"]["topic"] == "a"
    with pytest.raises(InvalidInputError) as missing:
        worker.generate(a["id"], "cot")
    assert missing.value.errors[0]["loc"] == ["body", "inputs", "prompt"]
    out = worker.generate(a["id"], "cot", inputs={"prompt": "Why?"})
    assert out["value"] == ["Look.", "Answer."] and out["provider"] == "replay"
    assert worker.generations(a["id"]) == {"cot": out}
    worker.generate(a["id"], "cot", inputs={"prompt": "Why?"})
    with pytest.raises(RateLimitError):
        worker.generate(a["id"], "cot", inputs={"prompt": "Why?"})
    worker.skip(a["id"])
    b = worker.next_assignment(proj["id"])
    assert b is not None and b["item"]["data"]["topic"] == "b"
    with pytest.raises(ServerError) as failed:  # the replay data has nothing for this item
        worker.generate(b["id"], "cot", inputs={"prompt": "Why?"})
    assert failed.value.status == 502 and "t-2" in failed.value.detail


async def test_the_async_client_generates_too(live: Live) -> None:
    owner = live.person("owner")
    proj = owner.create_project("CoT", GENERATING_TEMPLATE, models=REPLAY_MODELS)
    owner.import_items(proj["id"], [{"external_id": "t-1", "data": {"topic": "a"}}])
    worker = live.person()
    owner.add_member(proj["id"], worker.me()["id"])
    async with inlier.AsyncClient(live.url, token=worker.token) as client:
        a = await client.next_assignment(proj["id"])
        assert a is not None
        out = await client.generate(a["id"], "cot", {"prompt": "Why?"})
        assert out["value"] == ["Look.", "Answer."]
        assert await client.generations(a["id"]) == {"cot": out}


# ---- the async client --------------------------------------------------------------------------


async def test_the_async_client_does_the_same_work(live: Live) -> None:
    owner_email, worker_email = live.new_email(), live.new_email()
    async with inlier.AsyncClient(live.url, token=live.admin.token) as admin:
        await admin.create_user(owner_email, "Owner", PASSWORD, roles=["owner"])
        worker_user = await admin.create_user(worker_email, "Worker", PASSWORD)
        assert [u["email"] async for u in admin.list_users(page_size=1)] == [
            "admin@example.org",
            owner_email,
            worker_email,
        ]
    async with inlier.AsyncClient(live.url) as owner, inlier.AsyncClient(live.url) as worker:
        await owner.login(owner_email, PASSWORD)
        await worker.login(worker_email, PASSWORD)
        projects = [await owner.create_project(f"P{i}", PAIRWISE_TEMPLATE) for i in range(3)]
        assert [p["id"] async for p in owner.list_projects(page_size=2)] == [
            p["id"] for p in projects
        ]
        pid = projects[0]["id"]
        assert await owner.import_items(pid, [pairwise_item(0)]) == 1
        more = (pairwise_item(i) for i in (1, 2))
        assert await owner.import_items_ndjson(pid, more, chunk_size=1) == 2
        assert [i["external_id"] async for i in owner.list_items(pid)] == [
            "item-0",
            "item-1",
            "item-2",
        ]
        await owner.add_member(pid, worker_user["id"])
        members = {m["user_id"]: m["role"] async for m in owner.list_members(pid)}
        assert members[worker_user["id"]] == "contributor"

        a = await worker.next_assignment(pid)
        assert a is not None
        await worker.save_draft(a["id"], {"rationale": "draft"})
        assert (await worker.get_assignment(a["id"]))["draft"]["answer"] == {"rationale": "draft"}
        assert (await worker.heartbeat(a["id"], 5))["active_seconds"] == 5
        first = await worker.submit(a["id"], answer=GOOD_ANSWER, idempotency_key="k")
        assert await worker.submit(a["id"], answer=GOOD_ANSWER, idempotency_key="k") == first
        with pytest.raises(ConflictError):
            await worker.submit(a["id"], answer=GOOD_ANSWER)
        b = await worker.next_assignment(pid)
        assert b is not None
        assert (await worker.release(b["id"]))["state"] == "released"
        b = await worker.next_assignment(pid)
        assert b is not None
        assert (await worker.skip(b["id"]))["state"] == "skipped"

        rows = [r async for r in owner.export(pid)]
        assert [r["response_id"] for r in rows] == [first["id"]]
        assert rows[0]["contributor"].startswith("c_")
        stats = await owner.project_stats(pid)
        assert stats["responses"] == 1 and stats["items"] == 3
        changed = await owner.update_project(pid, name="Renamed")
        assert (await worker.get_project(pid))["name"] == changed["name"] == "Renamed"


async def test_the_async_client_raises_the_same_errors(live: Live) -> None:
    async with inlier.AsyncClient(live.url) as anonymous:
        with pytest.raises(AuthenticationError):
            await anonymous.me()
        with pytest.raises(AuthenticationError):
            await anonymous.login("admin@example.org", "wrong-password")
        assert anonymous.token is None
    async with inlier.AsyncClient(live.url, token=live.admin.token) as admin:
        with pytest.raises(NotFoundError):
            await admin.get_project("404")
        with pytest.raises(InvalidInputError) as bad:
            await admin.create_project("P", PAIRWISE_TEMPLATE, colour="blue")
        assert ["body", "colour"] in [e["loc"] for e in bad.value.errors]
        assert await admin.next_assignment() is None
        assert admin.last_reason == "no_eligible_project"
        pid = (await admin.create_project("P", PAIRWISE_TEMPLATE))["id"]
        with pytest.raises(InvalidInputError):
            [r async for r in admin.export(pid, kind="no-such-kind")]
        email = live.new_email()
        await admin.set_skill((await admin.create_user(email, "E", PASSWORD))["id"], "law", 3)
    with live.client() as c:
        c.login(email, PASSWORD)
        assert c.me()["skills"] == {"law": 3}


def test_transports_of_the_wrong_kind_are_refused() -> None:
    with pytest.raises(TypeError):
        inlier.Client("http://127.0.0.1:9", transport=httpx.AsyncHTTPTransport())
    with pytest.raises(TypeError):
        inlier.AsyncClient("http://127.0.0.1:9", transport=httpx.HTTPTransport())


def test_an_applicant_applies_is_approved_and_passes_an_assessment(live: Live) -> None:
    from test_experts import GOLD, LABEL_TEMPLATE

    with live.client() as anonymous:
        keys = {s["key"] for s in anonymous.skills()}
        assert "medicine.cardiology" in keys
        out = anonymous.apply(
            "dr.silva@example.org",
            "Dr. Silva",
            PASSWORD,
            profile={"country": "BR", "degree": "PhD", "languages": ["pt-BR"]},
            policy_version="1",
        )
    assert out["status"] == "pending"
    [pending] = list(live.admin.list_applications("pending"))
    assert pending["email"] == "dr.silva@example.org"
    expert = live.client()
    expert.login("dr.silva@example.org", PASSWORD)
    assert expert.me()["status"] == "pending"
    assert live.admin.decide_application(out["id"], "approve")["status"] == "approved"
    assert live.admin.create_skill("medicine.cardiology.echo", "Echo")["parent"] == (
        "medicine.cardiology"
    )
    a = live.admin.create_assessment(
        "Triage",
        "medicine.cardiology",
        LABEL_TEMPLATE,
        [{"data": {"case": "c"}, "gold": {"diagnosis": d, "severity": s}} for d, s in GOLD],
        level_on_pass=2,
        pass_mark=0.5,
        max_attempts=1,
    )
    [listed] = expert.assessments()
    assert listed["id"] == a["id"] and listed["attempts_left"] == 1
    attempt = expert.start_attempt(a["id"])
    answers = {
        item["id"]: {"diagnosis": d, "severity": s}
        for item, (d, s) in zip(attempt["items"], GOLD, strict=True)
    }
    result = expert.submit_attempt(attempt["id"], answers, active_seconds=120)
    assert result["score"] == 1.0 and result["level_granted"] == 2
    with pytest.raises(ConflictError) as refused:
        expert.start_attempt(a["id"])
    assert refused.value.status == 409
    assert isinstance(expert.my_work(), list)


def test_the_sdk_sets_rates_runs_a_week_and_reads_a_statement(live: Live) -> None:
    from datetime import timedelta

    owner, proj, worker = team(live)
    now = live.clock.now()
    monday = (now - timedelta(days=now.weekday())).date()
    usd = {"amount": 700, "currency": "USD"}
    card = owner.set_rate_card(
        proj["id"],
        {"effective_from": f"{monday}T00:00:00Z", "stages": {"attempt": {"per_task": usd}}},
    )
    assert card["version"] == 1 and worker.rate_card(proj["id"])["version"] == 1
    a = worker.next_assignment(proj["id"])
    assert a is not None
    worker.submit(a["id"], answer=GOOD_ANSWER)
    assert worker.earnings()["total"] == 700
    live.clock.advance(timedelta(days=7))
    run = live.admin.create_payrun(str(monday))
    assert run["total"] == 700 and live.admin.create_payrun(str(monday))["id"] == run["id"]
    (summary,) = list(worker.statements())
    st = worker.statement(summary["id"])
    assert st["total"] == sum(ln["amount"] for ln in st["lines"]) == 700
    (payout,) = live.admin.payouts(run["id"])
    assert live.admin.payout_result(payout["payout_id"], "paid", "ref-1")["status"] == "paid"
    assert worker.earnings_summary(monday.year)["paid"] == 700
    assert [r["id"] for r in live.admin.payruns()] == [run["id"]]
    assert live.admin.set_location_tiers({"BR": 2})["location_tiers"] == {"BR": 2}
    assert worker.pay_settings()["currency"] == "USD"


def test_the_sdk_reads_standing_and_events_and_decides_an_appeal(live: Live) -> None:
    owner = live.person("owner")
    quality = {"gold_rate": 1.0, "pause_below": 0.5, "min_events": 2}
    proj = owner.create_project("Gold", PAIRWISE_TEMPLATE, quality=quality)
    gold = {"preference": {"choice": "right", "strength": 2}}
    owner.import_items(proj["id"], [pairwise_item(i, gold=gold) for i in range(3)])
    worker = live.person()
    owner.add_member(proj["id"], worker.me()["id"])
    for _ in range(2):
        a = worker.next_assignment(proj["id"])
        assert a is not None
        worker.submit(a["id"], answer=GOOD_ANSWER)  # "left": not the gold answer
    (standing,) = worker.my_standing()
    assert standing["state"] == "paused" and standing["events"] == 2
    events = list(worker.quality_events(proj["id"], page_size=1))
    assert [e["kind"] for e in events] == ["gold", "gold"]
    assert all(e["item_id"] is None for e in events)
    filed = worker.appeal(proj["id"], "I misread the guideline.")
    with pytest.raises(ConflictError):
        worker.appeal(proj["id"], "Again.")  # the same appeal is open
    (appeal,) = worker.my_appeals()
    assert appeal["id"] == filed["id"]
    assert [a["id"] for a in owner.project_appeals(proj["id"], "open")] == [appeal["id"]]
    decided = owner.decide_appeal(appeal["id"], "reinstate", "Reviewed; fine.")
    assert decided["status"] == "reinstated"
    table = owner.project_quality(proj["id"])
    assert table["contributors"][0]["gold_accuracy"] == 0.0
    person = owner.person_quality(proj["id"], worker.me()["id"])
    assert person["standing"]["state"] == "ok" and len(person["events"]) == 2


def test_the_sdk_grades_a_written_assessment_answer(live: Live) -> None:
    template = {
        "fields": [{"name": "case", "type": "text"}],
        "questions": [{"name": "notes", "type": "text"}],
    }
    a = live.admin.create_assessment(
        "Written",
        "medicine.cardiology",
        template,
        [{"data": {"case": "c"}, "gold": {"notes": "reference"}}],
        level_on_pass=2,
        pass_mark=0.5,
        max_attempts=1,
        cooldown_hours=0,
        paid=False,
    )
    expert = live.person()
    attempt = expert.start_attempt(a["id"])
    item = attempt["items"][0]["id"]
    assert expert.submit_attempt(attempt["id"], {item: {"notes": "mine"}})["pending"] is True
    (waiting,) = live.admin.grading_queue(a["id"])
    result = live.admin.grade_attempt(
        waiting["attempt_id"], [{"item_id": item, "question": "notes", "score": 1.0}]
    )
    assert result["passed"] is True and result["level_granted"] == 2


# ---- forums and notifications ------------------------------------------------------------------


def test_forum_questions_answers_and_notifications(live: Live) -> None:
    owner, proj, worker = team(live)
    (f,) = worker.list_forums(project_id=proj["id"])
    thread = worker.create_thread(f["id"], "Ties?", "Is a tie $\\frac12$?")
    assert "<math" in thread["posts"][0]["html"]
    answer = owner.reply(thread["id"], "Yes, explain it.")
    assert owner.mark_official(answer["id"])["official"] is True
    assert owner.pin_thread(thread["id"])["pinned"] is True
    with pytest.raises(PermissionDeniedError):
        worker.lock_thread(thread["id"])
    assert [t["id"] for t in worker.list_threads(f["id"], q="tie")] == [thread["id"]]
    worker.edit_post(thread["posts"][0]["id"], "Is a tie half?")
    assert [h["body"] for h in worker.post_history(thread["posts"][0]["id"])] == [
        "Is a tie $\\frac12$?"
    ]
    owner.lock_thread(thread["id"])
    with pytest.raises(ConflictError):
        worker.reply(thread["id"], "more")
    inbox = worker.notifications(unread=True)
    assert inbox["unread"] == 2
    assert worker.mark_read([n["id"] for n in inbox["data"]]) == {"read": 2, "unread": 0}
    outsider = live.person()
    with pytest.raises(NotFoundError):
        outsider.get_thread(thread["id"])
    assert worker.report_post(answer["id"], "unclear")["post_id"] == answer["id"]
    assert owner.hide_post(answer["id"])["hidden"] is True
    community = live.admin.create_forum("Lounge")
    assert outsider.get_forum(community["id"])["kind"] == "community"


def test_the_owner_reads_consensus_across_pages_and_agreement(live: Live) -> None:
    owner, proj, worker = team(live, n_items=3)
    for _ in range(3):
        a = worker.next_assignment(proj["id"])
        assert a is not None
        worker.submit(a["id"], answer=GOOD_ANSWER, active_seconds=30)
    got = owner.consensus(proj["id"], "preference", bootstrap=10, page_size=2)
    assert (got["method"], got["items"], got["next_cursor"]) == ("bradley_terry", 3, None)
    assert [d["answer"] for d in got["data"]] == [{"choice": "left", "strength": 2}] * 3
    assert all(0.5 < d["confidence"] < 1 and "interval" in d["detail"] for d in got["data"])
    assert got["contributors"][0]["accuracy"] == 1.0
    with pytest.raises(InvalidInputError) as bad:
        owner.consensus(proj["id"], "rationale")
    assert bad.value.errors[0]["loc"] == ["query", "question"]
    assert set(owner.agreement(proj["id"])) == {"questions", "project", "contributors"}
