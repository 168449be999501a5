"""Reading item files (JSONL, CSV, Parquet) as a stream of rows, with progress in bytes or rows."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from inlier.kit.errors import InvalidInput
from inlier.questions import Template

FORMATS = ("jsonl", "csv", "parquet")
ROW_KEYS = ("external_id", "data", "gold", "priority")


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("jsonl", "ndjson"):
        return "jsonl"
    if suffix in ("csv", "parquet"):
        return suffix
    raise InvalidInput(f"{path.name}: use a .jsonl, .csv or .parquet file")


def total_units(path: Path, fmt: str) -> int:
    """What progress counts: bytes for text files, rows for Parquet."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    return path.stat().st_size


def read_rows(path: Path, fmt: str, template: Template, progress: Any = None) -> Iterator[Any]:
    """Rows as import objects ``{external_id?, data, gold?, priority?}``; ``progress(n)``
    is called with the units consumed since the last call."""
    if fmt == "jsonl":
        yield from _jsonl(path, progress)
    elif fmt == "csv":
        yield from _csv(path, template, progress)
    elif fmt == "parquet":
        yield from _parquet(path, template, progress)
    else:
        raise InvalidInput(f"unknown format {fmt!r}; one of {list(FORMATS)}")


def _jsonl(path: Path, progress: Any) -> Iterator[Any]:
    with path.open("rb") as fh:
        for n, line in enumerate(fh, start=1):
            if progress is not None:
                progress(len(line))
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except ValueError as exc:
                raise InvalidInput(f"row {n}: not valid JSON ({exc})") from exc


def _columns_to_row(record: dict[str, Any], template: Template, n: int) -> dict[str, Any]:
    """A flat record (CSV/Parquet columns) → an import row; structured fields hold JSON."""
    if "data" in record and isinstance(record["data"], dict):
        return {k: v for k, v in record.items() if k in ROW_KEYS and v is not None}
    row: dict[str, Any] = {"data": {}}
    for key, value in record.items():
        if key in ("external_id", "priority"):
            if value not in (None, ""):
                row[key] = int(value) if key == "priority" else str(value)
        elif key == "gold":
            if value not in (None, ""):
                row["gold"] = _json_cell(value, n, key)
        else:
            f = template.fields.get(key)
            if f is not None and f.type in ("steps", "chat") and isinstance(value, str):
                value = _json_cell(value, n, key)
            row["data"][key] = value
    return row


def _json_cell(value: Any, n: int, column: str) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError as exc:
        raise InvalidInput(f"row {n}: column {column!r} must hold JSON") from exc


def _csv(path: Path, template: Template, progress: Any) -> Iterator[Any]:
    with path.open("rb") as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        last = 0
        for n, record in enumerate(reader, start=1):
            if progress is not None:
                pos = raw.tell()
                if pos > last:
                    progress(pos - last)
                    last = pos
            try:
                yield _columns_to_row(record, template, n)
            except ValueError as exc:
                raise InvalidInput(f"row {n}: {exc}") from exc


def _parquet(path: Path, template: Template, progress: Any) -> Iterator[Any]:
    import pyarrow.parquet as pq

    n = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=5000):
        for record in batch.to_pylist():
            n += 1
            yield _columns_to_row(record, template, n)
        if progress is not None:
            progress(batch.num_rows)
