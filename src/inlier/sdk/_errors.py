"""Every answer outside 2xx becomes an ``InlierError`` carrying the server's problem+json body."""

from __future__ import annotations

from typing import Any

import httpx


class InlierError(Exception):
    """The server answered with an error status.

    ``status``, ``title`` and ``detail`` come from the problem+json body; ``errors`` lists
    ``{loc, msg}`` for validation failures (empty otherwise); ``body`` is the whole body as sent
    (extra members such as ``retry_at`` included); ``headers`` are the response headers and
    ``request_id`` the server's ``X-Request-Id``, worth quoting in a bug report.
    """

    status: int
    #: For chunked imports: rows committed by earlier batches before this one failed.
    imported: int | None = None

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        body: dict[str, Any] | None = None,
        headers: httpx.Headers | None = None,
    ) -> None:
        super().__init__(f"{status} {title}: {detail}" if detail else f"{status} {title}")
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors or []
        self.body = body or {}
        self.headers = headers or httpx.Headers()
        self.request_id = self.headers.get("x-request-id")


class BadRequestError(InlierError):
    """400 (e.g. a cursor the server did not issue); the base of ``InvalidInputError``."""


class InvalidInputError(BadRequestError):
    """422: the request named something invalid; see ``errors[].loc``."""


class AuthenticationError(InlierError):
    """401: no token, or one the server does not accept."""


class PermissionDeniedError(InlierError):
    """403: signed in, but not allowed to do this."""


class NotFoundError(InlierError):
    """404: no such thing, or not visible to you."""


class ConflictError(InlierError):
    """409: e.g. a lease that is no longer yours, or an idempotency key reused with another body."""


class RateLimitError(InlierError):
    """429: too many requests; ``retry_after`` is the ``Retry-After`` header in seconds, if any."""

    @property
    def retry_after(self) -> float | None:
        value = self.headers.get("retry-after")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None


class ServerError(InlierError):
    """5xx: the server failed (or is starting: 503 with ``Retry-After``)."""


_BY_STATUS: dict[int, type[InlierError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: InvalidInputError,
    429: RateLimitError,
}


def error_from_response(response: httpx.Response) -> InlierError:
    """The exception for an error response whose body has been read."""
    body: dict[str, Any] = {}
    try:
        parsed = response.json()
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        body = parsed
    status = response.status_code
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else InlierError)
    errors = body.get("errors")
    return cls(
        status,
        str(body.get("title") or response.reason_phrase or "Error"),
        str(body.get("detail") or ("" if body else response.text[:500])),
        errors=errors if isinstance(errors, list) else None,
        body=body,
        headers=response.headers,
    )
