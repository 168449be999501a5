"""Request and response shapes for users and tokens."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, EmailStr, Field

from inlier.kit.fields import RequestBody

Role = Literal["contributor", "reviewer", "owner", "admin"]


class Strict(RequestBody):
    """A request body (see RequestBody)."""


class ProfileIn(Strict):
    country: str | None = Field(default=None, max_length=2, min_length=2)
    degree: str | None = Field(default=None, max_length=200)
    specialties: list[str] = Field(default_factory=list, max_length=100)
    languages: list[str] = Field(default_factory=list, max_length=50)
    timezone: str | None = Field(default=None, max_length=64)
    bio: str | None = Field(default=None, max_length=10_000)


class TokenIn(Strict):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class UserIn(Strict):
    email: EmailStr
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=8, max_length=1024)
    roles: list[Role] = Field(default_factory=lambda: list[Role](["contributor"]), min_length=1)
    profile: ProfileIn = Field(default_factory=ProfileIn)


class SkillLevelIn(Strict):
    level: int = Field(ge=0, le=5)


class UserOut(BaseModel):
    id: str
    email: str
    name: str
    roles: list[str]
    profile: dict[str, Any]
    status: str
    skills: dict[str, int] = Field(default_factory=dict)
    created_at: str | None = None
    # For people who applied (POST /applications): their application and a decline's reason.
    application: dict[str, Any] | None = None
    decline_reason: str | None = None


class TokenOut(BaseModel):
    token: str
    user: UserOut
