"""Request and response shapes for generating a template's model-filled fields."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from inlier.kit.fields import RequestBody


class GenerateIn(RequestBody):
    field: str = Field(max_length=64, description="a generated field of the template")
    inputs: dict[str, Any] = Field(
        default_factory=dict,
        max_length=100,
        description="the expert's current answers to the questions the field is generated from",
    )


class Usage(BaseModel):
    prompt_tokens: int | None
    completion_tokens: int | None


class GenerationOut(BaseModel):
    generation_id: str
    field: str
    value: Any = Field(description="the field's value: a list of steps for a steps field")
    provider: str = Field(description='"replay" for answers shipped with the project')
    model: str
    params: dict[str, Any]
    latency_ms: int
    usage: Usage
    created_at: str
    regenerations_left: int


class LatestOut(BaseModel):
    latest: dict[str, GenerationOut] = Field(description="field → its latest generation")
