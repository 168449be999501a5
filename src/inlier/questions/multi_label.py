"""`multi_label`: pick any number (within bounds) of a fixed set of labels."""

from __future__ import annotations

from typing import Any

from inlier.questions.base import Grade, Loc, Problems, QuestionKind, QuestionSpec, problem
from inlier.questions.label import LabelOptions


class MultiLabel(QuestionKind):
    type = "multi_label"
    Options = LabelOptions

    def check_parsed_options(self, q: QuestionSpec, opts: Any, fields: Any, loc: Loc) -> Problems:
        if opts.min is not None and opts.max is not None and opts.min > opts.max:
            return problem([*loc, "options", "min"], "min must not exceed max")
        if opts.min is not None and opts.min > len(opts.labels):
            return problem([*loc, "options", "min"], "min exceeds the number of labels")
        return []

    def check_answer(self, q: QuestionSpec, value: Any, data: dict[str, Any], loc: Loc) -> Problems:
        opts = self.options(q)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return problem(loc, "must be a list of labels")
        for i, v in enumerate(value):
            if v not in opts.labels:
                return problem([*loc, i], f"{v!r} is not one of {opts.labels}")
        if len(set(value)) != len(value):
            return problem(loc, "a label may be chosen once")
        if opts.min is not None and len(value) < opts.min:
            return problem(loc, f"choose at least {opts.min}")
        if opts.max is not None and len(value) > opts.max:
            return problem(loc, f"choose at most {opts.max}")
        return []

    def grade(self, q: QuestionSpec, value: Any, gold: Any) -> Grade:
        """Jaccard similarity of the chosen and the expected sets (both empty: 1)."""
        if not isinstance(value, list) or not isinstance(gold, list):
            return Grade(0.0, "not a list of labels")
        chosen, expected = set(map(str, value)), set(map(str, gold))
        union = chosen | expected
        score = len(chosen & expected) / len(union) if union else 1.0
        if score == 1.0:
            return Grade(1.0, "exactly the expected labels")
        missing, extra = len(expected - chosen), len(chosen - expected)
        return Grade(
            score,
            f"overlap {score:.0%}: {missing} expected label(s) missing, "
            f"{extra} chosen that were not expected",
        )
