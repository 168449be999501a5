"""Domain errors, and the single place that turns every failure into problem+json."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

log = structlog.get_logger()

PROBLEM = "application/problem+json"


class DomainError(Exception):
    status = 400
    title = "Bad request"
    type = "bad-request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}


class BadRequest(DomainError):
    pass


class InvalidInput(DomainError):
    status = 422
    title = "Invalid input"
    type = "invalid-input"


class Unauthorized(DomainError):
    status = 401
    title = "Unauthorized"
    type = "unauthorized"

    def __init__(self, detail: str = "a valid bearer token is required") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"
    type = "forbidden"


class NotFound(DomainError):
    status = 404
    title = "Not found"
    type = "not-found"


class Conflict(DomainError):
    status = 409
    title = "Conflict"
    type = "conflict"


class LeaseLost(Conflict):
    title = "Lease no longer yours"
    type = "lease-lost"


class PayloadTooLarge(DomainError):
    status = 413
    title = "Payload too large"
    type = "payload-too-large"


class UnsupportedMediaType(DomainError):
    status = 415
    title = "Unsupported media type"
    type = "unsupported-media-type"


class RateLimited(DomainError):
    status = 429
    title = "Too many requests"
    type = "rate-limited"


def invalid(loc: list[str | int], msg: str) -> InvalidInput:
    """A validation failure naming one field, shaped like Pydantic's."""
    return InvalidInput(
        f"{'.'.join(str(p) for p in loc)}: {msg}", errors=[{"loc": loc, "msg": msg}]
    )


def problem(
    status: int,
    title: str,
    detail: str,
    type_: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://inlier.dev/problems/{type_}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _clean_loc(loc: tuple[Any, ...] | list[Any]) -> list[str | int]:
    return [p if isinstance(p, int) else str(p) for p in loc]


def validation_problem(errors: list[dict[str, Any]]) -> JSONResponse:
    cleaned = []
    for e in errors:
        msg = str(e.get("msg", "invalid"))
        if e.get("type") == "extra_forbidden":
            msg = "unknown field"
        cleaned.append({"loc": _clean_loc(e.get("loc", ())), "msg": msg})
    first = cleaned[0] if cleaned else {"loc": [], "msg": "invalid"}
    where = ".".join(str(p) for p in first["loc"])
    detail = f"{where}: {first['msg']}" if where else str(first["msg"])
    if len(cleaned) > 1:
        detail += f" (and {len(cleaned) - 1} more)"
    return problem(422, "Invalid input", detail, "invalid-input", errors=cleaned)


_HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")


@lru_cache(maxsize=512)
def _template_pattern(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)))


def allowed_methods(request: Request) -> str | None:
    """Every documented method of the path, for ``Allow`` on a 405.

    Starlette names only the methods of the first route whose path matched, so a path served
    by two routes (``GET`` and ``POST /users``) would list one of them.
    """
    paths = request.app.openapi().get("paths", {})
    path = request.url.path
    # As in OpenAPI, a concrete path wins over templates (/assignments/next, not /{id}).
    matching = (
        [paths[path]]
        if path in paths
        else [
            item for template, item in paths.items() if _template_pattern(template).fullmatch(path)
        ]
    )
    methods = {m.upper() for item in matching for m in item if m in _HTTP_METHODS}
    return ", ".join(sorted(methods)) or None


PageErrorHandler = Callable[[Request, int, str, str, "DomainError | None"], Awaitable[Response]]


def _page_handler(request: Request) -> PageErrorHandler | None:
    """Pages answer failures with a page (set by the app); the API always with problem+json."""
    if request.url.path.startswith("/api/") or request.url.path in ("/healthz", "/metrics"):
        return None
    handler: PageErrorHandler | None = getattr(request.app.state, "page_errors", None)
    return handler


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        page = _page_handler(request)
        if page is not None:
            return await page(request, exc.status, exc.title, exc.detail, exc)
        return problem(
            exc.status, exc.title, exc.detail, exc.type, exc.errors, exc.headers, exc.extra
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_problem(list(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        titles = {
            400: "Bad request",
            401: "Unauthorized",
            404: "Not found",
            405: "Method not allowed",
        }
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request) or headers.get("Allow", "")
        page = _page_handler(request)
        if page is not None:
            title = titles.get(exc.status_code, "Error")
            return await page(request, exc.status_code, title, str(exc.detail), None)
        return problem(
            exc.status_code,
            titles.get(exc.status_code, "Error"),
            str(exc.detail),
            "http-error",
            headers=headers,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", path=request.url.path)
        page = _page_handler(request)
        if page is not None:
            return await page(request, 500, "Internal error", "an unexpected error occurred", None)
        return problem(500, "Internal error", "an unexpected error occurred", "internal")
