"""`label`: pick one of a fixed set of labels."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from inlier.questions.base import (
    Grade,
    Loc,
    Problems,
    QuestionKind,
    QuestionSpec,
    Strict,
    problem,
)


class LabelOptions(Strict):
    labels: list[str] = Field(min_length=1, max_length=1000)
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=1)

    @field_validator("labels")
    @classmethod
    def _unique(cls, labels: list[str]) -> list[str]:
        if len(set(labels)) != len(labels):
            raise ValueError("labels must be unique")
        if any(not lab or len(lab) > 200 for lab in labels):
            raise ValueError("each label is 1..200 characters")
        return labels


class Label(QuestionKind):
    type = "label"
    Options = LabelOptions

    def check_answer(self, q: QuestionSpec, value: Any, data: dict[str, Any], loc: Loc) -> Problems:
        opts = self.options(q)
        if not isinstance(value, str):
            return problem(loc, "must be one label (a string)")
        if value not in opts.labels:
            return problem(loc, f"{value!r} is not one of {opts.labels}")
        return []

    def grade(self, q: QuestionSpec, value: Any, gold: Any) -> Grade:
        """Exact match."""
        if isinstance(value, str) and value == gold:
            return Grade(1.0, "the expected label")
        return Grade(0.0, "not the expected label")
