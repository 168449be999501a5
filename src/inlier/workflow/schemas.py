"""Request shapes for the work endpoints."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from inlier.kit.fields import RequestBody


class Strict(RequestBody):
    """A request body (see RequestBody)."""


class NextIn(Strict):
    project_id: str | None = Field(default=None, max_length=40)


class SubmitIn(Strict):
    """An attempt sends ``answer``; a review sends ``verdict`` (and ``answer`` to improve)."""

    answer: dict[str, Any] | None = None
    active_seconds: int | None = Field(default=None, ge=0, le=86_400)
    verdict: Literal["approve", "improve", "reject"] | None = None
    feedback: str | None = Field(default=None, max_length=100_000)
    score: int | None = Field(default=None, ge=1, le=5)
    generation_ids: list[str] | None = Field(default=None, max_length=100)


class HeartbeatIn(Strict):
    active_seconds: int = Field(ge=0, le=86_400)


class DraftIn(Strict):
    answer: dict[str, Any]
