"""The base of every request body: unknown fields are errors, and JSON types mean what JSON
says they mean."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator


def whole_number(value: Any) -> Any:
    """30.0 is an integer to JSON Schema, so it is one to us; "30" and true are not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class RequestBody(BaseModel):
    """Strict: no "30" or true for an integer, no 5 for a string (lax Pydantic takes them)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    _whole = field_validator("*", mode="before", check_fields=False)(whole_number)
