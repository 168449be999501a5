"""`rubric`: several named criteria, each scored on its own scale."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from inlier.questions.base import (
    NAME_PATTERN,
    Grade,
    Loc,
    Problems,
    QuestionKind,
    QuestionSpec,
    Strict,
    is_int,
    problem,
)
from inlier.questions.rating import scale_grade


class Criterion(Strict):
    name: str = Field(pattern=NAME_PATTERN)
    min: int = Field(default=1, ge=-1000, le=1000)
    max: int = Field(default=5, ge=-1000, le=1000)
    tolerance: int | None = Field(default=None, ge=0, le=2000)
    title: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)


class RubricOptions(Strict):
    criteria: list[Criterion] = Field(min_length=1, max_length=50)


class Rubric(QuestionKind):
    type = "rubric"
    Options = RubricOptions

    def check_parsed_options(self, q: QuestionSpec, opts: Any, fields: Any, loc: Loc) -> Problems:
        seen: set[str] = set()
        for i, c in enumerate(opts.criteria):
            if c.name in seen:
                return problem([*loc, "options", "criteria", i, "name"], "duplicate criterion")
            seen.add(c.name)
            if c.min >= c.max:
                return problem([*loc, "options", "criteria", i, "max"], "max must exceed min")
        return []

    def check_answer(self, q: QuestionSpec, value: Any, data: dict[str, Any], loc: Loc) -> Problems:
        opts = self.options(q)
        if not isinstance(value, dict):
            return problem(loc, "must be an object of criterion → score")
        names = {c.name for c in opts.criteria}
        for key in value:
            if key not in names:
                return problem([*loc, key], "unknown criterion")
        for c in opts.criteria:
            if c.name not in value:
                return problem([*loc, c.name], "missing criterion")
            v = value[c.name]
            if not is_int(v) or not c.min <= v <= c.max:
                return problem([*loc, c.name], f"must be an integer between {c.min} and {c.max}")
        return []

    def export_score_names(self, q: QuestionSpec) -> list[str]:
        return [c.name for c in self.options(q).criteria]

    def export_scores(self, q: QuestionSpec, value: Any) -> dict[str, int]:
        if not isinstance(value, dict):
            return {}
        return {name: value[name] for name in self.export_score_names(q) if is_int(value.get(name))}

    def grade(self, q: QuestionSpec, value: Any, gold: Any) -> Grade:
        """The mean of each criterion's tolerance score, over the criteria gold scores."""
        if not isinstance(value, dict) or not isinstance(gold, dict):
            return Grade(0.0, "not an object of criterion scores")
        graded = [
            (c.name, scale_grade(value.get(c.name), gold[c.name], c.min, c.max, c.tolerance))
            for c in self.options(q).criteria
            if c.name in gold
        ]
        if not graded:
            return Grade(1.0, "no criterion is graded")
        score = sum(g.score or 0.0 for _, g in graded) / len(graded)
        off = [name for name, g in graded if g.score != 1.0]
        if not off:
            return Grade(score, "every criterion within the tolerance")
        return Grade(score, f"outside the tolerance on: {', '.join(off)}")
