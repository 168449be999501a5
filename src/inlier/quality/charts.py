"""Geometry for the quality pages' server-rendered SVG: a score's credible interval against the
project's thresholds, and the project's quality per week. Pure functions of the service's
output, so the pages need no script and the CSP needs no inline style (SVG presentation
attributes carry the positions; colours come from classes in inlier.css)."""

from __future__ import annotations

import math
from typing import Any

# The order kinds are listed in, and how a person reads each.
KIND_LABELS = {
    "gold": "Gold checks",
    "review": "Review verdicts",
    "agreement": "Agreement with others",
    "speed": "Speed flags",
    "authenticity": "Authenticity flags",
    "review_audit": "Reviews checked against gold",
    "appeal": "Appeals granted",
}

THRESHOLD_LABELS = {
    "pause_below": "pause",
    "warn_below": "warning",
    "promote_reviewer_at": "reviewer",
}

BAR_WIDTH = 400
BAR_PAD = 10  # room either side so a mark at 0 or 1 is not cut in half


def _bar_x(value: float) -> float:
    return round(BAR_PAD + min(1.0, max(0.0, value)) * BAR_WIDTH, 1)


def threshold_marks(thresholds: dict[str, Any]) -> list[dict[str, Any]]:
    """The thresholds a project sets, lowest first, as ``{key, label, value}``."""
    marks = [
        {"key": key, "label": label, "value": float(thresholds[key])}
        for key, label in THRESHOLD_LABELS.items()
        if thresholds.get(key) is not None
    ]
    return sorted(marks, key=lambda m: m["value"])


def interval_bar(standing: dict[str, Any]) -> dict[str, Any]:
    """Where to draw a standing's score, its 90% interval and the thresholds on a 0..1 bar."""
    lo, hi = standing["interval"]
    marks = [{**m, "x": _bar_x(m["value"])} for m in threshold_marks(standing["thresholds"])]
    # Labels of marks close together alternate above and below the bar so they do not overlap.
    for i, m in enumerate(marks):
        m["above"] = i % 2 == 0
    return {
        "view_width": BAR_WIDTH + 2 * BAR_PAD,
        "start": _bar_x(0.0),
        "end": _bar_x(1.0),
        "lo": _bar_x(lo),
        "hi": _bar_x(hi),
        "width": round(max(1.0, _bar_x(hi) - _bar_x(lo)), 1),
        "score": _bar_x(standing["score"]),
        "marks": marks,
        "label": (
            f"Score {standing['score']:.2f}; 90% of the plausible values lie between "
            f"{lo:.2f} and {hi:.2f}."
            + "".join(f" The {m['label']} threshold is {m['value']:.2f}." for m in marks)
        ),
    }


# The weekly chart's frame, in SVG user units.
CHART_W, CHART_H = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 14, 40
MAX_X_LABELS = 8


def weekly_chart(series: list[dict[str, Any]], thresholds: dict[str, Any]) -> dict[str, Any]:
    """One line per kind of event over the weeks of ``weekly_series``; 0..1 on the y axis."""
    weeks = sorted({r["week"] for r in series})
    plot_w, plot_h = CHART_W - LEFT - RIGHT, CHART_H - TOP - BOTTOM

    def x(i: int) -> float:
        if len(weeks) == 1:
            return round(LEFT + plot_w / 2, 1)
        return round(LEFT + i * plot_w / (len(weeks) - 1), 1)

    def y(v: float) -> float:
        return round(TOP + (1.0 - min(1.0, max(0.0, v))) * plot_h, 1)

    index = {w: i for i, w in enumerate(weeks)}
    lines: list[dict[str, Any]] = []
    for kind, label in KIND_LABELS.items():
        rows = [r for r in series if r["kind"] == kind]
        if not rows:
            continue
        dots = [
            {
                "x": x(index[r["week"]]),
                "y": y(r["mean"]),
                "week": r["week"],
                "mean": r["mean"],
                "events": r["events"],
            }
            for r in sorted(rows, key=lambda r: r["week"])
        ]
        lines.append(
            {
                "kind": kind,
                "label": label,
                "points": " ".join(f"{d['x']},{d['y']}" for d in dots),
                "dots": dots,
                "latest": dots[-1],
            }
        )
    step = max(1, math.ceil(len(weeks) / MAX_X_LABELS))
    x_labels = [{"x": x(i), "label": w} for i, w in enumerate(weeks) if i % step == 0]
    y_ticks = [{"y": y(v), "label": f"{v:.2f}"} for v in (0.0, 0.25, 0.5, 0.75, 1.0)]
    marks = [{**m, "y": y(m["value"])} for m in threshold_marks(thresholds)]
    if weeks:
        desc = (
            f"Weekly mean of each kind of quality event, weeks of {weeks[0]} to {weeks[-1]}. "
            + (
                " ".join(
                    f"{ln['label']}: {ln['latest']['mean']:.2f} in the week of "
                    f"{ln['latest']['week']} ({ln['latest']['events']} events)."
                    for ln in lines
                )
            )
        )
    else:
        desc = "No quality events yet."
    return {
        "width": CHART_W,
        "height": CHART_H,
        "left": LEFT,
        "right": CHART_W - RIGHT,
        "top": TOP,
        "bottom": CHART_H - BOTTOM,
        "lines": lines,
        "x_labels": x_labels,
        "y_ticks": y_ticks,
        "marks": marks,
        "weeks": weeks,
        "desc": desc,
    }
