"""Consensus: Dawid-Skene against majority vote (and crowd-kit) on crowds with known skills,
Bradley-Terry and Plackett-Luce against known orderings (and choix), and the API that serves
per-item aggregates with each contributor's estimated accuracy."""

from __future__ import annotations

import os
from typing import Any

import choix
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import World
from inlier.datasets import consensus as c

# ---- synthetic crowds --------------------------------------------------------------------

TRUE_ACCURACY = np.linspace(0.55, 0.95, 9)


def crowd(
    seed: int, n_items: int = 200, n_labels: int = 5, per_item: int = 5
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``n_items`` items with a true label each; ``per_item`` of the 9 workers label each one,
    right with the worker's true accuracy, else one of the wrong labels at random."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_labels, n_items)
    items = np.repeat(np.arange(n_items), per_item)
    workers = np.concatenate([rng.choice(9, per_item, replace=False) for _ in range(n_items)])
    right = rng.random(items.size) < TRUE_ACCURACY[workers]
    wrong = (truth[items] + rng.integers(1, n_labels, items.size)) % n_labels
    return items, workers, np.where(right, truth[items], wrong), truth


def test_dawid_skene_recovers_the_truth_better_than_majority_vote_and_the_workers_skills() -> None:
    gains = []
    for seed in range(3):
        items, workers, labels, truth = crowd(seed)
        mv = c.majority_vote(items, workers, labels, 200, 9, 5)
        ds = c.dawid_skene(items, workers, labels, 200, 9, 5)
        mv_acc, ds_acc = (mv.label == truth).mean(), (ds.label == truth).mean()
        assert ds_acc > mv_acc, (seed, ds_acc, mv_acc)
        gains.append(ds_acc - mv_acc)
        # Each worker's estimated accuracy is near the true one (~110 labels each).
        assert np.abs(ds.accuracy - TRUE_ACCURACY).max() < 0.12, ds.accuracy
        assert np.corrcoef(ds.accuracy, TRUE_ACCURACY)[0, 1] > 0.9
        assert np.allclose(ds.posterior.sum(axis=1), 1.0)
        assert (ds.confidence == ds.posterior.max(axis=1)).all()
    assert np.mean(gains) >= 0.01


def _crowdkit() -> Any:
    if os.environ.get("CI"):
        import crowdkit.aggregation  # CI installs it: see .ci/run

        return crowdkit.aggregation
    return pytest.importorskip("crowdkit.aggregation")


def test_dawid_skene_matches_crowd_kit_on_the_same_data() -> None:
    import pandas as pd

    aggregation = _crowdkit()
    items, workers, labels, _ = crowd(7)
    ours = c.dawid_skene(items, workers, labels, 200, 9, 5)
    df = pd.DataFrame({"task": items, "worker": workers, "label": labels})
    theirs = aggregation.DawidSkene(n_iter=100).fit(df)
    assert (theirs.labels_.sort_index().to_numpy() == ours.label).mean() >= 0.99
    probas = theirs.probas_.sort_index()[list(range(5))].to_numpy()
    assert np.abs(probas - ours.posterior).max() < 0.05
    priors = theirs.priors_.reindex(range(5)).to_numpy()
    errors = theirs.errors_
    skill = [sum(priors[k] * errors.loc[(w, k), k] for k in range(5)) for w in range(9)]
    assert np.abs(np.array(skill) - ours.accuracy).max() < 0.01


def test_majority_vote_counts_and_breaks_ties_by_label_order() -> None:
    mv = c.majority_vote([0, 0, 0, 1, 1], [0, 1, 2, 0, 1], [2, 2, 1, 1, 0], 2, 3, 3)
    assert mv.label.tolist() == [2, 0]
    assert mv.confidence.tolist() == pytest.approx([2 / 3, 0.5])
    assert mv.accuracy.tolist() == pytest.approx([0.5, 1.0, 0.0])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 9), st.integers(0, 4), st.integers(0, 2)),
        min_size=1,
        max_size=60,
    )
)
def test_posteriors_are_distributions_and_labels_their_argmax(
    obs: list[tuple[int, int, int]],
) -> None:
    items, workers, labels = (np.array(x) for x in zip(*obs, strict=True))
    for model in (c.majority_vote, c.dawid_skene):
        r = model(items, workers, labels, 10, 5, 3)
        seen = np.bincount(items, minlength=10) > 0
        assert np.allclose(r.posterior[seen].sum(axis=1), 1.0)
        assert (r.label == r.posterior.argmax(axis=1)).all()
        answered = np.bincount(workers, minlength=5) > 0
        assert ((r.accuracy[answered] >= 0) & (r.accuracy[answered] <= 1 + 1e-9)).all()


# ---- comparisons -------------------------------------------------------------------------


def test_bradley_terry_recovers_a_known_ordering_and_agrees_with_choix() -> None:
    rng = np.random.default_rng(3)
    strength = np.linspace(-2, 2, 8)  # entity 7 is best
    a = rng.integers(0, 8, 4000)
    b = (a + rng.integers(1, 8, 4000)) % 8
    a_wins = rng.random(4000) < 1 / (1 + np.exp(strength[b] - strength[a]))
    winners, losers = np.where(a_wins, a, b), np.where(a_wins, b, a)
    fit = c.bradley_terry(8, winners, losers, bootstrap=50, seed=1)
    assert np.argsort(fit.log_score).tolist() == list(range(8))
    ml = c.bradley_terry(8, winners, losers, prior=0.0).log_score
    reference = choix.ilsr_pairwise(8, list(zip(winners.tolist(), losers.tolist(), strict=True)))
    assert np.allclose(ml - ml.mean(), reference - reference.mean(), atol=1e-4)
    assert fit.low is not None and fit.high is not None
    assert ((fit.low <= fit.log_score) & (fit.log_score <= fit.high)).all()
    assert (fit.high - fit.low).max() < 0.6


def test_plackett_luce_recovers_a_known_ordering_and_agrees_with_choix() -> None:
    params = np.linspace(-1.5, 1.5, 6)
    rankings = choix.generate_rankings(params, 600, size=4)
    groups = [[[int(e)] for e in r] for r in rankings]
    fit = c.plackett_luce(c.Choices.rankings(6, groups), bootstrap=40, seed=2)
    assert np.argsort(fit.log_score).tolist() == list(range(6))
    ml = c.plackett_luce(c.Choices.rankings(6, groups), prior=0.0).log_score
    reference = choix.ilsr_rankings(6, rankings)
    assert np.allclose(ml - ml.mean(), reference - reference.mean(), atol=1e-4)
    assert fit.low is not None and fit.high is not None
    assert ((fit.low <= fit.log_score) & (fit.log_score <= fit.high)).all()


def test_a_tie_is_half_a_win_and_a_side_that_never_won_stays_finite() -> None:
    tie = c.bradley_terry(2, np.array([0, 1]), np.array([1, 0]), np.array([True, True]))
    assert tie.prob(np.array([0]), np.array([1]))[0] == pytest.approx(0.5)
    sweep = c.bradley_terry(2, np.array([0, 0, 0]), np.array([1, 1, 1]))
    p = sweep.prob(np.array([0]), np.array([1]))[0]
    assert 0.8 < p < 1.0 and np.isfinite(sweep.log_score).all()


def test_bradley_terry_from_each_pairs_counts_equals_the_fit_on_the_comparisons() -> None:
    rng = np.random.default_rng(0)
    left, right, ties = rng.integers(0, 5, 300), rng.integers(0, 5, 300), rng.integers(0, 2, 300)
    w, lo, tie = [], [], []
    for i in range(300):
        for side, count, is_tie in ((0, left[i], False), (1, right[i], False), (0, ties[i], True)):
            w += [2 * i + side] * int(count)
            lo += [2 * i + 1 - side] * int(count)
            tie += [is_tie] * int(count)
    full = c.bradley_terry(600, np.array(w), np.array(lo), np.array(tie))
    pairs = c.bradley_terry_pairs(left, right, ties, bootstrap=40, seed=3)
    evens, odds = np.arange(0, 600, 2), np.arange(1, 600, 2)
    assert np.allclose(full.prob(evens, odds), pairs.p_left, atol=1e-5)
    assert np.allclose(full.log_score[evens], pairs.left, atol=1e-4)
    assert pairs.low is not None and pairs.high is not None
    assert ((pairs.low <= pairs.p_left + 1e-9) & (pairs.p_left <= pairs.high + 1e-9)).all()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=1, max_size=40))
def test_bootstrap_intervals_contain_the_point_estimate(pairs: list[tuple[int, int]]) -> None:
    pairs = [(w, lo) for w, lo in pairs if w != lo] or [(0, 1)]
    winners, losers = (np.array(x) for x in zip(*pairs, strict=True))
    fit = c.bradley_terry(5, winners, losers, bootstrap=30, seed=0)
    assert fit.low is not None and fit.high is not None
    assert ((fit.low <= fit.log_score + 1e-6) & (fit.log_score <= fit.high + 1e-6)).all()


def test_numeric_summaries_per_item() -> None:
    r = c.numeric([0, 0, 0, 0, 1, 1, 2], [1, 2, 3, 4, 5, 5, 1], 4, 1, 5)
    assert r.n.tolist() == [4, 2, 1, 0]
    assert r.mean[:3].tolist() == pytest.approx([2.5, 5, 1])
    assert r.median[:3].tolist() == pytest.approx([2.5, 5, 1])
    assert r.iqr[:3].tolist() == pytest.approx([1.5, 0, 0])
    assert r.std[0] == pytest.approx(np.std([1, 2, 3, 4]))
    assert r.confidence[1] == 1.0 and np.isnan(r.mean[3])
    split = c.numeric([0, 0], [1, 5], 1, 1, 5)
    assert split.confidence[0] == pytest.approx(0.0)


# ---- the API -----------------------------------------------------------------------------

LABEL_TEMPLATE: dict[str, Any] = {
    "fields": [{"name": "prompt", "type": "markdown"}],
    "questions": [
        {"name": "topic", "type": "label", "options": {"labels": ["a", "b", "c"]}},
        {"name": "score", "type": "rating", "options": {"min": 1, "max": 5}},
        {"name": "note", "type": "text", "required": False},
    ],
}


async def worked(world: World, plan: list[dict[str, tuple[str, int]]]) -> tuple[Any, str]:
    """A label project with one item per prompt in the plan, each worker answering as told."""
    owner = await world.user("owner")
    proj = await world.project(owner, template=LABEL_TEMPLATE, workflow={"overlap": len(plan)})
    prompts = sorted(plan[0])
    await world.items(
        owner, proj["id"], [{"external_id": p, "data": {"prompt": p}} for p in prompts]
    )
    for answers in plan:
        w = await world.user()
        await world.member(owner, proj["id"], w)
        while (r := await w.next(proj["id"])).status_code == 200:
            topic, score = answers[r.json()["item"]["data"]["prompt"]]
            body = {"answer": {"topic": topic, "score": score}}
            s = await w.post(f"/assignments/{r.json()['id']}/submit", json=body)
            assert s.status_code == 201, s.text
    return owner, proj["id"]


PLAN = [
    {"p0": ("a", 1), "p1": ("b", 4), "p2": ("c", 5)},
    {"p0": ("a", 1), "p1": ("b", 4), "p2": ("c", 5)},
    {"p0": ("b", 2), "p1": ("b", 5), "p2": ("c", 5)},
]


async def test_consensus_gives_each_items_aggregate_and_each_contributors_accuracy(
    world: World,
) -> None:
    owner, pid = await worked(world, PLAN)
    r = await owner.get(f"/projects/{pid}/consensus", params={"question": "topic"})
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["question"], got["type"], got["method"], got["items"]) == (
        "topic", "label", "dawid_skene", 3
    )  # fmt: skip
    answers = {d["external_id"]: d["answer"] for d in got["data"]}
    assert answers == {"p0": "a", "p1": "b", "p2": "c"}
    assert all(0.5 < d["confidence"] <= 1 and d["responses"] == 3 for d in got["data"])
    assert set(got["data"][0]["detail"]["posterior"]) == {"a", "b", "c"}
    accuracy = sorted(c["accuracy"] for c in got["contributors"])
    assert accuracy[0] < accuracy[1] and all(
        c["pseudonym"].startswith("c_") for c in got["contributors"]
    )
    assert next_page_walks(got) is None

    mv = (
        await owner.get(
            f"/projects/{pid}/consensus", params={"question": "topic", "method": "majority"}
        )
    ).json()
    p0 = next(d for d in mv["data"] if d["external_id"] == "p0")
    assert p0["confidence"] == pytest.approx(2 / 3)
    assert sorted(c["accuracy"] for c in mv["contributors"]) == pytest.approx([2 / 3, 1, 1])

    ratings = (await owner.get(f"/projects/{pid}/consensus", params={"question": "score"})).json()
    assert ratings["method"] == "mean"
    p1 = next(d for d in ratings["data"] if d["external_id"] == "p1")
    assert p1["answer"] == pytest.approx(13 / 3)
    assert p1["detail"]["median"] == 4 and p1["detail"]["iqr"] == pytest.approx(0.5)
    assert p1["confidence"] == pytest.approx(1 - np.std([4, 4, 5]) / 2)

    page = (
        await owner.get(f"/projects/{pid}/consensus", params={"question": "topic", "limit": 2})
    ).json()
    assert len(page["data"]) == 2 and page["next_cursor"]
    rest = await owner.get(
        f"/projects/{pid}/consensus", params={"question": "topic", "cursor": page["next_cursor"]}
    )
    assert [d["external_id"] for d in rest.json()["data"]] == ["p2"]


def next_page_walks(got: dict[str, Any]) -> Any:
    return got["next_cursor"]


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"question": "nope"}, "question"),
        ({"question": "note"}, "question"),
        ({"question": "topic", "method": "nope"}, "method"),
        ({"question": "topic", "method": "bradley_terry"}, "method"),
        ({"question": "score", "method": "dawid_skene"}, "method"),
        ({"question": "topic", "bootstrap": "-1"}, "bootstrap"),
    ],
)
async def test_bad_consensus_parameters_are_422_naming_the_field(
    world: World, params: dict[str, str], loc: str
) -> None:
    owner = await world.user("owner")
    proj = await world.project(owner, template=LABEL_TEMPLATE)
    r = await owner.get(f"/projects/{proj['id']}/consensus", params=params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["loc"] == ["query", loc]


@pytest.mark.parametrize("method", ["mace", "wawa", "glad", "one_coin_dawid_skene"])
async def test_crowd_kits_methods_aggregate_through_the_same_interface(
    world: World, method: str
) -> None:
    _crowdkit()
    owner, pid = await worked(world, PLAN)
    r = await owner.get(
        f"/projects/{pid}/consensus", params={"question": "topic", "method": method}
    )
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["method"] == method
    assert {d["external_id"]: d["answer"] for d in got["data"]} == {"p0": "a", "p1": "b", "p2": "c"}
    assert all(0 < d["confidence"] <= 1 for d in got["data"])
    assert len(got["contributors"]) == 3
