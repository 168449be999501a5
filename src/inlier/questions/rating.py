"""`rating`: one integer on a scale."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from inlier.questions.base import (
    Grade,
    Loc,
    Problems,
    QuestionKind,
    QuestionSpec,
    Strict,
    is_int,
    problem,
)


class RatingOptions(Strict):
    min: int = Field(default=1, ge=-1000, le=1000)
    max: int = Field(default=5, ge=-1000, le=1000)
    tolerance: int | None = Field(
        default=None, ge=0, le=2000, description="gold scoring: how far off still counts"
    )


class Rating(QuestionKind):
    type = "rating"
    Options = RatingOptions

    def check_parsed_options(self, q: QuestionSpec, opts: Any, fields: Any, loc: Loc) -> Problems:
        if opts.min >= opts.max:
            return problem([*loc, "options", "max"], "max must be greater than min")
        return []

    def check_answer(self, q: QuestionSpec, value: Any, data: dict[str, Any], loc: Loc) -> Problems:
        opts = self.options(q)
        if not is_int(value):
            return problem(loc, "must be an integer")
        if not opts.min <= value <= opts.max:
            return problem(loc, f"must be between {opts.min} and {opts.max}")
        return []

    def export_score_names(self, q: QuestionSpec) -> list[str]:
        return [q.name]

    def export_scores(self, q: QuestionSpec, value: Any) -> dict[str, int]:
        return {q.name: value} if is_int(value) else {}

    def grade(self, q: QuestionSpec, value: Any, gold: Any) -> Grade:
        opts = self.options(q)
        return scale_grade(value, gold, opts.min, opts.max, opts.tolerance)


def default_tolerance(low: int, high: int) -> int:
    """One step on scales of five points or more, none on shorter ones."""
    return 1 if high - low >= 4 else 0


def scale_grade(value: Any, gold: Any, low: int, high: int, tolerance: int | None) -> Grade:
    """Full marks within ``tolerance`` of gold; beyond it the score falls linearly with the
    distance, reaching 0 at the width of the scale."""
    if not is_int(value) or not is_int(gold):
        return Grade(0.0, "not a score on the scale")
    tol = default_tolerance(low, high) if tolerance is None else tolerance
    width = max(high - low, 1)
    distance = abs(value - gold)
    if distance <= tol:
        return Grade(1.0, "within the tolerance" if distance else "the expected score")
    score = max(0.0, 1.0 - (distance - tol) / width)
    return Grade(score, f"outside the tolerance of ±{tol}")
