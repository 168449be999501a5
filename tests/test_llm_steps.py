"""The splitter that turns a model's answer into the steps an expert judges one by one."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inlier.llm.steps import split_steps

# One step's text: a line that does not itself start like a marker.
step_text = (
    st.text(
        alphabet=st.characters(
            categories=("L", "P", "Zs"),
            exclude_characters="\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029",
        ),
        min_size=1,
        max_size=40,
    )
    .map(str.strip)
    .filter(lambda s: s != "" and not re.match(r"(?i)[#*_\s]*(step|\d)", s))
)
steps_lists = st.lists(step_text, min_size=2, max_size=12)


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        ("Step 1: Add.\nStep 2: Divide.", ["Add.", "Divide."]),
        ("**Step 1:** Add.\n**Step 2**: Divide.", ["Add.", "Divide."]),
        ("### Step 1. Add.\n### Step 2 - Divide.", ["Add.", "Divide."]),
        ("step 1) add\nSTEP 2) divide", ["add", "divide"]),
        # Bold that belongs to the step's text stays with it.
        ("Step 1: **Check** it\nStep 2: __done__", ["**Check** it", "__done__"]),
        ("**Step 1: Check.**\n**Step 2: Done.**", ["Check.", "Done."]),
        ("1. Add.\n2) Divide.", ["Add.", "Divide."]),
        ("Add.\n\nDivide.\n\n\nDone.", ["Add.", "Divide.", "Done."]),
        ("Add.\nDivide.", ["Add.", "Divide."]),
        ("One line only.", ["One line only."]),
        ("", []),
        ("  \n\n ", []),
        # Text before the first marker is a step of its own; text after a step stays with it.
        (
            "Let's think.\n\nStep 1: Add.\nStep 2: Divide.\n\nAnswer: 4",
            ["Let's think.", "Add.", "Divide.\n\nAnswer: 4"],
        ),
        # Markers count only in sequence: a nested list and a quoted number stay in their step.
        (
            "1. Add:\n   1. the tens\n   2. the ones\n2. Divide.",
            ["Add:\n   1. the tens\n   2. the ones", "Divide."],
        ),
        (
            "Step 1: see 3. below\n3. not a step\nStep 2: end",
            ["see 3. below\n3. not a step", "end"],
        ),
        # Decimals are not list markers; a single marker does not make a list.
        ("1.5 is half of 3.\n2 is less.", ["1.5 is half of 3.", "2 is less."]),
        ("Step 1: just one", ["Step 1: just one"]),
        ("Step 1:\nStep 2: b\r\nStep 3: c", ["b", "c"]),
    ],
)
def test_examples(text: str, steps: list[str]) -> None:
    assert split_steps(text) == steps


@given(steps_lists)
def test_step_markers_round_trip(steps: list[str]) -> None:
    assert split_steps("\n".join(f"Step {i}: {s}" for i, s in enumerate(steps, 1))) == steps


@given(steps_lists)
def test_numbered_lists_round_trip(steps: list[str]) -> None:
    assert split_steps("\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))) == steps


@given(steps_lists)
def test_paragraphs_and_lines_round_trip(steps: list[str]) -> None:
    assert split_steps("\n\n".join(steps)) == steps
    assert split_steps("\n".join(steps)) == steps


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _is_subsequence(small: str, big: str) -> bool:
    it = iter(big)
    return all(ch in it for ch in small)


@given(st.text(max_size=400))
def test_steps_are_trimmed_nonempty_and_invent_nothing(text: str) -> None:
    steps = split_steps(text)
    assert all(s and s == s.strip() for s in steps)
    assert _is_subsequence(_squeeze("".join(steps)), _squeeze(text))


@given(st.text(alphabet=st.characters(exclude_categories=("Nd",)), max_size=400))
def test_without_markers_nothing_is_lost(text: str) -> None:
    """Only markers are removed, so text that cannot hold one keeps every visible character."""
    if re.search(r"(?i)step", text):
        return
    assert _squeeze("".join(split_steps(text))) == _squeeze(text)
