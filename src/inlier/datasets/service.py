"""Exports: which responses, read how, and shaped into which dataset.

Rows are read in keyset batches, each in its own short transaction, so an export of any size
streams in constant memory and never holds the database while a client reads. What one answer
contributes to a trainer dataset is said by its question type (``questions/*.py``,
``export_*``); ``kinds.py`` assembles those contributions into rows, ``formats.py`` writes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy import String, Text, select, type_coerce
from sqlalchemy.orm import aliased

from inlier.datasets import aggregated, formats
from inlier.datasets.kinds import Raw, RawColumns, Row, Shape, shape_for
from inlier.datasets.options import (
    FORMATS,
    FORMS,
    GOLD,
    KINDS,
    PARTS,
    STATUSES,
    Attempt,
    Attempted,
    ExportOptions,
    Review,
    Tally,
    parse_options,
    pseudonym,
    split_of,
)
from inlier.db.engine import Database
from inlier.projects.models import Item, Project
from inlier.workflow.models import Response

__all__ = [
    "FORMATS",
    "FORMS",
    "GOLD",
    "KINDS",
    "PARTS",
    "STATUSES",
    "Export",
    "ExportOptions",
    "attempts",
    "parse_options",
    "prepare",
    "pseudonym",
]


@dataclass
class Export:
    """One export, checked against the project before the first byte is sent (a kind the
    template cannot fill is a 422, not a broken stream)."""

    project: Project
    opts: ExportOptions
    shape: Shape
    tally: Tally = field(default_factory=Tally)
    #: Called with the number of rows written so far, every ``progress_every`` rows.
    progress: Callable[[int], None] | None = None
    progress_every: int = 1000
    #: Rows per Parquet row group and per Arrow record batch of an HF shard.
    row_group: int = formats.ROW_GROUP

    @property
    def filename(self) -> str:
        part = f"-{self.opts.part}" if self.opts.part else ""
        ext = formats.EXTENSIONS[self.opts.format]
        return f"project-{self.project.id}-{self.opts.kind}{part}.{ext}"

    @property
    def media_type(self) -> str:
        return formats.MEDIA_TYPES[self.opts.format]

    def card(self) -> formats.Card:
        p = self.project
        return formats.Card(
            project_id=p.id,
            project_name=p.name,
            kind=self.opts.kind,
            form=self.opts.form if self.opts.kind != "raw" else "-",
            filters=self.opts.filters(),
            template=p.template,
            mapping=p.export or {},
        )

    async def rows(self, db: Database, batch: int = 1000) -> AsyncIterator[Row]:
        shape = self.shape
        if self.opts.aggregate:
            async for row in aggregated.rows(db, self.project, self.opts, shape):
                self.tally.count(row)
                if self.progress is not None and self.tally.rows % self.progress_every == 0:
                    self.progress(self.tally.rows)
                yield row
            return
        async for a in attempts(
            db, self.project, self.opts, with_data=shape.needs_data, batch=batch, tally=self.tally
        ):
            for row in shape.rows(a):
                self.tally.count(row)
                if self.progress is not None and self.tally.rows % self.progress_every == 0:
                    self.progress(self.tally.rows)
                yield row

    async def tables(self, db: Database) -> AsyncIterator[pa.Table]:
        """The rows as Arrow tables of ``row_group`` rows (the last may be shorter): ``raw``
        attempts read straight into columns, other kinds' rows assembled a batch at a time."""
        if isinstance(self.shape, Raw) and not self.opts.aggregate:
            tables = raw_tables(db, self.project, self.opts, self.shape, self.tally, self._report)
        else:
            tables = formats.tables(self.rows(db), self.shape, self.row_group)
        async for table in formats.regroup(tables, self.row_group):
            yield table

    def _report(self, before: int) -> None:
        """Progress after a batch of rows, as ``rows`` reports it after every row."""
        every = self.progress_every
        if self.progress is not None and self.tally.rows // every > before // every:
            self.progress(self.tally.rows // every * every)

    async def stream(self, db: Database) -> AsyncIterator[bytes]:
        """The file's bytes as they are produced; ``hf`` is a tar of the dataset folder."""
        fmt = self.opts.format
        if fmt == "hf":
            async for chunk in self._hf_tar(db):
                yield chunk
            return
        if fmt == "parquet":
            chunks = formats.parquet_bytes(self.tables(db), self.shape.schema(), self.row_group)
        else:
            chunks = (formats.jsonl if fmt == "jsonl" else formats.csv_bytes)(
                self.rows(db), self.shape
            )
        async for chunk in chunks:
            yield chunk

    async def write_folder(self, db: Database, path: Path) -> list[Path]:
        """The ``hf`` dataset folder, written in place (the CLI's ``--format hf``)."""
        path.mkdir(parents=True, exist_ok=True)
        return await formats.write_hf_folder(
            self.tables(db), self.shape, path, self.card(), self.tally
        )

    async def _hf_tar(self, db: Database) -> AsyncIterator[bytes]:
        # A tar header states its member's size, so each shard is finished on disk (never in
        # memory) before it is sent; the temporary folder goes when the stream ends or breaks.
        with tempfile.TemporaryDirectory(prefix="inlier-export-") as tmp:
            files = await self.write_folder(db, Path(tmp))
            for chunk in formats.tar_stream(files):
                yield chunk


def prepare(project: Project, opts: ExportOptions) -> Export:
    if opts.aggregate:
        return Export(project, opts, aggregated.shape_for(project, opts))
    return Export(project, opts, shape_for(project, opts))


def _selected(q: Any, project: Project, opts: ExportOptions, after: int) -> Any:
    """The export's filters on a query of attempts joined to their items and reviews."""
    q = q.where(
        Response.project_id == project.id,
        Response.stage == "attempt",
        Response.id > after,
    )
    if opts.status == "submitted":
        q = q.where(Response.status != "rejected")
    elif opts.status == "approved":
        q = q.where(
            Response.status.in_(("approved", "improved"))
            | ((Response.status == "submitted") & Response.needs_review.is_(False))
        )
    if opts.gold == "exclude":
        q = q.where(Item.gold.is_(None))
    if opts.submitted_from is not None:
        q = q.where(Response.created_at >= opts.submitted_from)
    if opts.submitted_to is not None:
        q = q.where(Response.created_at < opts.submitted_to)
    return q.order_by(Response.id)


async def attempts(
    db: Database,
    project: Project,
    opts: ExportOptions,
    *,
    with_data: bool = True,
    batch: int = 1000,
    tally: Tally | None = None,
) -> AsyncIterator[Attempt]:
    """The attempts the options select, oldest first, ``batch`` at a time (keyset on id),
    read as plain rows (building an ORM object per attempt would cost more than the rest of
    the export)."""
    review = aliased(Response)
    data_col = Item.data if with_data else Item.id
    after = 0
    while True:
        q = (
            select(
                Response.__table__,
                Item.external_id.label("x_external_id"),
                data_col.label("x_data"),
                review.id.label("rv_id"),
                review.user_id.label("rv_user_id"),
                review.verdict.label("rv_verdict"),
                review.feedback.label("rv_feedback"),
                review.answer.label("rv_answer"),
            )
            .join(Item, Item.id == Response.item_id)
            .outerjoin(review, review.id == Response.review_id)
        )
        q = _selected(q, project, opts, after).limit(batch)
        async with db.sessions() as s:
            rows = (await s.execute(q)).all()
        if not rows:
            return
        for r in rows:
            split = None
            if opts.split is not None:
                split = split_of(r.item_id, opts.split, opts.seed)
                if opts.part is not None and split != opts.part:
                    continue
            rv = None
            if r.rv_id is not None:
                rv = Review(r.rv_user_id, r.rv_verdict, r.rv_feedback, r.rv_answer)
            answer = r.answer or {}
            if opts.status == "approved" and rv is not None and rv.verdict == "improve":
                answer = rv.answer or answer
            if tally is not None:
                tally.responses += 1
            data = r.x_data if with_data else {}
            yield Attempt(cast(Attempted, r), r.x_external_id, data, rv, answer, split)
        after = rows[-1].id


#: Attempts per keyset batch of ``raw_tables``: a few hundred bytes each. On SQLite the query
#: runs on the event loop's thread (tens of ms for 5,000), but the columns are built off it,
#: where reading rows one by one held the loop for all of a row group's Python; batches of
#: 1,000 cost a fifth more CPU.
RAW_BATCH = 5000


async def raw_tables(
    db: Database,
    project: Project,
    opts: ExportOptions,
    shape: Raw,
    tally: Tally,
    report: Callable[[int], None] | None = None,
    batch: int = RAW_BATCH,
) -> AsyncIterator[pa.Table]:
    """``raw`` as ``attempts`` selects it, a keyset batch at a time as one Arrow table.

    The answers are read as the database's JSON text, which neither driver decodes, and the
    timestamps on SQLite as their stored text: decoding each answer only to encode it again as
    the Parquet cell's text was most of an export's time."""
    review = aliased(Response)
    sqlite = db.sqlite

    def text(col: Any) -> Any:
        # SQLite keeps JSON as text: read it as such. PostgreSQL's jsonb is cast to its text.
        return type_coerce(col, Text) if sqlite else sa.cast(col, Text)

    created = type_coerce(Response.created_at, String) if sqlite else Response.created_at
    query = (
        select(
            Response.id,
            Response.item_id,
            Item.external_id,
            Response.stage,
            Response.user_id,
            text(Response.answer),
            Response.status,
            review.verdict,
            review.user_id,
            review.feedback,
            text(review.answer),
            Response.active_seconds,
            created,
            text(Response.generation_ids),
        )
        .join(Item, Item.id == Response.item_id)
        .outerjoin(review, review.id == Response.review_id)
    )

    async def read(after: int) -> Sequence[Any]:
        async with db.sessions() as s:
            conn = await s.connection()
            if not sqlite:
                # A batch is a short index range: starting parallel workers for it cost three
                # times the serial scan on a busy machine, and took the CPU the export needs.
                await conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
            return (await conn.execute(_selected(query, project, opts, after).limit(batch))).all()

    def columns(rows: Sequence[Any]) -> tuple[pa.Table | None, list[str] | None]:
        split: list[str] | None = None
        if opts.split is not None:
            split = [split_of(r[1], opts.split, opts.seed) for r in rows]
            if opts.part is not None:
                rows = [r for r, part in zip(rows, split, strict=True) if part == opts.part]
                split = [opts.part] * len(rows)
            if not rows:
                return None, split
        return shape.table(RawColumns(*zip(*rows, strict=True)), split), split

    pending = asyncio.ensure_future(read(0))
    try:
        while rows := await pending:
            # The next batch is read while this one is turned into columns off the loop: on
            # PostgreSQL the server works meanwhile, on SQLite the query runs without the GIL.
            pending = asyncio.ensure_future(read(rows[-1][0]))
            table, split = await asyncio.to_thread(columns, rows)
            if table is None:
                continue
            before = tally.rows
            tally.responses += table.num_rows
            tally.count_batch(table.num_rows, split)
            yield table
            if report is not None:
                report(before)
    finally:
        # Stopped early (the client went away): the batch read ahead is not wanted, nor its error.
        pending.cancel()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await pending


async def answers(
    db: Database, project: Project, opts: ExportOptions, batch: int = 5000
) -> AsyncIterator[tuple[int, int, dict[str, Any]]]:
    """``(item_id, user_id, answer)`` of the attempts the options select, as ``attempts``
    selects them (the answer an export uses), read as plain rows: what aggregation needs."""
    review = aliased(Response)
    after = 0
    while True:
        q = (
            select(
                Response.id,
                Response.item_id,
                Response.user_id,
                Response.answer,
                review.verdict,
                review.answer,
            )
            .join(Item, Item.id == Response.item_id)
            .outerjoin(review, review.id == Response.review_id)
        )
        q = _selected(q, project, opts, after).limit(batch)
        async with db.sessions() as s:
            rows = (await s.execute(q)).all()
        if not rows:
            return
        for _id, item_id, user_id, answer, verdict, reviewed in rows:
            part = opts.part
            if opts.split is not None and part and split_of(item_id, opts.split, opts.seed) != part:
                continue
            if opts.status == "approved" and verdict == "improve":
                answer = reviewed or answer
            yield item_id, user_id, answer or {}
        after = rows[-1][0]


async def raw_rows(
    db: Database, project: Project, status: str, batch: int = 1000
) -> AsyncIterator[dict[str, Any]]:
    """One row per attempt with every default of ``raw`` (kept for callers of the first API)."""
    shape = Raw(project, ExportOptions(status=status))
    async for a in attempts(db, project, shape.opts, with_data=False, batch=batch):
        for row in shape.rows(a):
            yield row
