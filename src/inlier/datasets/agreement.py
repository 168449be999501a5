"""Agreement: Krippendorff's alpha per question, and each contributor's agreement with the
per-item majority.

Attempts that were not rejected are read in keyset batches (short transactions); only each
attempt's values for the scored questions are kept, grouped by item, so memory grows with the
number of answers to score, never with the size of items or whole answers.

Alpha is computed from the coincidence matrix (Krippendorff 2011, "Computing Krippendorff's
alpha-reliability"), over items with at least two values:

- ``label``: nominal; ``pairwise``: nominal on ``choice``; ``multi_label``: each label is its
  own nominal chosen/not-chosen question, the units pooled;
- ``rating``: interval; ``rubric``: ordinal per criterion, the criteria's alphas averaged;
- ``text``, ``ranking``, ``step_review``: ``null`` with method ``"unsupported"`` (free text
  has no distance; rankings and step chains need a different model).

The project's alpha is the questions' alphas averaged, weighted by their items.

A contributor's ``accuracy`` is the share of their nominal values (label, pairwise choice,
multi_label per label) that equal the strict majority of the item's values (items without
a strict majority, or with one value, do not count); ``n`` is how many counted.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Hashable, Sequence
from typing import Any

from sqlalchemy import select

from inlier.datasets.options import pseudonym
from inlier.db.engine import Database
from inlier.projects.models import Project
from inlier.projects.service import template_of
from inlier.questions import REGISTRY
from inlier.workflow.models import Response

NOMINAL, ORDINAL, INTERVAL = "nominal", "ordinal", "interval"
UNSUPPORTED = "unsupported"

#: unit → [(coder, value)]
Units = dict[Hashable, list[tuple[int, Any]]]


def alpha(units: Units, method: str) -> float | None:
    """Krippendorff's alpha; ``None`` when no unit has two values or every value is the same
    (no variation: expected disagreement is 0 and alpha is undefined)."""
    values = [[v for _, v in vs] for vs in units.values() if len(vs) >= 2]
    if not values:
        return None
    domain = sorted({v for vs in values for v in vs})
    index = {v: i for i, v in enumerate(domain)}
    size = len(domain)
    o = [[0.0] * size for _ in range(size)]
    for vs in values:
        m = len(vs)
        counts = Counter(index[v] for v in vs)
        for c, nc in counts.items():
            for k, nk in counts.items():
                pairs = nc * (nk - (1 if c == k else 0))
                o[c][k] += pairs / (m - 1)
    n_c = [sum(row) for row in o]
    n = sum(n_c)
    if n <= 1:
        return None

    def delta2(c: int, k: int) -> float:
        if method == NOMINAL:
            return 0.0 if c == k else 1.0
        if method == INTERVAL:
            return float(domain[c] - domain[k]) ** 2
        lo, hi = min(c, k), max(c, k)  # ordinal
        return (sum(n_c[lo : hi + 1]) - (n_c[c] + n_c[k]) / 2) ** 2

    d_o = sum(o[c][k] * delta2(c, k) for c in range(size) for k in range(size))
    d_e = sum(n_c[c] * n_c[k] * delta2(c, k) for c in range(size) for k in range(size))
    if d_e == 0:
        return None
    return 1.0 - (n - 1) * d_o / d_e


def majority(values: Sequence[Any]) -> Any:
    """The value more than half of ``values`` hold, else ``None``."""
    value, count = Counter(values).most_common(1)[0]
    return value if count * 2 > len(values) else None


class _Question:
    def __init__(self, name: str, type: str, options: Any) -> None:
        self.name, self.type = name, type
        self.units: dict[str, Units] = defaultdict(lambda: defaultdict(list))
        if type in ("label", "pairwise", "multi_label"):
            self.method = NOMINAL
        elif type == "rating":
            self.method = INTERVAL
        elif type == "rubric":
            self.method = ORDINAL
        else:
            self.method = UNSUPPORTED
        self.labels: list[str] = list(getattr(options, "labels", []) or [])

    def add(self, item_id: int, coder: int, value: Any) -> None:
        """Put the answer's values in their units, per sub-question ("" for the question)."""
        if value is None:
            return
        if self.type == "label" and isinstance(value, str):
            self.units[""][item_id].append((coder, value))
        elif self.type == "pairwise" and isinstance(value, dict) and "choice" in value:
            self.units[""][item_id].append((coder, value["choice"]))
        elif self.type == "multi_label" and isinstance(value, list):
            for label in self.labels:
                self.units[""][(item_id, label)].append((coder, label in value))
        elif self.type == "rating" and isinstance(value, int | float):
            self.units[""][item_id].append((coder, value))
        elif self.type == "rubric" and isinstance(value, dict):
            for criterion, score in value.items():
                if isinstance(score, int | float):
                    self.units[criterion][item_id].append((coder, score))

    def result(self) -> dict[str, Any]:
        items = len({_item(u) for us in self.units.values() for u, v in us.items() if len(v) > 1})
        if self.method == UNSUPPORTED:
            return {"alpha": None, "method": UNSUPPORTED, "items": items}
        alphas = [a for us in self.units.values() if (a := alpha(us, self.method)) is not None]
        value = sum(alphas) / len(alphas) if alphas else None
        return {"alpha": value, "method": self.method, "items": items}


def _item(unit: Hashable) -> Any:
    return unit[0] if isinstance(unit, tuple) else unit


async def attempt_answers(
    db: Database, project_id: int, batch: int = 1000
) -> AsyncIterator[tuple[int, int, dict[str, Any] | None]]:
    """``(item id, user id, answer)`` of every attempt not rejected, in keyset batches, each
    read in its own short transaction (what agreement and consensus are computed from)."""
    after = 0
    while True:
        q = (
            select(Response.id, Response.item_id, Response.user_id, Response.answer)
            .where(
                Response.project_id == project_id,
                Response.stage == "attempt",
                Response.status != "rejected",
                Response.id > after,
            )
            .order_by(Response.id)
            .limit(batch)
        )
        async with db.sessions() as s:
            rows = (await s.execute(q)).all()
        if not rows:
            return
        for _id, item_id, user_id, answer in rows:
            yield item_id, user_id, answer
        after = rows[-1][0]


async def agreement(db: Database, project: Project, batch: int = 1000) -> dict[str, Any]:
    template = template_of(project)
    questions = {
        name: _Question(name, q.type, REGISTRY[q.type].options(q))
        for name, q in template.questions.items()
    }
    async for item_id, user_id, answer in attempt_answers(db, project.id, batch):
        for name, question in questions.items():
            question.add(item_id, user_id, (answer or {}).get(name))
    hits: Counter[int] = Counter()
    seen: Counter[int] = Counter()
    for question in questions.values():
        if question.method != NOMINAL:
            continue
        for units in question.units.values():
            for values in units.values():
                if len(values) < 2:
                    continue
                top = majority([v for _, v in values])
                if top is None:
                    continue
                for coder, v in values:
                    seen[coder] += 1
                    hits[coder] += v == top
    contributors = [
        {"pseudonym": pseudonym(project, coder), "accuracy": hits[coder] / n, "n": n}
        for coder, n in sorted(seen.items())
    ]
    contributors.sort(key=lambda c: str(c["pseudonym"]))
    results = {name: q.result() for name, q in questions.items()}
    return {
        "questions": results,
        "project": project_alpha(results),
        "contributors": contributors,
    }


def project_alpha(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The project's alpha: the questions' alphas averaged, each weighted by the items it
    was computed over (questions whose alpha is undefined do not count)."""
    scored = [(r["alpha"], r["items"]) for r in results.values() if r["alpha"] is not None]
    weight = sum(n for _, n in scored)
    value = sum(a * n for a, n in scored) / weight if weight else None
    return {"alpha": value, "questions": len(scored)}
