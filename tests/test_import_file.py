"""File imports across several chunks (COPY on PostgreSQL, INSERTs on SQLite): everything
lands, or the first bad row is reported and nothing is kept."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import World, pairwise_item
from inlier.kit.errors import Conflict, InvalidInput
from inlier.projects import service as projects

ROWS = 4500  # three chunks of the writer's 2,000


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


async def setup(world: World) -> tuple[Any, projects.Access]:
    owner = await world.user("owner")
    project = await world.project(owner, status="active")
    db = world.app.state.db
    async with db.session() as s:
        admin = await world.admin()
        from inlier.accounts.service import principal_for_token

        who = await principal_for_token(s, admin.token, world.app.state.clock.now())
        assert who is not None
        acc = await projects.manage(s, who, project["id"])
    return db, acc


async def counts(db: Any, project_id: int) -> tuple[int, int]:
    from inlier.workflow import service as workflow

    async with db.session() as s:
        st = await workflow.stats(s, project_id)
    return st["items"], st["slots"]["open"]


async def test_every_row_and_its_slot_land(world: World, tmp_path: Path) -> None:
    db, acc = await setup(world)
    rows = [pairwise_item(n, priority=n % 7) for n in range(1, ROWS + 1)]
    rows[10]["gold"] = {"preference": {"choice": "left", "strength": 2}}
    path = write_jsonl(tmp_path / "items.jsonl", rows)
    created = await projects.import_file(db, acc, path, "jsonl", world.app.state.clock.now())
    assert created == ROWS
    assert await counts(db, acc.project.id) == (ROWS, ROWS)
    async with db.session() as s:
        listed = await projects.list_items(s, acc.project.id, 20, None)
    assert listed[10]["gold"] == rows[10]["gold"]
    assert listed[0]["gold"] is None
    assert [i["external_id"] for i in listed[:3]] == ["item-1", "item-2", "item-3"]
    assert listed[5]["data"] == rows[5]["data"] and listed[5]["priority"] == 6


@pytest.mark.parametrize("bad_row", [2500, 4400])
async def test_a_duplicate_in_an_earlier_chunk_is_reported_before_a_later_bad_row(
    world: World, tmp_path: Path, bad_row: int
) -> None:
    db, acc = await setup(world)
    rows: list[Any] = [pairwise_item(n) for n in range(1, ROWS + 1)]
    rows[99]["external_id"] = "item-5"  # row 100 repeats row 5: first chunk
    rows[bad_row - 1] = {"data": {"prompt": "no responses"}}
    path = write_jsonl(tmp_path / "items.jsonl", rows)
    with pytest.raises(Conflict) as caught:
        await projects.import_file(db, acc, path, "jsonl", world.app.state.clock.now())
    assert "row 100" in caught.value.detail and "repeats row 5" in caught.value.detail
    assert await counts(db, acc.project.id) == (0, 0)


async def test_a_bad_row_after_written_chunks_keeps_nothing(world: World, tmp_path: Path) -> None:
    db, acc = await setup(world)
    rows: list[Any] = [pairwise_item(n) for n in range(1, ROWS + 1)]
    rows[4299] = {"data": {"prompt": "no responses"}}
    path = write_jsonl(tmp_path / "items.jsonl", rows)
    with pytest.raises(InvalidInput) as caught:
        await projects.import_file(db, acc, path, "jsonl", world.app.state.clock.now())
    assert caught.value.detail.startswith("row 4300")
    assert await counts(db, acc.project.id) == (0, 0)


async def test_an_existing_external_id_in_a_later_chunk(world: World, tmp_path: Path) -> None:
    db, acc = await setup(world)
    first = write_jsonl(tmp_path / "first.jsonl", [pairwise_item(n) for n in range(1, 11)])
    await projects.import_file(db, acc, first, "jsonl", world.app.state.clock.now())
    rows = [pairwise_item(n) for n in range(100, 100 + ROWS)]
    rows[3000]["external_id"] = "item-3"
    path = write_jsonl(tmp_path / "items.jsonl", rows)
    with pytest.raises(Conflict) as caught:
        await projects.import_file(db, acc, path, "jsonl", world.app.state.clock.now())
    assert "row 3001" in caught.value.detail and "already exists" in caught.value.detail
    assert await counts(db, acc.project.id) == (10, 10)
