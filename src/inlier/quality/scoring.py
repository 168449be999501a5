"""The arithmetic of scores and standing, free of any database: what the service stores and
what a recomputation from the stored events must give back.

A score is the mean of a Beta posterior over "this person's work is good". Each event adds its
weight to the evidence for (``value``) and against (``1 - value``); earlier evidence decays by
``DECAY`` per event, so recent work counts more and an old slip fades. The prior is Beta(1, 1).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Each new event keeps 97% of the earlier evidence: its weight halves after ~23 events.
DECAY = 0.97
# A 90% equal-tailed credible interval.
INTERVAL = 0.90
DEFAULT_MIN_EVENTS = 5
DEFAULT_APPEAL_DAYS = 7

OK, WARNING, PAUSED, REVIEWER = "ok", "warning", "paused", "reviewer"


@dataclass(frozen=True)
class Evidence:
    good: float = 0.0
    bad: float = 0.0
    events: int = 0

    def add(self, value: float, weight: float) -> Evidence:
        """The evidence after one more event (the order of operations is the stored one)."""
        return Evidence(
            self.good * DECAY + weight * value,
            self.bad * DECAY + weight * (1.0 - value),
            self.events + 1,
        )

    @property
    def score(self) -> float:
        return (1.0 + self.good) / (2.0 + self.good + self.bad)

    @property
    def interval(self) -> tuple[float, float]:
        from scipy.stats import beta as beta_dist  # imported when first needed: it is slow

        a, b = 1.0 + self.good, 1.0 + self.bad
        tail = (1.0 - INTERVAL) / 2
        return float(beta_dist.ppf(tail, a, b)), float(beta_dist.ppf(1.0 - tail, a, b))


def fold(events: Iterable[tuple[float, float]]) -> Evidence:
    """Evidence from ``(value, weight)`` pairs in the order they were recorded."""
    e = Evidence()
    for value, weight in events:
        e = e.add(value, weight)
    return e


@dataclass(frozen=True)
class Thresholds:
    warn_below: float | None
    pause_below: float | None
    promote_reviewer_at: float | None
    min_events: int

    @classmethod
    def of(cls, quality: dict[str, Any] | None) -> Thresholds:
        q = quality or {}
        return cls(
            q.get("warn_below"),
            q.get("pause_below"),
            q.get("promote_reviewer_at"),
            int(q.get("min_events", DEFAULT_MIN_EVENTS)),
        )

    def out(self) -> dict[str, Any]:
        return {
            "warn_below": self.warn_below,
            "pause_below": self.pause_below,
            "promote_reviewer_at": self.promote_reviewer_at,
            "min_events": self.min_events,
        }


def next_state(
    state: str, e: Evidence, events_at_reinstatement: int, t: Thresholds
) -> tuple[str, str | None]:
    """The standing after an event, and the reason a person is shown for it.

    A pause stays until an appeal (or an owner) lifts it; after that only events recorded
    since can pause again. Nothing decides on fewer than ``min_events`` events.
    """
    if state == PAUSED:
        return PAUSED, None
    score = e.score
    since = e.events - events_at_reinstatement
    if t.pause_below is not None and since >= t.min_events and score < t.pause_below:
        return PAUSED, (
            f"Your quality score {score:.2f} over your last {since} checked tasks is below "
            f"this project's pause threshold {t.pause_below:.2f}."
        )
    if (
        t.promote_reviewer_at is not None
        and e.events >= t.min_events
        and score >= t.promote_reviewer_at
    ):
        return REVIEWER, (
            f"Your quality score {score:.2f} reached this project's reviewer threshold "
            f"{t.promote_reviewer_at:.2f}: you may review others' work."
        )
    if t.warn_below is not None and e.events >= t.min_events and score < t.warn_below:
        return WARNING, (
            f"Your quality score {score:.2f} is below this project's warning threshold "
            f"{t.warn_below:.2f}; below {t.pause_below:.2f} work pauses."
            if t.pause_below is not None
            else f"Your quality score {score:.2f} is below this project's warning threshold "
            f"{t.warn_below:.2f}."
        )
    return OK, None


VERDICT_VALUE = {"approve": 1.0, "improve": 0.5, "reject": 0.0}
