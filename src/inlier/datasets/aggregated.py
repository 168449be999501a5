"""Aggregate exports (``aggregate=true``): one row per item with the crowd's aggregate answer
and its confidence, instead of one row per response.

The rows come in two passes. First the attempts the filters select are read once, in keyset
batches, into each question's compact arrays, and each question's model is fitted
(Dawid-Skene and Bradley-Terry need the whole project). Then the items are read in keyset
batches of ids and each becomes its rows, so only the arrays and one batch are ever held.
``min_agreement`` drops the items whose aggregate confidence is below it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pyarrow as pa
from sqlalchemy import select

from inlier.datasets.aggregate import Aggregator, ItemResult, default_method, fitted
from inlier.datasets.kinds import Preference, Ranking, Ratings, Row, Shape
from inlier.datasets.options import Attempt, ExportOptions, split_of
from inlier.db.engine import Database
from inlier.kit.errors import InvalidInput
from inlier.projects.models import Item, Project
from inlier.projects.service import template_of
from inlier.questions import REGISTRY

AGG_META: list[tuple[str, pa.DataType]] = [
    ("external_id", pa.string()),
    ("question", pa.string()),
    ("source", pa.string()),
    ("method", pa.string()),
    ("confidence", pa.float64()),
    ("responses", pa.int64()),
]


@dataclass
class ItemView:
    """An item as an aggregate row sees it: its data and each question's aggregate."""

    id: int
    external_id: str | None
    data: dict[str, Any]
    results: dict[str, ItemResult]
    split: str | None

    @property
    def answer(self) -> dict[str, Any]:
        return {name: r.answer for name, r in self.results.items()}


class Aggregated:
    """What every aggregate shape adds to its kind: which questions it aggregates, and the
    rows of one item."""

    types: tuple[str, ...] = ()
    shape: Shape

    def aggregators(self) -> list[Aggregator]:
        out = []
        for q in template_of(self.shape.project).spec.questions:
            m = default_method(q.type)
            if m is not None and q.type in self.types:
                out.append(Aggregator(q, m))
        return out

    def item_rows(self, view: ItemView) -> list[Row]:
        raise NotImplementedError


def _meta(view: ItemView, question: str | None, method: str, r: ItemResult | float) -> Row:
    confidence = r if isinstance(r, float) else r.confidence
    responses = max((x.n for x in view.results.values()), default=0)
    if isinstance(r, ItemResult):
        responses = r.n
    return {
        "external_id": view.external_id,
        "question": question,
        "source": "aggregate",
        "method": method,
        "confidence": round(confidence, 6),
        "responses": responses,
    }


def _row(view: ItemView, question: str, n: int, values: Row, meta: Row) -> Row:
    out: Row = {"id": f"{view.id}-{question}-{n}", "item_id": str(view.id), **values, "meta": meta}
    if view.split is not None:
        out["split"] = view.split
    return out


class AggregatedRaw(Shape, Aggregated):
    """``item_id, external_id, answer`` (each question's aggregate), ``confidence`` (the
    lowest of the questions'), ``consensus`` (per question: method, confidence, responses,
    detail) and ``responses``."""

    kind = "raw"
    json_columns = ("answer", "consensus")
    needs_data = False
    types = ("label", "multi_label", "pairwise", "ranking", "rating", "rubric", "step_review")

    def __init__(self, project: Project, opts: ExportOptions) -> None:
        self.project, self.opts, self.shape = project, opts, self
        self.methods: dict[str, str] = {}

    def columns(self) -> list[tuple[str, pa.DataType]]:
        s = pa.string()
        return [
            ("item_id", s), ("external_id", s), ("answer", s), ("confidence", pa.float64()),
            ("consensus", s), ("responses", pa.int64()),
        ]  # fmt: skip

    def item_rows(self, view: ItemView) -> list[Row]:
        if not view.results:
            return []
        row: Row = {
            "item_id": str(view.id),
            "external_id": view.external_id,
            "answer": view.answer,
            "confidence": round(min(r.confidence for r in view.results.values()), 6),
            "consensus": {
                name: {
                    "method": self.methods[name],
                    "confidence": round(r.confidence, 6),
                    "responses": r.n,
                    "detail": r.detail,
                }
                for name, r in view.results.items()
            },
            "responses": max(r.n for r in view.results.values()),
        }
        if view.split is not None:
            row["split"] = view.split
        return [row]


class AggregatedRatings(Ratings, Aggregated):
    """``prompt``, ``response`` and one float column per rating or rubric criterion: the
    mean of the item's scores."""

    types = ("rating", "rubric")

    def __init__(self, project: Project, opts: ExportOptions) -> None:
        super().__init__(project, opts)
        self.shape = self

    def meta_fields(self) -> list[tuple[str, pa.DataType]]:
        return AGG_META

    def columns(self) -> list[tuple[str, pa.DataType]]:
        t = self.text_type()
        scores = [(col, pa.float64()) for _, _, col in self.score_columns]
        return [*self.head(), ("prompt", t), ("response", t), *scores, ("meta", self.meta_type())]

    def item_rows(self, view: ItemView) -> list[Row]:
        a = cast(Attempt, view)
        prompt = self.prompt(self.prompt_src, a)
        response = self.response_src.text(view.data, view.answer)
        if prompt is None or response is None:
            return []
        values: Row = {"prompt": prompt, "response": response}
        if self.opts.form == "conversational":
            values["response"] = self.completion(response)
        used: list[ItemResult] = []
        for q, n, col in self.score_columns:
            r = view.results.get(q.name)
            value = None
            if r is not None:
                value = r.answer if q.type == "rating" else r.answer.get(n)
                used.append(r)
            values[col] = value
        if not used:
            return []
        confidence = min(r.confidence for r in used)
        meta = _meta(view, None, "mean", confidence)
        meta["responses"] = max(r.n for r in used)
        return [_row(view, self.response_src.name, 0, values, meta)]


class AggregatedRanking(Ranking, Aggregated):
    """``prompt``, ``completions``, ``ranks``: each ranking question's Plackett-Luce order
    and each pairwise question's Bradley-Terry choice."""

    types = ("ranking", "pairwise")

    def __init__(self, project: Project, opts: ExportOptions) -> None:
        super().__init__(project, opts)
        self.shape = self

    def meta_fields(self) -> list[tuple[str, pa.DataType]]:
        return AGG_META

    def item_rows(self, view: ItemView) -> list[Row]:
        prompt = self.prompt(self.prompt_src, cast(Attempt, view))
        if prompt is None:
            return []
        rows: list[Row] = []
        for q in self.ranking:
            r = view.results.get(q.name)
            ranked = REGISTRY[q.type].export_ranked(q, r.answer, view.data) if r else None
            if r is None or ranked is None:
                continue
            values = {
                "prompt": prompt,
                "completions": [self.completion(c) for c in ranked.completions],
                "ranks": ranked.ranks,
            }
            meta = _meta(view, q.name, default_method(q.type) or "", r)
            rows.append(_row(view, q.name, len(rows), values, meta))
        return rows


class AggregatedPreference(Preference, Aggregated):
    """``prompt``, ``chosen``, ``rejected``, ``margin`` from each pairwise question's
    Bradley-Terry choice (a tie gives no row) and each ranking question's Plackett-Luce
    order (every pair of different ranks); the margin as for one answer: the strength (the
    rounded mean strength of those who made the choice) or the rank distance."""

    types = ("pairwise", "ranking")

    def __init__(self, project: Project, opts: ExportOptions) -> None:
        super().__init__(project, opts)
        self.shape = self
        self.stating = [q for q in self.stating if q.type in self.types]
        if not self.stating:
            raise InvalidInput(
                "aggregate: preference rows per item come from pairwise or ranking questions",
                errors=[{"loc": ["query", "aggregate"], "msg": "no pairwise or ranking question"}],
            )

    def meta_fields(self) -> list[tuple[str, pa.DataType]]:
        return AGG_META

    def item_rows(self, view: ItemView) -> list[Row]:
        prompt = self.prompt(self.prompt_src, cast(Attempt, view))
        if prompt is None:
            return []
        rows: list[Row] = []
        for q in self.stating:
            r = view.results.get(q.name)
            if r is None:
                continue
            for p in REGISTRY[q.type].export_pairs(q, r.answer, view.data):
                values = {
                    "prompt": prompt,
                    "chosen": self.completion(p.chosen),
                    "rejected": self.completion(p.rejected),
                    "margin": p.margin,
                }
                meta = _meta(view, q.name, default_method(q.type) or "", r)
                rows.append(_row(view, q.name, len(rows), values, meta))
        return rows


SHAPES: dict[str, type[Shape]] = {
    "raw": AggregatedRaw,
    "ratings": AggregatedRatings,
    "ranking": AggregatedRanking,
    "preference": AggregatedPreference,
}


def shape_for(project: Project, opts: ExportOptions) -> Shape:
    return SHAPES[opts.kind](project, opts)


async def rows(
    db: Database, project: Project, opts: ExportOptions, shape: Shape, batch: int = 500
) -> AsyncIterator[Row]:
    """The export's rows, one item at a time, in item order."""
    from inlier.datasets.service import answers

    agg_shape = cast(Aggregated, shape)
    aggs = await fitted(answers(db, project, opts), agg_shape.aggregators())
    if isinstance(shape, AggregatedRaw):
        shape.methods = {a.q.name: a.method for a in aggs}
    # Every item any question was answered for, sorted, as one array (no object per item).
    ids = np.unique(np.concatenate([a.item_keys for a in aggs] or [np.empty(0, np.int64)]))
    data_col = Item.data if shape.needs_data else Item.id
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch].tolist()
        async with db.sessions() as s:
            found = (
                await s.execute(
                    select(Item.id, Item.external_id, data_col)
                    .where(Item.id.in_(chunk))
                    .order_by(Item.id)
                )
            ).all()
        for item_id, external_id, data in found:
            results = {a.q.name: r for a in aggs if (r := a.result(item_id)) is not None}
            split = split_of(item_id, opts.split, opts.seed) if opts.split is not None else None
            view = ItemView(item_id, external_id, data if shape.needs_data else {}, results, split)
            for row in agg_shape.item_rows(view):
                if opts.min_agreement is not None and _confidence(row) < opts.min_agreement:
                    continue
                yield row


def _confidence(row: Row) -> float:
    if "confidence" in row:
        return float(row["confidence"])
    return float(row["meta"]["confidence"])
