"""Gold scoring by each question type: the rules of docs/experts.md, and the invariants every
scorer keeps (a score is always in 0..1; gold scores itself 1; Kendall's tau is symmetric)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inlier.questions import REGISTRY, parse_template
from inlier.questions.ranking import kendall_tau

TEMPLATE = parse_template(
    {
        "fields": [
            {"name": "a", "type": "markdown"},
            {"name": "b", "type": "markdown"},
            {"name": "c", "type": "markdown"},
            {"name": "cot", "type": "steps"},
        ],
        "questions": [
            {"name": "label", "type": "label", "options": {"labels": ["yes", "no", "unsure"]}},
            {"name": "tags", "type": "multi_label", "options": {"labels": ["x", "y", "z", "w"]}},
            {"name": "rating", "type": "rating", "options": {"min": 1, "max": 5}},
            {
                "name": "strict_rating",
                "type": "rating",
                "options": {"min": 1, "max": 5, "tolerance": 0},
            },
            {
                "name": "rubric",
                "type": "rubric",
                "options": {
                    "criteria": [
                        {"name": "sound", "min": 0, "max": 4},
                        {"name": "clear", "min": 1, "max": 3},
                    ]
                },
            },
            {
                "name": "rank",
                "type": "ranking",
                "options": {"fields": ["a", "b", "c"], "allow_ties": True},
            },
            {"name": "pair", "type": "pairwise", "options": {"left": "a", "right": "b"}},
            {"name": "essay", "type": "text"},
            {"name": "review", "type": "step_review", "options": {"steps_field": "cot"}},
        ],
    },
    ["template"],
)
Q = TEMPLATE.questions
DATA = {"a": "A", "b": "B", "c": "C", "cot": ["s1", "s2", "s3"]}


def score(name: str, value: Any, gold: Any) -> float | None:
    q = Q[name]
    return REGISTRY[q.type].score(q, value, gold)


def test_a_label_scores_by_exact_match() -> None:
    assert score("label", "yes", "yes") == 1.0
    assert score("label", "no", "yes") == 0.0


def test_multi_label_scores_by_jaccard_similarity() -> None:
    assert score("tags", ["x", "y"], ["x", "y"]) == 1.0
    assert score("tags", ["x"], ["x", "y"]) == 0.5
    assert score("tags", ["x", "z"], ["x", "y"]) == pytest.approx(1 / 3)
    assert score("tags", [], []) == 1.0


def test_ratings_score_full_within_tolerance_and_less_beyond() -> None:
    assert score("rating", 4, 4) == 1.0
    assert score("rating", 5, 4) == 1.0  # one step on a five-point scale
    assert score("rating", 2, 4) == pytest.approx(0.75)
    assert score("rating", 1, 5) == pytest.approx(0.25)
    assert score("strict_rating", 5, 4) == pytest.approx(0.75)


def test_a_rubric_is_the_mean_of_its_criteria() -> None:
    assert score("rubric", {"sound": 4, "clear": 3}, {"sound": 4, "clear": 3}) == 1.0
    # sound: 0 vs 4, tolerance 1 on a 0..4 scale → 1 - 3/4; clear: exact.
    got = score("rubric", {"sound": 0, "clear": 3}, {"sound": 4, "clear": 3})
    assert got == pytest.approx((0.25 + 1.0) / 2)


def test_rankings_score_by_kendall_tau() -> None:
    assert score("rank", ["a", "b", "c"], ["a", "b", "c"]) == 1.0
    assert score("rank", ["c", "b", "a"], ["a", "b", "c"]) == 0.0
    assert score("rank", ["b", "a", "c"], ["a", "b", "c"]) == pytest.approx((1 / 3 + 1) / 2)
    assert score("rank", [["a", "b"], "c"], [["a", "b"], "c"]) == 1.0


def test_pairwise_scores_the_choice_not_the_strength() -> None:
    assert score("pair", {"choice": "left", "strength": 1}, {"choice": "left", "strength": 3}) == 1
    assert score("pair", {"choice": "tie"}, {"choice": "left", "strength": 3}) == 0.0


def test_step_review_scores_per_step_agreement_and_the_final_answer() -> None:
    gold = {
        "steps": [
            {"verdict": "approve"},
            {"verdict": "improve", "label": 0, "rewrite": "x"},
            {"verdict": "reject"},
        ],
        "final_answer_correct": False,
    }
    same = {**gold}
    assert score("review", same, gold) == 1.0
    one_off = {
        "steps": [{"verdict": "approve"}, {"verdict": "approve"}, {"verdict": "reject"}],
        "final_answer_correct": False,
    }
    assert score("review", one_off, gold) == pytest.approx(3 / 4)
    stopped = {"steps": [{"verdict": "reject"}], "final_answer_correct": True}
    assert score("review", stopped, gold) == 0.0


def test_text_is_left_to_a_reviewer() -> None:
    q = Q["essay"]
    graded = REGISTRY["text"].grade(q, "my essay", "the reference")
    assert graded.score is None and "reviewer" in graded.detail


def test_feedback_never_states_the_gold_answer() -> None:
    q = Q["label"]
    assert "unsure" not in REGISTRY["label"].grade(q, "yes", "unsure").detail


# ---- invariants ----------------------------------------------------------------------------

LABELS = st.sampled_from(["yes", "no", "unsure"])
TAGS = st.lists(st.sampled_from(["x", "y", "z", "w"]), unique=True)
RATING = st.integers(1, 5)
RUBRIC = st.fixed_dictionaries({"sound": st.integers(0, 4), "clear": st.integers(1, 3)})


@st.composite
def rankings(draw: st.DrawFn) -> list[Any]:
    order = draw(st.permutations(["a", "b", "c"]))
    out: list[Any] = []
    for name in order:
        if out and draw(st.booleans()):
            last = out[-1]
            out[-1] = [*last, name] if isinstance(last, list) else [last, name]
        else:
            out.append(name)
    return out


PAIR = st.one_of(
    st.just({"choice": "tie"}),
    st.fixed_dictionaries(
        {"choice": st.sampled_from(["left", "right"]), "strength": st.integers(1, 3)}
    ),
)
STEP = st.one_of(
    st.just({"verdict": "approve"}),
    st.just({"verdict": "reject"}),
    st.fixed_dictionaries(
        {"verdict": st.just("improve"), "label": st.sampled_from([0, -1]), "rewrite": st.just("r")}
    ),
)
REVIEW = st.fixed_dictionaries(
    {"steps": st.lists(STEP, min_size=1, max_size=3), "final_answer_correct": st.booleans()}
)
ANSWERS = {
    "label": LABELS,
    "tags": TAGS,
    "rating": RATING,
    "strict_rating": RATING,
    "rubric": RUBRIC,
    "rank": rankings(),
    "pair": PAIR,
    "review": REVIEW,
}


@pytest.mark.parametrize("name", sorted(ANSWERS))
@given(data=st.data())
def test_every_score_is_in_0_to_1_and_gold_scores_itself_1(name: str, data: st.DataObject) -> None:
    value = data.draw(ANSWERS[name])
    gold = data.draw(ANSWERS[name])
    got = score(name, value, gold)
    assert got is not None and 0.0 <= got <= 1.0
    assert score(name, gold, gold) == 1.0


@pytest.mark.parametrize("name", sorted(ANSWERS))
@given(
    junk=st.one_of(
        st.none(),
        st.integers(),
        st.text(),
        st.lists(st.integers()),
        st.dictionaries(st.text(), st.integers()),
    )
)
def test_an_answer_of_the_wrong_shape_scores_0_to_1_and_never_fails(name: str, junk: Any) -> None:
    gold = {
        "label": "yes",
        "tags": ["x"],
        "rating": 3,
        "strict_rating": 3,
        "rubric": {"sound": 2, "clear": 2},
        "rank": ["a", "b", "c"],
        "pair": {"choice": "left", "strength": 2},
        "review": {"steps": [{"verdict": "approve"}], "final_answer_correct": True},
    }[name]
    got = score(name, junk, gold)
    assert got is not None and 0.0 <= got <= 1.0


RANKS = st.dictionaries(st.sampled_from("abcdef"), st.integers(1, 4), min_size=2)


@given(a=RANKS, b=RANKS)
def test_kendall_tau_is_symmetric_and_bounded(a: dict[str, int], b: dict[str, int]) -> None:
    assert kendall_tau(a, b) == pytest.approx(kendall_tau(b, a))
    assert -1.0 <= kendall_tau(a, b) <= 1.0
    assert kendall_tau(a, a) == 1.0


def test_every_question_type_can_grade() -> None:
    assert set(REGISTRY) == {q.type for q in Q.values()}
