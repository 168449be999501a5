"""Question types: one module each, found through this registry."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from inlier.kit.errors import InvalidInput
from inlier.questions.base import (
    FieldSpec,
    Loc,
    Problems,
    QuestionKind,
    QuestionSpec,
    TemplateSpec,
    pydantic_problems,
)
from inlier.questions.label import Label
from inlier.questions.multi_label import MultiLabel
from inlier.questions.pairwise import Pairwise
from inlier.questions.ranking import Ranking
from inlier.questions.rating import Rating
from inlier.questions.rubric import Rubric
from inlier.questions.step_review import StepReview
from inlier.questions.text import Text

REGISTRY: dict[str, QuestionKind] = {
    k.type: k
    for k in (
        Label(),
        MultiLabel(),
        Rating(),
        Rubric(),
        Ranking(),
        Pairwise(),
        Text(),
        StepReview(),
    )
}

__all__ = ["REGISTRY", "FieldSpec", "QuestionSpec", "Template", "TemplateSpec", "parse_template"]


def _fail(problems: Problems) -> InvalidInput:
    first = problems[0]
    where = ".".join(str(p) for p in first["loc"])
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return InvalidInput(f"{where}: {first['msg']}{more}", errors=problems)


class Template:
    """A validated template: fields to show, questions to ask."""

    def __init__(self, spec: TemplateSpec) -> None:
        self.spec = spec
        self.fields = {f.name: f for f in spec.fields}
        self.questions = {q.name: q for q in spec.questions}
        # Fields a model fills during the task (none: the queue skips the generations table).
        self.generated = frozenset(f.name for f in spec.fields if f.generated is not None)

    def check_data(self, data: Any, loc: Loc) -> Problems:
        """An item's data: an object with every non-generated field, nothing unknown."""
        if not isinstance(data, dict):
            return [{"loc": loc, "msg": "must be an object of field → value"}]
        for key in data:
            if key not in self.fields:
                return [{"loc": [*loc, key], "msg": "unknown field"}]
        for name, f in self.fields.items():
            if f.generated is not None:
                continue
            if name not in data or data[name] is None:
                return [{"loc": [*loc, name], "msg": "field required"}]
            if not _value_fits(f.type, data[name]):
                return [{"loc": [*loc, name], "msg": f"not a valid {f.type} value"}]
        return []

    def check_answer(
        self, answer: Any, data: dict[str, Any], loc: Loc, *, partial: bool = False
    ) -> Problems:
        """An answer object; ``partial`` (gold, drafts) allows questions to be left out."""
        if not isinstance(answer, dict):
            return [{"loc": loc, "msg": "must be an object of question → answer"}]
        for key in answer:
            if key not in self.questions:
                return [{"loc": [*loc, key], "msg": "unknown question"}]
        for name, q in self.questions.items():
            value = answer.get(name)
            if value is None:
                if q.required and not partial:
                    return [{"loc": [*loc, name], "msg": "answer required"}]
                continue
            problems = REGISTRY[q.type].check_answer(q, value, data, [*loc, name])
            if problems:
                return problems
        return []

    def dump(self) -> dict[str, Any]:
        return self.spec.model_dump(mode="json", exclude_none=True, by_alias=True)


def _value_fits(field_type: str, value: Any) -> bool:
    if field_type == "steps":
        return isinstance(value, list) and all(isinstance(s, str) for s in value)
    if field_type == "chat":
        return isinstance(value, list) and all(
            isinstance(m, dict) and isinstance(m.get("content"), str) for m in value
        )
    return isinstance(value, str)


def parse_template(raw: Any, loc: Loc) -> Template:
    """Validate a template and every question's options; errors point at the exact place."""
    try:
        spec = TemplateSpec.model_validate(raw)
    except ValidationError as exc:
        raise _fail(pydantic_problems(exc, loc)) from exc
    problems: Problems = []
    names: set[str] = set()
    for i, f in enumerate(spec.fields):
        if f.name in names:
            problems.append({"loc": [*loc, "fields", i, "name"], "msg": "duplicate name"})
        names.add(f.name)
    fields = {f.name: f for f in spec.fields}
    for i, q in enumerate(spec.questions):
        qloc: Loc = [*loc, "questions", i]
        if q.name in names:
            problems.append({"loc": [*qloc, "name"], "msg": "duplicate name"})
        names.add(q.name)
        kind = REGISTRY.get(q.type)
        if kind is None:
            problems.append(
                {"loc": [*qloc, "type"], "msg": f"unknown type; one of {sorted(REGISTRY)}"}
            )
            continue
        problems.extend(kind.check_options(q, fields, qloc))
    question_order = [q.name for q in spec.questions]
    for i, f in enumerate(spec.fields):
        if f.generated is None:
            continue
        for j, src in enumerate(f.generated.from_):
            if src == f.name or (src not in fields and src not in question_order):
                problems.append(
                    {
                        "loc": [*loc, "fields", i, "generated", "from", j],
                        "msg": f"{src!r} is not another field or a question",
                    }
                )
    if problems:
        raise _fail(problems)
    return Template(spec)


def grade_answer(
    template: Template, gold: dict[str, Any], answer: dict[str, Any]
) -> tuple[list[dict[str, Any]], float | None]:
    """Each gold question graded by its type, and their mean (``None`` when none could be).

    A question left unanswered scores 0; a written answer (``text``) is graded by a person
    and left out (its ``score`` is ``None``).
    """
    questions: list[dict[str, Any]] = []
    scored: list[float] = []
    for name, expected in gold.items():
        q = template.questions.get(name)
        if q is None:
            continue
        value = answer.get(name)
        if value is None:
            score, detail = (
                (None, "pending: a reviewer grades written answers")
                if q.type == "text"
                else (0.0, "not answered")
            )
        else:
            g = REGISTRY[q.type].grade(q, value, expected)
            score, detail = g.score, g.detail
        if score is not None:
            score = min(1.0, max(0.0, float(score)))
            scored.append(score)
        questions.append({"question": name, "score": score, "detail": detail})
    return questions, (sum(scored) / len(scored) if scored else None)
