"""Problem responses documented on routes, so clients (and fuzzers) know every status."""

from __future__ import annotations

from typing import Any

_PROBLEM = {
    "content": {
        "application/problem+json": {
            "schema": {
                "type": "object",
                "properties": {
                    "type": {"type": "string"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                    "errors": {"type": "array", "items": {"type": "object"}},
                },
                "required": ["type", "title", "status", "detail"],
            }
        }
    }
}

_TEXT = {
    400: "Bad request (e.g. a cursor the server did not issue)",
    401: "No or invalid bearer token",
    403: "Not allowed",
    404: "Not found, or not visible to you",
    409: "Conflict (lease lost, already submitted, key reused)",
    413: "Body too large",
    415: "Body is not JSON",
    422: "Invalid input; `errors` names the fields",
    429: "Rate limited",
    502: "An upstream service (e.g. a model provider) failed; nothing changed",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    codes = set(statuses) | {400, 401, 413, 415, 422}
    return {code: {"description": _TEXT[code], **_PROBLEM} for code in sorted(codes)}
