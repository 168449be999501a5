"""The audit log: every owner/admin change leaves one chained entry, in the same transaction,
with no personal data; ``GET /audit`` filters and pages it; verification finds tampering."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, text, update

from conftest import World, make_settings, pairwise_item
from inlier.audit import service as audit
from inlier.audit.models import AuditEntry
from inlier.db.engine import Database
from inlier.db.migrate import upgrade


async def entries(admin: Any, **filters: str) -> list[dict[str, Any]]:
    r = await admin.get("/audit", params={"limit": 1000, **filters})
    assert r.status_code == 200, r.text
    return list(r.json()["data"])


async def test_every_owner_and_admin_change_writes_one_entry(world: World, app: Any) -> None:
    admin = await world.admin()
    owner = await world.user("owner")
    worker = await world.user("contributor", bio="I love my cat Fluffy")
    created = await entries(admin, action="user.create", target=f"user:{worker.id}")
    assert len(created) == 1 and created[0]["actor"] == admin.id
    assert created[0]["diff"]["after"]["roles"] == ["contributor"]

    r = await admin.put(f"/users/{worker.id}/skills/medicine.cardiology", json={"level": 3})
    assert r.status_code == 200
    [skill] = await entries(admin, action="user.skill_set")
    assert skill["target"] == f"user:{worker.id}"
    assert skill["diff"] == {
        "before": {"medicine.cardiology": None},
        "after": {"medicine.cardiology": 3},
    }
    assert skill["request_id"] == r.headers["x-request-id"]

    project = await world.project(owner)
    pid = project["id"]
    [made] = await entries(admin, action="project.create")
    assert made["target"] == f"project:{pid}" and made["actor"] == owner.id
    assert made["diff"]["after"]["name"] == project["name"]

    r = await owner.patch(f"/projects/{pid}", json={"name": "Renamed", "lease_minutes": 45})
    assert r.status_code == 200
    [changed] = await entries(admin, action="project.update", target=f"project:{pid}")
    assert changed["diff"] == {
        "before": {"name": project["name"], "lease_minutes": 30},
        "after": {"name": "Renamed", "lease_minutes": 45},
    }

    await world.member(owner, pid, worker, "reviewer")
    [member] = await entries(admin, action="project.member_add")
    assert member["diff"]["after"] == {"user_id": worker.id, "role": "reviewer"}

    await world.items(owner, pid, [pairwise_item(1)])
    r = await owner.get(f"/projects/{pid}/export", params={"kind": "raw"})
    assert r.status_code == 200
    [export] = await entries(admin, action="export.create", target=f"project:{pid}")
    assert export["diff"]["after"]["kind"] == "raw" and export["actor"] == owner.id

    # The chain links every entry to the one before it, oldest first.
    everything = await entries(admin)
    assert everything[0]["prev_hash"] is None
    for before, after in itertools.pairwise(everything):
        assert after["prev_hash"] == before["hash"] and int(after["id"]) > int(before["id"])
    assert (await audit.verify(app.state.db)).ok


async def test_a_rejected_change_writes_no_entry(world: World) -> None:
    admin = await world.admin()
    owner = await world.user("owner")
    project = await world.project(owner)
    await world.items(owner, project["id"], [pairwise_item(1)])
    r = await owner.patch(f"/projects/{project['id']}", json={"workflow": {"overlap": 3}})
    assert r.status_code == 409
    r = await owner.patch(f"/projects/{project['id']}", json={"lease_minutes": 0})
    assert r.status_code == 422
    assert await entries(admin, action="project.update") == []


async def test_entries_hold_no_personal_data(world: World) -> None:
    admin = await world.admin()
    r = await admin.post(
        "/users",
        json={
            "email": "zelda.quill@example.org",
            "name": "Zelda Quill",
            "password": "correct-horse",
            "profile": {"bio": "Cardiologist in Lyon"},
        },
    )
    assert r.status_code == 201
    r = await admin.get("/audit", params={"limit": 1000})
    assert "zelda" not in r.text.lower() and "Lyon" not in r.text
    assert audit.redact({"email": "a@b.c", "name": "x", "n": [{"token": "t"}]}, "user:1") == {
        "email": "[redacted]",
        "name": "[redacted]",
        "n": [{"token": "[redacted]"}],
    }
    # A project's name is not personal.
    assert audit.redact({"name": "Cardiology"}, "project:1") == {"name": "Cardiology"}


async def test_filters_match_exactly_and_cursors_page_oldest_first(world: World) -> None:
    admin = await world.admin()
    owner = await world.user("owner")
    for n in range(5):
        await world.project(owner, name=f"P{n}")
    mine = await entries(admin, actor=owner.id, action="project.create")
    assert [e["diff"]["after"]["name"] for e in mine] == [f"P{n}" for n in range(5)]
    assert await entries(admin, actor=owner.id + "0") == []
    assert await entries(admin, actor="not-an-id") == []
    assert await entries(admin, action="project") == []
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, "action": "project.create"}
        if cursor:
            params["cursor"] = cursor
        page = (await admin.get("/audit", params=params)).json()
        seen += [e["id"] for e in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [e["id"] for e in mine]
    r = await admin.get("/audit", params={"cursor": "forged"})
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    r = await admin.get("/audit", params={"limit": 0})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "limit"]


async def _append(db: Database, n: int, actor: int = 1) -> None:
    for i in range(n):
        async with db.session() as s:
            await audit.record(s, actor, "test.append", f"thing:{i}", {"after": {"i": i}}, None)


async def test_verify_finds_an_edited_a_deleted_and_a_truncated_entry(app: Any) -> None:
    db = app.state.db
    await _append(db, 6)
    assert (await audit.verify(db, batch=2)).out() == {"ok": True, "entries": 6, "broken": None}
    async with db.session() as s:
        await s.execute(update(AuditEntry).where(AuditEntry.id == 3).values(target="thing:99"))
    verdict = await audit.verify(db, batch=2)
    assert verdict.broken_id == "3" and "edited" in (verdict.reason or "")
    async with db.session() as s:
        await s.execute(update(AuditEntry).where(AuditEntry.id == 3).values(target="thing:2"))
        await s.execute(delete(AuditEntry).where(AuditEntry.id == 4))
    verdict = await audit.verify(db)
    assert verdict.broken_id == "5" and "deleted" in (verdict.reason or "")
    async with db.session() as s:
        await s.execute(delete(AuditEntry).where(AuditEntry.id >= 4))
    verdict = await audit.verify(db)
    assert not verdict.ok and "newest entries were deleted" in (verdict.reason or "")


async def test_concurrent_appends_never_fork_the_chain(app: Any) -> None:
    db = app.state.db

    async def one(i: int) -> None:
        async with db.session() as s:
            await audit.record(s, i, "test.race", f"thing:{i}", {"after": {"i": i}}, None)
            await asyncio.sleep(0)

    await asyncio.gather(*(one(i) for i in range(20)))
    verdict = await audit.verify(db)
    assert verdict.ok and verdict.entries == 20


async def test_an_entry_rolls_back_with_its_change(app: Any) -> None:
    db = app.state.db
    with pytest.raises(RuntimeError):
        async with db.session() as s:
            await audit.record(s, 1, "test.rollback", "thing:1", {}, None)
            raise RuntimeError("the change failed")
    await _append(db, 1)
    verdict = await audit.verify(db)
    assert verdict.ok and verdict.entries == 1


# ---- the chain as a property ---------------------------------------------------------------

_TEMPLATE = Path(tempfile.mkdtemp(prefix="inlier-audit-")) / "template.db"
FIELDS = ("at", "actor_id", "action", "target", "diff", "request_id", "prev_hash", "hash")

appends = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(1, 10**12)),
        st.from_regex(r"[a-z]{1,8}\.[a-z_]{1,10}", fullmatch=True),
        st.from_regex(r"[a-z]{1,8}:[0-9]{1,6}", fullmatch=True),
        st.dictionaries(
            st.text(min_size=1, max_size=8),
            st.one_of(st.integers(), st.text(max_size=20), st.booleans(), st.none()),
            max_size=4,
        ),
        st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9]{1,32}", fullmatch=True)),
    ),
    min_size=1,
    max_size=8,
)


def _altered(field: str, value: Any) -> Any:
    if field == "at":
        return value.replace(year=value.year - 1)
    if field == "actor_id":
        return 1 if value is None else value + 1
    if field == "diff":
        return {**value, "tampered": True}
    if field == "request_id":
        return "x" if value is None else value + "x"
    if field in ("prev_hash", "hash"):
        return "0" * 64 if value != "0" * 64 else "1" * 64
    return value + "x"


async def _chain_property(rows: list[Any], index: int, field: str, path: Path) -> None:
    db = Database(make_settings(f"sqlite:///{path}"), null_pool=True)
    try:
        for actor, action, target, diff, request_id in rows:
            async with db.session() as s:
                await audit.record(s, actor, action, target, diff, request_id)
        assert (await audit.verify(db)).ok
        victim = index % len(rows) + 1
        async with db.session() as s:
            entry = await s.get(AuditEntry, victim)
            assert entry is not None
            value = _altered(field, getattr(entry, field))
            await s.execute(
                update(AuditEntry).where(AuditEntry.id == victim).values({field: value})
            )
        verdict = await audit.verify(db)
        assert not verdict.ok and verdict.broken_id == str(victim), (field, verdict)
    finally:
        await db.engine.dispose()


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows=appends, index=st.integers(0, 100), field=st.sampled_from(FIELDS))
def test_any_appends_verify_and_any_altered_field_is_found_at_its_entry(
    rows: list[Any], index: int, field: str
) -> None:
    if not _TEMPLATE.exists():
        upgrade(f"sqlite:///{_TEMPLATE}")
    work = Path(tempfile.mkdtemp(prefix="inlier-audit-"))
    try:
        shutil.copyfile(_TEMPLATE, work / "a.db")
        asyncio.run(_chain_property(rows, index, field, work / "a.db"))
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def test_the_diff_survives_the_database_round_trip_exactly(app: Any) -> None:
    """JSONB reorders keys and normalizes numbers; the hash must not depend on either."""
    db = app.state.db
    async with db.session() as s:
        await audit.record(
            s, 1, "test.json", "thing:1", {"b": 1.5, "a": [1, "é", None], "ü": {"z": 1}}, "r"
        )
    async with db.session() as s:
        raw = (await s.execute(text("SELECT diff FROM audit_entries"))).scalar_one()
    assert raw is not None
    assert (await audit.verify(db)).ok


def test_the_cli_records_its_changes_verifies_and_exports_the_chain(
    cli: Any, tmp_path: Path
) -> None:
    import json
    import sqlite3

    from conftest import PAIRWISE_TEMPLATE

    assert cli.init().exit_code == 0
    tpl = tmp_path / "template.json"
    tpl.write_text(json.dumps(PAIRWISE_TEMPLATE))
    r = cli("projects", "create", "--template", str(tpl), "--name", "CLI project")
    assert r.exit_code == 0, r.output
    project = json.loads(r.stdout)["id"]
    assert cli("projects", "set-status", project, "paused").exit_code == 0
    r = cli("audit", "verify")
    assert r.exit_code == 0 and "ok: 2 entries" in r.stdout, r.output
    out = tmp_path / "audit.jsonl"
    assert cli("audit", "export", "--out", str(out)).exit_code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(e["action"], e["request_id"]) for e in rows] == [
        ("project.create", "cli"),
        ("project.update", "cli"),
    ]
    assert rows[1]["diff"] == {"before": {"status": "active"}, "after": {"status": "paused"}}
    with sqlite3.connect(cli.url.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE audit_entries SET action = 'project.delete' WHERE id = 1")
    r = cli("audit", "verify")
    assert r.exit_code == 1 and "BROKEN at entry 1" in r.stdout, r.output


# ---- every mutating owner/admin endpoint writes an entry -----------------------------------

#: Mutating operations that are not an owner's or admin's change, and why they write no entry.
NOT_AUDITED = {
    ("POST", "/api/v1/auth/token"): "signing in changes nothing anyone manages",
    ("POST", "/api/v1/render"): "a preview; nothing is stored",
    ("POST", "/api/v1/me/consents"): "a person's own consent, recorded in consents",
    ("POST", "/api/v1/assignments/next"): "a contributor's work",
    ("POST", "/api/v1/assignments/{assignment_id}/submit"): "a contributor's work",
    ("POST", "/api/v1/assignments/{assignment_id}/heartbeat"): "a contributor's work",
    ("POST", "/api/v1/assignments/{assignment_id}/skip"): "a contributor's work",
    ("POST", "/api/v1/assignments/{assignment_id}/release"): "a contributor's work",
    ("PUT", "/api/v1/assignments/{assignment_id}/draft"): "a contributor's work",
    ("POST", "/api/v1/assignments/{assignment_id}/generate"): "a contributor's work",
    ("POST", "/api/v1/applications"): "a person's own application, kept in applications",
    ("POST", "/api/v1/forums/{forum_id}/threads"): "a forum post is its own record",
    ("POST", "/api/v1/threads/{thread_id}/posts"): "a forum post is its own record",
    ("PATCH", "/api/v1/posts/{post_id}"): "edits are kept in the post's history",
    ("POST", "/api/v1/posts/{post_id}/report"): "a report is its own record",
    ("POST", "/api/v1/me/notifications/read"): "a person's own inbox",
    ("POST", "/api/v1/assessments/{assessment_id}/attempts"): "a person's own assessment",
    ("POST", "/api/v1/assessment-attempts/{attempt_id}/submit"): "a person's own assessment",
    ("POST", "/api/v1/appeals"): "a person's own appeal, kept in appeals",
}
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
#: Exports are reads that the log records (who took which data).
AUDITED_READS = {
    ("GET", "/api/v1/projects/{project_id}/export"),
    ("GET", "/api/v1/snapshots/{snapshot_id}/file"),
}


async def test_every_mutating_owner_or_admin_endpoint_writes_an_audit_entry(
    world: World, app: Any
) -> None:
    from test_authz_matrix import POLICY, ROLES, TARGETS, build_cast, call, operations, request_for

    cast = await build_cast(world)
    admin = cast.actors["admin"]
    silent: list[str] = []
    for method, template in sorted(operations(app)):
        if (method, template) in NOT_AUDITED:
            continue
        if method not in MUTATING and (method, template) not in AUDITED_READS:
            continue
        kind, statuses = POLICY[(method, template)]
        # As the first owner or admin the policy lets through, on the first target it allows.
        cell = next(
            (
                (role, target)
                for role in ("owner", "admin")
                for target, status in zip(TARGETS[kind], statuses[role], strict=True)
                if status < 300
            ),
            None,
        )
        assert cell is not None, f"{method} {template}: no owner or admin may call it"
        role, target = cell
        assert role in ROLES
        count = len((await admin.get("/audit", params={"limit": 1000})).json()["data"])
        path, kw = await request_for(cast, method, template, role, target)
        r = await call(cast, role, method, path, **kw)
        assert r.status_code < 300, (method, template, r.status_code, r.text)
        after = (await admin.get("/audit", params={"limit": 1000})).json()["data"]
        if len(after) == count:
            silent.append(f"{method} {template}")
        else:
            assert after[-1]["request_id"] == r.headers["x-request-id"], (method, template)
    assert not silent, (
        "owner/admin operations that write no audit entry (call audit.record in the same "
        f"transaction, or add them to NOT_AUDITED with the reason): {silent}"
    )
