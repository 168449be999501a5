"""Writers: each turns an async stream of rows into bytes while holding one batch at most.

JSON lines and CSV are written a few hundred rows at a time; Parquet one row group at a time
through a sink that is emptied after each group; a Hugging Face folder is written shard by
shard to disk (the CLI's folder, or a temporary one the API then streams as a tar).
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import tarfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from inlier import __version__
from inlier.datasets.kinds import Row, Shape, json_text
from inlier.datasets.options import Tally

MEDIA_TYPES = {
    "jsonl": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "hf": "application/x-tar",
}
EXTENSIONS = {"jsonl": "jsonl", "csv": "csv", "parquet": "parquet", "hf": "tar"}
ROW_GROUP = 5000
#: datasets' own default shard size for save_to_disk.
MAX_SHARD_BYTES = 500 * 2**20


async def batches(rows: AsyncIterator[Row], size: int) -> AsyncIterator[list[Row]]:
    batch: list[Row] = []
    async for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def jsonl(rows: AsyncIterator[Row], shape: Shape) -> AsyncIterator[bytes]:
    async for batch in batches(rows, 500):
        yield "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in batch).encode()


def _cell(value: Any) -> Any:
    """CSV has no nesting: lists and objects become JSON text, booleans true/false."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


async def csv_bytes(rows: AsyncIterator[Row], shape: Shape) -> AsyncIterator[bytes]:
    names = shape.schema().names
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")  # RFC 4180
    writer.writerow(names)
    async for batch in batches(rows, 500):
        for r in batch:
            writer.writerow([_cell(r.get(n)) for n in names])
        yield buf.getvalue().encode()
        buf.seek(0)
        buf.truncate()
    if buf.tell():
        yield buf.getvalue().encode()


def to_table(batch: list[Row], shape: Shape, schema: pa.Schema) -> pa.Table:
    for r in batch:
        for c in shape.json_columns:
            r[c] = json_text(r.get(c))
    return pa.Table.from_pylist(batch, schema=schema)


async def tables(rows: AsyncIterator[Row], shape: Shape, size: int) -> AsyncIterator[pa.Table]:
    """Rows as Arrow tables of ``size`` rows (the last may be shorter)."""
    schema = shape.schema()
    async for batch in batches(rows, size):
        yield to_table(batch, shape, schema)


async def regroup(tables: AsyncIterator[pa.Table], size: int) -> AsyncIterator[pa.Table]:
    """Tables of exactly ``size`` rows but the last, whatever sizes come in: a Parquet row
    group (or an Arrow record batch) is never split across two writes, nor merged across two."""
    pending: list[pa.Table] = []
    held = 0
    async for table in tables:
        if not table.num_rows:
            continue
        pending.append(table)
        held += table.num_rows
        while held >= size:
            whole = pa.concat_tables(pending)
            yield whole.slice(0, size)
            rest = whole.slice(size)
            pending, held = ([rest] if rest.num_rows else []), rest.num_rows
    if held:
        yield pa.concat_tables(pending)


class _Sink:
    """A write-only file for pyarrow that the caller empties after each row group."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> int:
        self.parts.append(bytes(data))
        return len(self.parts[-1])

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def drain(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


async def parquet_bytes(
    tables: AsyncIterator[pa.Table], schema: pa.Schema, row_group: int = ROW_GROUP
) -> AsyncIterator[bytes]:
    """Each table one row group (or more, past ``row_group`` rows)."""
    sink = _Sink()
    writer = pq.ParquetWriter(pa.PythonFile(sink, mode="w"), schema)
    try:
        async for table in tables:
            writer.write_table(table, row_group_size=row_group)
            if data := sink.drain():
                yield data
    finally:
        writer.close()
    yield sink.drain()


# ---- Hugging Face datasets folder (Dataset.save_to_disk layout) -----------------------------


def hf_features(t: pa.DataType) -> Any:
    """datasets' serialized Features for an Arrow type. Lists are written as ``[feature]``,
    the form every datasets version reads (2.x as a list, 4.x and later as ``List``)."""
    if pa.types.is_struct(t):
        return {t.field(i).name: hf_features(t.field(i).type) for i in range(t.num_fields)}
    if pa.types.is_list(t):
        return [hf_features(t.value_type)]
    names = {pa.string(): "string", pa.int64(): "int64", pa.float64(): "float64"}
    dtype = "bool" if pa.types.is_boolean(t) else names[t]
    return {"dtype": dtype, "_type": "Value"}


@dataclass
class Card:
    """What the dataset card (README.md) says about where the rows came from."""

    project_id: int
    project_name: str
    kind: str
    form: str
    filters: dict[str, Any]
    template: dict[str, Any]
    mapping: dict[str, Any] = field(default_factory=dict)


class HfFolder:
    """Writes a ``datasets.Dataset`` as ``save_to_disk`` does: Arrow IPC stream shards
    ``data-0000i-of-0000N.arrow``, ``dataset_info.json`` and ``state.json``; plus README.md."""

    def __init__(self, path: Path, shape: Shape, max_shard_bytes: int = MAX_SHARD_BYTES) -> None:
        self.path = path
        self.shape = shape
        features = {f.name: hf_features(f.type) for f in shape.schema()}
        self.features = features
        meta = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
        self.schema = shape.schema().with_metadata(meta)
        self.max_shard_bytes = max_shard_bytes
        self.shards: list[Path] = []
        self._file: Any = None
        self._writer: Any = None

    def _open(self) -> None:
        # Shards are numbered as they fill; their final names need the total, known at close.
        part = self.path / f".shard-{len(self.shards):05d}.arrow"
        self.shards.append(part)
        self._file = pa.OSFile(str(part), "wb")
        self._writer = pa.ipc.new_stream(self._file, self.schema)

    def _close_shard(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._file.close()
            self._writer = self._file = None

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            self._open()
        self._writer.write_table(table.replace_schema_metadata(self.schema.metadata))
        if self._file.tell() >= self.max_shard_bytes:
            self._close_shard()

    def close(self, card: Card, tally: Tally) -> list[Path]:
        """Name the shards, write the metadata and the card; the files, in the order to tar."""
        if self._writer is None and not self.shards:
            self._open()  # an empty export is still a loadable (empty) dataset
        self._close_shard()
        n = len(self.shards)
        data = []
        for i, part in enumerate(self.shards):
            final = self.path / f"data-{i:05d}-of-{n:05d}.arrow"
            part.rename(final)
            data.append(final)
        info = {
            "description": f"Inlier export of project {card.project_name!r} ({card.kind})",
            "citation": "",
            "homepage": "",
            "license": "",
            "features": self.features,
            "dataset_size": sum(p.stat().st_size for p in data),
        }
        state: dict[str, Any] = {
            "_data_files": [{"filename": p.name} for p in data],
            "_fingerprint": secrets.token_hex(8),
            "_format_columns": None,
            "_format_kwargs": {},
            "_format_type": None,
            "_output_all_columns": False,
            "_split": None,
        }
        files = [
            *data,
            self._dump("dataset_info.json", info),
            self._dump("state.json", state),
            self.path / "README.md",
        ]
        files[-1].write_text(dataset_card(card, tally, self.schema))
        return files

    def _dump(self, name: str, obj: Any) -> Path:
        target = self.path / name
        target.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
        return target


def dataset_card(card: Card, tally: Tally, schema: pa.Schema) -> str:
    """A README naming the project, template, filters and counts; people only as pseudonyms
    inside the data, never here."""
    name = card.project_name.replace("\n", " ")
    counts = [f"- rows: {tally.rows}", f"- responses read: {tally.responses}"]
    counts += [f"- rows in `{k}`: {v}" for k, v in sorted(tally.by_split.items())]
    filters = "\n".join(f"- `{k}`: `{json.dumps(v)}`" for k, v in card.filters.items())
    columns = "\n".join(f"- `{f.name}`: `{f.type}`" for f in schema)
    split_note = (
        "\nRows carry a `split` column (`train` / `test`, by item): "
        '`ds.filter(lambda r: r["split"] == "train")`.\n'
        if "split" in schema.names
        else ""
    )
    return f"""---
pretty_name: {json.dumps(name)}
tags:
- inlier
- {card.kind}
---

# {name} — {card.kind} ({card.form})

Exported by Inlier {__version__} from project {card.project_id} ({json.dumps(name)}).
Contributors appear only as per-project pseudonyms (`meta.contributor`, `meta.reviewer`).

```python
from datasets import load_from_disk
ds = load_from_disk("path/to/this/folder")
```
{split_note}
## Counts

{chr(10).join(counts)}

## Filters

- `kind`: `{card.kind}`
- `form`: `{card.form}`
{filters}

## Columns

{columns}

## Template

```json
{json.dumps(card.template, indent=2, ensure_ascii=False)}
```

Export mapping (`project.export`): `{json.dumps(card.mapping)}`
"""


async def write_hf_folder(
    tables: AsyncIterator[pa.Table], shape: Shape, path: Path, card: Card, tally: Tally
) -> list[Path]:
    """Each table one Arrow record batch (or more: ``write_table`` keeps the table's chunks)."""
    folder = HfFolder(path, shape)
    async for table in tables:
        folder.write(table)
    return folder.close(card, tally)


def tar_stream(files: list[Path], chunk: int = 2**20) -> Iterator[bytes]:
    """An uncompressed POSIX tar of ``files`` at its root, read from disk a chunk at a time
    (tarfile itself would copy each member through one buffer we could not drain)."""
    written = 0
    now = int(time.time())
    for f in files:
        info = tarfile.TarInfo(f.name)
        info.size = f.stat().st_size
        info.mtime = now
        info.mode = 0o644
        header = info.tobuf(format=tarfile.PAX_FORMAT)
        yield header
        written += len(header)
        with f.open("rb") as fh:
            while data := fh.read(chunk):
                yield data
        pad = -info.size % tarfile.BLOCKSIZE
        yield b"\0" * pad
        written += info.size + pad
    end = 2 * tarfile.BLOCKSIZE
    end += -(written + end) % tarfile.RECORDSIZE
    yield b"\0" * end
