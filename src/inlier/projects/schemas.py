"""Request and response shapes for projects, members and items."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from inlier.kit.fields import RequestBody

Status = Literal["draft", "active", "paused", "completed"]
Visibility = Literal["members", "open"]


class Strict(RequestBody):
    """A request body (see RequestBody)."""


class ReviewIn(Strict):
    sample_rate: float = Field(default=0.0, ge=0.0, le=1.0)


class WorkflowIn(Strict):
    overlap: int = Field(default=1, ge=1, le=100)
    review: ReviewIn = Field(default_factory=ReviewIn)


class RequirementsIn(Strict):
    skills: dict[str, int] = Field(default_factory=dict, max_length=100)
    languages: list[str] | None = Field(default=None, max_length=100)
    countries: list[str] | None = Field(default=None, max_length=300)


class ModelIn(Strict):
    provider: Literal["openai", "replay"]
    base_url: str | None = Field(default=None, max_length=2000)
    model: str = Field(default="", max_length=200)
    api_key_env: str | None = Field(
        default=None, max_length=200, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$"
    )
    params: dict[str, Any] = Field(default_factory=dict)


class QualityIn(Strict):
    gold_rate: float | None = Field(default=None, ge=0, le=1)
    warn_below: float | None = Field(default=None, ge=0, le=1)
    pause_below: float | None = Field(default=None, ge=0, le=1)
    promote_reviewer_at: float | None = Field(default=None, ge=0, le=1)
    min_events: int | None = Field(default=None, ge=0, le=100_000)


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
    my_role: str | None = None


class CreatedOut(BaseModel):
    created: int


class MemberOut(BaseModel):
    project_id: str
    user_id: str
    role: str
