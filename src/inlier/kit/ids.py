"""Ids are integers in the database and strings on the wire."""

from __future__ import annotations

from inlier.kit.errors import NotFound


def parse_id(value: str | int, kind: str = "resource") -> int:
    """Turn a path id into an integer; anything that is not one is simply not found."""
    if isinstance(value, int):
        return value
    # Only the spelling we issue: "01" or "1e3" would alias or guess at another id.
    if not value.isascii() or not value.isdigit() or len(value) > 18 or value[0] == "0":
        raise NotFound(f"{kind} not found")
    return int(value)


def sid(value: int | None) -> str | None:
    return None if value is None else str(value)
