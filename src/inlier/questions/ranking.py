"""`ranking`: order several fields best first; ties are nested lists where allowed."""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any

from pydantic import Field

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

    def grade(self, q: QuestionSpec, value: Any, gold: Any) -> Grade:
        """Kendall's tau-b between the two orders, mapped from -1..1 to 0..1."""
        if not isinstance(value, list) or not isinstance(gold, list):
            return Grade(0.0, "not a ranking")
        try:
            tau = kendall_tau(ranks(value), ranks(gold))
        except TypeError:
            return Grade(0.0, "not a ranking")
        score = (tau + 1) / 2
        if score == 1.0:
            return Grade(1.0, "the expected order")
        return Grade(score, f"the order agrees with the expected one at tau = {tau:.2f}")


def kendall_tau(a: dict[str, int], b: dict[str, int]) -> float:
    """Kendall's tau-b over the keys both rank: 1 for the same order, -1 for the reverse.

    Tied pairs count as ties (tau-b); when one side ties everything the order says nothing,
    and tau is 0 unless the two are the same.
    """
    keys = sorted(set(a) & set(b))
    if all(a[k] == b[k] for k in keys) or len(keys) < 2:
        return 1.0
    concordant = discordant = ties_a = ties_b = pairs = 0
    for x, y in combinations(keys, 2):
        pairs += 1
        da, db = a[x] - a[y], b[x] - b[y]
        if da == 0:
            ties_a += 1
        if db == 0:
            ties_b += 1
        if da * db > 0:
            concordant += 1
        elif da * db < 0:
            discordant += 1
    denominator = math.sqrt((pairs - ties_a) * (pairs - ties_b))
    if denominator == 0:
        return 0.0
    return max(-1.0, min(1.0, (concordant - discordant) / denominator))


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
