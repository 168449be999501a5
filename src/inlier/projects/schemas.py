"""Request and response shapes for projects, members and items."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from inlier.kit.fields import RequestBody

Status = Literal["draft", "active", "paused", "completed"]
Visibility = Literal["members", "open"]


Time = Annotated[datetime, Field(strict=False)]


class Strict(RequestBody):
    """A request body (see RequestBody)."""


class ReviewIn(Strict):
    sample_rate: float = Field(default=0.0, ge=0.0, le=1.0)


class DynamicOverlapIn(Strict):
    """More attempts while the crowd disagrees: after ``min`` (the overlap) attempts, one more
    at a time until the item's agreement on ``question`` reaches ``confidence``, at most
    ``max`` (see docs/exports.md, "Dynamic overlap")."""

    min: int | None = Field(default=None, ge=1, le=100)
    max: int = Field(ge=1, le=100)
    confidence: float = Field(gt=0, le=1)
    question: str = Field(min_length=1, max_length=64)


class WorkflowIn(Strict):
    overlap: int = Field(default=1, ge=1, le=100)
    review: ReviewIn = Field(default_factory=ReviewIn)
    dynamic_overlap: DynamicOverlapIn | None = None

    @model_validator(mode="after")
    def _dynamic_fits_overlap(self) -> WorkflowIn:
        d = self.dynamic_overlap
        if d is None:
            return self
        if d.min is None:
            d.min = self.overlap
        elif d.min != self.overlap:
            raise _error("dynamic_overlap.min: the minimum is the overlap; give the same number")
        if d.max < d.min:
            raise _error("dynamic_overlap.max: must be at least the overlap")
        return self


class RequirementsIn(Strict):
    skills: dict[str, int] = Field(default_factory=dict, max_length=100)
    languages: list[str] | None = Field(default=None, max_length=100)
    countries: list[str] | None = Field(default=None, max_length=300)


def _error(msg: str) -> PydanticCustomError:
    # A custom error reads as written (a ValueError gets a "Value error, " prefix).
    return PydanticCustomError("model_config", msg)


# Parameters a project may not set: the request is ours to shape.
RESERVED_PARAMS = frozenset({"model", "messages", "stream", "stream_options"})


class ModelIn(Strict):
    """A model a template's generated fields may name (see docs/models.md).

    ``openai``: any OpenAI-compatible server; ``api_key_env`` names the environment variable
    that holds the key (the key itself is never stored). ``replay``: answers shipped in
    ``responses``, keyed by item ``external_id`` (see ``inlier.llm.providers.replay``).
    """

    provider: Literal["openai", "replay"]
    base_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://[^\s]+$")
    model: str = Field(default="", max_length=200)
    api_key_env: str | None = Field(
        default=None, max_length=200, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$"
    )
    params: dict[str, Any] = Field(default_factory=dict)
    system_prompt: str | None = Field(default=None, max_length=100_000)
    responses: dict[str, str | list[str]] | None = Field(default=None, max_length=100_000)

    @field_validator("params")
    @classmethod
    def _not_reserved(cls, params: dict[str, Any]) -> dict[str, Any]:
        reserved = sorted(RESERVED_PARAMS & params.keys())
        if reserved:
            raise _error(f"{', '.join(reserved)} cannot be set here; Inlier sets them")
        return params

    @model_validator(mode="after")
    def _fits_provider(self) -> ModelIn:
        if self.provider == "openai":
            if not self.base_url:
                raise _error("base_url: required for the openai provider")
            if not self.model:
                raise _error("model: required for the openai provider")
            if self.responses is not None:
                raise _error("responses: only for the replay provider")
        elif not self.responses:
            raise _error("responses: the replay provider needs responses to serve")
        return self


class QualityIn(Strict):
    gold_rate: float | None = Field(default=None, ge=0, le=1)
    warn_below: float | None = Field(default=None, ge=0, le=1)
    pause_below: float | None = Field(default=None, ge=0, le=1)
    promote_reviewer_at: float | None = Field(default=None, ge=0, le=1)
    min_events: int | None = Field(default=None, ge=0, le=100_000)
    # Attempts faster than this many active seconds are flagged and reviewed.
    min_seconds: int | None = Field(default=None, ge=1, le=86_400)
    # How many days the project has to answer an appeal (default 7); unanswered → granted.
    appeal_days: int | None = Field(default=None, ge=1, le=90)


class ExportIn(Strict):
    prompt: str | None = Field(default=None, max_length=64)
    completion: str | None = Field(default=None, max_length=64)


class ProjectIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    guidelines: str = Field(default="", max_length=100_000)
    template: dict[str, Any]
    workflow: WorkflowIn = Field(default_factory=WorkflowIn)
    requirements: RequirementsIn = Field(default_factory=RequirementsIn)
    models: dict[str, ModelIn] = Field(default_factory=dict, max_length=20)
    quality: QualityIn = Field(default_factory=QualityIn)
    export: ExportIn = Field(default_factory=ExportIn)
    lease_minutes: int = Field(default=30, ge=1, le=1440)
    status: Status = "active"
    visibility: Visibility = "members"
    # When the project stops taking work; contributors are told when it is set.
    closes_at: Time | None = None


class ProjectPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    guidelines: str | None = Field(default=None, max_length=100_000)
    template: dict[str, Any] | None = None
    workflow: WorkflowIn | None = None
    requirements: RequirementsIn | None = None
    models: dict[str, ModelIn] | None = Field(default=None, max_length=20)
    quality: QualityIn | None = None
    export: ExportIn | None = None
    lease_minutes: int | None = Field(default=None, ge=1, le=1440)
    status: Status | None = None
    visibility: Visibility | None = None
    closes_at: Time | None = None


class MemberIn(Strict):
    user_id: str = Field(max_length=40)
    role: Literal["contributor", "reviewer", "owner"]


class ItemIn(Strict):
    external_id: str | None = Field(default=None, max_length=200)
    data: dict[str, Any]
    gold: dict[str, Any] | None = None
    priority: int = Field(default=0, ge=-1_000_000, le=1_000_000)


class ProjectOut(BaseModel):
    id: str
    name: str
    guidelines: str
    guidelines_version: int
    template: dict[str, Any]
    workflow: dict[str, Any]
    requirements: dict[str, Any]
    models: dict[str, Any]
    quality: dict[str, Any]
    export: dict[str, Any]
    lease_minutes: int
    status: str
    visibility: str
    created_at: str | None
    updated_at: str | None
    closes_at: str | None = None
    my_role: str | None = None


class CreatedOut(BaseModel):
    created: int


class MemberOut(BaseModel):
    project_id: str
    user_id: str
    role: str
