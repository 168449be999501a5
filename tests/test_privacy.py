"""Privacy: policy versions and consent, taking one's data, and erasure."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import JSON, String, Text, cast, func, or_, select

from conftest import GOOD_ANSWER, Actor, World
from inlier.accounts import service as accounts
from inlier.audit import service as audit
from inlier.db.models import metadata
from inlier.kit.clock import Clock
from inlier.privacy import service as privacy
from inlier.privacy.holdings import HOLDINGS, UNLINKED_USER_COLUMNS

POLICY = "# Privacy\n\nWe keep your answers.\nWe never sell data.\n"


async def publish(admin: Actor, version: str, markdown: str = POLICY, **extra: Any) -> Any:
    r = await admin.post("/policies", json={"version": version, "markdown": markdown, **extra})
    assert r.status_code == 201, r.text
    return r.json()


async def reason_for(app: Any, who: Actor) -> str | None:
    async with app.state.db.session() as s:
        principal = accounts.principal_of(await accounts.get_user(s, who.id))
        return await privacy.consent_reason(s, principal, app.state.clock.now())


# ---- policies and consent ------------------------------------------------------------------


async def test_the_policy_in_force_is_the_latest_that_has_taken_effect(
    world: World, client: httpx.AsyncClient, clock: Clock
) -> None:
    admin = await world.admin()
    r = await client.get("/api/v1/policies/current")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    await publish(admin, "2026-01")
    later = (clock.now() + timedelta(days=2)).isoformat() + "Z"
    await publish(admin, "2026-02", POLICY + "We now keep drafts.\n", effective_at=later)
    current = (await client.get("/api/v1/policies/current")).json()
    assert current["version"] == "2026-01" and current["markdown"] == POLICY
    clock.advance(timedelta(days=3))
    assert (await client.get("/api/v1/policies/current")).json()["version"] == "2026-02"
    [entry, _] = (await admin.get("/audit", params={"action": "policy.publish"})).json()["data"]
    assert entry["diff"]["after"]["version"] == "2026-01"


@pytest.mark.parametrize(
    ("body", "status", "loc"),
    [
        (
            {"version": "v", "markdown": "x", "effective_at": "2000-01-01T00:00:00Z"},
            422,
            "effective_at",
        ),
        ({"version": "v", "markdown": "x", "effective_at": "tomorrow"}, 422, "effective_at"),
        ({"version": "", "markdown": "x"}, 422, "version"),
        ({"version": "   ", "markdown": "x"}, 422, "version"),
        ({"version": "v", "markdown": ""}, 422, "markdown"),
        ({"version": "v", "markdown": "x", "extra": 1}, 422, "extra"),
        ({"version": 5, "markdown": "x"}, 422, "version"),
    ],
)
async def test_a_bad_policy_is_refused_naming_the_field_and_changes_nothing(
    world: World, client: httpx.AsyncClient, body: dict[str, Any], status: int, loc: str
) -> None:
    admin = await world.admin()
    r = await admin.post("/policies", json=body)
    assert r.status_code == status, r.text
    assert r.json()["errors"][0]["loc"][-1] == loc
    assert (await client.get("/api/v1/policies/current")).status_code == 404


async def test_a_version_is_published_once(world: World) -> None:
    admin = await world.admin()
    await publish(admin, "v1")
    r = await admin.post("/policies", json={"version": "v1", "markdown": "other"})
    assert r.status_code == 409
    assert len((await admin.get("/audit", params={"action": "policy.publish"})).json()["data"]) == 1


async def test_work_stops_until_the_policy_in_force_is_accepted(
    world: World, app: Any, clock: Clock
) -> None:
    admin = await world.admin()
    worker = await world.user("contributor")
    assert await reason_for(app, worker) is None  # no policy, no gate
    await publish(admin, "v1")
    assert await reason_for(app, worker) == "consent_required"
    r = await worker.post("/me/consents", json={"policy_version": "v1"})
    assert r.status_code == 201 and r.json()["policy_version"] == "v1"
    again = await worker.post("/me/consents", json={"policy_version": "v1"})
    assert again.status_code == 201 and again.json() == r.json()
    assert await reason_for(app, worker) is None
    # A version to come may be accepted ahead; until it takes effect nothing changes.
    soon = (clock.now() + timedelta(hours=1)).isoformat()
    await publish(admin, "v2", POLICY + "New line.\n", effective_at=soon)
    assert await reason_for(app, worker) is None
    clock.advance(timedelta(hours=2))
    assert await reason_for(app, worker) == "consent_required"
    r = await worker.post("/me/consents", json={"policy_version": "v1"})
    assert r.status_code == 409 and r.json()["current_version"] == "v2"
    r = await worker.post("/me/consents", json={"policy_version": "v9"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "policy_version"]
    assert await reason_for(app, worker) == "consent_required"
    assert (await worker.post("/me/consents", json={"policy_version": "v2"})).status_code == 201
    assert await reason_for(app, worker) is None


async def test_next_answers_consent_required_and_a_held_lease_stays_held(world: World) -> None:
    admin = await world.admin()
    _owner, project, [worker] = await world.team(n_items=2, n_workers=1)
    lease = await worker.next(project["id"])
    assert lease.status_code == 200
    await publish(admin, "v1")
    r = await worker.next(project["id"])
    assert r.status_code == 204 and r.headers["inlier-reason"] == "consent_required"
    held = lease.json()["id"]
    r = await worker.post(f"/assignments/{held}/heartbeat", json={"active_seconds": 5})
    assert r.status_code == 200
    await worker.post("/me/consents", json={"policy_version": "v1"})
    again = await worker.next(project["id"])
    assert again.status_code == 200 and again.json()["id"] == lease.json()["id"]


# ---- take my data --------------------------------------------------------------------------


def user_tables() -> dict[str, set[str]]:
    """Every table with a column that refers to a person: foreign keys to users.id, the
    bare user-id columns the privacy map declares, and any column named like one."""
    found: dict[str, set[str]] = {}
    for table in metadata.tables.values():
        for column in table.columns:
            linked = any(fk.column.table.name == "users" for fk in column.foreign_keys)
            named = column.name in ("user_id", "actor_id", "author_id") or column.name.endswith(
                ("_by", "_user_id")
            )
            if linked or named or (table.name, column.name) in UNLINKED_USER_COLUMNS:
                found.setdefault(table.name, set()).add(column.name)
    return found


def test_every_table_that_refers_to_a_person_is_in_the_export() -> None:
    tables = user_tables()
    assert {"api_tokens", "responses", "slots", "assignments", "generations"} <= set(tables)
    missing = sorted(set(tables) - set(HOLDINGS) - {"users"})
    assert not missing, (
        f"tables that refer to users but are not in privacy.holdings.HOLDINGS: {missing}. "
        "Add a Holding (what the export takes, what erasure does) for each."
    )
    for name, columns in tables.items():
        holding = HOLDINGS[name]
        if holding.match is None:
            assert set(columns) & set(holding.columns), (name, columns, holding.columns)
    for holding in HOLDINGS.values():
        assert holding.table in metadata.tables, holding.table


async def worked_world(world: World) -> tuple[Actor, Actor, dict[str, Any], str]:
    """A contributor who submitted one answer and holds a lease with a draft."""
    owner, project, [worker] = await world.team(n_items=3, n_workers=1)
    first = (await worker.next(project["id"])).json()
    r = await worker.post(
        f"/assignments/{first['id']}/submit",
        json={"answer": GOOD_ANSWER},
        headers={"Idempotency-Key": "k1"},
    )
    assert r.status_code == 201, r.text
    second = (await worker.next(project["id"])).json()
    r = await worker.put(
        f"/assignments/{second['id']}/draft",
        json={"answer": {"rationale": "Draft about my neighbour Quentin Zorba"}},
    )
    assert r.status_code == 200
    return owner, worker, project, second["id"]


def read_zip(content: bytes) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        return {
            n: zf.read(n).decode() if n.endswith(".md") else json.loads(zf.read(n))
            for n in zf.namelist()
        }


async def test_the_data_export_holds_everything_about_me_and_no_secrets(world: World) -> None:
    admin = await world.admin()
    owner, worker, project, _ = await worked_world(world)
    await publish(admin, "v1")
    await worker.post("/me/consents", json={"policy_version": "v1"})
    await admin.put(f"/users/{worker.id}/skills/medicine.cardiology", json={"level": 2})
    r = await worker.get("/me/data-export")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    files = read_zip(r.content)
    assert set(files) == {h.file for h in HOLDINGS.values()} | {"README.md"}
    assert files["account.json"]["email"] == worker.email
    assert files["account.json"]["skills"] == {"medicine.cardiology": 2}
    assert [c["policy_version"] for c in files["consents.json"]] == ["v1"]
    assert len(files["responses.json"]) == 1
    assert files["responses.json"][0]["answer"] == GOOD_ANSWER
    drafts = [a["draft"] for a in files["assignments.json"] if a["draft"]]
    assert drafts == [{"rationale": "Draft about my neighbour Quentin Zorba"}]
    assert len(files["leases.json"]) == 1 and len(files["tokens.json"]) == 1
    assert {e["action"] for e in files["audit.json"]} >= {"user.create", "user.skill_set"}
    assert [m["project_id"] for m in files["memberships.json"]] == [project["id"]]
    for file in HOLDINGS.values():
        assert f"`{file.file}`" in files["README.md"]
    raw = r.content.decode("latin-1")
    for secret in ("password_hash", "token_hash", "pseudonym_salt", "argon2"):
        assert secret not in raw
    # Someone else's data is not in mine.
    owner_files = read_zip((await owner.get("/me/data-export")).content)
    assert owner_files["responses.json"] == [] and owner_files["account.json"]["id"] == owner.id


# ---- erase me ------------------------------------------------------------------------------


async def find_anywhere(app: Any, needles: list[str]) -> list[str]:
    """Every (table.column) whose text or JSON holds any of ``needles`` (case-insensitive)."""
    hits: list[str] = []
    async with app.state.db.session() as s:
        for table in metadata.tables.values():
            for column in table.columns:
                if not isinstance(column.type, String | Text | JSON):
                    continue
                as_text = func.lower(cast(column, Text))
                q = select(func.count()).where(or_(*(as_text.contains(n.lower()) for n in needles)))
                if (await s.scalar(q.select_from(table))) or 0:
                    hits.append(f"{table.name}.{column.name}")
    return hits


async def test_erasure_leaves_no_trace_of_the_person_and_keeps_their_work(
    world: World, app: Any, client: httpx.AsyncClient
) -> None:
    admin = await world.admin()
    await publish(admin, "v1")
    r = await admin.post(
        "/users",
        json={
            "email": "quentin.zorba@example.org",
            "name": "Quentin Zorba",
            "password": "correct-horse",
            "profile": {"bio": "Retired gastroenterologist from Quimper", "country": "FR"},
        },
    )
    assert r.status_code == 201
    owner, project, _ = await world.team(n_items=3, n_workers=0)
    token = (
        await client.post(
            "/api/v1/auth/token",
            json={"email": "quentin.zorba@example.org", "password": "correct-horse"},
        )
    ).json()["token"]
    me = Actor(client, r.json(), token)
    await world.member(owner, project["id"], me)
    await me.post("/me/consents", json={"policy_version": "v1"})
    first = (await me.next(project["id"])).json()
    await me.post(
        f"/assignments/{first['id']}/submit",
        json={"answer": GOOD_ANSWER},
        headers={"Idempotency-Key": "k"},
    )
    second = (await me.next(project["id"])).json()
    await me.put(
        f"/assignments/{second['id']}/draft",
        json={"answer": {"rationale": "Quimper notes in progress"}},
    )
    # A failed sign-in leaves the email and the client address behind.
    await client.post(
        "/api/v1/auth/token", json={"email": "quentin.zorba@example.org", "password": "wrong-one"}
    )
    needles = ["quentin.zorba@example.org", "Quentin Zorba", "Quimper"]
    assert set(await find_anywhere(app, needles)) == {
        "users.email",
        "users.name",
        "users.profile",
        "assignments.draft",
        "login_failures.email",
    }
    before = (await owner.get(f"/projects/{project['id']}/export")).text

    r = await me.request("DELETE", "/me")
    assert r.status_code == 204
    assert await find_anywhere(app, needles) == []
    assert (await me.get("/me")).status_code == 401
    t = await client.post(
        "/api/v1/auth/token",
        json={"email": "quentin.zorba@example.org", "password": "correct-horse"},
    )
    assert t.status_code == 401
    # The work stays, under the same pseudonym: the dataset is unchanged.
    assert (await owner.get(f"/projects/{project['id']}/export")).text == before
    # The open lease went back to the queue for others.
    stats = (await owner.get(f"/projects/{project['id']}/stats")).json()
    assert stats["slots"]["leased"] == 0 and stats["responses"] == 1

    # Erasing again is a no-op: the same answer, no second entry.
    r1 = await admin.post(f"/users/{me.id}/erase")
    r2 = await admin.post(f"/users/{me.id}/erase")
    assert r1.status_code == r2.status_code == 200 and r1.json() == r2.json()
    assert r1.json()["status"] == "erased" and r1.json()["erased_at"]
    erased = (await admin.get("/audit", params={"action": "user.erase"})).json()["data"]
    assert len(erased) == 1 and erased[0]["actor"] == me.id
    assert erased[0]["target"] == f"user:{me.id}"
    assert (await audit.verify(app.state.db)).ok
    user = (await admin.get(f"/users/{me.id}")).json()
    assert user["email"] == f"erased-{me.id}@invalid" and user["profile"] == {}


async def test_an_admin_erases_on_request_and_unknown_ids_are_not_found(world: World) -> None:
    admin = await world.admin()
    worker = await world.user("contributor")
    r = await admin.post(f"/users/{worker.id}/erase")
    assert r.status_code == 200 and r.json()["id"] == worker.id
    assert (await worker.get("/me")).status_code == 401
    [entry] = (await admin.get("/audit", params={"action": "user.erase"})).json()["data"]
    assert entry["actor"] == admin.id
    for bad in ("999999", "abc", "01"):
        r = await admin.post(f"/users/{bad}/erase")
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


async def test_the_last_admin_cannot_erase_themselves(world: World) -> None:
    admin = await world.admin()
    r = await admin.request("DELETE", "/me")
    assert r.status_code == 409
    assert (await admin.get("/me")).status_code == 200
    assert (await admin.get("/audit", params={"action": "user.erase"})).json()["data"] == []
    second = await world.user("admin")
    assert (await admin.request("DELETE", "/me")).status_code == 204
    assert (await second.get("/me")).status_code == 200
