"""Consensus: what a crowd's answers add up to, per item. Pure numpy, no database.

Every model takes compact integer arrays (one entry per observation) and returns arrays indexed
the same way, so a caller can read a whole project into a few arrays in one streaming pass and
fit once:

- **categorical answers** (``label``, a ``multi_label`` label as chosen / not chosen, a
  ``pairwise`` choice, a ``step_review`` step's label): ``(item, worker, label)`` codes.
  ``majority_vote`` is the baseline; ``dawid_skene`` is Dawid & Skene's (1979) EM with one
  confusion matrix per worker, started from the majority vote (as crowd-kit starts it), which
  also estimates each worker's accuracy.
- **comparisons** (``pairwise``, ``ranking``): choices among entities. ``plackett_luce`` fits
  Plackett-Luce scores by Hunter's (2004) minorization-maximization, vectorised over all
  choices at once; Bradley-Terry is its case of two-entity choices (``bradley_terry``). Every
  entity also plays a virtual half win and half loss against a reference of score 1, so the
  estimate exists (a side that never won keeps a finite score) and has a fixed scale. With
  ``bootstrap`` > 0 the choices are resampled (Poisson bootstrap: each choice weighted by a
  Poisson(1) draw from a seeded generator) and refitted, giving percentile intervals.
- **numbers** (``rating``, ``rubric`` criteria): ``numeric`` gives mean, median, standard
  deviation and interquartile range per item.

Nothing here knows about items or people: ids are 0..n-1 indexes the caller assigned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]

#: Probabilities are clipped here before a log, as crowd-kit does.
EPS = 1e-10


# ---- categorical answers -----------------------------------------------------------------


@dataclass
class Categorical:
    """Per item: the posterior over labels, the chosen label and its probability. Per worker:
    the estimated probability of giving the true label (``accuracy``) and, for Dawid-Skene,
    the confusion matrix ``confusion[w, true, given]``."""

    posterior: Floats
    label: Ints
    confidence: Floats
    accuracy: Floats
    answered: Ints  # observations per worker
    confusion: Floats | None = None
    priors: Floats | None = None
    iterations: int = 0


def _check(items: Ints, workers: Ints, labels: Ints) -> tuple[Ints, Ints, Ints]:
    items, workers, labels = (np.asarray(a, dtype=np.int64) for a in (items, workers, labels))
    if not items.shape == workers.shape == labels.shape or items.ndim != 1:
        raise ValueError("items, workers and labels must be 1-d arrays of the same length")
    return items, workers, labels


def _votes(items: Ints, labels: Ints, n_items: int, n_labels: int) -> Floats:
    counts = np.bincount(items * n_labels + labels, minlength=n_items * n_labels)
    return counts.reshape(n_items, n_labels).astype(np.float64)


def majority_vote(
    items: Ints, workers: Ints, labels: Ints, n_items: int, n_workers: int, n_labels: int
) -> Categorical:
    """Each item's most frequent label (the first in label order on a tie), with its share of
    the votes as confidence; a worker's accuracy is the share of their labels that equal it."""
    items, workers, labels = _check(items, workers, labels)
    votes = _votes(items, labels, n_items, n_labels)
    totals = votes.sum(axis=1, keepdims=True)
    posterior = np.divide(votes, totals, out=np.zeros_like(votes), where=totals > 0)
    label = posterior.argmax(axis=1)
    hits = np.bincount(workers, weights=(labels == label[items]), minlength=n_workers)
    answered = np.bincount(workers, minlength=n_workers)
    accuracy = np.divide(hits, answered, out=np.full(n_workers, np.nan), where=answered > 0)
    return Categorical(posterior, label, posterior.max(axis=1), accuracy, answered)


def dawid_skene(
    items: Ints,
    workers: Ints,
    labels: Ints,
    n_items: int,
    n_workers: int,
    n_labels: int,
    *,
    max_iter: int = 100,
    tol: float = 1e-7,
) -> Categorical:
    """Dawid-Skene EM, vectorised: each iteration is ``2 * n_labels`` bincounts over the
    observations. Starts from the majority vote's shares; stops when the data's
    log-likelihood improves by less than ``tol`` of itself, or no posterior moves by more than
    ``tol`` (or after ``max_iter`` iterations)."""
    items, workers, labels = _check(items, workers, labels)
    k = n_labels
    posterior = majority_vote(items, workers, labels, n_items, n_workers, k).posterior
    wl = workers * k + labels
    confusion = np.empty((n_workers, k, k))
    priors = np.full(k, 1.0 / k)
    it = 0
    previous = -np.inf
    while it < max_iter:
        it += 1
        # M-step: priors and each worker's confusion matrix from the soft labels.
        priors = np.clip(posterior.mean(axis=0), EPS, None)
        for true in range(k):
            counts = np.bincount(wl, weights=posterior[items, true], minlength=n_workers * k)
            confusion[:, true, :] = counts.reshape(n_workers, k)
        np.clip(confusion, EPS, None, out=confusion)
        confusion /= confusion.sum(axis=2, keepdims=True)
        # E-step: each item's log-likelihood of every true label, normalised.
        log_conf = np.log(confusion)
        logp = np.empty((n_items, k))
        for true in range(k):
            logp[:, true] = np.bincount(
                items, weights=log_conf[workers, true, labels], minlength=n_items
            )
        logp += np.log(priors)
        top = logp.max(axis=1, keepdims=True)
        logp -= top
        new = np.exp(logp)
        total = new.sum(axis=1, keepdims=True)
        new /= total
        delta = float(np.abs(new - posterior).max()) if n_items else 0.0
        likelihood = float((top + np.log(total)).sum())
        posterior = new
        if delta < tol or abs(likelihood - previous) <= tol * abs(likelihood):
            break
        previous = likelihood
    accuracy = (confusion[:, np.arange(k), np.arange(k)] * priors).sum(axis=1) / priors.sum()
    answered = np.bincount(workers, minlength=n_workers)
    accuracy = np.where(answered > 0, accuracy, np.nan)
    return Categorical(
        posterior,
        posterior.argmax(axis=1),
        posterior.max(axis=1),
        accuracy,
        answered,
        confusion,
        priors / priors.sum(),
        it,
    )


# ---- comparisons -------------------------------------------------------------------------


@dataclass
class Choices:
    """Choices among entities, flattened. Choice ``c`` offers the entities ``member_entity``
    where ``member_choice == c``; each of its winners (``win_choice == c``) is credited
    ``win_weight`` (1 for a clear win; two tied sides of a pair get 0.5 each). A ranking of
    ``L`` entities is ``L - 1`` choices: the best from all, the next from the rest, …; a tied
    group is credited as one winner each from the same set (Breslow's approximation)."""

    n_entities: int
    member_choice: Ints
    member_entity: Ints
    win_choice: Ints
    win_entity: Ints
    win_weight: Floats

    @property
    def n_choices(self) -> int:
        return int(self.member_choice.max()) + 1 if self.member_choice.size else 0

    @classmethod
    def pairs(
        cls, n_entities: int, winners: Ints, losers: Ints, ties: NDArray[np.bool_] | None = None
    ) -> Choices:
        """One choice per comparison; a tie credits each side half a win."""
        winners = np.asarray(winners, dtype=np.int64)
        losers = np.asarray(losers, dtype=np.int64)
        m = winners.size
        idx = np.arange(m, dtype=np.int64)
        tie = np.zeros(m, dtype=bool) if ties is None else np.asarray(ties, dtype=bool)
        member_choice = np.concatenate([idx, idx])
        member_entity = np.concatenate([winners, losers])
        half = np.where(tie, 0.5, 1.0)
        # A tie's loser side is credited too, with its half.
        win_choice = np.concatenate([idx, idx[tie]])
        win_entity = np.concatenate([winners, losers[tie]])
        win_weight = np.concatenate([half, half[tie]])
        return cls(n_entities, member_choice, member_entity, win_choice, win_entity, win_weight)

    @classmethod
    def rankings(cls, n_entities: int, rankings: list[list[list[int]]]) -> Choices:
        """Rankings as groups of entities, best group first (a group of one: no tie)."""
        mc: list[int] = []
        me: list[int] = []
        wc: list[int] = []
        we: list[int] = []
        c = 0
        for groups in rankings:
            rest = [e for g in groups for e in g]
            for g in groups[:-1]:
                mc.extend([c] * len(rest))
                me.extend(rest)
                wc.extend([c] * len(g))
                we.extend(g)
                rest = rest[len(g) :]
                c += 1
        i64 = np.int64
        return cls(
            n_entities,
            np.asarray(mc, dtype=i64),
            np.asarray(me, dtype=i64),
            np.asarray(wc, dtype=i64),
            np.asarray(we, dtype=i64),
            np.ones(len(wc)),
        )


@dataclass
class Scores:
    """Per entity: the log-score (higher is better; ``exp`` of it is the Plackett-Luce
    weight) and, with a bootstrap, its 95% percentile interval."""

    log_score: Floats
    low: Floats | None = None
    high: Floats | None = None
    samples: Floats | None = None  # (bootstrap, entity) log-scores
    iterations: int = 0

    def prob(self, a: Ints, b: Ints) -> Floats:
        """P(a is preferred to b) under the model, elementwise."""
        return 1.0 / (1.0 + np.exp(self.log_score[b] - self.log_score[a]))


def _fit(
    ch: Choices,
    choice_weight: Floats,
    win_weight: Floats,
    prior: float,
    start: Floats | None,
    max_iter: int,
    tol: float,
) -> tuple[Floats, int]:
    """MM updates on the log-scores, accelerated by SQUAREM (Varadhan & Roland 2008): two
    updates give a direction, an extrapolated step along it, then one more update keeps the
    result a proper MM iterate. Stops when an update moves no log-score by ``tol``."""
    n, nc = ch.n_entities, max(ch.n_choices, 1)
    wins = np.bincount(ch.win_entity, weights=win_weight, minlength=n) + prior / 2
    log_wins = np.log(np.maximum(wins, EPS))

    def update(x: Floats) -> Floats:
        w = np.exp(x)
        totals = np.bincount(ch.member_choice, weights=w[ch.member_entity], minlength=nc)
        per_member = (choice_weight / np.maximum(totals, EPS))[ch.member_choice]
        denoms = np.bincount(ch.member_entity, weights=per_member, minlength=n).astype(np.float64)
        denoms = denoms + prior / (w + 1.0)  # the virtual comparisons with the reference
        out: Floats = log_wins - np.log(np.maximum(denoms, EPS))
        if prior == 0:
            out -= out.mean()  # without the reference only differences are identified
        return out

    x = np.zeros(n) if start is None else start.copy()
    it = 0
    while it < max_iter:
        x1 = update(x)
        it += 1
        r = x1 - x
        if not n or float(np.abs(r).max()) < tol:
            return x1, it
        x2 = update(x1)
        it += 1
        v = x2 - x1 - r
        nv = float(np.sqrt((v * v).sum()))
        step = -float(np.sqrt((r * r).sum())) / nv if nv > 0 else -1.0
        step = min(step, -1.0)
        x = update(x - 2 * step * r + step * step * v)
        it += 1
        if not np.isfinite(x).all():  # an extrapolation too far: keep the plain updates
            x = x2
    return x, it


def plackett_luce(
    ch: Choices,
    *,
    prior: float = 1.0,
    bootstrap: int = 0,
    seed: int = 0,
    max_iter: int = 10_000,
    tol: float = 1e-6,
) -> Scores:
    """Maximum a-posteriori Plackett-Luce log-scores (minorization-maximization). ``prior``
    is the weight of each entity's virtual comparisons with the reference (one half win and
    one half loss at ``prior=1``); it must be positive unless every entity has won and lost
    within a connected set of choices."""
    if prior < 0:
        raise ValueError("prior must be >= 0")
    # A choice's weight in the denominators is the sum of its winners' credits.
    choice_weight: Floats = np.bincount(
        ch.win_choice, weights=ch.win_weight, minlength=ch.n_choices
    ).astype(np.float64)
    point, iterations = _fit(ch, choice_weight, ch.win_weight, prior, None, max_iter, tol)
    if bootstrap <= 0:
        return Scores(point, iterations=iterations)
    rng = np.random.default_rng(seed)
    samples = np.empty((bootstrap, ch.n_entities))
    for b in range(bootstrap):
        draw = rng.poisson(1.0, ch.n_choices).astype(np.float64)
        samples[b], _ = _fit(
            ch,
            choice_weight * draw,
            ch.win_weight * draw[ch.win_choice],
            prior,
            point,
            max_iter,
            tol,
        )
    low, high = np.percentile(samples, [2.5, 97.5], axis=0)
    return Scores(point, low, high, samples, iterations)


def bradley_terry(
    n_entities: int,
    winners: Ints,
    losers: Ints,
    ties: NDArray[np.bool_] | None = None,
    **kw: float | int,
) -> Scores:
    """Bradley-Terry log-scores from comparisons (Plackett-Luce on pairs); a tie is half a
    win for each side. Keywords as ``plackett_luce``."""
    return plackett_luce(Choices.pairs(n_entities, winners, losers, ties), **kw)  # type: ignore[arg-type]


@dataclass
class PairScores:
    """Bradley-Terry per pair of sides (one item's two sides each): log-scores of each side,
    P(left is better) and, with a bootstrap, its 95% percentile interval."""

    left: Floats
    right: Floats
    p_left: Floats
    low: Floats | None = None
    high: Floats | None = None
    iterations: int = 0


def _fit_pairs(
    left: Floats, right: Floats, ties: Floats, prior: float, max_iter: int, tol: float
) -> tuple[Floats, Floats, int]:
    # The same MAP as plackett_luce on each pair's comparisons, from their counts: a pair's
    # left wins, right wins and ties are all its comparisons say (ties: half a win each).
    n = left + right + ties
    wins_l = left + ties / 2 + prior / 2
    wins_r = right + ties / 2 + prior / 2
    wl, wr = np.ones_like(n), np.ones_like(n)
    it = 0
    while it < max_iter:
        it += 1
        both = n / (wl + wr)
        new_l = wins_l / (both + prior / (wl + 1))
        new_r = wins_r / (both + prior / (wr + 1))
        delta = float(np.abs(np.log(new_l / wl)).max(initial=0.0))
        delta = max(delta, float(np.abs(np.log(new_r / wr)).max(initial=0.0)))
        wl, wr = new_l, new_r
        if delta < tol:
            break
    return np.log(wl), np.log(wr), it


def bradley_terry_pairs(
    left: Ints,
    right: Ints,
    ties: Ints,
    *,
    prior: float = 1.0,
    bootstrap: int = 0,
    seed: int = 0,
    max_iter: int = 10_000,
    tol: float = 1e-6,
) -> PairScores:
    """Bradley-Terry for many independent pairs at once, from each pair's counts of left
    wins, right wins and ties: the estimate ``bradley_terry`` gives on the comparisons
    themselves, in memory that grows with the pairs, not the comparisons. The Poisson
    bootstrap of the comparisons is a Poisson draw of each count."""
    if prior <= 0:
        raise ValueError("prior must be > 0: a pair's sides are only compared with each other")
    counts = [np.asarray(x, dtype=np.float64) for x in (left, right, ties)]
    sl, sr, it = _fit_pairs(counts[0], counts[1], counts[2], prior, max_iter, tol)
    p = 1.0 / (1.0 + np.exp(sr - sl))
    if bootstrap <= 0:
        return PairScores(sl, sr, p, iterations=it)
    rng = np.random.default_rng(seed)
    draws = np.empty((bootstrap, p.size))
    for b in range(bootstrap):
        lb, rb, tb = (rng.poisson(c).astype(np.float64) for c in counts)
        bl, br, _ = _fit_pairs(lb, rb, tb, prior, max_iter, tol)
        draws[b] = 1.0 / (1.0 + np.exp(br - bl))
    low, high = np.percentile(draws, [2.5, 97.5], axis=0)
    return PairScores(sl, sr, p, low, high, it)


# ---- numbers -----------------------------------------------------------------------------


@dataclass
class Numeric:
    """Per item: count, mean, median, (population) standard deviation, interquartile range,
    and ``confidence = 1 - std / ((high - low) / 2)``: 1 when everyone gave the same value,
    0 when they split evenly between the two ends of the scale."""

    n: Ints
    mean: Floats
    median: Floats
    std: Floats
    iqr: Floats
    confidence: Floats


def _quantile(sorted_values: Floats, start: Ints, n: Ints, q: float) -> Floats:
    pos = start + q * np.maximum(n - 1, 0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, start + np.maximum(n - 1, 0))
    frac = pos - lo
    last = sorted_values.size - 1
    lo, hi = np.minimum(lo, last), np.minimum(hi, last)  # an item with no value: masked later
    return sorted_values[lo] * (1 - frac) + sorted_values[hi] * frac


def numeric(items: Ints, values: Floats, n_items: int, low: float, high: float) -> Numeric:
    """Summaries of each item's values on the scale ``low..high`` (items with no value: NaN)."""
    items = np.asarray(items, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    n = np.bincount(items, minlength=n_items).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(items, weights=values, minlength=n_items) / n
        var = np.bincount(items, weights=values**2, minlength=n_items) / n - mean**2
        std = np.sqrt(np.clip(var, 0, None))
    nan = np.full(n_items, np.nan)
    if values.size:
        order = np.lexsort((values, items))
        sv = values[order]
        start = np.concatenate([[0], np.cumsum(n)[:-1]])
        median = np.where(n > 0, _quantile(sv, start, n, 0.5), nan)
        iqr = np.where(n > 0, _quantile(sv, start, n, 0.75) - _quantile(sv, start, n, 0.25), nan)
    else:
        median, iqr = nan.copy(), nan.copy()
    half = max((high - low) / 2, EPS)
    confidence = np.clip(1 - std / half, 0, 1)
    return Numeric(n, mean, median, std, iqr, confidence)
