"""Trainer datasets: each kind's rows, exactly, from real projects worked through the API; each
format read back by the tools trainers use (pyarrow, csv, the `datasets` library)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from conftest import PAIRWISE_TEMPLATE, Actor, Cli, World, pairwise_item

Answer = Callable[[dict[str, Any]], dict[str, Any]]


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


async def work(worker: Actor, project_id: str, answer: Answer) -> list[str]:
    """Answer every item ``worker`` gets; the ids of the responses, in order."""
    ids = []
    while True:
        r = await worker.next(project_id)
        if r.status_code == 204:
            return ids
        a = r.json()
        body = {"answer": answer(a["item"]["data"]), "active_seconds": 12}
        s = await worker.post(f"/assignments/{a['id']}/submit", json=body)
        assert s.status_code == 201, s.text
        ids.append(s.json()["id"])


async def setup(
    world: World, template: dict[str, Any], items: list[dict[str, Any]], **project: Any
) -> tuple[Actor, str, Actor]:
    owner = await world.user("owner")
    proj = await world.project(owner, template=template, **project)
    await world.items(owner, proj["id"], items)
    worker = await world.user()
    await world.member(owner, proj["id"], worker)
    return owner, proj["id"], worker


async def export(owner: Actor, pid: str, **params: Any) -> list[dict[str, Any]]:
    r = await owner.get(f"/projects/{pid}/export", params=params)
    assert r.status_code == 200, r.text
    return [json.loads(line) for line in r.text.splitlines()]


def without_meta(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in ("id", "item_id", "meta")} for r in rows]


# ---- preference, kto, ranking, sft from pairwise answers -------------------------------------

PAIRWISE_ANSWERS = {
    "Question 0?": {"choice": "left", "strength": 2},
    "Question 1?": {"choice": "right", "strength": 3},
    "Question 2?": {"choice": "tie"},
}


def pairwise_answer(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "preference": PAIRWISE_ANSWERS[data["prompt"]],
        "rationale": f"Because of {data['prompt']} reasons.",
    }


async def test_preference_rows_come_from_pairwise_choices_and_ties_give_none(world: World) -> None:
    owner, pid, w = await setup(world, PAIRWISE_TEMPLATE, [pairwise_item(i) for i in range(3)])
    ids = await work(w, pid, pairwise_answer)
    rows = await export(owner, pid, kind="preference")
    assert without_meta(rows) == [
        {"prompt": user("Question 0?"), "chosen": assistant("A0"),
         "rejected": assistant("B0"), "margin": 2.0},
        {"prompt": user("Question 1?"), "chosen": assistant("B1"),
         "rejected": assistant("A1"), "margin": 3.0},
    ]  # fmt: skip
    assert [r["id"] for r in rows] == [f"{ids[0]}-preference-0", f"{ids[1]}-preference-0"]
    meta = rows[0]["meta"]
    assert meta["response_id"] == ids[0] and meta["external_id"] == "item-0"
    assert meta["contributor"].startswith("c_") and w.email not in json.dumps(rows)
    assert (meta["question"], meta["source"], meta["status"]) == (
        "preference",
        "pairwise",
        "submitted",
    )
    standard = await export(owner, pid, kind="preference", form="standard")
    assert without_meta(standard)[0] == {
        "prompt": "Question 0?", "chosen": " A0", "rejected": " B0", "margin": 2.0
    }  # fmt: skip


async def test_kto_unpairs_each_preference_and_ranking_keeps_ties(world: World) -> None:
    owner, pid, w = await setup(world, PAIRWISE_TEMPLATE, [pairwise_item(i) for i in range(3)])
    await work(w, pid, pairwise_answer)
    kto = await export(owner, pid, kind="kto", form="standard")
    assert [(r["prompt"], r["completion"], r["label"]) for r in kto] == [
        ("Question 0?", " A0", True),
        ("Question 0?", " B0", False),
        ("Question 1?", " B1", True),
        ("Question 1?", " A1", False),
    ]
    assert len({r["id"] for r in kto}) == 4
    ranking = await export(owner, pid, kind="ranking")
    assert without_meta(ranking) == [
        {"prompt": user(f"Question {i}?"), "completions": [assistant(f"A{i}"), assistant(f"B{i}")],
         "ranks": ranks}
        for i, ranks in enumerate(([1, 2], [2, 1], [1, 1]))
    ]  # fmt: skip
    sft = await export(owner, pid, kind="sft", form="standard")
    assert without_meta(sft)[0] == {
        "prompt": "Question 0?",
        "completion": " Because of Question 0? reasons.",
    }


RANKING_TEMPLATE = {
    "fields": [{"name": "question", "type": "markdown"}]
    + [{"name": f"r{i}", "type": "markdown"} for i in "abc"],
    "questions": [
        {"name": "order", "type": "ranking",
         "options": {"fields": ["ra", "rb", "rc"], "allow_ties": True}},
    ],
}  # fmt: skip


async def test_rankings_give_every_pair_of_different_ranks_with_the_rank_distance(
    world: World,
) -> None:
    items = [
        {"data": {"question": f"Q{n}", "ra": f"a{n}", "rb": f"b{n}", "rc": f"c{n}"}}
        for n in range(2)
    ]
    owner, pid, w = await setup(world, RANKING_TEMPLATE, items)
    orders = {"Q0": ["ra", "rb", "rc"], "Q1": ["rc", ["ra", "rb"]]}
    await work(w, pid, lambda d: {"order": orders[d["question"]]})
    rows = await export(owner, pid, kind="preference", form="standard")
    # No field is named prompt: the first markdown field is the prompt.
    assert [(r["prompt"], r["chosen"], r["rejected"], r["margin"]) for r in rows] == [
        ("Q0", " a0", " b0", 1.0),
        ("Q0", " a0", " c0", 2.0),
        ("Q0", " b0", " c0", 1.0),
        ("Q1", " c1", " a1", 1.0),
        ("Q1", " c1", " b1", 1.0),
    ]
    assert {r["meta"]["source"] for r in rows} == {"ranking"}
    ranking = await export(owner, pid, kind="ranking", form="standard")
    assert [(r["completions"], r["ranks"]) for r in ranking] == [
        ([" a0", " b0", " c0"], [1, 2, 3]),
        ([" a1", " b1", " c1"], [2, 2, 1]),
    ]


# ---- ratings ---------------------------------------------------------------------------------

RATINGS_TEMPLATE = {
    "fields": [{"name": "prompt", "type": "markdown"}, {"name": "response", "type": "markdown"}],
    "questions": [
        {"name": "quality", "type": "rubric", "options": {"criteria": [
            {"name": "helpfulness", "min": 0, "max": 4},
            {"name": "correctness", "min": 0, "max": 4}]}},
        {"name": "style", "type": "rubric", "options": {"criteria": [
            {"name": "correctness", "min": 1, "max": 3}]}},
        {"name": "overall", "type": "rating", "options": {"min": 1, "max": 5}},
        {"name": "critique", "type": "text", "required": False},
    ],
}  # fmt: skip


async def test_ratings_have_one_integer_column_per_criterion(world: World) -> None:
    items = [{"data": {"prompt": "P", "response": "R"}}]
    owner, pid, w = await setup(world, RATINGS_TEMPLATE, items)
    answer = {
        "quality": {"helpfulness": 3, "correctness": 4},
        "style": {"correctness": 2},
        "overall": 5,
        "critique": "Clear.",
    }
    [rid] = await work(w, pid, lambda d: answer)
    rows = await export(owner, pid, kind="ratings", form="standard")
    assert rows == [
        {
            "id": f"{rid}-response-0",
            "item_id": rows[0]["item_id"],
            "prompt": "P",
            "response": "R",
            "helpfulness": 3,
            "quality_correctness": 4,
            "style_correctness": 2,
            "overall": 5,
            "meta": rows[0]["meta"],
        }
    ]
    conversational = await export(owner, pid, kind="ratings")
    assert conversational[0]["prompt"] == user("P")
    assert conversational[0]["response"] == assistant("R")


# ---- stepwise --------------------------------------------------------------------------------

STEPS_TEMPLATE = {
    "fields": [{"name": "problem", "type": "markdown"}, {"name": "cot", "type": "steps"}],
    "questions": [
        {"name": "steps", "type": "step_review",
         "options": {"steps_field": "cot", "ask_final_answer": True}},
    ],
}  # fmt: skip
STEP_ANSWERS = {
    "improved": {
        "steps": [
            {"verdict": "approve", "label": 1},
            {"verdict": "improve", "label": 0, "rewrite": "s2 fixed"},
            {"verdict": "improve", "label": -1, "rewrite": "s3 fixed"},
            {"verdict": "approve", "label": 1},
        ],
        "final_answer_correct": False,
    },
    "rejected": {
        "steps": [
            {"verdict": "approve", "label": 1},
            {"verdict": "reject", "label": -1},
            {"verdict": "approve", "label": 1},
            {"verdict": "approve", "label": 1},
        ],
        "final_answer_correct": True,
    },
}


async def test_stepwise_follows_prm800k_and_can_export_the_corrected_chain(world: World) -> None:
    cot = ["s1", "s2", "s3", "s4"]
    items = [{"data": {"problem": name, "cot": cot}} for name in STEP_ANSWERS]
    owner, pid, w = await setup(world, STEPS_TEMPLATE, items)
    await work(w, pid, lambda d: {"steps": STEP_ANSWERS[d["problem"]]})

    async def steps(**params: Any) -> list[tuple[Any, ...]]:
        rows = await export(owner, pid, kind="stepwise", **params)
        return [(r["prompt"], r["completions"], r["labels"]) for r in rows]

    assert await steps() == [
        ("improved", ["s1", "s2", "s3"], [True, True, False]),
        ("rejected", ["s1", "s2"], [True, False]),
    ]
    assert (await steps(neutral_as="false"))[0] == (
        "improved",
        ["s1", "s2", "s3"],
        [True, False, False],
    )
    assert await steps(rewrites="true") == [
        ("improved", ["s1", "s2 fixed", "s3 fixed", "s4"], [True, True, True, True]),
        ("rejected", ["s1", "s2"], [True, False]),
    ]
    rows = await export(owner, pid, kind="stepwise", form="standard")
    assert [r["meta"]["final_answer_correct"] for r in rows] == [False, True]
    # The corrected chain is preferred over the original; an uncorrected wrong step gives no pair.
    pairs = await export(owner, pid, kind="preference", form="standard")
    assert [(p["prompt"], p["chosen"], p["rejected"], p["meta"]["source"]) for p in pairs] == [
        ("improved", " s1\ns2 fixed\ns3 fixed\ns4", " s1\ns2\ns3\ns4", "improvement")
    ]
    r = await owner.get(f"/projects/{pid}/export?kind=stepwise&form=conversational")
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "form"]


# ---- improvements and status -----------------------------------------------------------------

SFT_TEMPLATE = {
    "fields": [{"name": "prompt", "type": "markdown"}],
    "questions": [{"name": "ideal", "type": "text", "min_length": 5}],
}


async def test_a_reviewers_rewrite_is_chosen_over_the_original(world: World) -> None:
    items = [{"data": {"prompt": f"Explain {n}."}} for n in range(2)]
    owner, pid, w = await setup(
        world, SFT_TEMPLATE, items, workflow={"overlap": 1, "review": {"sample_rate": 1.0}}
    )
    await work(w, pid, lambda d: {"ideal": f"Draft for {d['prompt']}"})
    reviewer = await world.user()
    await world.member(owner, pid, reviewer, "reviewer")
    for verdict in ("improve", "approve"):
        a = (await reviewer.next(pid)).json()
        body: dict[str, Any] = {"verdict": verdict}
        if verdict == "improve":
            body["answer"] = {"ideal": "A much better answer."}
        assert (await reviewer.post(f"/assignments/{a['id']}/submit", json=body)).status_code == 201
    prefs = await export(owner, pid, kind="preference")
    assert without_meta(prefs) == [
        {"prompt": user("Explain 0."), "chosen": assistant("A much better answer."),
         "rejected": assistant("Draft for Explain 0."), "margin": 1.0}
    ]  # fmt: skip
    assert prefs[0]["meta"]["verdict"] == "improve" and prefs[0]["meta"]["reviewer"]
    approved = await export(owner, pid, kind="sft", status="approved")
    assert [r["completion"] for r in approved] == [
        assistant("A much better answer."),
        assistant("Draft for Explain 1."),
    ]
    submitted = await export(owner, pid, kind="sft")
    assert submitted[0]["completion"] == assistant("Draft for Explain 0.")


# ---- every kind in every format --------------------------------------------------------------

ALL_TEMPLATE = {
    "fields": [
        {"name": "prompt", "type": "markdown"},
        {"name": "response_a", "type": "markdown"},
        {"name": "response_b", "type": "markdown"},
        {"name": "cot", "type": "steps"},
    ],
    "questions": [
        {"name": "preference", "type": "pairwise",
         "options": {"left": "response_a", "right": "response_b"}},
        {"name": "order", "type": "ranking", "options": {"fields": ["response_a", "response_b"]}},
        {"name": "quality", "type": "rubric",
         "options": {"criteria": [{"name": "helpfulness", "min": 0, "max": 4}]}},
        {"name": "steps", "type": "step_review", "options": {"steps_field": "cot"}},
        {"name": "answer", "type": "text"},
    ],
}  # fmt: skip
KINDS = ("raw", "sft", "preference", "kto", "ranking", "ratings", "stepwise")


def all_answer(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "preference": {"choice": "right", "strength": 1},
        "order": ["response_b", "response_a"],
        "quality": {"helpfulness": 2},
        "steps": {
            "steps": [{"verdict": "approve"}, {"verdict": "improve", "label": 0, "rewrite": "x"}],
            "final_answer_correct": True,
        },
        "answer": f"The answer to {data['prompt']}",
    }


async def all_kinds_project(world: World, n: int = 3) -> tuple[Actor, str]:
    items = [
        {"external_id": f"e{i}", "data": {"prompt": f"P{i}", "response_a": f"A{i}",
         "response_b": f"B{i}", "cot": ["c1", "c2"]}}
        for i in range(n)
    ]  # fmt: skip
    owner, pid, w = await setup(
        world, ALL_TEMPLATE, items, export={"prompt": "prompt", "completion": "answer"}
    )
    await work(w, pid, all_answer)
    return owner, pid


def from_csv(text: str, reference: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """CSV cells as the documentation says to read them: nested values are JSON text."""
    out = []
    for raw, ref in zip(csv.DictReader(io.StringIO(text)), reference, strict=True):
        row: dict[str, Any] = {}
        for k, v in raw.items():
            want = ref.get(k)
            if isinstance(want, dict | list | bool | int | float):
                row[k] = json.loads(v)
            else:
                row[k] = v if v != "" or want is not None else None
        out.append(row)
    return out


def columnar(rows: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """Raw answers are JSON text in Parquet and HF (they have no fixed shape)."""
    if kind != "raw":
        return rows
    return [
        {**r, "answer": json.dumps(r["answer"], ensure_ascii=False),
         "reviewed_answer": r["reviewed_answer"] and json.dumps(r["reviewed_answer"])}
        for r in rows
    ]  # fmt: skip


async def test_every_kind_reads_back_the_same_from_every_format(
    world: World, tmp_path: Path
) -> None:
    import datasets

    owner, pid = await all_kinds_project(world)
    for kind in KINDS:
        rows = await export(owner, pid, kind=kind)
        assert rows, kind
        base = f"/projects/{pid}/export?kind={kind}"
        r = await owner.get(base + "&format=csv")
        assert r.headers["content-type"].startswith("text/csv")
        assert from_csv(r.text, rows) == rows, kind
        r = await owner.get(base + "&format=parquet")
        assert r.headers["content-type"] == "application/vnd.apache.parquet"
        table = pq.read_table(io.BytesIO(r.content))
        assert table.to_pylist() == columnar(rows, kind), kind
        r = await owner.get(base + "&format=hf")
        assert r.headers["content-type"] == "application/x-tar"
        folder = tmp_path / kind
        with tarfile.open(fileobj=io.BytesIO(r.content), mode="r:") as tar:
            assert sorted(tar.getnames()) == [
                "README.md", "data-00000-of-00001.arrow", "dataset_info.json", "state.json"
            ]  # fmt: skip
            tar.extractall(folder, filter="data")
        ds = datasets.load_from_disk(str(folder))
        assert isinstance(ds, datasets.Dataset)
        assert ds.to_list() == columnar(rows, kind), kind
        assert ds.column_names == table.column_names
        card = (folder / "README.md").read_text()
        assert "Cardiology preference" in card and f"- rows: {len(rows)}" in card


TRL_COLUMNS = {
    "sft": ("prompt", "completion"),
    "preference": ("prompt", "chosen", "rejected"),
    "kto": ("prompt", "completion", "label"),
    "stepwise": ("prompt", "completions", "labels"),
}


async def test_trainer_columns_have_the_types_trl_reads(world: World, tmp_path: Path) -> None:
    import datasets

    owner, pid = await all_kinds_project(world, n=1)
    for kind, columns in TRL_COLUMNS.items():
        for form in ("standard", "conversational") if kind != "stepwise" else ("standard",):
            r = await owner.get(f"/projects/{pid}/export?kind={kind}&form={form}&format=hf")
            folder = tmp_path / f"{kind}-{form}"
            with tarfile.open(fileobj=io.BytesIO(r.content), mode="r:") as tar:
                tar.extractall(folder, filter="data")
            ds = datasets.load_from_disk(str(folder))
            assert set(columns) <= set(ds.column_names)
            assert set(ds.column_names) - set(columns) <= {"id", "item_id", "meta", "margin"}
            features = ds.features
            if form == "standard":
                assert features["prompt"] == datasets.Value("string")
            else:
                message = {"role": datasets.Value("string"), "content": datasets.Value("string")}
                assert features["prompt"].feature == message
            if kind == "kto":
                assert features["label"] == datasets.Value("bool")
            if kind == "stepwise":
                assert features["labels"].feature == datasets.Value("bool")
                assert features["completions"].feature == datasets.Value("string")


# ---- filters ---------------------------------------------------------------------------------


async def test_gold_items_are_left_out_of_training_data_by_default(world: World) -> None:
    items = [pairwise_item(0, gold={"preference": {"choice": "left", "strength": 1}})]
    items += [pairwise_item(1)]
    owner, pid, w = await setup(world, PAIRWISE_TEMPLATE, items)
    await work(w, pid, lambda d: pairwise_answer({**d, "prompt": "Question 0?"}))
    assert [r["meta"]["external_id"] for r in await export(owner, pid, kind="preference")] == [
        "item-1"
    ]
    both = await export(owner, pid, kind="preference", gold="include")
    assert len(both) == 2
    assert len(await export(owner, pid)) == 2  # raw keeps everything
    assert len(await export(owner, pid, gold="exclude")) == 1


async def test_a_seeded_split_by_item_is_stable_and_parts_add_up(world: World) -> None:
    owner, pid, w = await setup(world, PAIRWISE_TEMPLATE, [pairwise_item(i) for i in range(20)])
    await work(w, pid, lambda d: pairwise_answer({**d, "prompt": "Question 0?"}))
    rows = await export(owner, pid, kind="preference", split="0.3", seed="7")
    assert {r["split"] for r in rows} == {"train", "test"}
    assert rows == await export(owner, pid, kind="preference", split="0.3", seed="7")
    other = await export(owner, pid, kind="preference", split="0.3", seed="8")
    assert [r["split"] for r in other] != [r["split"] for r in rows]
    test = await export(owner, pid, kind="preference", split="0.3", seed="7", part="test")
    train = await export(owner, pid, kind="preference", split="0.3", seed="7", part="train")
    assert {r["split"] for r in test} == {"test"}
    assert sorted(r["id"] for r in test + train) == sorted(r["id"] for r in rows)
    r = await owner.get(f"/projects/{pid}/export?kind=preference&split=0.3&part=test")
    assert 'filename="project-' in r.headers["content-disposition"]
    assert "-preference-test.jsonl" in r.headers["content-disposition"]


async def test_the_date_range_selects_attempts_by_submission_time(world: World) -> None:
    from datetime import timedelta

    owner, pid, w = await setup(world, PAIRWISE_TEMPLATE, [pairwise_item(i) for i in range(2)])
    r = await w.next(pid)
    a = r.json()
    body = {"answer": pairwise_answer({"prompt": "Question 0?"})}
    assert (await w.post(f"/assignments/{a['id']}/submit", json=body)).status_code == 201
    world.app.state.clock.advance(timedelta(days=2))
    await work(w, pid, lambda d: pairwise_answer({"prompt": "Question 1?"}))
    rows = await export(owner, pid)
    first, second = rows[0]["submitted_at"], rows[1]["submitted_at"]
    assert [r["response_id"] for r in await export(owner, pid, submitted_to=second)] == [
        rows[0]["response_id"]
    ]
    assert [r["response_id"] for r in await export(owner, pid, submitted_from=second)] == [
        rows[1]["response_id"]
    ]
    assert (
        len(await export(owner, pid, submitted_from=first, submitted_to="2999-01-01T00:00Z")) == 2
    )


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("kind=dpo", "kind"),
        ("format=xlsx", "format"),
        ("form=chat", "form"),
        ("status=done", "status"),
        ("gold=maybe", "gold"),
        ("split=1.5", "split"),
        ("split=0.1&seed=x", "seed"),
        ("part=test", "part"),
        ("neutral_as=maybe", "neutral_as"),
        ("rewrites=2", "rewrites"),
        ("submitted_from=yesterday", "submitted_from"),
        ("submitted_from=2026-02-01T00:00Z&submitted_to=2026-01-01T00:00Z", "submitted_to"),
        ("stauts=approved", "stauts"),
        ("kind=stepwise", "kind"),  # the pairwise template has no step_review question
    ],
)
async def test_bad_export_parameters_are_422_naming_the_parameter(
    world: World, query: str, name: str
) -> None:
    owner, pid, _ = await setup(world, PAIRWISE_TEMPLATE, [pairwise_item(0)])
    r = await owner.get(f"/projects/{pid}/export?{query}")
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["loc"] == ["query", name]
    assert name in r.json()["detail"]


async def test_only_owners_and_admins_export(world: World) -> None:
    _, pid, w = await setup(world, PAIRWISE_TEMPLATE, [pairwise_item(0)])
    for fmt in ("jsonl", "parquet", "hf"):
        assert (await w.get(f"/projects/{pid}/export?format={fmt}")).status_code == 403
    admin = await world.admin()
    assert (await admin.get(f"/projects/{pid}/export?kind=preference")).status_code == 200


# ---- streaming in batches --------------------------------------------------------------------


async def seed_responses(world: World, pid: str, worker: Actor, n: int) -> None:
    """``n`` attempts written straight into the tables (through the API this takes minutes):
    one slot, assignment and response per imported item, as `submit` would leave them."""
    from sqlalchemy import insert, select

    from inlier.projects.models import Item
    from inlier.workflow.models import Assignment, Response, Slot

    now = world.app.state.clock.now()
    answer = pairwise_answer({"prompt": "Question 1?"})
    async with world.app.state.db.session() as s:
        slots = (
            await s.execute(
                select(Slot.id, Slot.item_id).where(Slot.project_id == int(pid)).order_by(Slot.id)
            )
        ).all()
        assert len(slots) == n
        assert await s.scalar(select(Item.id).where(Item.project_id == int(pid)).limit(1))
        uid = int(worker.id)
        common = {"project_id": int(pid), "user_id": uid, "stage": "attempt"}
        await s.execute(
            insert(Assignment),
            [
                {**common, "slot_id": sid, "item_id": iid, "state": "submitted",
                 "created_at": now, "expires_at": now}
                for sid, iid in slots
            ],
        )  # fmt: skip
        assignments = (
            (
                await s.execute(
                    select(Assignment.id)
                    .where(Assignment.project_id == int(pid))
                    .order_by(Assignment.id)
                )
            )
            .scalars()
            .all()
        )
        await s.execute(
            insert(Response),
            [
                {**common, "slot_id": sid, "item_id": iid, "assignment_id": aid, "answer": answer,
                 "created_at": now, "status": "submitted"}
                for (sid, iid), aid in zip(slots, assignments, strict=True)
            ],
        )  # fmt: skip
        await s.execute(
            Slot.__table__.update().where(Slot.project_id == int(pid)).values(state="done")
        )


async def test_a_large_export_streams_in_batches_and_row_groups(world: World) -> None:
    from inlier.datasets import service as datasets
    from inlier.projects.models import Project

    n = 3000
    owner, pid, w = await setup(world, PAIRWISE_TEMPLATE, [pairwise_item(i) for i in range(n)])
    await seed_responses(world, pid, w, n)
    async with world.app.state.db.session() as s:
        project = await s.get(Project, int(pid))
    assert project is not None
    opts = datasets.parse_options({"kind": "preference", "format": "parquet"})
    job = datasets.prepare(project, opts)
    job.row_group = 1000
    chunks = []
    read_at_first_chunk = None
    async for chunk in job.stream(world.app.state.db):
        if read_at_first_chunk is None and chunk:
            read_at_first_chunk = job.tally.responses
        chunks.append(chunk)
    # The first row group left before the last rows were read: nothing waits for the whole file.
    assert read_at_first_chunk is not None and read_at_first_chunk < n
    parquet = pq.ParquetFile(io.BytesIO(b"".join(chunks)))
    assert parquet.metadata.num_rows == n
    assert parquet.metadata.num_row_groups == 3
    table = parquet.read()
    assert table.column("chosen").to_pylist()[0] == assistant("B0")
    ids = [int(i.split("-")[0]) for i in table.column("id").to_pylist()]
    assert ids == sorted(ids) and len(set(ids)) == n
    raw = [r async for r in datasets.raw_rows(world.app.state.db, project, "all", batch=700)]
    assert len(raw) == n
    r = await owner.get(f"/projects/{pid}/export?kind=kto&format=csv")
    assert len(r.text.splitlines()) == 2 * n + 1


# ---- the CLI ---------------------------------------------------------------------------------


async def test_the_cli_writes_files_and_a_datasets_folder(
    world: World, db_url: str, tmp_path: Path
) -> None:
    import datasets

    owner, pid = await all_kinds_project(world, n=2)
    await world.admin()  # the CLI acts as the first admin
    cli = Cli(db_url)
    folder = tmp_path / "prefs"
    done = await asyncio.to_thread(
        cli, "export", pid, "--kind", "preference", "--format", "hf", "--out", str(folder)
    )
    assert done.exit_code == 0, done.output
    assert "6 rows" in done.stderr  # per item: pairwise, ranking, corrected chain
    ds = datasets.load_from_disk(str(folder))
    assert ds.to_list() == await export(owner, pid, kind="preference")
    target = tmp_path / "steps.parquet"
    args = ["--kind", "stepwise", "--format", "parquet", "--rewrites", "--out", str(target)]
    done = await asyncio.to_thread(cli, "export", pid, *args)
    assert done.exit_code == 0, done.output
    assert pq.read_table(target).to_pylist() == await export(
        owner, pid, kind="stepwise", rewrites="true"
    )
    done = await asyncio.to_thread(cli, "export", pid, "--kind", "dpo")
    assert done.exit_code == 2 and "kind" in done.stderr
    done = await asyncio.to_thread(cli, "export", pid, "--format", "hf")
    assert done.exit_code == 2 and "--out" in done.stderr
