"""Request and response shapes for applications, skills, assessments and the work overview."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, EmailStr, Field, field_validator

from inlier.experts.taxonomy import COUNTRIES, LANGUAGE_TAG, SKILL_KEY, timezones
from inlier.kit.fields import RequestBody

Degree = Literal["BA/BS", "MA/MS", "PhD", "MD/DO/MBBS", "JD", "other"]


class ExpertProfileIn(RequestBody):
    """A profile as applicants give it: every value from a fixed vocabulary.

    ``specialties`` must be keys of the skill taxonomy (checked by the service, which reads
    the skills added to the defaults)."""

    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2, e.g. US")
    degree: Degree
    specialties: list[str] = Field(default_factory=list, max_length=50)
    languages: list[str] = Field(min_length=1, max_length=50, description="BCP 47, e.g. pt-BR")
    timezone: str | None = Field(default=None, max_length=64, description="IANA, e.g. UTC")

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        if value.upper() not in COUNTRIES:
            raise ValueError("not an ISO 3166-1 alpha-2 country code")
        return value.upper()

    @field_validator("specialties")
    @classmethod
    def _specialties(cls, values: list[str]) -> list[str]:
        for v in values:
            if len(v) > 200 or not SKILL_KEY.match(v):
                raise ValueError(f"{v[:50]!r} is not a dotted skill key")
        if len(set(values)) != len(values):
            raise ValueError("a specialty may be listed once")
        return values

    @field_validator("languages")
    @classmethod
    def _languages(cls, values: list[str]) -> list[str]:
        for v in values:
            if len(v) > 35 or not LANGUAGE_TAG.match(v):
                raise ValueError(f"{v[:50]!r} is not a language tag such as en or pt-BR")
        if len(set(values)) != len(values):
            raise ValueError("a language may be listed once")
        return values

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is not None and value not in timezones():
            raise ValueError("not an IANA time zone such as Europe/Lisbon")
        return value


class ConsentIn(RequestBody):
    policy_version: str = Field(min_length=1, max_length=100)


class ApplicationIn(RequestBody):
    email: EmailStr
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=8, max_length=1024)
    profile: ExpertProfileIn
    consent: ConsentIn


class ApplicationCreated(BaseModel):
    id: str
    status: str


class ApplicationOut(BaseModel):
    id: str
    user_id: str
    email: str | None
    name: str | None
    status: Literal["pending", "approved", "declined"]
    profile: dict[str, Any]
    consent: dict[str, Any]
    reason: str | None
    decided_by: str | None
    decided_at: str | None
    created_at: str


class DecisionIn(RequestBody):
    decision: Literal["approve", "decline"]
    reason: str = Field(default="", max_length=2000, description="required to decline")


class SkillIn(RequestBody):
    key: str = Field(min_length=1, max_length=200, description="dotted, e.g. medicine.cardiology")
    name: str = Field(min_length=1, max_length=200)
    parent: str | None = Field(default=None, max_length=200)


class SkillOut(BaseModel):
    key: str
    name: str
    parent: str | None


class AssessmentItemIn(RequestBody):
    data: dict[str, Any]
    gold: dict[str, Any]


class AssessmentIn(RequestBody):
    name: str = Field(min_length=1, max_length=200)
    skill: str = Field(min_length=1, max_length=200)
    level_on_pass: int = Field(ge=1, le=5)
    pass_mark: float = Field(ge=0, le=1)
    max_attempts: int = Field(default=3, ge=1, le=100)
    cooldown_hours: int = Field(default=24, ge=0, le=8760)
    paid: bool = False
    template: dict[str, Any]
    items: list[AssessmentItemIn] = Field(min_length=1, max_length=500)

    @field_validator("pass_mark", mode="before")
    @classmethod
    def _pass_mark(cls, value: Any) -> Any:
        # A pass mark of 1 or 0 is a number like 0.8 is (strict mode refuses ints for floats).
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


class AssessmentOut(BaseModel):
    id: str
    name: str
    skill: str
    level_on_pass: int
    pass_mark: float
    max_attempts: int
    cooldown_hours: int
    paid: bool
    items: int
    attempts_left: int
    next_attempt_at: str | None
    best_score: float | None
    passed: bool


class AttemptItemOut(BaseModel):
    id: str
    data: dict[str, Any]


class AttemptOut(BaseModel):
    id: str
    assessment_id: str
    state: Literal["open", "submitted"]
    started_at: str
    items: list[AttemptItemOut]
    template: dict[str, Any]


class AttemptSubmitIn(RequestBody):
    answers: dict[str, dict[str, Any]] = Field(max_length=500)
    active_seconds: int | None = Field(default=None, ge=0, le=86400)


class QuestionFeedback(BaseModel):
    question: str
    score: float | None
    detail: str


class ItemFeedback(BaseModel):
    item_id: str
    correct: bool | None
    score: float | None
    detail: str
    questions: list[QuestionFeedback]


class AttemptResult(BaseModel):
    id: str
    score: float | None
    passed: bool
    pending: bool
    level_granted: int | None
    feedback: list[ItemFeedback]


class WorkRow(BaseModel):
    project_id: str
    name: str
    eligible: bool
    reason: str | None
    action: str | None
    available: int
    assessment: dict[str, Any] | None = None
    # When the project stops taking work, if its owners set a date: the notice.
    closes_at: str | None = None


class WorkOut(BaseModel):
    projects: list[WorkRow]


class GradeIn(RequestBody):
    item_id: str = Field(min_length=1, max_length=40)
    question: str = Field(min_length=1, max_length=64)
    score: float = Field(ge=0, le=1)
    feedback: str | None = Field(default=None, max_length=10_000)


class GradesIn(RequestBody):
    grades: list[GradeIn] = Field(min_length=1, max_length=500)
