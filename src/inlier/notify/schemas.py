"""Request shapes for notifications."""

from __future__ import annotations

from pydantic import Field

from inlier.kit.fields import RequestBody


class ReadIn(RequestBody):
    ids: list[str] = Field(max_length=1000)
