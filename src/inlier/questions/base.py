"""The interface every question type implements, and the template shapes they plug into."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, ValidationError

from inlier.kit.fields import RequestBody

Loc = list[str | int]
Problems = list[dict[str, Any]]

FIELD_TYPES = ("text", "markdown", "chat", "steps", "code", "image_url")
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"


class Strict(RequestBody):
    """Template parts are request bodies: unknown keys and lax types are errors."""


class GeneratedSpec(Strict):
    model: str = Field(default="default", max_length=200)
    from_: list[str] = Field(default_factory=list, alias="from")
    max_regenerations: int = Field(default=3, ge=0, le=100)

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class FieldSpec(Strict):
    name: str = Field(pattern=NAME_PATTERN)
    type: Literal["text", "markdown", "chat", "steps", "code", "image_url"]
    title: str | None = Field(default=None, max_length=200)
    language: str | None = Field(default=None, max_length=40, description="for code fields")
    generated: GeneratedSpec | None = None


class QuestionSpec(Strict):
    name: str = Field(pattern=NAME_PATTERN)
    type: str = Field(max_length=40)
    title: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=100_000)
    required: bool = True
    options: dict[str, Any] = Field(default_factory=dict)
    # `text` questions may carry their length bounds at the top level too.
    min_length: int | None = Field(default=None, ge=0, le=100_000)
    max_length: int | None = Field(default=None, ge=1, le=100_000)


class TemplateSpec(Strict):
    fields: list[FieldSpec] = Field(default_factory=list, max_length=100)
    questions: list[QuestionSpec] = Field(min_length=1, max_length=100)


def pydantic_problems(exc: ValidationError, loc: Loc) -> Problems:
    out: Problems = []
    for e in exc.errors():
        msg = "unknown field" if e["type"] == "extra_forbidden" else e["msg"]
        out.append({"loc": [*loc, *e["loc"]], "msg": msg})
    return out


@dataclass(frozen=True)
class Pair:
    """One preference: ``chosen`` over ``rejected`` (texts), by ``margin``."""

    chosen: str
    rejected: str
    margin: float
    source: str  # pairwise | ranking | improvement: kept in the row's meta


@dataclass(frozen=True)
class Ranked:
    """Texts in a fixed order with their ranks (1 = best; ties share a rank)."""

    completions: list[str]
    ranks: list[int]


@dataclass(frozen=True)
class Grade:
    """How one answer compares with a gold answer: a score in 0..1, or ``None`` when a person
    must grade it (``text``), and a short explanation for the candidate that never states the
    gold answer itself."""

    score: float | None
    detail: str


@dataclass(frozen=True)
class Steps:
    """A chain of steps and a correctness label per step, as PRM trainers read them."""

    completions: list[str]
    labels: list[bool]


def field_text(value: Any) -> str | None:
    """A field's value as one text: steps joined by newlines, a chat by its contents."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(value)
    if isinstance(value, list) and all(
        isinstance(v, dict) and isinstance(v.get("content"), str) for v in value
    ):
        return "\n\n".join(v["content"] for v in value)
    return None


class QuestionKind:
    """One question type: its options, its answer shape, how answers are checked, and what an
    answer contributes to each trainer dataset (the ``export_*`` methods; by default nothing)."""

    type: ClassVar[str]
    Options: ClassVar[builtins.type[Strict]]

    def options(self, q: QuestionSpec) -> Any:
        return self.Options.model_validate(q.options)

    def check_options(self, q: QuestionSpec, fields: dict[str, FieldSpec], loc: Loc) -> Problems:
        """Problems with the question's options (loc points at the question)."""
        try:
            opts = self.options(q)
        except ValidationError as exc:
            return pydantic_problems(exc, [*loc, "options"])
        return self.check_parsed_options(q, opts, fields, loc)

    def check_parsed_options(
        self, q: QuestionSpec, opts: Any, fields: dict[str, FieldSpec], loc: Loc
    ) -> Problems:
        return []

    def check_answer(self, q: QuestionSpec, value: Any, data: dict[str, Any], loc: Loc) -> Problems:
        """Problems with one answer value; ``data`` is the item's fields."""
        raise NotImplementedError

    # ---- gold scoring (assessments, and gold items in a queue)

    def grade(self, q: QuestionSpec, value: Any, gold: Any) -> Grade:
        """Compare a (validated) answer with a (validated) gold answer. A value of an
        unexpected shape scores 0 rather than failing."""
        return Grade(None, "a reviewer grades this answer")

    def score(self, q: QuestionSpec, value: Any, gold: Any) -> float | None:
        """The answer's agreement with gold in 0..1 (``None``: a person grades it)."""
        return self.grade(q, value, gold).score

    # ---- export mapping: answers are already validated, but old rows may predate a rule, so
    # ---- a value of an unexpected shape contributes nothing rather than failing the export.

    def export_text(self, q: QuestionSpec, value: Any) -> str | None:
        """The answer as a text a model could be trained to write (SFT completions)."""
        return None

    def export_pairs(self, q: QuestionSpec, value: Any, data: dict[str, Any]) -> list[Pair]:
        """Preferences the answer states between texts of the item."""
        return []

    def export_improvement(self, q: QuestionSpec, original: Any, improved: Any) -> Pair | None:
        """A reviewer's improved answer preferred over the original one."""
        return None

    def export_ranked(self, q: QuestionSpec, value: Any, data: dict[str, Any]) -> Ranked | None:
        """The item's texts with the ranks the answer gives them."""
        return None

    def export_score_names(self, q: QuestionSpec) -> list[str]:
        """The integer scores this question exports (``ratings`` columns), in order."""
        return []

    def export_scores(self, q: QuestionSpec, value: Any) -> dict[str, int]:
        """Score name → integer, for the names of ``export_score_names``."""
        return {}

    def export_steps(
        self,
        q: QuestionSpec,
        value: Any,
        data: dict[str, Any],
        *,
        neutral_as: bool,
        rewrites: bool,
    ) -> Steps | None:
        """Step-level labels of a reasoning chain (``stepwise``)."""
        return None


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def problem(loc: Loc, msg: str) -> Problems:
    return [{"loc": loc, "msg": msg}]
