"""`pairwise`: which of two fields is better, and by how much."""

from __future__ import annotations

from typing import Any

from inlier.questions.base import Loc, Problems, QuestionKind, QuestionSpec, Strict, is_int, problem


class PairwiseOptions(Strict):
    left: str
    right: str
    allow_tie: bool = True


class Pairwise(QuestionKind):
    type = "pairwise"
    Options = PairwiseOptions

    def check_parsed_options(self, q: QuestionSpec, opts: Any, fields: Any, loc: Loc) -> Problems:
        for side in ("left", "right"):
            if getattr(opts, side) not in fields:
                return problem([*loc, "options", side], f"no field named {getattr(opts, side)!r}")
        if opts.left == opts.right:
            return problem([*loc, "options", "right"], "left and right must differ")
        return []

    def check_answer(self, q: QuestionSpec, value: Any, data: dict[str, Any], loc: Loc) -> Problems:
        opts = self.options(q)
        if not isinstance(value, dict):
            return problem(loc, 'must be {"choice": "left"|"right"|"tie", "strength": 1..3}')
        for key in value:
            if key not in ("choice", "strength"):
                return problem([*loc, key], "unknown field")
        choice = value.get("choice")
        if choice not in ("left", "right", "tie"):
            return problem([*loc, "choice"], 'must be "left", "right" or "tie"')
        if choice == "tie" and not opts.allow_tie:
            return problem([*loc, "choice"], "ties are not allowed")
        strength = value.get("strength")
        if strength is None:
            if choice != "tie":
                return problem([*loc, "strength"], "required unless the choice is a tie")
        elif not is_int(strength) or not 1 <= strength <= 3:
            return problem([*loc, "strength"], "must be an integer 1..3")
        return []
