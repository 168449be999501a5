"""Question types: their options, their answers, and template errors that point at the place."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import PAIRWISE_TEMPLATE, World
from inlier.kit.errors import InvalidInput
from inlier.questions import REGISTRY, parse_template

FIELDS = [
    {"name": "prompt", "type": "markdown"},
    {"name": "a", "type": "markdown"},
    {"name": "b", "type": "markdown"},
    {"name": "c", "type": "markdown"},
    {"name": "cot", "type": "steps"},
]

QUESTIONS: dict[str, dict[str, Any]] = {
    "label": {"options": {"labels": ["yes", "no"]}},
    "multi_label": {"options": {"labels": ["x", "y", "z"], "min": 1, "max": 2}},
    "rating": {"options": {"min": 1, "max": 5}},
    "rubric": {
        "options": {
            "criteria": [
                {"name": "soundness", "min": 0, "max": 4},
                {"name": "relevance", "min": 0, "max": 4},
            ]
        }
    },
    "ranking": {"options": {"fields": ["a", "b", "c"], "allow_ties": True}},
    "pairwise": {"options": {"left": "a", "right": "b", "allow_tie": False}},
    "text": {"options": {"min_length": 5, "max_length": 50}},
    "step_review": {"options": {"steps_field": "cot", "stop_at_first_error": True}},
}

DATA = {"prompt": "p", "a": "A", "b": "B", "c": "C", "cot": ["s1", "s2", "s3"]}

GOOD: dict[str, list[Any]] = {
    "label": ["yes", "no"],
    "multi_label": [["x"], ["x", "z"]],
    "rating": [1, 5],
    "rubric": [{"soundness": 0, "relevance": 4}],
    "ranking": [["a", "b", "c"], [["a", "b"], "c"], ["c", ["a", "b"]]],
    "pairwise": [{"choice": "left", "strength": 1}, {"choice": "right", "strength": 3}],
    "text": ["hello", "  five chars  "],
    "step_review": [
        {"steps": [{"verdict": "approve", "label": 1}] * 3, "final_answer_correct": True},
        {
            "steps": [
                {"verdict": "approve", "label": 1},
                {"verdict": "improve", "label": -1, "rewrite": "better"},
            ],
            "final_answer_correct": False,
        },
        {
            "steps": [
                {"verdict": "approve"},
                {"verdict": "improve", "label": 0, "rewrite": "r"},
                {"verdict": "approve"},
            ],
            "final_answer_correct": True,
        },
    ],
}

BAD: dict[str, list[tuple[Any, list[Any]]]] = {
    "label": [("maybe", []), (1, []), (["yes"], [])],
    "multi_label": [([], []), (["x", "y", "z"], []), (["w"], [0]), (["x", "x"], []), ("x", [])],
    "rating": [(0, []), (6, []), (True, []), (2.5, []), ("3", [])],
    "rubric": [
        ({"soundness": 1}, ["relevance"]),
        ({"soundness": 5, "relevance": 1}, ["soundness"]),
        ({"soundness": 1, "relevance": 1, "extra": 1}, ["extra"]),
    ],
    "ranking": [
        (["a", "b"], []),
        (["a", "a", "b", "c"], []),
        (["a", "b", "d"], [2]),
        ([[], "a", "b", "c"], [0]),
    ],
    "pairwise": [
        ({"choice": "tie"}, ["choice"]),
        ({"choice": "left"}, ["strength"]),
        ({"choice": "left", "strength": 4}, ["strength"]),
        ({"choice": "up"}, ["choice"]),
        ({"choice": "left", "strength": 1, "x": 1}, ["x"]),
    ],
    "text": [("four", []), ("x" * 51, []), (5, [])],
    "step_review": [
        (
            {"steps": [{"verdict": "approve", "label": 1}] * 2, "final_answer_correct": True},
            ["steps"],
        ),
        (
            {"steps": [{"verdict": "approve", "label": 0}] * 3, "final_answer_correct": True},
            ["steps", 0, "label"],
        ),
        (
            {"steps": [{"verdict": "improve", "label": 0}] * 3, "final_answer_correct": True},
            ["steps", 0, "rewrite"],
        ),
        (
            {"steps": [{"verdict": "reject", "label": -1}] * 3, "final_answer_correct": True},
            ["steps"],
        ),
        ({"steps": [{"verdict": "approve"}] * 3}, ["final_answer_correct"]),
    ],
}


def _template(qtype: str) -> Any:
    return parse_template(
        {"fields": FIELDS, "questions": [{"name": "q", "type": qtype, **QUESTIONS[qtype]}]},
        ["template"],
    )


def test_every_registered_type_is_covered_here() -> None:
    assert set(REGISTRY) == set(QUESTIONS) == set(GOOD) == set(BAD)


@pytest.mark.parametrize(("qtype", "value"), [(t, v) for t, vs in GOOD.items() for v in vs])
def test_good_answers_pass(qtype: str, value: Any) -> None:
    assert _template(qtype).check_answer({"q": value}, DATA, ["answer"]) == []


@pytest.mark.parametrize(
    ("qtype", "value", "where"), [(t, v, w) for t, cases in BAD.items() for v, w in cases]
)
def test_bad_answers_name_the_field(qtype: str, value: Any, where: list[Any]) -> None:
    problems = _template(qtype).check_answer({"q": value}, DATA, ["answer"])
    assert problems, f"{qtype} accepted {value!r}"
    assert problems[0]["loc"][: 2 + len(where)] == ["answer", "q", *where]


def test_required_and_unknown_questions() -> None:
    t = _template("label")
    assert t.check_answer({}, DATA, ["answer"])[0] == {
        "loc": ["answer", "q"],
        "msg": "answer required",
    }
    assert t.check_answer({"q": "yes", "zz": 1}, DATA, ["answer"])[0]["loc"] == ["answer", "zz"]
    assert t.check_answer({}, DATA, ["gold"], partial=True) == []


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"questions": []}, ["t", "questions"]),
        ({"questions": [{"name": "q", "type": "nope"}]}, ["t", "questions", 0, "type"]),
        (
            {"questions": [{"name": "q", "type": "label", "options": {"labels": []}}]},
            ["t", "questions", 0, "options", "labels"],
        ),
        (
            {"questions": [{"name": "q", "type": "rating", "options": {"min": 5, "max": 1}}]},
            ["t", "questions", 0, "options", "max"],
        ),
        (
            {"questions": [{"name": "q", "type": "ranking", "options": {"fields": ["a", "zz"]}}]},
            ["t", "questions", 0, "options", "fields", 1],
        ),
        (
            {"questions": [{"name": "q", "type": "step_review", "options": {"steps_field": "a"}}]},
            ["t", "questions", 0, "options", "steps_field"],
        ),
        ({"questions": [{"name": "a", "type": "text"}]}, ["t", "questions", 0, "name"]),
        (
            {"questions": [{"name": "q", "type": "text", "colour": "red"}]},
            ["t", "questions", 0, "colour"],
        ),
        ({"fields": [{"name": "bad name", "type": "text"}]}, ["t", "fields", 0, "name"]),
        ({"fields": [{"name": "x", "type": "video"}]}, ["t", "fields", 0, "type"]),
        (
            {
                "fields": [
                    *FIELDS,
                    {"name": "gen", "type": "steps", "generated": {"from": ["ghost"]}},
                ]
            },
            ["t", "fields", 5, "generated", "from", 0],
        ),
    ],
)
def test_template_errors_point_at_the_place(change: dict[str, Any], loc: list[Any]) -> None:
    raw = {
        "fields": FIELDS,
        "questions": [{"name": "q", "type": "label", "options": {"labels": ["y"]}}],
        **change,
    }
    with pytest.raises(InvalidInput) as err:
        parse_template(raw, ["t"])
    assert err.value.errors is not None
    assert err.value.errors[0]["loc"][: len(loc)] == loc


async def test_the_api_reports_template_errors_under_body(world: World) -> None:
    owner = await world.user("owner")
    bad = {
        **PAIRWISE_TEMPLATE,
        "questions": [
            {"name": "p", "type": "pairwise", "options": {"left": "prompt", "right": "zz"}}
        ],
    }
    r = await owner.post("/projects", json={"name": "x", "template": bad})
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "template", "questions", 0, "options", "right"]
    assert "zz" in r.json()["detail"]
    assert (await owner.get("/projects")).json()["data"] == []
