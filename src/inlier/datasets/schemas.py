"""Request and response shapes for snapshots and agreement."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from inlier.kit.fields import RequestBody

FilterValue = str | bool | int | float | None


class SnapshotIn(RequestBody):
    name: str = Field(min_length=1, max_length=200, pattern=r"\S")
    kind: str = "raw"
    format: str = "jsonl"
    #: The export's query parameters (status, form, gold, split, seed, …) as an object.
    filters: dict[str, FilterValue] = Field(default_factory=dict, max_length=20)


class ManifestOut(BaseModel):
    rows: int
    bytes: int
    sha256: str
    filters: dict[str, Any]
    created_by: str | None
    created_at: str


class SnapshotOut(BaseModel):
    id: str
    project_id: str
    name: str
    version: int
    kind: str
    format: str
    manifest: ManifestOut
