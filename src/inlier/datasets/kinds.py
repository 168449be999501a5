"""Dataset kinds: the columns of each, and how an attempt becomes rows.

Trainer kinds follow the Hugging Face TRL dataset formats (https://huggingface.co/docs/trl/
dataset_formats): ``prompt``/``completion`` (SFT), ``prompt``/``chosen``/``rejected``
(preference), ``prompt``/``completion``/``label`` (unpaired preference, KTO) and
``prompt``/``completions``/``labels`` (stepwise supervision, PRM). Each question type says what
its answers contribute (``QuestionKind.export_*``); this module only places those texts.
Everything that is not training data goes into one ``meta`` struct, so no trainer reads it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from inlier.datasets.options import Attempt, ExportOptions, pseudonym
from inlier.kit.clock import iso
from inlier.kit.errors import InvalidInput
from inlier.projects.models import Project
from inlier.projects.service import template_of
from inlier.questions import REGISTRY, Template
from inlier.questions.base import FieldSpec, Pair, QuestionKind, QuestionSpec, field_text

Row = dict[str, Any]
Text = str | list[dict[str, str]]

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
META_FIELDS: list[tuple[str, pa.DataType]] = [
    ("response_id", pa.string()),
    ("external_id", pa.string()),
    ("contributor", pa.string()),
    ("status", pa.string()),
    ("verdict", pa.string()),
    ("reviewer", pa.string()),
    ("submitted_at", pa.string()),
    ("active_seconds", pa.int64()),
    ("question", pa.string()),
    ("source", pa.string()),
]
TEXT_FIELD_TYPES = ("markdown", "text", "code")
#: Column names a trainer or our own rows use: a score column never takes one of them.
RESERVED = frozenset(
    {"id", "item_id", "meta", "split", "prompt", "response", "completion", "completions",
     "chosen", "rejected", "label", "labels", "margin", "ranks", "messages", "text",
     "input_ids", "attention_mask", "images", "image", "tools"}
)  # fmt: skip


@dataclass(frozen=True)
class Source:
    """Where a text comes from: an item field or a question's answer."""

    name: str
    field: FieldSpec | None = None
    question: QuestionSpec | None = None

    def raw(self, data: dict[str, Any], answer: dict[str, Any]) -> Any:
        return data.get(self.name) if self.field is not None else answer.get(self.name)

    def text(self, data: dict[str, Any], answer: dict[str, Any]) -> str | None:
        value = self.raw(data, answer)
        if self.question is not None:
            return REGISTRY[self.question.type].export_text(self.question, value)
        return field_text(value)


def _source(template: Template, name: str, setting: str) -> Source:
    if name in template.fields:
        return Source(name, field=template.fields[name])
    q = template.questions.get(name)
    if q is not None and REGISTRY[q.type].export_text(q, "") is not None:
        return Source(name, question=q)
    raise InvalidInput(
        f"project export.{setting}: {name!r} is not a field or a text question of the template",
        errors=[{"loc": ["project", "export", setting], "msg": "not a field or a text question"}],
    )


def _needs(kind: str, what: str, setting: str) -> InvalidInput:
    return InvalidInput(
        f"kind: {kind} needs {what}; set the project's export.{setting}",
        errors=[{"loc": ["query", "kind"], "msg": f"this project has no {what}"}],
    )


class Shape:
    """One kind: its typed columns and the rows one attempt gives."""

    kind: ClassVar[str]
    #: Columns written as JSON text in CSV, Parquet and HF (objects of no fixed shape).
    json_columns: ClassVar[tuple[str, ...]] = ()
    needs_data: ClassVar[bool] = True

    def __init__(self, project: Project, opts: ExportOptions) -> None:
        self.project = project
        self.opts = opts
        self.template = template_of(project)
        self.mapping = project.export or {}

    # ---- the schema ----------------------------------------------------------------------

    def columns(self) -> list[tuple[str, pa.DataType]]:
        raise NotImplementedError

    def meta_fields(self) -> list[tuple[str, pa.DataType]]:
        return META_FIELDS

    def schema(self) -> pa.Schema:
        cols = self.columns()
        if self.opts.split is not None:
            cols = [*cols, ("split", pa.string())]
        return pa.schema(cols)

    def rows(self, a: Attempt) -> list[Row]:
        raise NotImplementedError

    # ---- helpers for trainer kinds -------------------------------------------------------

    def text_type(self) -> pa.DataType:
        return pa.list_(MESSAGE) if self.opts.form == "conversational" else pa.string()

    def head(self) -> list[tuple[str, pa.DataType]]:
        return [("id", pa.string()), ("item_id", pa.string())]

    def meta_type(self) -> pa.DataType:
        return pa.struct(self.meta_fields())

    def prompt_source(self) -> Source:
        name = self.mapping.get("prompt")
        if name:
            return _source(self.template, name, "prompt")
        if "prompt" in self.template.fields or "prompt" in self.template.questions:
            return _source(self.template, "prompt", "prompt")
        for f in self.template.spec.fields:
            if f.type in ("markdown", "text") and f.generated is None:
                return Source(f.name, field=f)
        raise _needs(self.kind, "a prompt", "prompt")

    def prompt(self, src: Source, a: Attempt) -> Text | None:
        """Standard: the prompt's text. Conversational: its messages, ending with a user turn
        (a chat field is cut after its last user message; other texts become one user turn)."""
        value = src.raw(a.data, a.answer)
        if (
            self.opts.form == "conversational"
            and src.field is not None
            and src.field.type == "chat"
        ):
            if not isinstance(value, list):
                return None
            messages = [
                {"role": str(m.get("role") or "user"), "content": m["content"]}
                for m in value
                if isinstance(m, dict) and isinstance(m.get("content"), str)
            ]
            last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=-1)
            return messages[: last_user + 1] or None
        text = src.text(a.data, a.answer)
        if text is None:
            return None
        if self.opts.form == "conversational":
            return [{"role": "user", "content": text}]
        return text

    def completion(self, text: str) -> Text:
        """Conversational: the assistant turn only. Standard: the text with its separator (a
        space unless it starts with whitespace), as TRL concatenates prompt and completion."""
        if self.opts.form == "conversational":
            return [{"role": "assistant", "content": text}]
        return text if text[:1].isspace() else " " + text

    def meta(self, a: Attempt, question: str | None, source: str | None, **extra: Any) -> Row:
        r, rv = a.response, a.review
        return {
            "response_id": str(r.id),
            "external_id": a.external_id,
            "contributor": pseudonym(self.project, r.user_id),
            "status": r.status,
            "verdict": rv.verdict if rv else None,
            "reviewer": pseudonym(self.project, rv.user_id) if rv else None,
            "submitted_at": iso(r.created_at),
            "active_seconds": r.active_seconds,
            "question": question,
            "source": source,
            **extra,
        }

    def row(self, a: Attempt, n: int, question: str, values: Row, meta: Row) -> Row:
        """``id`` is unique in the file: the response, the question and the row's number."""
        out: Row = {"id": f"{a.response.id}-{question}-{n}", "item_id": str(a.response.item_id)}
        out.update(values)
        out["meta"] = meta
        if a.split is not None:
            out["split"] = a.split
        return out

    def questions_with(self, method: str) -> list[QuestionSpec]:
        """The template's questions whose type overrides one of the ``export_*`` methods."""
        base = getattr(QuestionKind, method)
        return [
            q
            for q in self.template.spec.questions
            if getattr(type(REGISTRY[q.type]), method) is not base
        ]


class Raw(Shape):
    """Every attempt as it was: answer, review, pseudonymous people, timings, provenance."""

    kind = "raw"
    json_columns = ("answer", "reviewed_answer")
    needs_data = False

    def __init__(self, project: Project, opts: ExportOptions) -> None:
        # Raw needs no template: it reads answers as they are stored.
        self.project = project
        self.opts = opts

    def columns(self) -> list[tuple[str, pa.DataType]]:
        s, i64 = pa.string(), pa.int64()
        return [
            ("response_id", s), ("item_id", s), ("external_id", s), ("stage", s),
            ("contributor", s), ("answer", s), ("status", s), ("verdict", s), ("reviewer", s),
            ("feedback", s), ("reviewed_answer", s), ("active_seconds", i64),
            ("submitted_at", s), ("generation_ids", pa.list_(s)),
        ]  # fmt: skip

    def rows(self, a: Attempt) -> list[Row]:
        r, rv = a.response, a.review
        row: Row = {
            "response_id": str(r.id),
            "item_id": str(r.item_id),
            "external_id": a.external_id,
            "stage": r.stage,
            "contributor": pseudonym(self.project, r.user_id),
            "answer": a.answer,
            "status": r.status,
            "verdict": rv.verdict if rv else None,
            "reviewer": pseudonym(self.project, rv.user_id) if rv else None,
            "feedback": rv.feedback if rv else None,
            "reviewed_answer": a.improved,
            "active_seconds": r.active_seconds,
            "submitted_at": iso(r.created_at),
            "generation_ids": r.generation_ids or [],
        }
        if a.split is not None:
            row["split"] = a.split
        return [row]

    def table(self, cols: RawColumns, split: list[str] | None = None) -> pa.Table:
        """The rows of a batch of attempts as Arrow columns, equal to ``rows`` written by
        ``to_table``, built a column at a time: the stored JSON text of the answers is kept as
        it is (see ``stored_json``) and the rest converted by Arrow, not row by row."""
        n = len(cols.id)
        names: dict[int | None, str | None] = {None: None}
        for u in {*cols.user_id, *cols.rv_user_id} - names.keys():
            names[u] = pseudonym(self.project, u)
        approved = self.opts.status == "approved"
        answers: list[str | None] = []
        reviewed: list[str | None] = []
        for answer, verdict, rv_answer in zip(
            cols.answer, cols.verdict, cols.rv_answer, strict=True
        ):
            improved = stored_json(rv_answer) if verdict == "improve" else None
            reviewed.append(improved)
            # As ``attempts`` chooses: an empty answer is {}, an empty revision not taken.
            if approved and improved is not None and not empty_json(improved):
                answers.append(improved)
            elif answer is not None and answer[:2] == '{"' and "\\u" not in answer:
                answers.append(answer)  # an object with keys, as json.dumps writes it
            else:
                text = stored_json(answer)
                answers.append("{}" if text is None or empty_json(text) else text)
        s = pa.string()
        columns = {
            "response_id": pa.array(cols.id, pa.int64()).cast(s),
            "item_id": pa.array(cols.item_id, pa.int64()).cast(s),
            "external_id": pa.array(cols.external_id, s),
            "stage": pa.array(cols.stage, s),
            "contributor": pa.array([names[u] for u in cols.user_id], s),
            "answer": pa.array(answers, s),
            "status": pa.array(cols.status, s),
            "verdict": pa.array(cols.verdict, s),
            "reviewer": pa.array([names[u] for u in cols.rv_user_id], s),
            "feedback": pa.array(cols.feedback, s),
            "reviewed_answer": pa.array(reviewed, s),
            "active_seconds": pa.array(cols.active_seconds, pa.int64()),
            "submitted_at": iso_column(cols.created_at),
            "generation_ids": pa.array(
                [json.loads(g) or [] if g is not None else [] for g in cols.generation_ids],
                pa.list_(s),
            ),
        }
        if split is not None:
            columns["split"] = pa.array(split, s)
        assert all(len(c) == n for c in columns.values())
        return pa.table(columns, schema=self.schema())


@dataclass(frozen=True, slots=True)
class RawColumns:
    """A batch of attempts as ``raw`` reads them: one sequence per column, JSON as stored text
    and ``created_at`` as a datetime or SQLite's stored text."""

    id: Sequence[int]
    item_id: Sequence[int]
    external_id: Sequence[str | None]
    stage: Sequence[str]
    user_id: Sequence[int]
    answer: Sequence[str | None]
    status: Sequence[str]
    verdict: Sequence[str | None]
    rv_user_id: Sequence[int | None]
    feedback: Sequence[str | None]
    rv_answer: Sequence[str | None]
    active_seconds: Sequence[int]
    created_at: Sequence[Any]
    generation_ids: Sequence[str | None]


def stored_json(text: str | None) -> str | None:
    """Stored JSON text as ``json_text`` would write its value, decoding only when they could
    differ. Objects and arrays pass through: the stored text is what ``json.dumps`` wrote (on
    SQLite) or PostgreSQL's normalized jsonb text, both with ``json.dumps``'s separators, key
    order and escapes, except that ``json.dumps`` escaped non-ASCII as \\uXXXX on SQLite,
    which our text keeps as the characters. (Numbers PostgreSQL normalized, such as 1e-05 as
    0.00001, pass through as PostgreSQL wrote them: the same number.)"""
    if text is None:
        return None
    if "\\u" in text or text[:1] not in ("{", "["):
        return json_text(json.loads(text))
    return text


def empty_json(text: str) -> bool:
    """Whether JSON text is a false value (``{}``, ``[]``, ``null``, ``0``, …) without decoding
    a non-empty object or array."""
    t = text.strip()
    if t[:1] in ("{", "["):
        return t[1:].lstrip()[:1] in ("}", "]")
    return not json.loads(t)


def iso_column(values: Sequence[Any]) -> pa.Array:
    """``iso`` over a column: RFC 3339 UTC to the millisecond (cut, not rounded). Values are
    naive UTC datetimes, or their text as SQLAlchemy stores them in SQLite."""
    ts = pa.array(values)
    if not pa.types.is_timestamp(ts.type):
        ts = ts.cast(pa.timestamp("us"))
    ms = pc.floor_temporal(ts, unit="millisecond").cast(pa.timestamp("ms"))
    # Arrow writes a millisecond timestamp as "2026-11-20 12:00:00.000" (strftime is ten
    # times slower): a T for the space and a Z make it RFC 3339.
    text = pc.replace_substring(ms.cast(pa.string()), " ", "T", max_replacements=1)
    return pc.binary_join_element_wise(text, "Z", "")


class Sft(Shape):
    """``prompt`` and ``completion``: the expert's answer (or the mapped field) to the prompt."""

    kind = "sft"

    def __init__(self, project: Project, opts: ExportOptions) -> None:
        super().__init__(project, opts)
        self.prompt_src = self.prompt_source()
        self.completion_src = completion_source(self)

    def columns(self) -> list[tuple[str, pa.DataType]]:
        t = self.text_type()
        return [*self.head(), ("prompt", t), ("completion", t), ("meta", self.meta_type())]

    def rows(self, a: Attempt) -> list[Row]:
        prompt = self.prompt(self.prompt_src, a)
        text = self.completion_src.text(a.data, a.answer)
        if prompt is None or text is None:
            return []
        name = self.completion_src.name
        values = {"prompt": prompt, "completion": self.completion(text)}
        return [self.row(a, 0, name, values, self.meta(a, name, "answer"))]


def completion_source(shape: Shape) -> Source:
    """``export.completion``, else the question or field named ``completion``, else the first
    text question that is not the prompt (the expert's written answer)."""
    name = shape.mapping.get("completion")
    if name:
        return _source(shape.template, name, "completion")
    t = shape.template
    if "completion" in t.fields or "completion" in t.questions:
        return _source(t, "completion", "completion")
    prompt = shape.mapping.get("prompt") or "prompt"
    for q in t.spec.questions:
        if q.type == "text" and q.name != prompt:
            return Source(q.name, question=q)
    raise _needs(shape.kind, "a completion (a text question)", "completion")


class Preference(Shape):
    """``prompt``, ``chosen``, ``rejected`` and ``margin``, from pairwise answers (ties give no
    row), rankings (every pair of different ranks) and improvements (the rewrite over the
    original: a reviewer's improved completion, an expert's corrected reasoning chain)."""

    kind = "preference"

    def __init__(self, project: Project, opts: ExportOptions) -> None:
        super().__init__(project, opts)
        self.prompt_src = self.prompt_source()
        self.stating = self.questions_with("export_pairs")
        try:
            self.completion_src: Source | None = completion_source(self)
        except InvalidInput:
            self.completion_src = None
        if not self.stating and self.completion_src is None:
            raise _needs(
                self.kind, "a pairwise, ranking, step_review or text question", "completion"
            )

    def columns(self) -> list[tuple[str, pa.DataType]]:
        t = self.text_type()
        return [
            *self.head(),
            ("prompt", t),
            ("chosen", t),
            ("rejected", t),
            ("margin", pa.float64()),
            ("meta", self.meta_type()),
        ]

    def pairs(self, a: Attempt) -> list[tuple[str, Pair]]:
        """(question, pair) for everything the attempt prefers, in template order."""
        out: list[tuple[str, Pair]] = []
        for q in self.stating:
            value = a.answer.get(q.name)
            if value is not None:
                out.extend((q.name, p) for p in REGISTRY[q.type].export_pairs(q, value, a.data))
        improved, src = a.improved, self.completion_src
        if improved is not None and src is not None and src.question is not None:
            q = src.question
            original = (a.response.answer or {}).get(q.name)
            pair = REGISTRY[q.type].export_improvement(q, original, improved.get(q.name))
            if pair is not None:
                out.append((q.name, pair))
        return out

    def rows(self, a: Attempt) -> list[Row]:
        prompt = self.prompt(self.prompt_src, a)
        if prompt is None:
            return []
        rows: list[Row] = []
        for n, (question, p) in enumerate(self.pairs(a)):
            values = {
                "prompt": prompt,
                "chosen": self.completion(p.chosen),
                "rejected": self.completion(p.rejected),
                "margin": p.margin,
            }
            rows.append(self.row(a, n, question, values, self.meta(a, question, p.source)))
        return rows


class Kto(Preference):
    """``prompt``, ``completion``, ``label``: each preference pair unpaired, chosen → true and
    rejected → false (a text that is in several pairs of one answer appears once per label)."""

    kind = "kto"

    def columns(self) -> list[tuple[str, pa.DataType]]:
        t = self.text_type()
        return [
            *self.head(),
            ("prompt", t),
            ("completion", t),
            ("label", pa.bool_()),
            ("meta", self.meta_type()),
        ]

    def rows(self, a: Attempt) -> list[Row]:
        prompt = self.prompt(self.prompt_src, a)
        if prompt is None:
            return []
        rows: list[Row] = []
        seen: set[tuple[str, str, bool]] = set()
        for question, p in self.pairs(a):
            for text, label in ((p.chosen, True), (p.rejected, False)):
                if (question, text, label) in seen:
                    continue
                seen.add((question, text, label))
                values = {"prompt": prompt, "completion": self.completion(text), "label": label}
                meta = self.meta(a, question, p.source)
                rows.append(self.row(a, len(rows), question, values, meta))
        return rows


class Ranking(Shape):
    """``prompt``, ``completions`` and ``ranks`` (1 = best; ties share a rank), one row per
    ranking or pairwise answer, completions in the order the question lists them."""

    kind = "ranking"

    def __init__(self, project: Project, opts: ExportOptions) -> None:
        super().__init__(project, opts)
        self.prompt_src = self.prompt_source()
        self.ranking = self.questions_with("export_ranked")
        if not self.ranking:
            raise _needs(self.kind, "a ranking or pairwise question", "prompt")

    def columns(self) -> list[tuple[str, pa.DataType]]:
        return [
            *self.head(),
            ("prompt", self.text_type()),
            ("completions", pa.list_(self.text_type())),
            ("ranks", pa.list_(pa.int64())),
            ("meta", self.meta_type()),
        ]

    def rows(self, a: Attempt) -> list[Row]:
        prompt = self.prompt(self.prompt_src, a)
        if prompt is None:
            return []
        rows: list[Row] = []
        for q in self.ranking:
            value = a.answer.get(q.name)
            ranked = REGISTRY[q.type].export_ranked(q, value, a.data) if value is not None else None
            if ranked is None:
                continue
            values = {
                "prompt": prompt,
                "completions": [self.completion(c) for c in ranked.completions],
                "ranks": ranked.ranks,
            }
            rows.append(self.row(a, len(rows), q.name, values, self.meta(a, q.name, q.type)))
        return rows


class Ratings(Shape):
    """``prompt``, ``response`` and one integer column per rating or rubric criterion, named by
    the criterion (HelpSteer-style); a name two questions share gets the question's name as a
    prefix, as does one that would clash with a column a trainer reads."""

    kind = "ratings"

    def __init__(self, project: Project, opts: ExportOptions) -> None:
        super().__init__(project, opts)
        self.prompt_src = self.prompt_source()
        self.response_src = self._response_source()
        scored = self.questions_with("export_scores")
        names = [(q, n) for q in scored for n in REGISTRY[q.type].export_score_names(q)]
        if not names:
            raise _needs(self.kind, "a rating or rubric question", "completion")
        counts: dict[str, int] = {}
        for _, n in names:
            counts[n] = counts.get(n, 0) + 1
        self.score_columns: list[tuple[QuestionSpec, str, str]] = [
            (q, n, n if counts[n] == 1 and n not in RESERVED else f"{q.name}_{n}") for q, n in names
        ]

    def _response_source(self) -> Source:
        """What was rated: ``export.completion`` when it names a field, else the first text
        field that is not the prompt, else the completion an expert wrote."""
        name = self.mapping.get("completion")
        if name and name in self.template.fields:
            return _source(self.template, name, "completion")
        for f in self.template.spec.fields:
            if f.type in TEXT_FIELD_TYPES and f.name != self.prompt_src.name:
                return Source(f.name, field=f)
        return completion_source(self)

    def columns(self) -> list[tuple[str, pa.DataType]]:
        t = self.text_type()
        scores = [(col, pa.int64()) for _, _, col in self.score_columns]
        return [*self.head(), ("prompt", t), ("response", t), *scores, ("meta", self.meta_type())]

    def rows(self, a: Attempt) -> list[Row]:
        prompt = self.prompt(self.prompt_src, a)
        response = self.response_src.text(a.data, a.answer)
        if prompt is None or response is None:
            return []
        values: Row = {"prompt": prompt, "response": response}
        if self.opts.form == "conversational":
            values["response"] = self.completion(response)
        any_score = False
        for q, n, col in self.score_columns:
            value = a.answer.get(q.name)
            score = REGISTRY[q.type].export_scores(q, value).get(n) if value is not None else None
            values[col] = score
            any_score = any_score or score is not None
        if not any_score:
            return []
        return [self.row(a, 0, self.response_src.name, values, self.meta(a, None, "ratings"))]


class Stepwise(Shape):
    """``prompt`` (str), ``completions`` (one str per step), ``labels`` (one bool per step), as
    TRL's PRM trainer reads them; standard form only."""

    kind = "stepwise"

    def __init__(self, project: Project, opts: ExportOptions) -> None:
        super().__init__(project, opts)
        self.prompt_src = self.prompt_source()
        self.reviewed = self.questions_with("export_steps")
        if not self.reviewed:
            raise _needs(self.kind, "a step_review question", "prompt")

    def meta_fields(self) -> list[tuple[str, pa.DataType]]:
        return [*META_FIELDS, ("final_answer_correct", pa.bool_())]

    def columns(self) -> list[tuple[str, pa.DataType]]:
        return [
            *self.head(),
            ("prompt", pa.string()),
            ("completions", pa.list_(pa.string())),
            ("labels", pa.list_(pa.bool_())),
            ("meta", self.meta_type()),
        ]

    def rows(self, a: Attempt) -> list[Row]:
        prompt = self.prompt(self.prompt_src, a)
        if prompt is None:
            return []
        rows: list[Row] = []
        for q in self.reviewed:
            value = a.answer.get(q.name)
            if value is None:
                continue
            steps = REGISTRY[q.type].export_steps(
                q, value, a.data, neutral_as=self.opts.neutral_as, rewrites=self.opts.rewrites
            )
            if steps is None:
                continue
            final = value.get("final_answer_correct") if isinstance(value, dict) else None
            meta = self.meta(
                a,
                q.name,
                "rewrites" if self.opts.rewrites else "labels",
                final_answer_correct=final if isinstance(final, bool) else None,
            )
            values = {"prompt": prompt, "completions": steps.completions, "labels": steps.labels}
            rows.append(self.row(a, len(rows), q.name, values, meta))
        return rows


SHAPES: dict[str, type[Shape]] = {
    s.kind: s for s in (Raw, Sft, Preference, Kto, Ranking, Ratings, Stepwise)
}


def shape_for(project: Project, opts: ExportOptions) -> Shape:
    """The kind's shape for this project; a kind the template cannot fill is a 422."""
    return SHAPES[opts.kind](project, opts)


def json_text(value: Any) -> str | None:
    """Objects of no fixed shape (answers) as JSON text in columnar formats."""
    return None if value is None else json.dumps(value, ensure_ascii=False)
