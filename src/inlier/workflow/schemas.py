"""Request shapes for the work endpoints."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NextIn(Strict):
    project_id: str | None = Field(default=None, max_length=40)


class SubmitIn(Strict):
    """An attempt sends ``answer``; a review sends ``verdict`` (and ``answer`` to improve)."""

    answer: dict[str, Any] | None = None
    active_seconds: int | None = Field(default=None, ge=0, le=86_400, strict=True)
    verdict: Literal["approve", "improve", "reject"] | None = None
    feedback: str | None = Field(default=None, max_length=100_000)
    score: int | None = Field(default=None, ge=1, le=5)
    generation_ids: list[str] | None = Field(default=None, max_length=100)


class HeartbeatIn(Strict):
    # The contract says an integer: no "60", 60.0 or true.
    active_seconds: int = Field(ge=0, le=86_400, strict=True)


class DraftIn(Strict):
    answer: dict[str, Any]
