"""`pairwise`: which of two fields is better, and by how much."""

from __future__ import annotations

from typing import Any

from inlier.questions.base import (
    Grade,
    Loc,
    Pair,
    Problems,
    QuestionKind,
    QuestionSpec,
    Ranked,
    Strict,
    field_text,
    is_int,
    problem,
)


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

    def _sides(self, q: QuestionSpec, data: dict[str, Any]) -> tuple[str, str] | None:
        opts = self.options(q)
        left, right = field_text(data.get(opts.left)), field_text(data.get(opts.right))
        return (left, right) if left is not None and right is not None else None

    def export_pairs(self, q: QuestionSpec, value: Any, data: dict[str, Any]) -> list[Pair]:
        """The chosen side over the other, by the strength given; a tie states no preference."""
        sides = self._sides(q, data)
        if sides is None or not isinstance(value, dict) or value.get("choice") not in SIDES:
            return []
        left, right = sides
        chosen, rejected = (left, right) if value["choice"] == "left" else (right, left)
        strength = value.get("strength")
        margin = float(strength) if isinstance(strength, int) else 1.0
        return [Pair(chosen, rejected, margin, "pairwise")]

    def export_ranked(self, q: QuestionSpec, value: Any, data: dict[str, Any]) -> Ranked | None:
        sides = self._sides(q, data)
        if sides is None or not isinstance(value, dict):
            return None
        ranks = {"left": [1, 2], "right": [2, 1], "tie": [1, 1]}.get(value.get("choice", ""))
        return Ranked(list(sides), ranks) if ranks else None

    def grade(self, q: QuestionSpec, value: Any, gold: Any) -> Grade:
        """The choice (left, right or tie) must match; the strength is not graded."""
        choice = value.get("choice") if isinstance(value, dict) else None
        expected = gold.get("choice") if isinstance(gold, dict) else None
        if choice is not None and choice == expected:
            return Grade(1.0, "the expected preference")
        return Grade(0.0, "not the expected preference")


SIDES = ("left", "right")
