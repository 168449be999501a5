"""Raw export: streamed JSON lines, pseudonymous people, status filters."""

from __future__ import annotations

import json
from typing import Any

from conftest import GOOD_ANSWER, Actor, World, pairwise_item


async def _submit_all(worker: Actor, project_id: str) -> list[str]:
    ids = []
    while True:
        r = await worker.next(project_id)
        if r.status_code == 204:
            return ids
        a = r.json()
        s = await worker.post(f"/assignments/{a['id']}/submit", json={"answer": GOOD_ANSWER})
        assert s.status_code == 201
        ids.append(s.json()["id"])


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


async def test_rows_name_people_only_by_a_stable_per_project_pseudonym(world: World) -> None:
    owner, proj, [w1, w2] = await world.team(n_items=3, workflow={"overlap": 2})
    await _submit_all(w1, proj["id"])
    await _submit_all(w2, proj["id"])
    r = await owner.get(f"/projects/{proj['id']}/export")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/x-ndjson")
    rows = _lines(r.text)
    assert len(rows) == 6
    assert len({row["contributor"] for row in rows}) == 2
    for w in (w1, w2):
        assert w.email not in r.text
    for row in rows:
        assert row["contributor"].startswith("c_")
        assert row["contributor"] not in (w1.id, w2.id)
        assert "user_id" not in row and "email" not in row
    again = _lines((await owner.get(f"/projects/{proj['id']}/export")).text)
    assert [row["contributor"] for row in again] == [row["contributor"] for row in rows]
    # The same person in another project has another pseudonym.
    other = await world.project(owner, name="Second")
    await world.items(owner, other["id"], [pairwise_item(1)])
    await world.member(owner, other["id"], w1)
    await _submit_all(w1, other["id"])
    other_rows = _lines((await owner.get(f"/projects/{other['id']}/export")).text)
    w1_names = {row["contributor"] for row in rows}
    assert other_rows[0]["contributor"] not in w1_names


async def test_status_filters_follow_the_review(world: World) -> None:
    owner, proj, [author, other] = await world.team(
        n_items=3, workflow={"overlap": 1, "review": {"sample_rate": 1.0}}
    )
    reviewer = await world.user()
    await world.member(owner, proj["id"], reviewer, "reviewer")
    await _submit_all(author, proj["id"])
    verdicts = ["approve", "improve", "reject"]
    for verdict in verdicts:
        a = (await reviewer.next(proj["id"])).json()
        body: dict[str, Any] = {"verdict": verdict}
        if verdict == "improve":
            body["answer"] = {**GOOD_ANSWER, "rationale": "Reviewer's better rationale here."}
        assert (await reviewer.post(f"/assignments/{a['id']}/submit", json=body)).status_code == 201

    def export(status: str) -> Any:
        return owner.get(f"/projects/{proj['id']}/export?status={status}")

    all_rows = _lines((await export("all")).text)
    assert sorted(r["verdict"] for r in all_rows) == sorted(verdicts)
    submitted = _lines((await export("submitted")).text)
    assert sorted(r["verdict"] for r in submitted) == ["approve", "improve"]
    approved = _lines((await export("approved")).text)
    improved = next(r for r in approved if r["verdict"] == "improve")
    assert improved["answer"]["rationale"] == "Reviewer's better rationale here."
    assert improved["reviewer"] is not None and improved["reviewer"] != improved["contributor"]
    # The rejected attempt's item is worked again, by someone else; it is not approved yet.
    await _submit_all(other, proj["id"])
    assert len(_lines((await export("approved")).text)) == 2


async def test_an_export_spanning_many_batches_is_complete_and_ordered(world: World) -> None:
    from inlier.datasets import service as datasets
    from inlier.datasets.kinds import Raw
    from inlier.datasets.options import Tally
    from inlier.projects.models import Project

    owner, proj, [w1, w2] = await world.team(n_items=12, workflow={"overlap": 2})
    submitted = await _submit_all(w1, proj["id"]) + await _submit_all(w2, proj["id"])
    async with world.app.state.db.session() as s:
        project = await s.get(Project, int(proj["id"]))
    assert project is not None
    rows = [row async for row in datasets.raw_rows(world.app.state.db, project, "all", batch=5)]
    ids = [int(r["response_id"]) for r in rows]
    assert ids == sorted(int(i) for i in submitted)
    api_rows = _lines((await owner.get(f"/projects/{proj['id']}/export")).text)
    assert [r["response_id"] for r in api_rows] == [r["response_id"] for r in rows]
    # Raw to Parquet reads batches straight into columns: the same rows, whatever the batch.
    shape = datasets.prepare(project, datasets.parse_options({"format": "parquet"})).shape
    assert isinstance(shape, Raw)
    db, opts, tally = world.app.state.db, shape.opts, Tally()
    tables = [t async for t in datasets.raw_tables(db, project, opts, shape, tally, batch=5)]
    assert [t.num_rows for t in tables] == [5, 5, 5, 5, 4]
    columnar = [r for t in tables for r in t.to_pylist()]
    assert [r["response_id"] for r in columnar] == [r["response_id"] for r in rows]
    assert [json.loads(r["answer"]) for r in columnar] == [r["answer"] for r in rows]
    assert (tally.rows, tally.responses) == (24, 24)
    # A reader stopped after its first batch leaves nothing running behind it.
    early = datasets.raw_tables(db, project, opts, shape, Tally(), batch=5)
    assert (await anext(early)).num_rows == 5
    await early.aclose()


async def test_bad_export_options_are_refused(world: World) -> None:
    owner, proj, [w, _] = await world.team(n_items=1)
    for query, field in (("kind=bogus", "kind"), ("format=xml", "format"), ("status=x", "status")):
        r = await owner.get(f"/projects/{proj['id']}/export?{query}")
        assert r.status_code == 422
        assert r.json()["errors"][0]["loc"] == ["query", field]
    assert (await w.get(f"/projects/{proj['id']}/export")).status_code == 403


# Answers as they may be stored: unicode, escapes, nesting, nulls, floats, empty containers.
ODD_ANSWER: dict[str, Any] = {
    "rationale": 'Ça va — naïve 日本語 🙂, "quoted" \\ back\tslash\nnew line \u0001 \u007f',
    "preference": {"choice": "left", "strength": 2, "scores": [0.5, -3, 2.25, None, 10**15]},
    "nested": {"deep": {"list": [[], {}, [1, [2, [3]]]], "flag": False, "none": None}},
    "a_key_that_is_long": 1,
    "k": "short key after a long one",
}


def test_stored_json_text_is_the_text_json_dumps_writes() -> None:
    from inlier.datasets.kinds import empty_json, json_text, stored_json

    values: list[Any] = [ODD_ANSWER, {}, [], {"a": "\\u0041"}, {"é": "é"}, 3, "s", True]
    for value in values:
        # SQLite keeps what json.dumps wrote (non-ASCII escaped); the export writes it unescaped.
        for stored in (json.dumps(value), json.dumps(value, ensure_ascii=False)):
            assert stored_json(stored) == json_text(value)
    assert stored_json(None) is None
    assert stored_json("null") is None
    for text, empty in (("{}", True), ("[ ]", True), ("{ \n}", True), ("null", True),
                        ("0", True), ('""', True), ('{"a": 1}', False), ("[0]", False),
                        ("1", False), ('"x"', False)):  # fmt: skip
        assert empty_json(text) is empty, text


async def test_raw_columnar_formats_hold_the_stored_answers_as_json_lines_do(
    world: World, tmp_path: Any
) -> None:
    """Parquet and HF read raw attempts straight into columns, answers as the stored JSON
    text; CSV and JSON lines decode them. All four must say the same, on both databases."""
    import csv
    import io
    import tarfile

    import datasets
    import pyarrow.parquet as pq
    from sqlalchemy import update

    from inlier.workflow.models import Response

    owner, proj, [author, _] = await world.team(
        n_items=4, workflow={"overlap": 1, "review": {"sample_rate": 1.0}}
    )
    reviewer = await world.user()
    await world.member(owner, proj["id"], reviewer, "reviewer")
    ids = await _submit_all(author, proj["id"])
    for verdict in ("approve", "improve", "reject"):
        a = (await reviewer.next(proj["id"])).json()
        body: dict[str, Any] = {"verdict": verdict}
        if verdict == "improve":
            body["answer"] = {**GOOD_ANSWER, "rationale": "Le relecteur préfère ceci — mieux."}
        assert (await reviewer.post(f"/assignments/{a['id']}/submit", json=body)).status_code == 201
    async with world.app.state.db.session() as s:
        odd = update(Response).where(Response.id == int(ids[0])).values(answer=ODD_ANSWER)
        await s.execute(odd)
        await s.execute(
            update(Response)
            .where(Response.id == int(ids[3]))
            .values(answer=None, generation_ids=["g-1", "g-ü"])
        )
    base = f"/projects/{proj['id']}/export?kind=raw"
    for query in ("", "&status=approved", "&status=submitted&split=0.5&seed=3",
                  "&split=0.5&seed=3&part=test"):  # fmt: skip
        rows = _lines((await owner.get(base + query)).text)
        assert rows, query
        if not query:
            assert rows[0]["answer"] == ODD_ANSWER and rows[3]["answer"] == {}
            assert rows[3]["generation_ids"] == ["g-1", "g-ü"]
        if query == "&status=approved":
            assert any("préfère" in r["answer"]["rationale"] for r in rows)
        columnar = [
            {**r, "answer": json.dumps(r["answer"], ensure_ascii=False),
             "reviewed_answer": r["reviewed_answer"]
             and json.dumps(r["reviewed_answer"], ensure_ascii=False)}
            for r in rows
        ]  # fmt: skip
        r = await owner.get(base + query + "&format=parquet")
        parquet = pq.read_table(io.BytesIO(r.content))
        assert parquet.to_pylist() == columnar, query
        r = await owner.get(base + query + "&format=hf")
        folder = tmp_path / f"hf{len(query)}"
        with tarfile.open(fileobj=io.BytesIO(r.content), mode="r:") as tar:
            tar.extractall(folder, filter="data")
        assert datasets.load_from_disk(str(folder)).to_list() == columnar, query
        assert f"- rows: {len(rows)}" in (folder / "README.md").read_text()
        text = (await owner.get(base + query + "&format=csv")).text
        cells = list(csv.DictReader(io.StringIO(text)))
        assert [json.loads(c["answer"]) for c in cells] == [r["answer"] for r in rows]
