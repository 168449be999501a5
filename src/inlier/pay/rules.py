"""How one amount is computed: pure functions, no database, tested on their own.

Every amount the ledger holds is ``formula.evaluate(formula, inputs)``; these functions choose
the formula and gather its inputs, so a statement line can be recomputed by anyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from inlier.pay import formula

TIMES = "\u00d7"  # the multiplication sign, as people write it
ZERO_DECIMAL_CURRENCIES = {"JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF"}


# ---- periods ---------------------------------------------------------------------------------


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _utc(local_midnight: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(local_midnight, time(0), tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def period_of(at: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The pay week holding ``at`` (naive UTC): from Monday 00:00 to the next, in ``tz``."""
    local = at.replace(tzinfo=UTC).astimezone(tz)
    monday = week_start(local.date())
    return _utc(monday, tz), _utc(monday + timedelta(days=7), tz)


def period_from_day(monday: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return _utc(monday, tz), _utc(monday + timedelta(days=7), tz)


def local_day(at: datetime, tz: ZoneInfo) -> date:
    return at.replace(tzinfo=UTC).astimezone(tz).date()


# ---- work lines ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Worker:
    """What a person's pay depends on, besides the work itself."""

    degree: str | None = None
    location_tier: int = 1
    skill_level: int | None = None


@dataclass(frozen=True)
class Computed:
    amount: int
    inputs: dict[str, Any]
    formula: str
    labels: dict[str, Any] = field(default_factory=dict)
    seconds: int = 0
    reason: str | None = None


def _num(value: Any) -> int | float:
    """JSON-safe and exact: whole numbers as ints, others as the float of their decimal."""
    d = formula.exact(value)
    return int(d) if d.denominator == 1 else float(Decimal(d.numerator) / Decimal(d.denominator))


def work_line(
    card: dict[str, Any] | None,
    version: int | None,
    stage: str,
    active_seconds: int,
    outcome: str,
    worker: Worker,
) -> Computed:
    """The line for one piece of work under ``card`` (``outcome``: the response's status)."""
    rate_spec = ((card or {}).get("stages") or {}).get(stage) if card else None
    if not rate_spec:
        return Computed(
            0,
            {},
            "0",
            {"stage": stage, "outcome": outcome, "rate_card_version": version},
            0,
            f"no rate card in force for the {stage} stage when this was submitted",
        )
    assert card is not None
    mult = card.get("multipliers") or {}
    degree_mult = (mult.get("degree") or {}).get(worker.degree or "", 1)
    skill_key = str(worker.skill_level) if worker.skill_level is not None else ""
    skill_mult = (mult.get("skill_level") or {}).get(skill_key, 1)
    tier_mult = (mult.get("location_tier") or {}).get(str(worker.location_tier), 1)
    phase = card.get("phase") or "core"
    phase_mult = (card.get("phase_multipliers") or {}).get(phase, 1)
    cap_seconds = int(card.get("max_minutes_per_task") or 60) * 60
    seconds = max(0, min(int(active_seconds), cap_seconds))
    hourly = rate_spec.get("hourly")
    money = hourly or rate_spec.get("per_task")
    inputs: dict[str, Any] = {
        "rate": int(money["amount"]),
        "degree_mult": _num(degree_mult),
        "skill_mult": _num(skill_mult),
        "tier_mult": _num(tier_mult),
        "phase_mult": _num(phase_mult),
    }
    expr = "rate * degree_mult * skill_mult * tier_mult * phase_mult"
    if hourly:
        inputs.update(seconds=max(0, int(active_seconds)), cap_seconds=cap_seconds)
        expr += " * min(seconds, cap_seconds) / 3600"
    if outcome == "rejected":
        inputs["pay_fraction"] = _num((card.get("rejected_work") or {}).get("pay_fraction", 0))
        expr += " * pay_fraction"
    text = f"round({expr})"
    labels = {
        "stage": stage,
        "basis": "hourly" if hourly else "per_task",
        "outcome": outcome,
        "degree": worker.degree,
        "skill_level": worker.skill_level,
        "location_tier": worker.location_tier,
        "phase": phase,
        "rate_card_version": version,
    }
    return Computed(formula.evaluate(text, inputs), inputs, text, labels, seconds)


def assessment_line(
    card: dict[str, Any],
    version: int | None,
    active_seconds: int,
    tasks: int,
    worker: Worker,
) -> Computed | None:
    """A paid assessment attempt under ``card``'s ``assessment`` stage, at the onboarding phase.

    The time cap is the card's ``max_minutes_per_task`` for each of the assessment's ``tasks``
    (items); a per-task rate pays each item. ``None`` when the card names no assessment rate.
    Skill levels do not multiply: the assessment is what measures them.
    """
    rate_spec = (card.get("stages") or {}).get("assessment")
    if not rate_spec:
        return None
    mult = card.get("multipliers") or {}
    degree_mult = (mult.get("degree") or {}).get(worker.degree or "", 1)
    tier_mult = (mult.get("location_tier") or {}).get(str(worker.location_tier), 1)
    phase_mult = (card.get("phase_multipliers") or {}).get("onboarding", 1)
    cap_seconds = int(card.get("max_minutes_per_task") or 60) * 60
    tasks = max(1, int(tasks))
    hourly = rate_spec.get("hourly")
    money = hourly or rate_spec.get("per_task")
    inputs: dict[str, Any] = {
        "rate": int(money["amount"]),
        "degree_mult": _num(degree_mult),
        "skill_mult": 1,
        "tier_mult": _num(tier_mult),
        "phase_mult": _num(phase_mult),
        "tasks": tasks,
    }
    expr = "rate * degree_mult * skill_mult * tier_mult * phase_mult"
    seconds = max(0, min(int(active_seconds), cap_seconds * tasks))
    if hourly:
        inputs.update(seconds=max(0, int(active_seconds)), cap_seconds=cap_seconds)
        expr += " * min(seconds, cap_seconds * tasks) / 3600"
    else:
        expr += " * tasks"
    text = f"round({expr})"
    labels = {
        "stage": "assessment",
        "basis": "hourly" if hourly else "per_task",
        "outcome": "submitted",
        "degree": worker.degree,
        "skill_level": None,
        "location_tier": worker.location_tier,
        "phase": "onboarding",
        "rate_card_version": version,
    }
    return Computed(formula.evaluate(text, inputs), inputs, text, labels, seconds)


def floor_topup(floor_rate: int, seconds: int, paid: int) -> Computed | None:
    """What tops ``paid`` up to ``floor_rate`` an hour over ``seconds``; ``None`` when nothing."""
    inputs = {"floor": floor_rate, "seconds": seconds, "paid": paid}
    text = "max(0, floor * seconds / 3600 - paid)"
    amount = formula.evaluate(text, inputs)
    if amount <= 0:
        return None
    return Computed(amount, inputs, text, {"kind": "floor_topup"}, 0)


# ---- words -----------------------------------------------------------------------------------


def rejected_policy(fraction: Any) -> str:
    """The rejected-work policy in words, as a contributor reads it before starting."""
    f = formula.exact(fraction)
    if f == 0:
        return "rejected work is not paid"
    if f == 1:
        return "rejected work is paid in full"
    return f"rejected work is paid at {_num(f * 100)}% of its rate"


def money(amount: int, currency: str) -> str:
    places = 0 if currency in ZERO_DECIMAL_CURRENCIES else 2
    if places == 0:
        return f"{amount:,} {currency}"
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 100)
    return f"{sign}{whole:,}.{cents:02d} {currency}"


def _minutes(seconds: int) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m} min {s:02d} s" if s else f"{m} min"


def explain(
    kind: str,
    inputs: dict[str, Any],
    labels: dict[str, Any],
    amount: int,
    currency: str,
    reason: str | None,
) -> str:
    """The line in words, each number named, so a person can redo the sum."""
    if kind == "work" and "rate" in inputs:
        parts = []
        stage = str(labels.get("stage", "work")).capitalize()
        if labels.get("basis") == "hourly":
            parts.append(f"{money(inputs['rate'], currency)} an hour")
        else:
            parts.append(f"{money(inputs['rate'], currency)} a task")
        degree = labels.get("degree") or "no degree multiplier"
        parts.append(f"{TIMES} {inputs['degree_mult']} ({degree})")
        level = labels.get("skill_level")
        parts.append(
            f"{TIMES} {inputs['skill_mult']} (skill level {level if level is not None else '—'})"
        )
        parts.append(f"{TIMES} {inputs['tier_mult']} (location tier {labels.get('location_tier')})")
        parts.append(f"{TIMES} {inputs['phase_mult']} ({labels.get('phase')} phase)")
        tasks = inputs.get("tasks")
        if "cap_seconds" in inputs:
            cap_total = inputs["cap_seconds"] * (tasks or 1)
            counted = min(inputs["seconds"], cap_total)
            worked, cap = _minutes(inputs["seconds"]), _minutes(inputs["cap_seconds"])
            per = f"at most {cap} a task count" + (f", {tasks} tasks" if tasks else "")
            parts.append(f"{TIMES} {_minutes(counted)} of active time (you worked {worked}; {per})")
        elif tasks:
            parts.append(f"{TIMES} {tasks} tasks")
        if "pay_fraction" in inputs:
            parts.append(
                f"{TIMES} {inputs['pay_fraction']} (rejected in review: the project's policy)"
            )
        return (
            f"{stage}: " + " ".join(parts) + f" = {money(amount, currency)}, rounded to the cent."
        )
    if kind == "floor_topup":
        return (
            f"Hourly floor: {money(inputs['floor'], currency)} an hour {TIMES} "
            f"{_minutes(inputs['seconds'])} = at least "
            f"{money(formula.evaluate('floor * seconds / 3600', inputs), currency)}; "
            f"the work paid {money(inputs['paid'], currency)}, so {money(amount, currency)} "
            "tops it up."
        )
    if reason:
        return f"{reason} ({money(amount, currency)})"
    return money(amount, currency)
