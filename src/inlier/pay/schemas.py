"""Request and response shapes for pay: rate cards, settings, lines, statements, pay runs."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from inlier.kit.fields import RequestBody

STAGES = ("attempt", "review", "assessment")
PHASES = ("onboarding", "core", "overtime")
MAX_AMOUNT = 10**9  # minor units: ten million in a two-decimal currency, per rate or bonus


def _error(msg: str) -> PydanticCustomError:
    return PydanticCustomError("pay", msg)


Time = Annotated[datetime, Field(strict=False)]
Day = Annotated[date, Field(strict=False)]


def _multiplier(value: Any) -> Any:
    """At most 4 decimals, 0..100: a multiplier is an exact decimal, not a float's noise."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _error("must be a number")
    d = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not d.is_finite() or d < 0 or d > 100:
        raise _error("must be between 0 and 100")
    if d != d.quantize(Decimal("0.0001")):
        raise _error("at most 4 decimal places")
    return value


Multiplier = Annotated[int | float, Field(json_schema_extra={"minimum": 0, "maximum": 100})]


class MoneyIn(RequestBody):
    amount: int = Field(ge=0, le=MAX_AMOUNT)
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class StageRateIn(RequestBody):
    hourly: MoneyIn | None = None
    per_task: MoneyIn | None = None

    @model_validator(mode="after")
    def _one(self) -> StageRateIn:
        if (self.hourly is None) == (self.per_task is None):
            raise _error("give exactly one of hourly or per_task")
        return self


class MultipliersIn(RequestBody):
    degree: dict[Annotated[str, Field(min_length=1, max_length=100)], Multiplier] = Field(
        default_factory=dict, max_length=100
    )
    skill_level: dict[Literal["0", "1", "2", "3", "4", "5"], Multiplier] = Field(
        default_factory=dict
    )
    location_tier: dict[Annotated[str, Field(pattern=r"^[1-9][0-9]?$")], Multiplier] = Field(
        default_factory=dict, max_length=99
    )

    @field_validator("degree", "skill_level", "location_tier")
    @classmethod
    def _exact(cls, value: dict[str, Any]) -> dict[str, Any]:
        for v in value.values():
            _multiplier(v)
        return value


class RejectedWorkIn(RequestBody):
    pay_fraction: float = Field(default=0.0, ge=0.0, le=1.0)

    @field_validator("pay_fraction")
    @classmethod
    def _exact(cls, value: float) -> float:
        _multiplier(value)
        return value


class ApprovedCountIn(RequestBody):
    """N approved (or accepted) attempts on the project in one period → a bonus."""

    kind: Literal["approved_count"]
    threshold: int = Field(ge=1, le=1_000_000)
    bonus: MoneyIn


class PerTaskIn(RequestBody):
    """A bonus for each accepted attempt submitted inside a window."""

    kind: Literal["per_task"]
    bonus: MoneyIn
    starts_at: Time
    ends_at: Time

    @model_validator(mode="after")
    def _window(self) -> PerTaskIn:
        if self.ends_at <= self.starts_at:
            raise _error("ends_at must be after starts_at")
        return self


class QualityIn(RequestBody):
    """Approval rate in review ≥ ``min_score`` over ≥ ``min_tasks`` reviewed attempts."""

    kind: Literal["quality"]
    min_score: float = Field(ge=0.0, le=1.0)
    min_tasks: int = Field(ge=1, le=1_000_000)
    bonus: MoneyIn

    @field_validator("min_score")
    @classmethod
    def _exact(cls, value: float) -> float:
        _multiplier(value)
        return value


Incentive = ApprovedCountIn | PerTaskIn | QualityIn


class RateCardIn(RequestBody):
    effective_from: Time
    stages: dict[Literal["attempt", "review", "assessment"], StageRateIn] = Field(min_length=1)
    multipliers: MultipliersIn = Field(default_factory=MultipliersIn)
    phase: Literal["onboarding", "core", "overtime"] = "core"
    phase_multipliers: dict[Literal["onboarding", "core", "overtime"], Multiplier] = Field(
        default_factory=dict
    )
    max_minutes_per_task: int = Field(default=60, ge=1, le=24 * 60)
    estimated_minutes_per_task: int | None = Field(default=None, ge=1, le=24 * 60)
    rejected_work: RejectedWorkIn = Field(default_factory=RejectedWorkIn)
    hourly_floor: MoneyIn | None = None
    incentives: list[Incentive] = Field(default_factory=list, max_length=20)

    @field_validator("phase_multipliers")
    @classmethod
    def _exact(cls, value: dict[str, Any]) -> dict[str, Any]:
        for v in value.values():
            _multiplier(v)
        return value


class PaySettingsIn(RequestBody):
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    payout_threshold: MoneyIn | None = None
    auto_accept_days: int = Field(default=7, ge=0, le=365)
    default_location_tier: int = Field(default=1, ge=1, le=99)
    timezone: str = Field(default="UTC", min_length=1, max_length=64)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        if not re.fullmatch(r"[A-Za-z0-9_+\-/]+", value) or ".." in value:
            raise _error("not a time zone name")
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise _error("not a known time zone (e.g. UTC, America/Sao_Paulo)") from exc
        return value


LocationTiersIn = dict[
    Annotated[str, Field(pattern=r"^[A-Z]{2}$")], Annotated[int, Field(strict=True, ge=1, le=99)]
]


class PayRunIn(RequestBody):
    period_start: Day


class PayoutResultIn(RequestBody):
    status: Literal["paid", "failed"]
    reference: str = Field(default="", max_length=200)


class Money(BaseModel):
    amount: int
    currency: str


class LineOut(BaseModel):
    id: str
    kind: str
    status: str
    project_id: str | None
    response_id: str | None
    amount: int
    currency: str
    inputs: dict[str, Any]
    formula: str
    labels: dict[str, Any]
    reason: str | None
    explanation: str
    work_at: str | None
    accepted_at: str | None
    period_start: str | None
    statement_id: str | None


class PeriodOut(BaseModel):
    start: str
    end: str


class EarningsOut(BaseModel):
    period: PeriodOut
    lines: list[LineOut]
    total: int
    pending: int
    currency: str


class PayoutOut(BaseModel):
    id: str
    status: str
    amount: int
    currency: str
    reference: str | None


class StatementOut(BaseModel):
    id: str
    payrun_id: str
    user_id: str
    period: PeriodOut
    lines: list[LineOut]
    total: int
    carried_forward: int
    currency: str
    payout: PayoutOut | None


class PayRunOut(BaseModel):
    id: str
    period_start: str
    period_end: str
    statements: int
    total: int
    currency: str
    status: str
    created_at: str
