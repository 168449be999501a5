"""Aggregation per question type: a project's answers read once into compact integer arrays,
one model fitted (``consensus.py``), then one aggregate per item.

| type | methods (default first) | the aggregate answer |
| --- | --- | --- |
| ``label`` | dawid_skene, majority, crowd-kit's | the label |
| ``multi_label`` | dawid_skene, majority, crowd-kit's (per label: chosen or not) | labels |
| ``pairwise`` | bradley_terry, majority, dawid_skene, crowd-kit's (on the choice) | the choice |
| ``ranking`` | plackett_luce | the fields, best first |
| ``rating`` | mean, median | the number |
| ``rubric`` | mean, median (per criterion) | one number per criterion |
| ``step_review`` | dawid_skene, majority (per step) | each step's label |
| ``text`` | none: free text is not aggregated | |

crowd-kit's methods (``mace``, ``glad``, ``wawa``, ``one_coin_dawid_skene``, ``m_msr``,
``zero_based_skill``) need the optional extra ``inlier[crowd]``.
"""

from __future__ import annotations

from array import array
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
from sqlalchemy import select

from inlier.datasets import consensus
from inlier.datasets.agreement import attempt_answers
from inlier.datasets.options import pseudonym
from inlier.db.engine import Database
from inlier.kit.errors import InvalidInput
from inlier.kit.pagination import encode_cursor
from inlier.projects.models import Item, Project
from inlier.projects.service import template_of
from inlier.questions import REGISTRY
from inlier.questions.base import QuestionSpec
from inlier.questions.step_review import step_label

CATEGORICAL = ("dawid_skene", "majority")
#: crowd-kit's classification models by our method name (``inlier[crowd]``).
CROWDKIT = {
    "mace": "MACE",
    "glad": "GLAD",
    "wawa": "Wawa",
    "one_coin_dawid_skene": "OneCoinDawidSkene",
    "m_msr": "MMSR",
    "zero_based_skill": "ZeroBasedSkill",
}
METHODS: dict[str, tuple[str, ...]] = {
    "label": (*CATEGORICAL, *CROWDKIT),
    "multi_label": (*CATEGORICAL, *CROWDKIT),
    "pairwise": ("bradley_terry", *CATEGORICAL, *CROWDKIT),
    "ranking": ("plackett_luce",),
    "rating": ("mean", "median"),
    "rubric": ("mean", "median"),
    "step_review": CATEGORICAL,
    "text": (),
}
ALL_METHODS = tuple(dict.fromkeys(m for ms in METHODS.values() for m in ms))
CHOICES = ("left", "right", "tie")


def default_method(qtype: str) -> str | None:
    methods = METHODS.get(qtype, ())
    return methods[0] if methods else None


@dataclass
class ItemResult:
    """One item's aggregate of one question."""

    answer: Any
    confidence: float
    n: int
    detail: dict[str, Any] = field(default_factory=dict)


def _bad(name: str, msg: str) -> InvalidInput:
    return InvalidInput(f"{name}: {msg}", errors=[{"loc": ["query", name], "msg": msg}])


def resolve(project: Project, question: str | None, method: str | None) -> tuple[QuestionSpec, str]:
    """The question and method asked for, checked: an unknown question or method, a method
    the question's type has no use for, or a question that is not aggregated is a 422."""
    template = template_of(project)
    if question is None:
        q = next((q for q in template.spec.questions if METHODS.get(q.type)), None)
        if q is None:
            raise _bad("question", "this template has no question that can be aggregated")
    else:
        found = template.questions.get(question)
        if found is None:
            raise _bad("question", f"no question named {question!r} in this project's template")
        q = found
    allowed = METHODS.get(q.type, ())
    if not allowed:
        raise _bad("question", f"{q.type} answers are free text and are not aggregated")
    if method is None:
        return q, allowed[0]
    if method not in ALL_METHODS:
        raise _bad("method", f"unknown method; one of {list(ALL_METHODS)}")
    if method not in allowed:
        raise _bad("method", f"not for a {q.type} question; one of {list(allowed)}")
    if method in CROWDKIT:
        _crowdkit(method)  # the extra is installed, or a 422 saying how to get it
    return q, method


def _crowdkit(method: str) -> Any:
    try:
        from crowdkit import aggregation
    except ImportError:
        raise _bad(
            "method", f"{method} is crowd-kit's: install the extra, pip install 'inlier[crowd]'"
        ) from None
    return getattr(aggregation, CROWDKIT[method])


def _find(keys: Any, key: int) -> int | None:
    """The position of ``key`` in the sorted array ``keys``, if it is there."""
    j = int(np.searchsorted(keys, key))
    return j if j < len(keys) and int(keys[j]) == key else None


class Aggregator:
    """One question aggregated by one method. ``add`` every answer (one pass into compact
    arrays of ids and codes: no object per answer), ``fit`` once, then ``result(item_id)``
    for each item and ``accuracy()``. Items, people and units (what a categorical model
    labels: the item, an (item, label), an (item, step)) get their dense indexes at ``fit``,
    from the arrays (``np.unique``), so memory is a few bytes per answer."""

    def __init__(self, q: QuestionSpec, method: str, bootstrap: int = 0, seed: int = 0) -> None:
        self.q, self.method = q, method
        self.bootstrap, self.seed = bootstrap, seed
        self.opts = REGISTRY[q.type].options(q)
        t = q.type
        self.obs: dict[str, array[Any]] = {
            "item": array("q"),  # item id
            "worker": array("q"),  # user id
            "sub": array("q"),  # the label, step or criterion within the item
            "code": array("q"),  # the categorical value's index
            "value": array("d"),  # a number (a pairwise answer: its strength)
        }
        self.answered_items: array[int] = array("q")  # one per answer: its item id
        self.finals: dict[str, array[Any]] = {"item": array("q"), "value": array("q")}
        if t == "label":
            self.codes: list[Any] = list(self.opts.labels)
        elif t == "multi_label":
            self.codes = [False, True]
        elif t == "step_review":
            self.codes = [1, 0, -1]
        elif t == "pairwise":
            self.codes = list(CHOICES)
        else:
            self.codes = []
        self.code_of = {c: i for i, c in enumerate(self.codes)}
        if t == "rubric":
            self.criteria = [c.name for c in self.opts.criteria]
            self.bounds = [(c.min, c.max) for c in self.opts.criteria]
        elif t == "rating":
            self.criteria = [""]
            self.bounds = [(self.opts.min, self.opts.max)]
        if t == "ranking":
            self.fields = list(self.opts.fields)
            # item id, user id, then each field's group (0 = best) per ranking.
            self.ranked: dict[str, array[int]] = {
                "item": array("q"), "worker": array("q"), "group": array("q")
            }  # fmt: skip

    # ---- reading --------------------------------------------------------------------------

    def _obs(self, item: int, worker: int, code: int = 0, value: float = 0.0, sub: int = 0) -> None:
        o = self.obs
        o["item"].append(item)
        o["worker"].append(worker)
        o["code"].append(code)
        o["value"].append(value)
        o["sub"].append(sub)

    def add(self, item_id: int, user_id: int, value: Any) -> None:
        """One attempt's answer to the question (``None``: not answered)."""
        if value is None or not self.valid(value):
            return
        self.answered_items.append(item_id)
        item, worker, t = item_id, user_id, self.q.type
        if t == "label":
            self._obs(item, worker, self.code_of[value])
        elif t == "pairwise":
            strength = float(value.get("strength") or 0)
            self._obs(item, worker, self.code_of[value["choice"]], strength)
        elif t == "multi_label":
            for k, label in enumerate(self.opts.labels):
                self._obs(item, worker, int(label in value), sub=k)
        elif t == "step_review":
            for k, step in enumerate(value.get("steps") or []):
                label = step_label(step)
                if label is not None:
                    self._obs(item, worker, self.code_of[label], sub=k)
            final = value.get("final_answer_correct")
            if isinstance(final, bool):
                self.finals["item"].append(item)
                self.finals["value"].append(int(final))
        elif t in ("rating", "rubric"):
            scores = {"": value} if t == "rating" else value
            for k, name in enumerate(self.criteria):
                v = scores.get(name)
                if isinstance(v, int | float) and not isinstance(v, bool):
                    self._obs(item, worker, 0, float(v), k)
        elif t == "ranking":
            group = {f: g for g, e in enumerate(value) for f in (e if isinstance(e, list) else [e])}
            self.ranked["item"].append(item)
            self.ranked["worker"].append(worker)
            self.ranked["group"].extend(group[f] for f in self.fields)

    def valid(self, value: Any) -> bool:
        t = self.q.type
        if t == "label":
            return value in self.code_of
        if t == "pairwise":
            return isinstance(value, dict) and value.get("choice") in self.code_of
        if t == "multi_label":
            return isinstance(value, list)
        if t == "step_review":
            return isinstance(value, dict) and isinstance(value.get("steps"), list)
        if t == "rating":
            return isinstance(value, int | float) and not isinstance(value, bool)
        if t == "rubric":
            return isinstance(value, dict)
        if t == "ranking":
            if not isinstance(value, list):
                return False
            names = [f for e in value for f in (e if isinstance(e, list) else [e])]
            return sorted(map(str, names)) == sorted(self.fields)
        return False

    # ---- fitting --------------------------------------------------------------------------

    def _arrays(self) -> dict[str, Any]:
        return {
            k: np.frombuffer(v, dtype=np.int64 if v.typecode == "q" else np.float64)
            for k, v in self.obs.items()
        }

    def _index(self, a: dict[str, Any]) -> tuple[Any, Any, Any]:
        """Dense indexes: (item, worker, unit) of every observation."""
        answered = np.frombuffer(self.answered_items, dtype=np.int64)
        self.item_keys = np.unique(answered)
        self.n_items = len(self.item_keys)
        self.n_per_item = np.bincount(
            np.searchsorted(self.item_keys, answered), minlength=self.n_items
        )
        workers = a["worker"]
        if self.q.type == "ranking":
            workers = np.frombuffer(self.ranked["worker"], dtype=np.int64)
        self.worker_keys, worker = np.unique(workers, return_inverse=True)
        self.n_workers = len(self.worker_keys)
        item = np.searchsorted(self.item_keys, a["item"])
        self.subs = int(a["sub"].max()) + 1 if a["sub"].size else 1
        self.unit_keys, unit = np.unique(item * self.subs + a["sub"], return_inverse=True)
        self.n_units = len(self.unit_keys)
        return item, worker.reshape(-1), unit.reshape(-1)

    def _unit(self, i: int, k: int = 0) -> int | None:
        return _find(self.unit_keys, i * self.subs + k)

    def fit(self) -> Aggregator:
        t, m = self.q.type, self.method
        a = self._arrays()
        item, worker, unit = self._index(a)
        code = a["code"]
        categorical = t in ("label", "multi_label", "step_review") or t == "pairwise"
        if categorical and m != "bradley_terry":
            self._categorical(unit, worker, code)
        if t == "pairwise":
            # Per (unit, choice): how many chose it and their summed strength.
            at = unit * 3 + code
            size = 3 * self.n_units
            self.chose = np.bincount(at, minlength=size).reshape(-1, 3)
            self.strength = np.bincount(at, weights=a["value"], minlength=size).reshape(-1, 3)
            if m == "bradley_terry":
                self._pairs(unit, worker, code)
        elif t in ("rating", "rubric"):
            self._numeric(item, worker, a)
        elif t == "ranking":
            self._rankings()
        if t == "step_review":
            f_item = np.searchsorted(
                self.item_keys, np.frombuffer(self.finals["item"], dtype=np.int64)
            )
            f_value = np.frombuffer(self.finals["value"], dtype=np.int64)
            self.finals_yes = np.bincount(f_item, weights=f_value, minlength=self.n_items)
            self.finals_n = np.bincount(f_item, minlength=self.n_items)
        # The answers are in the fitted arrays now: let their buffers go.
        self.obs = {k: array(v.typecode) for k, v in self.obs.items()}
        self.answered_items = array("q")
        return self

    def _categorical(self, units: Any, workers: Any, codes: Any) -> None:
        n_units, n_workers, k = self.n_units, self.n_workers, max(len(self.codes), 1)
        if self.method in CROWDKIT:
            self.model = self._crowdkit_fit(units, workers, codes, n_units, n_workers, k)
        elif self.method == "majority":
            self.model = consensus.majority_vote(units, workers, codes, n_units, n_workers, k)
        else:
            self.model = consensus.dawid_skene(units, workers, codes, n_units, n_workers, k)
        # Agreement of each worker with the aggregate, for models that estimate no accuracy.
        hits = np.bincount(workers, weights=codes == self.model.label[units], minlength=n_workers)
        self.answered = np.bincount(workers, minlength=n_workers)
        self.worker_accuracy = (
            self.model.accuracy
            if self.method == "dawid_skene"
            else np.divide(
                hits, self.answered, out=np.full(n_workers, np.nan), where=self.answered > 0
            )
        )

    def _crowdkit_fit(
        self, units: Any, workers: Any, codes: Any, n_units: int, n_workers: int, k: int
    ) -> consensus.Categorical:
        import pandas as pd

        model_cls = _crowdkit(self.method)
        df = pd.DataFrame({"task": units, "worker": workers, "label": codes})
        model = model_cls()
        labels = model.fit_predict(df).reindex(range(n_units)).to_numpy()
        probas = getattr(model, "probas_", None)
        posterior = np.zeros((n_units, k))
        if probas is not None:
            p = probas.reindex(index=range(n_units), columns=range(k)).fillna(0.0)
            posterior[:] = p.to_numpy(dtype=np.float64)
        label = np.asarray(labels, dtype=np.int64)
        if probas is None:
            posterior[np.arange(n_units), label] = 1.0
        nan = np.full(n_workers, np.nan)
        return consensus.Categorical(
            posterior, label, posterior.max(axis=1), nan, np.zeros(n_workers, dtype=np.int64)
        )

    def _pairs(self, units: Any, workers: Any, codes: Any) -> None:
        # Each item's two sides are compared only with each other: its counts of left, right
        # and tie are all Bradley-Terry needs, so the fit is over items, not judgements.
        self.pair_scores = consensus.bradley_terry_pairs(
            self.chose[:, 0],
            self.chose[:, 1],
            self.chose[:, 2],
            bootstrap=self.bootstrap,
            seed=self.seed,
        )
        p_left = self.pair_scores.p_left[units]
        # A judgement agrees when it picked the side the model prefers (ties: no count).
        agree = np.where(codes == 2, 0.0, (codes == 0) == (p_left >= 0.5))
        counted = codes != 2
        n_workers = self.n_workers
        self.answered = np.bincount(workers[counted], minlength=n_workers)
        hits = np.bincount(workers, weights=agree, minlength=n_workers)
        self.worker_accuracy = np.divide(
            hits, self.answered, out=np.full(n_workers, np.nan), where=self.answered > 0
        )

    def _rankings(self) -> None:
        nf = len(self.fields)
        items = np.searchsorted(self.item_keys, np.frombuffer(self.ranked["item"], dtype=np.int64))
        workers = np.searchsorted(
            self.worker_keys, np.frombuffer(self.ranked["worker"], dtype=np.int64)
        )
        group = np.frombuffer(self.ranked["group"], dtype=np.int64).reshape(-1, nf)
        rankings = [
            [[int(i) * nf + f for f in range(nf) if g[f] == level] for level in sorted(set(g))]
            for i, g in zip(items, group.tolist(), strict=True)
        ]
        ch = consensus.Choices.rankings(nf * self.n_items, rankings)
        self.scores = consensus.plackett_luce(ch, bootstrap=self.bootstrap, seed=self.seed)
        s = self.scores.log_score.reshape(-1, nf)[items]  # each ranking's item's scores
        hits = np.zeros(self.n_workers)
        pairs = np.zeros(self.n_workers)
        for a in range(nf):
            for b in range(a + 1, nf):
                counted = (group[:, a] != group[:, b]) & (s[:, a] != s[:, b])
                agree = (group[:, a] < group[:, b]) == (s[:, a] > s[:, b])
                pairs += np.bincount(workers, weights=counted, minlength=self.n_workers)
                hits += np.bincount(workers, weights=counted & agree, minlength=self.n_workers)
        self.answered = pairs.astype(np.int64)
        self.worker_accuracy = np.divide(
            hits, pairs, out=np.full(self.n_workers, np.nan), where=pairs > 0
        )

    def _numeric(self, item: Any, worker: Any, a: dict[str, Any]) -> None:
        n_items, n_workers = self.n_items, self.n_workers
        self.numbers = []
        err = np.zeros(n_workers)
        count = np.zeros(n_workers)
        for k, (lo, hi) in enumerate(self.bounds):
            mask = a["sub"] == k
            items, values = item[mask], a["value"][mask]
            stats = consensus.numeric(items, values, n_items, lo, hi)
            self.numbers.append(stats)
            centre = stats.mean if self.method == "mean" else stats.median
            dev = np.abs(values - centre[items]) / max(hi - lo, 1)
            w = worker[mask]
            err += np.bincount(w, weights=dev, minlength=n_workers)
            count += np.bincount(w, minlength=n_workers)
        self.answered = count.astype(np.int64)
        # 1 - the mean distance from the consensus, as a share of the scale.
        self.worker_accuracy = np.divide(
            count - err, count, out=np.full(n_workers, np.nan), where=count > 0
        )

    # ---- results --------------------------------------------------------------------------

    def _choice(self, unit: int, choice: str) -> dict[str, Any]:
        """A pairwise aggregate: the choice, with the rounded mean strength of those who made
        it (1 when the model's choice is one nobody made)."""
        if choice == "tie":
            return {"choice": "tie"}
        k = self.code_of[choice]
        n = int(self.chose[unit, k])
        strength = float(self.strength[unit, k]) / n if n else 1.0
        return {"choice": choice, "strength": max(1, min(3, round(strength)))}

    def accuracy(self) -> dict[int, tuple[float, int]]:
        """user id → (estimated accuracy, how many judgements it rests on)."""
        out = {}
        for w, user_id in enumerate(self.worker_keys.tolist()):
            acc = float(self.worker_accuracy[w])
            if not np.isnan(acc):
                out[user_id] = (acc, int(self.answered[w]))
        return out

    def item_ids(self) -> list[int]:
        return [int(i) for i in self.item_keys]

    def result(self, item_id: int) -> ItemResult | None:
        """The item's aggregate, or ``None`` when nobody answered the question for it."""
        i = _find(self.item_keys, item_id)
        if i is None:
            return None
        n = int(self.n_per_item[i])
        method = getattr(self, f"_result_{self.q.type}")
        result: ItemResult | None = method(item_id, i, n)
        return result

    def _posterior(self, unit: int) -> dict[str, float]:
        post = self.model.posterior[unit]
        return {str(c): round(float(p), 6) for c, p in zip(self.codes, post, strict=True)}

    def _result_label(self, item_id: int, i: int, n: int) -> ItemResult | None:
        u = self._unit(i)
        if u is None:
            return None
        answer = self.codes[int(self.model.label[u])]
        return ItemResult(
            answer, float(self.model.confidence[u]), n, {"posterior": self._posterior(u)}
        )

    def _result_multi_label(self, item_id: int, i: int, n: int) -> ItemResult:
        chosen: list[str] = []
        probs: dict[str, float] = {}
        confidence = 1.0
        for k, label in enumerate(self.opts.labels):
            u = self._unit(i, k)
            if u is None:
                continue
            probs[label] = round(float(self.model.posterior[u][1]), 6)
            confidence = min(confidence, float(self.model.confidence[u]))
            if self.model.label[u] == 1:
                chosen.append(label)
        return ItemResult(chosen, confidence, n, {"posterior": probs})

    def _result_step_review(self, item_id: int, i: int, n: int) -> ItemResult:
        steps: list[dict[str, Any]] = []
        posteriors: list[dict[str, float]] = []
        confidence = 1.0
        k = 0
        while (u := self._unit(i, k)) is not None:
            steps.append({"label": self.codes[int(self.model.label[u])]})
            posteriors.append(self._posterior(u))
            confidence = min(confidence, float(self.model.confidence[u]))
            k += 1
        answer: dict[str, Any] = {"steps": steps}
        if self.finals_n[i]:
            answer["final_answer_correct"] = bool(self.finals_yes[i] * 2 > self.finals_n[i])
        return ItemResult(answer, confidence, n, {"steps": posteriors})

    def _result_pairwise(self, item_id: int, i: int, n: int) -> ItemResult | None:
        u = self._unit(i)
        if u is None:
            return None
        if self.method != "bradley_terry":
            choice = self.codes[int(self.model.label[u])]
            return ItemResult(
                self._choice(u, choice),
                float(self.model.confidence[u]),
                n,
                {"posterior": self._posterior(u)},
            )
        ps = self.pair_scores
        p = float(ps.p_left[u])
        choice = "left" if p > 0.5 + 1e-9 else "right" if p < 0.5 - 1e-9 else "tie"
        detail: dict[str, Any] = {
            "p_left": round(p, 6),
            "scores": {"left": round(float(ps.left[u]), 6), "right": round(float(ps.right[u]), 6)},
        }
        if ps.low is not None and ps.high is not None:
            detail["interval"] = [round(float(ps.low[u]), 6), round(float(ps.high[u]), 6)]
        return ItemResult(self._choice(u, choice), max(p, 1 - p), n, detail)

    def _result_ranking(self, item_id: int, i: int, n: int) -> ItemResult:
        nf = len(self.fields)
        s = self.scores.log_score[i * nf : (i + 1) * nf]
        order = sorted(range(nf), key=lambda f: -s[f])
        groups: list[list[str]] = []
        last: float | None = None
        for f in order:
            if last is not None and abs(s[f] - last) < 1e-9:
                groups[-1].append(self.fields[f])
            else:
                groups.append([self.fields[f]])
            last = float(s[f])
        answer: list[Any] = [g[0] if len(g) == 1 else g for g in groups]
        confidence = min(
            (float(1 / (1 + np.exp(s[b] - s[a]))) for a, b in pairwise(order)),
            default=1.0,
        )
        detail: dict[str, Any] = {
            "scores": {self.fields[f]: round(float(s[f]), 6) for f in range(nf)}
        }
        if self.scores.low is not None and self.scores.high is not None:
            lo, hi = self.scores.low, self.scores.high
            detail["intervals"] = {
                self.fields[f]: [round(float(lo[i * nf + f]), 6), round(float(hi[i * nf + f]), 6)]
                for f in range(nf)
            }
        return ItemResult(answer, confidence, n, detail)

    def _result_numbers(self, i: int, n: int) -> tuple[dict[str, float], dict[str, Any], float]:
        values: dict[str, float] = {}
        details: dict[str, Any] = {}
        confidence = 1.0
        for k, name in enumerate(self.criteria):
            st = self.numbers[k]
            if st.n[i] == 0:
                continue
            centre = st.mean[i] if self.method == "mean" else st.median[i]
            values[name] = round(float(centre), 6)
            details[name] = {
                "mean": round(float(st.mean[i]), 6),
                "median": round(float(st.median[i]), 6),
                "std": round(float(st.std[i]), 6),
                "iqr": round(float(st.iqr[i]), 6),
                "n": int(st.n[i]),
            }
            confidence = min(confidence, float(st.confidence[i]))
        return values, details, confidence

    def _result_rating(self, item_id: int, i: int, n: int) -> ItemResult | None:
        values, details, confidence = self._result_numbers(i, n)
        return ItemResult(values[""], confidence, n, details[""]) if values else None

    def _result_rubric(self, item_id: int, i: int, n: int) -> ItemResult | None:
        values, details, confidence = self._result_numbers(i, n)
        return ItemResult(values, confidence, n, details) if values else None


# ---- reading a project ---------------------------------------------------------------------


async def read_answers(
    db: Database, project: Project, aggregators: Iterable[Aggregator], batch: int = 1000
) -> None:
    """Every attempt not rejected, in keyset batches (short transactions), into the
    aggregators; only the values of their questions are kept."""
    aggs = list(aggregators)
    async for item_id, user_id, answer in attempt_answers(db, project.id, batch):
        for agg in aggs:
            agg.add(item_id, user_id, (answer or {}).get(agg.q.name))


async def consensus_of(
    db: Database,
    project: Project,
    question: str | None,
    method: str | None,
    *,
    bootstrap: int = 100,
    seed: int = 0,
    limit: int = 50,
    after: int | None = None,
) -> dict[str, Any]:
    """The API's consensus: per-item aggregates (a page of items by id) and every
    contributor's estimated accuracy under their pseudonym."""
    q, m = resolve(project, question, method)
    agg = Aggregator(
        q, m, bootstrap=bootstrap if q.type in ("pairwise", "ranking") else 0, seed=seed
    )
    await read_answers(db, project, [agg])
    agg.fit()
    keys = agg.item_keys  # sorted
    start = int(np.searchsorted(keys, after, side="right")) if after is not None else 0
    page: list[int] = keys[start : start + limit].tolist()
    more = start + limit < len(keys)
    external: dict[int, str | None] = {}
    if page:
        async with db.sessions() as s:
            rows = await s.execute(select(Item.id, Item.external_id).where(Item.id.in_(page)))
            external = {i: e for i, e in rows.all()}
    data = []
    for item_id in page:
        r = agg.result(item_id)
        if r is None:
            continue
        data.append(
            {
                "item_id": str(item_id),
                "external_id": external.get(item_id),
                "answer": r.answer,
                "confidence": round(r.confidence, 6),
                "responses": r.n,
                "detail": r.detail,
            }
        )
    contributors = [
        {"pseudonym": pseudonym(project, user), "accuracy": round(acc, 6), "n": n}
        for user, (acc, n) in agg.accuracy().items()
    ]
    contributors.sort(key=lambda c: str(c["pseudonym"]))
    return {
        "question": q.name,
        "type": q.type,
        "method": m,
        "items": agg.n_items,
        "data": data,
        "next_cursor": encode_cursor(page[-1]) if more and page else None,
        "contributors": contributors,
    }


async def contributor_accuracy(
    db: Database, project: Project, question: str | None = None, method: str | None = None
) -> dict[int, float]:
    """Each contributor's estimated accuracy on a project, ``{user_id: accuracy}``: by default
    from Dawid-Skene on the template's first label-like question (the probability that they
    give the true label). A quality signal for the quality area; reads the project once."""
    q, m = resolve(project, question, method)
    agg = Aggregator(q, m)
    await read_answers(db, project, [agg])
    return {user: acc for user, (acc, _) in agg.fit().accuracy().items()}


def aggregators_for(project: Project, types: tuple[str, ...] | None = None) -> list[Aggregator]:
    """One aggregator per aggregable question (of ``types``), each by its default method."""
    out = []
    for q in template_of(project).spec.questions:
        m = default_method(q.type)
        if m is not None and (types is None or q.type in types):
            out.append(Aggregator(q, m))
    return out


async def fitted(
    project_answers: AsyncIterator[tuple[int, int, dict[str, Any]]], aggs: list[Aggregator]
) -> list[Aggregator]:
    """The export's first pass: the answers the options select, into the aggregators."""
    async for item_id, user_id, answer in project_answers:
        for agg in aggs:
            agg.add(item_id, user_id, answer.get(agg.q.name))
    return [agg.fit() for agg in aggs]
