"""`step_review`: judge a model's chain of thought step by step (PRM800K-style labels)."""

from __future__ import annotations

from typing import Any

from inlier.questions.base import (
    Grade,
    Loc,
    Pair,
    Problems,
    QuestionKind,
    QuestionSpec,
    Steps,
    Strict,
    problem,
)

VERDICT_LABELS = {"approve": {1}, "improve": {0, -1}, "reject": {-1}}
DEFAULT_LABEL = {"approve": 1, "reject": -1}


class StepReviewOptions(Strict):
    steps_field: str
    stop_at_first_error: bool = False
    ask_final_answer: bool = True


class StepReview(QuestionKind):
    type = "step_review"
    Options = StepReviewOptions

    def check_parsed_options(self, q: QuestionSpec, opts: Any, fields: Any, loc: Loc) -> Problems:
        f = fields.get(opts.steps_field)
        if f is None:
            return problem([*loc, "options", "steps_field"], f"no field named {opts.steps_field!r}")
        if f.type != "steps":
            return problem([*loc, "options", "steps_field"], "must name a field of type steps")
        return []

    def check_answer(self, q: QuestionSpec, value: Any, data: dict[str, Any], loc: Loc) -> Problems:
        opts = self.options(q)
        if not isinstance(value, dict):
            return problem(loc, 'must be {"steps": [...], "final_answer_correct": bool}')
        for key in value:
            if key not in ("steps", "final_answer_correct"):
                return problem([*loc, key], "unknown field")
        steps = value.get("steps")
        if not isinstance(steps, list) or not steps:
            return problem([*loc, "steps"], "must be a non-empty list of step verdicts")
        for i, step in enumerate(steps):
            sloc: Loc = [*loc, "steps", i]
            if not isinstance(step, dict):
                return problem(sloc, "must be {verdict, label, rewrite?}")
            for key in step:
                if key not in ("verdict", "label", "rewrite"):
                    return problem([*sloc, key], "unknown field")
            verdict = step.get("verdict")
            if verdict not in VERDICT_LABELS:
                return problem([*sloc, "verdict"], 'must be "approve", "improve" or "reject"')
            label = step.get(
                "label", 1 if verdict == "approve" else -1 if verdict == "reject" else None
            )
            if label not in VERDICT_LABELS[verdict] or isinstance(label, bool):
                allowed = sorted(VERDICT_LABELS[verdict])
                return problem([*sloc, "label"], f"with {verdict} the label is one of {allowed}")
            rewrite = step.get("rewrite")
            if verdict == "improve" and (not isinstance(rewrite, str) or not rewrite.strip()):
                return problem([*sloc, "rewrite"], "an improved step needs its rewrite")
            if rewrite is not None and (not isinstance(rewrite, str) or len(rewrite) > 100_000):
                return problem([*sloc, "rewrite"], "must be a string of at most 100000 characters")
        known = data.get(opts.steps_field)
        if isinstance(known, list):
            first_bad = next((i for i, s in enumerate(steps) if s.get("label", 1) == -1), None)
            stopped_early = opts.stop_at_first_error and first_bad is not None
            if stopped_early and first_bad is not None and len(steps) != first_bad + 1:
                return problem([*loc, "steps"], "stop at the first wrong step")
            if not stopped_early and len(steps) != len(known):
                return problem([*loc, "steps"], f"judge each of the {len(known)} steps")
        final = value.get("final_answer_correct")
        if final is not None and not isinstance(final, bool):
            return problem([*loc, "final_answer_correct"], "must be true or false")
        if opts.ask_final_answer and final is None and q.required:
            return problem(
                [*loc, "final_answer_correct"], "say whether the final answer is correct"
            )
        return []

    def _judged(
        self, q: QuestionSpec, value: Any, data: dict[str, Any]
    ) -> list[tuple[str, int, str | None]]:
        """(original step, label, rewrite) for each judged step, in order."""
        original = data.get(self.options(q).steps_field)
        steps = value.get("steps") if isinstance(value, dict) else None
        if not isinstance(original, list) or not isinstance(steps, list):
            return []
        judged = []
        for text, step in zip(original, steps, strict=False):
            if not isinstance(text, str) or not isinstance(step, dict):
                return []
            label = step.get("label", DEFAULT_LABEL.get(step.get("verdict", "")))
            if label not in (1, 0, -1) or isinstance(label, bool):
                return []
            rewrite = step.get("rewrite")
            judged.append(
                (text, label, rewrite if isinstance(rewrite, str) and rewrite.strip() else None)
            )
        return judged

    def export_steps(
        self,
        q: QuestionSpec,
        value: Any,
        data: dict[str, Any],
        *,
        neutral_as: bool,
        rewrites: bool,
    ) -> Steps | None:
        """PRM800K semantics: +1 true, -1 false, 0 ``neutral_as``; nothing after the first
        wrong step, because a step that follows an error is judged in a broken context.
        With ``rewrites`` the chain is the expert-corrected one: an approved or rewritten step
        is true, and a wrong step nobody rewrote still ends the chain, as false."""
        judged = self._judged(q, value, data)
        if not judged:
            return None
        completions: list[str] = []
        labels: list[bool] = []
        for text, label, rewrite in judged:
            if rewrites and (label == 1 or rewrite is not None):
                completions.append(rewrite or text)
                labels.append(True)
                continue
            completions.append(text)
            labels.append(True if label == 1 else False if label == -1 else neutral_as)
            if label == -1:
                break
        return Steps(completions, labels)

    def export_pairs(self, q: QuestionSpec, value: Any, data: dict[str, Any]) -> list[Pair]:
        """The expert-corrected chain over the model's original, over the judged steps, when
        the expert rewrote something and left no wrong step uncorrected."""
        judged = self._judged(q, value, data)
        if not any(rewrite is not None and rewrite != text for text, _, rewrite in judged):
            return []
        if any(label != 1 and rewrite is None for _, label, rewrite in judged):
            return []
        chosen = "\n".join(rewrite or text for text, _, rewrite in judged)
        rejected = "\n".join(text for text, _, _ in judged)
        return [Pair(chosen, rejected, 1.0, "improvement")]

    def grade(self, q: QuestionSpec, value: Any, gold: Any) -> Grade:
        """Per-step agreement: the share of gold's steps given the same label (+1/0/-1), with
        the final-answer judgement as one more unit when gold states it. A step the answer
        left out (it stopped earlier) disagrees; steps past the end of gold are not graded."""
        expected = gold.get("steps") if isinstance(gold, dict) else None
        given = value.get("steps") if isinstance(value, dict) else None
        if not isinstance(expected, list) or not isinstance(given, list):
            return Grade(0.0, "not a step review")
        agree = sum(
            1
            for i, step in enumerate(expected)
            if i < len(given)
            and step_label(step) is not None
            and step_label(given[i]) == step_label(step)
        )
        units, points = len(expected), agree
        parts = [f"{agree} of {len(expected)} steps judged as expected"]
        final = gold.get("final_answer_correct")
        if isinstance(final, bool):
            units += 1
            same = value.get("final_answer_correct") is final
            points += int(same)
            parts.append("final answer judged as expected" if same else "final answer misjudged")
        return Grade(points / units if units else 1.0, "; ".join(parts))


def step_label(step: Any) -> int | None:
    """A judged step's label (+1/0/-1), from its verdict when the label is left out."""
    if not isinstance(step, dict):
        return None
    label = step.get("label", DEFAULT_LABEL.get(step.get("verdict", "")))
    return label if label in (1, 0, -1) and not isinstance(label, bool) else None
