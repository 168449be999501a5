"""Keyset pagination: ``?limit=&cursor=`` → ``{data, next_cursor}``; cursors are signed, opaque."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Annotated, Any

from fastapi import Query

from inlier.kit.errors import BadRequest

Limit = Annotated[int, Query(ge=1, le=1000, description="1..1000")]

_KEY = b"inlier-cursor-v1"


def encode_cursor(last_id: int) -> str:
    raw = str(last_id).encode()
    mac = hmac.new(_KEY, raw, hashlib.sha256).digest()[:8]
    return base64.urlsafe_b64encode(raw + b"." + mac).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The id the previous page ended on; a cursor we did not issue is a 400."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii"))
        value, mac = raw.rsplit(b".", 1)
        if not hmac.compare_digest(mac, hmac.new(_KEY, value, hashlib.sha256).digest()[:8]):
            raise ValueError("bad mac")
        return int(value)
    except (ValueError, UnicodeEncodeError) as exc:
        raise BadRequest("cursor was not issued by this server") from exc


def page(rows: list[Any], limit: int, key: Any) -> dict[str, Any]:
    """Rows were fetched with ``limit + 1`` so we know whether another page exists."""
    more = len(rows) > limit
    rows = rows[:limit]
    return {"data": rows, "next_cursor": encode_cursor(key(rows[-1])) if more and rows else None}
