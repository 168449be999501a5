"""Snapshots: an export frozen once as a named, versioned file whose manifest says exactly
what it holds; later work never changes it."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from conftest import PAIRWISE_TEMPLATE, Cli, World, pairwise_item
from test_datasets import export, pairwise_answer, setup, work


async def snapshot(owner: Any, pid: str, **body: Any) -> dict[str, Any]:
    r = await owner.post(f"/projects/{pid}/snapshots", json={"name": "train-v1", **body})
    assert r.status_code == 201, r.text
    return dict(r.json())


def stored(app: Any) -> list[Path]:
    root: Path = app.state.settings.data_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def test_the_manifest_matches_the_file_and_the_file_never_changes(
    world: World, app: Any
) -> None:
    owner, pid, w = await setup(world, PAIRWISE_TEMPLATE, [pairwise_item(i) for i in range(3)])
    await work(w, pid, pairwise_answer)
    filters = {"status": "submitted", "form": "standard"}
    snap = await snapshot(owner, pid, kind="preference", filters=filters)
    m = snap["manifest"]
    assert (snap["version"], snap["kind"], snap["format"]) == (1, "preference", "jsonl")
    assert m["filters"] == {"status": "submitted", "gold": "exclude", "form": "standard"}
    assert m["created_by"] == owner.id and m["created_at"].endswith("Z")
    r = await owner.get(f"/snapshots/{snap['id']}/file")
    assert r.status_code == 200
    body = r.content
    assert hashlib.sha256(body).hexdigest() == m["sha256"] and len(body) == m["bytes"]
    assert r.headers["etag"] == f'"sha256-{m["sha256"]}"'
    assert (
        r.headers["repr-digest"]
        == f"sha-256=:{base64.b64encode(hashlib.sha256(body).digest()).decode()}:"
    )
    rows = [json.loads(line) for line in body.decode().splitlines()]
    assert len(rows) == m["rows"] == 2  # the tie gives no preference row
    assert rows == await export(owner, pid, kind="preference", form="standard")
    assert (await owner.get(f"/snapshots/{snap['id']}")).json() == snap

    # More work arrives: the export grows, the snapshot does not.
    more = [pairwise_item(i) for i in range(3, 6)]
    await world.items(owner, pid, more)
    await work(w, pid, lambda d: {"preference": {"choice": "left", "strength": 1},
                                  "rationale": "Left is better here, clearly."})  # fmt: skip
    assert len(await export(owner, pid, kind="preference", form="standard")) == 5
    again = await owner.get(f"/snapshots/{snap['id']}/file")
    assert again.content == body
    [path] = stored(app)
    assert not path.stat().st_mode & 0o222  # read-only on disk


async def test_the_same_name_again_is_the_next_version(world: World) -> None:
    owner, pid, w = await setup(world, PAIRWISE_TEMPLATE, [pairwise_item(i) for i in range(2)])
    first = await snapshot(owner, pid)
    await work(w, pid, pairwise_answer)
    second = await snapshot(owner, pid)
    other = await snapshot(owner, pid, name="eval")
    assert (first["version"], second["version"], other["version"]) == (1, 2, 1)
    assert first["manifest"]["rows"] == 0 and second["manifest"]["rows"] == 2
    assert first["manifest"]["sha256"] != second["manifest"]["sha256"]


@pytest.mark.parametrize("fmt", ["csv", "parquet", "hf"])
async def test_every_format_can_be_frozen(world: World, fmt: str) -> None:
    owner, pid, w = await setup(world, PAIRWISE_TEMPLATE, [pairwise_item(i) for i in range(3)])
    await work(w, pid, pairwise_answer)
    snap = await snapshot(owner, pid, format=fmt)
    r = await owner.get(f"/snapshots/{snap['id']}/file")
    assert hashlib.sha256(r.content).hexdigest() == snap["manifest"]["sha256"]
    assert snap["manifest"]["rows"] == 3
    if fmt == "parquet":
        assert pq.read_table(io.BytesIO(r.content)).num_rows == 3


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"filters": {"status": "done"}}, ["body", "filters", "status"]),
        ({"filters": {"colour": "red"}}, ["body", "filters", "colour"]),
        ({"filters": {"split": 2}}, ["body", "filters", "split"]),
        ({"filters": {"kind": "sft"}}, ["body", "filters", "kind"]),
        ({"kind": "dpo"}, ["body", "kind"]),
        ({"format": "xlsx"}, ["body", "format"]),
        ({"filters": {"part": "test"}}, ["body", "filters", "part"]),
        ({"filters": {"status": ["all"]}}, ["body", "filters", "status"]),
        ({"name": " "}, ["body", "name"]),
    ],
)
async def test_bad_filters_are_422_naming_the_field_and_store_nothing(
    world: World, app: Any, body: dict[str, Any], loc: list[str]
) -> None:
    owner, pid, _ = await setup(world, PAIRWISE_TEMPLATE, [pairwise_item(0)])
    admin = await world.admin()
    before = len((await admin.get("/audit", params={"limit": 1000})).json()["data"])
    r = await owner.post(f"/projects/{pid}/snapshots", json={"name": "x", **body})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["loc"][: len(loc)] == loc
    assert str(loc[-1]) in r.json()["detail"]
    assert stored(app) == []
    after = (await admin.get("/audit", params={"limit": 1000})).json()["data"]
    assert len(after) == before


async def test_only_the_projects_owners_and_admins_see_a_snapshot(world: World) -> None:
    owner, pid, w = await setup(world, PAIRWISE_TEMPLATE, [pairwise_item(0)])
    snap = await snapshot(owner, pid)
    stranger = await world.user("owner")
    for who in (w, stranger):
        for path in (f"/snapshots/{snap['id']}", f"/snapshots/{snap['id']}/file"):
            assert (await who.get(path)).status_code == 404
    assert (await w.post(f"/projects/{pid}/snapshots", json={"name": "x"})).status_code == 403
    admin = await world.admin()
    assert (await admin.get(f"/snapshots/{snap['id']}")).status_code == 200
    assert (await admin.get("/snapshots/999999")).status_code == 404
    [entry] = (await admin.get("/audit", params={"action": "snapshot.create"})).json()["data"]
    assert entry["target"] == f"snapshot:{snap['id']}" and entry["actor"] == owner.id
    assert entry["diff"]["after"]["sha256"] == snap["manifest"]["sha256"]


async def test_the_cli_freezes_a_snapshot(world: World, db_url: str, app: Any) -> None:
    _, pid, w = await setup(world, PAIRWISE_TEMPLATE, [pairwise_item(i) for i in range(2)])
    await work(w, pid, pairwise_answer)
    await world.admin()  # the CLI acts as the first admin
    cli = Cli(db_url, app.state.settings.data_dir)
    args = ["--name", "cli", "--kind", "raw", "--format", "jsonl", "--filter", "status=submitted"]
    done = await asyncio.to_thread(cli, "snapshots", "create", pid, *args)
    assert done.exit_code == 0, done.output
    assert "version 1" in done.stderr and "2 rows" in done.stderr
    [path] = stored(app)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert sha in done.stdout
    done = await asyncio.to_thread(cli, "snapshots", "create", pid, "--name", "x", "--kind", "dpo")
    assert done.exit_code == 2 and "kind" in done.stderr
    done = await asyncio.to_thread(
        cli, "snapshots", "create", pid, "--name", "x", "--filter", "statusall"
    )
    assert done.exit_code == 2 and "--filter" in done.stderr
