"""`rating`: one integer on a scale."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from inlier.questions.base import Loc, Problems, QuestionKind, QuestionSpec, Strict, is_int, problem


class RatingOptions(Strict):
    min: int = Field(default=1, ge=-1000, le=1000)
    max: int = Field(default=5, ge=-1000, le=1000)


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
