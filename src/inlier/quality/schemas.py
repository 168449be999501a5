"""Request bodies of the quality area."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from inlier.kit.fields import RequestBody


class AppealIn(RequestBody):
    project_id: str = Field(min_length=1, max_length=40)
    message: str = Field(min_length=1, max_length=10_000)
    # Appeal a rejected piece of one's own work; without it, the pause on the project.
    response_id: str | None = Field(default=None, min_length=1, max_length=40)


class AppealDecisionIn(RequestBody):
    decision: Literal["uphold", "reinstate"]
    reason: str = Field(min_length=1, max_length=10_000)
