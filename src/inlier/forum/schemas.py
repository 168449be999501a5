"""Request shapes for forums, threads and posts."""

from __future__ import annotations

from pydantic import Field

from inlier.kit.fields import RequestBody

# Titles and bodies must say something: whitespace alone is not a title.
SOMETHING = r"\S"


class ForumIn(RequestBody):
    title: str = Field(min_length=1, max_length=200, pattern=SOMETHING)
    description: str = Field(default="", max_length=100_000)


class ThreadIn(RequestBody):
    title: str = Field(min_length=1, max_length=200, pattern=SOMETHING)
    body: str = Field(min_length=1, max_length=100_000, pattern=SOMETHING)
    item_id: str | None = Field(default=None, max_length=40)


class PostIn(RequestBody):
    body: str = Field(min_length=1, max_length=100_000, pattern=SOMETHING)


class ReportIn(RequestBody):
    reason: str = Field(min_length=1, max_length=2000, pattern=SOMETHING)


class OfficialIn(RequestBody):
    official: bool = True


class PinIn(RequestBody):
    pinned: bool = True


class HideIn(RequestBody):
    hidden: bool = True


class LockIn(RequestBody):
    locked: bool = True
