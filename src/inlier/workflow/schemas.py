"""Request shapes for the work endpoints."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from inlier.kit.fields import RequestBody


class Strict(RequestBody):
    """A request body (see RequestBody)."""


class NextIn(Strict):
    project_id: str | None = Field(default=None, max_length=40)


# Why a review rejects an attempt; a rejection without feedback shows the code's text.
REJECT_REASONS = {
    "incorrect": "The answer is incorrect.",
    "incomplete": "The answer is incomplete.",
    "guidelines": "The answer does not follow the project's guidelines.",
    "low_effort": "The answer shows too little effort for the task.",
    "model_generated": "The answer appears to be a model's output, not your own work.",
    "spam": "The submission is not a genuine attempt.",
    "other": "The reviewer rejected the answer.",
}


class AuthenticityIn(Strict):
    """What the workbench measured while the answer was written."""

    pasted_chars: int = Field(default=0, ge=0, le=10_000_000)
    typed_chars: int = Field(default=0, ge=0, le=10_000_000)
    typing_seconds: int = Field(default=0, ge=0, le=86_400)


class SubmitIn(Strict):
    """An attempt sends ``answer``; a review sends ``verdict`` (and ``answer`` to improve)."""

    answer: dict[str, Any] | None = None
    active_seconds: int | None = Field(default=None, ge=0, le=86_400)
    verdict: Literal["approve", "improve", "reject"] | None = None
    feedback: str | None = Field(default=None, max_length=100_000)
    score: int | None = Field(default=None, ge=1, le=5)
    reason_code: (
        Literal[
            "incorrect",
            "incomplete",
            "guidelines",
            "low_effort",
            "model_generated",
            "spam",
            "other",
        ]
        | None
    ) = None
    generation_ids: list[str] | None = Field(default=None, max_length=100)
    authenticity: AuthenticityIn | None = None


class HeartbeatIn(Strict):
    active_seconds: int = Field(ge=0, le=86_400)


class DraftIn(Strict):
    answer: dict[str, Any]
