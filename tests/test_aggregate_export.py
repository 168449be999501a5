"""Aggregate exports: one row per item with the crowd's aggregate answer and its confidence,
read back by the tools trainers use; ``min_agreement`` drops the items the crowd split on."""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from conftest import Actor, Cli, World

TEMPLATE: dict[str, Any] = {
    "fields": [
        {"name": "prompt", "type": "markdown"},
        {"name": "response_a", "type": "markdown"},
        {"name": "response_b", "type": "markdown"},
    ],
    "questions": [
        {"name": "preference", "type": "pairwise",
         "options": {"left": "response_a", "right": "response_b", "allow_tie": True}},
        {"name": "order", "type": "ranking", "options": {"fields": ["response_a", "response_b"]}},
        {"name": "quality", "type": "rubric", "options": {"criteria": [
            {"name": "correctness", "min": 0, "max": 4},
            {"name": "helpfulness", "min": 0, "max": 4}]}},
        {"name": "topic", "type": "label", "options": {"labels": ["cardio", "renal"]}},
        {"name": "note", "type": "text", "required": False},
    ],
}  # fmt: skip

# Three contributors, three items: Q0 all agree on the left; Q1 two of three prefer the
# right; Q2 splits three ways (left, right, tie).
VOTES = {
    "Q0": [("left", 3, 4, "cardio"), ("left", 2, 4, "cardio"), ("left", 3, 3, "cardio")],
    "Q1": [("right", 2, 1, "renal"), ("right", 1, 2, "renal"), ("left", 1, 3, "cardio")],
    "Q2": [("left", 1, 0, "cardio"), ("right", 1, 4, "renal"), ("tie", None, 2, "renal")],
}


def answer(prompt: str, k: int) -> dict[str, Any]:
    choice, strength, correctness, topic = VOTES[prompt][k]
    preference: dict[str, Any] = {"choice": choice}
    if strength is not None:
        preference["strength"] = strength
    order = ["response_b", "response_a"] if choice == "right" else ["response_a", "response_b"]
    return {
        "preference": preference,
        "order": order,
        "quality": {"correctness": correctness, "helpfulness": 2},
        "topic": topic,
    }


async def crowd_project(world: World) -> tuple[Actor, str]:
    owner = await world.user("owner")
    proj = await world.project(owner, template=TEMPLATE, workflow={"overlap": 3})
    items = [
        {
            "external_id": p,
            "data": {"prompt": p, "response_a": f"A of {p}", "response_b": f"B of {p}"},
        }
        for p in VOTES
    ]
    await world.items(owner, proj["id"], items)
    for k in range(3):
        w = await world.user()
        await world.member(owner, proj["id"], w)
        while (r := await w.next(proj["id"])).status_code == 200:
            a = r.json()
            body = {"answer": answer(a["item"]["data"]["prompt"], k)}
            s = await w.post(f"/assignments/{a['id']}/submit", json=body)
            assert s.status_code == 201, s.text
    return owner, proj["id"]


async def export(owner: Actor, pid: str, **params: Any) -> list[dict[str, Any]]:
    r = await owner.get(f"/projects/{pid}/export", params=params)
    assert r.status_code == 200, r.text
    return [json.loads(line) for line in r.text.splitlines()]


async def test_preference_gives_one_row_per_item_from_the_crowds_choice(world: World) -> None:
    owner, pid = await crowd_project(world)
    rows = await export(owner, pid, kind="preference", form="standard", aggregate="true")
    by_item = {(r["meta"]["external_id"], r["meta"]["question"]): r for r in rows}
    # Q2's crowd split evenly on the pairwise question: Bradley-Terry sees a tie, so no row;
    # its ranking (A first twice, B first once) still prefers A.
    assert sorted(by_item) == [("Q0", "order"), ("Q0", "preference"), ("Q1", "order"),
                               ("Q1", "preference"), ("Q2", "order")]  # fmt: skip
    q0 = by_item[("Q0", "preference")]
    assert (q0["prompt"], q0["chosen"], q0["rejected"]) == ("Q0", " A of Q0", " B of Q0")
    # The margin is the rounded mean strength of those who chose it: (3 + 2 + 3) / 3.
    assert q0["margin"] == 3.0
    q1 = by_item[("Q1", "preference")]
    assert (q1["chosen"], q1["rejected"], q1["margin"]) == (" B of Q1", " A of Q1", 2.0)
    assert q0["meta"]["method"] == "bradley_terry" and q0["meta"]["source"] == "aggregate"
    assert q0["meta"]["responses"] == 3
    assert 0.5 < q1["meta"]["confidence"] < q0["meta"]["confidence"] < 1
    assert by_item[("Q0", "order")]["meta"]["method"] == "plackett_luce"
    assert len({r["id"] for r in rows}) == len(rows)

    # min_agreement keeps the items whose confidence reaches it.
    cut = (q1["meta"]["confidence"] + q0["meta"]["confidence"]) / 2
    kept = await export(owner, pid, kind="preference", aggregate="true", min_agreement=str(cut))
    assert {r["meta"]["external_id"] for r in kept} == {"Q0"}, kept
    assert all(r["meta"]["confidence"] >= cut for r in kept)
    everything = await export(owner, pid, kind="preference", aggregate="true", min_agreement="0")
    assert len(everything) == len(rows)


async def test_ranking_and_raw_rows_carry_the_aggregate_and_its_confidence(world: World) -> None:
    owner, pid = await crowd_project(world)
    ranking = await export(owner, pid, kind="ranking", form="standard", aggregate="true")
    ranks = {(r["meta"]["external_id"], r["meta"]["question"]): r["ranks"] for r in ranking}
    assert ranks[("Q0", "preference")] == [1, 2] and ranks[("Q1", "order")] == [2, 1]
    assert ranks[("Q2", "preference")] == [1, 1]  # the split crowd's aggregate is a tie

    raw = await export(owner, pid, aggregate="true")
    assert [r["external_id"] for r in raw] == ["Q0", "Q1", "Q2"]
    q1 = raw[1]
    assert q1["answer"]["topic"] == "renal" and q1["answer"]["preference"]["choice"] == "right"
    assert q1["answer"]["quality"] == {"correctness": 2.0, "helpfulness": 2.0}
    assert "note" not in q1["answer"]  # free text is not aggregated
    assert q1["consensus"]["topic"]["method"] == "dawid_skene"
    assert q1["consensus"]["quality"]["detail"]["correctness"]["median"] == 2.0
    assert q1["confidence"] == min(c["confidence"] for c in q1["consensus"].values())
    assert q1["responses"] == 3


async def test_aggregate_ratings_load_with_datasets_from_parquet_and_a_folder(
    world: World, tmp_path: Path
) -> None:
    import datasets

    owner, pid = await crowd_project(world)
    params = "kind=ratings&aggregate=true&form=standard"
    r = await owner.get(f"/projects/{pid}/export?{params}&format=parquet")
    assert r.status_code == 200, r.text
    path = tmp_path / "ratings.parquet"
    path.write_bytes(r.content)
    ds = datasets.load_dataset("parquet", data_files=str(path), split="train")
    assert ds.column_names == ["id", "item_id", "prompt", "response", "correctness",
                               "helpfulness", "meta"]  # fmt: skip
    assert ds.features["correctness"] == datasets.Value("float64")
    rows = {row["prompt"]: row for row in ds}
    assert rows["Q0"]["correctness"] == pytest.approx(11 / 3)
    assert rows["Q2"]["correctness"] == pytest.approx(2.0)
    assert rows["Q0"]["meta"]["method"] == "mean"
    # Q2's correctness spans the scale (0, 4, 2): its confidence is the lowest.
    assert rows["Q2"]["meta"]["confidence"] == min(x["meta"]["confidence"] for x in ds)
    r = await owner.get(f"/projects/{pid}/export?{params}&format=hf")
    folder = tmp_path / "hf"
    with tarfile.open(fileobj=io.BytesIO(r.content), mode="r:") as tar:
        tar.extractall(folder, filter="data")
    assert datasets.load_from_disk(str(folder)).to_list() == ds.to_list()
    assert pq.read_table(path).num_rows == 3


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"kind": "sft", "aggregate": "true"}, "aggregate"),
        ({"aggregate": "maybe"}, "aggregate"),
        ({"min_agreement": "0.5"}, "min_agreement"),
        ({"aggregate": "true", "min_agreement": "1.5"}, "min_agreement"),
        ({"aggregate": "true", "min_agreement": "nan"}, "min_agreement"),
    ],
)
async def test_bad_aggregate_parameters_are_422_naming_them(
    world: World, params: dict[str, str], loc: str
) -> None:
    owner = await world.user("owner")
    proj = await world.project(owner, template=TEMPLATE)
    r = await owner.get(f"/projects/{proj['id']}/export", params=params)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == ["query", loc]


async def test_the_cli_and_a_snapshot_export_aggregates(
    world: World, db_url: str, tmp_path: Path
) -> None:
    owner, pid = await crowd_project(world)
    await world.admin()
    target = tmp_path / "agg.jsonl"
    args = ["--kind", "preference", "--aggregate", "--min-agreement", "0.5", "--out", str(target)]
    done = await asyncio.to_thread(Cli(db_url), "export", pid, *args)
    assert done.exit_code == 0, done.output
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert lines == await export(
        owner, pid, kind="preference", aggregate="true", min_agreement="0.5"
    )
    consensus = await asyncio.to_thread(
        Cli(db_url), "consensus", pid, "--question", "topic", "--method", "majority"
    )
    assert consensus.exit_code == 0, consensus.output
    got = json.loads(consensus.stdout)
    assert {d["external_id"]: d["answer"] for d in got["data"]} == {
        "Q0": "cardio", "Q1": "renal", "Q2": "renal"
    }  # fmt: skip
    snap = await owner.post(
        f"/projects/{pid}/snapshots",
        json={"name": "agg", "kind": "ranking", "filters": {"aggregate": True}},
    )
    assert snap.status_code == 201, snap.text
    assert snap.json()["manifest"]["rows"] == 6
    assert snap.json()["manifest"]["filters"]["aggregate"] is True
