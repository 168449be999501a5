"""Request and response shapes for policies, consents and erasure."""

from __future__ import annotations

from pydantic import BaseModel, Field

from inlier.kit.fields import RequestBody


class PolicyIn(RequestBody):
    version: str = Field(min_length=1, max_length=50)
    markdown: str = Field(min_length=1, max_length=100_000)
    effective_at: str | None = Field(
        default=None, max_length=64, description="RFC 3339, now or later; default now"
    )
    changes: str | None = Field(
        default=None, max_length=100_000, description="what changed, shown to people (markdown)"
    )


class PolicyOut(BaseModel):
    version: str
    effective_at: str
    markdown: str
    changes: str | None = None
    published_at: str | None = None


class ConsentIn(RequestBody):
    policy_version: str = Field(min_length=1, max_length=50)


class ConsentOut(BaseModel):
    policy_version: str
    accepted_at: str


class ErasureOut(BaseModel):
    id: str
    status: str
    erased_at: str | None
