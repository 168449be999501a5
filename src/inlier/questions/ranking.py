"""`ranking`: order several fields best first; ties are nested lists where allowed."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from inlier.questions.base import (
    Loc,
    Pair,
    Problems,
    QuestionKind,
    QuestionSpec,
    Ranked,
    Strict,
    field_text,
    problem,
)


class RankingOptions(Strict):
    fields: list[str] = Field(min_length=2, max_length=50)
    allow_ties: bool = False


class Ranking(QuestionKind):
    type = "ranking"
    Options = RankingOptions

    def check_parsed_options(self, q: QuestionSpec, opts: Any, fields: Any, loc: Loc) -> Problems:
        if len(set(opts.fields)) != len(opts.fields):
            return problem([*loc, "options", "fields"], "fields must be distinct")
        for i, f in enumerate(opts.fields):
            if f not in fields:
                return problem([*loc, "options", "fields", i], f"no field named {f!r}")
        return []

    def check_answer(self, q: QuestionSpec, value: Any, data: dict[str, Any], loc: Loc) -> Problems:
        opts = self.options(q)
        if not isinstance(value, list) or not value:
            return problem(loc, "must be a list of field names, best first")
        seen: list[str] = []
        for i, entry in enumerate(value):
            group = entry if isinstance(entry, list) else [entry]
            if isinstance(entry, list) and (not opts.allow_ties or not entry):
                return problem([*loc, i], "ties are not allowed" if entry else "empty tie")
            for name in group:
                if not isinstance(name, str) or name not in opts.fields:
                    return problem([*loc, i], f"{name!r} is not one of {opts.fields}")
                seen.append(name)
        if sorted(seen) != sorted(opts.fields):
            return problem(loc, f"rank each of {opts.fields} exactly once")
        return []

    def export_ranked(self, q: QuestionSpec, value: Any, data: dict[str, Any]) -> Ranked | None:
        """The ranked fields in the order the options list them, with their ranks."""
        opts = self.options(q)
        if not isinstance(value, list):
            return None
        by_field = ranks(value)
        texts = [field_text(data.get(f)) for f in opts.fields]
        if any(t is None for t in texts) or any(f not in by_field for f in opts.fields):
            return None
        return Ranked([t for t in texts if t is not None], [by_field[f] for f in opts.fields])

    def export_pairs(self, q: QuestionSpec, value: Any, data: dict[str, Any]) -> list[Pair]:
        """Every pair of different ranks, the better one chosen; the margin is the rank
        distance, so a first-over-last pair weighs more than neighbours."""
        ranked = self.export_ranked(q, value, data)
        if ranked is None:
            return []
        order = sorted(range(len(ranked.ranks)), key=lambda i: ranked.ranks[i])
        pairs = []
        for a_pos, a in enumerate(order):
            for b in order[a_pos + 1 :]:
                distance = ranked.ranks[b] - ranked.ranks[a]
                if distance > 0:
                    pairs.append(
                        Pair(
                            ranked.completions[a], ranked.completions[b], float(distance), "ranking"
                        )
                    )
        return pairs


def ranks(answer: list[Any]) -> dict[str, int]:
    """Field → rank (1 = best; tied fields share a rank)."""
    out: dict[str, int] = {}
    rank = 1
    for entry in answer:
        group = entry if isinstance(entry, list) else [entry]
        for name in group:
            out[name] = rank
        rank += len(group)
    return out
