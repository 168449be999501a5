"""`text`: a free answer (markdown by default); as gold, a reference answer for graders."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from inlier.questions.base import (
    Grade,
    Loc,
    Pair,
    Problems,
    QuestionKind,
    QuestionSpec,
    Strict,
    problem,
)

MAX_TEXT = 100_000


class TextOptions(Strict):
    min_length: int | None = Field(default=None, ge=0, le=MAX_TEXT)
    max_length: int | None = Field(default=None, ge=1, le=MAX_TEXT)
    markdown: bool = True


class Text(QuestionKind):
    type = "text"
    Options = TextOptions

    def options(self, q: QuestionSpec) -> TextOptions:
        opts = TextOptions.model_validate(q.options)
        if q.min_length is not None and opts.min_length is None:
            opts.min_length = q.min_length
        if q.max_length is not None and opts.max_length is None:
            opts.max_length = q.max_length
        return opts

    def check_parsed_options(self, q: QuestionSpec, opts: Any, fields: Any, loc: Loc) -> Problems:
        if (
            opts.min_length is not None
            and opts.max_length is not None
            and opts.min_length > opts.max_length
        ):
            return problem([*loc, "options", "min_length"], "must not exceed max_length")
        return []

    def check_answer(self, q: QuestionSpec, value: Any, data: dict[str, Any], loc: Loc) -> Problems:
        opts = self.options(q)
        if not isinstance(value, str):
            return problem(loc, "must be a string")
        n = len(value.strip())
        if opts.min_length is not None and n < opts.min_length:
            return problem(loc, f"must be at least {opts.min_length} characters (got {n})")
        limit = min(opts.max_length or MAX_TEXT, MAX_TEXT)
        if len(value) > limit:
            return problem(loc, f"must be at most {limit} characters")
        return []

    def export_text(self, q: QuestionSpec, value: Any) -> str | None:
        return value if isinstance(value, str) else None

    def export_improvement(self, q: QuestionSpec, original: Any, improved: Any) -> Pair | None:
        """A reviewer's rewrite is preferred over the text they improved; an unchanged text
        states no preference."""
        if not isinstance(original, str) or not isinstance(improved, str):
            return None
        if original.strip() == improved.strip():
            return None
        return Pair(improved, original, 1.0, "improvement")

    def grade(self, q: QuestionSpec, value: Any, gold: Any) -> Grade:
        """Written answers are graded by a person against the reference (gold) answer: no
        automatic score."""
        return Grade(None, "pending: a reviewer grades written answers against the reference")
