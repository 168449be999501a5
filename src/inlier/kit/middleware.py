"""Request plumbing in plain ASGI: ids, logs, metrics, security headers and the body rules
every route relies on (JSON only, size limit, no NUL or unpaired surrogates)."""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from contextvars import ContextVar
from typing import Any
from urllib.parse import unquote

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inlier.kit.errors import problem

log = structlog.get_logger("inlier.http")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
#: The id of the request being served, for records written deep in a service (the audit log).
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)
_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")
BAD_CHARS_MSG = "NUL characters and unpaired surrogates are not allowed"
NON_FINITE_MSG = "NaN and infinite numbers are not JSON"
JSON_TYPES = ("application/json", "application/problem+json")
NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-seq")
# Routes that take NDJSON as well as JSON ("NDJSON where stated" in the API contract).
NDJSON_PATHS = (re.compile(r"^/api/v1/projects/[^/]+/items/?$"),)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "inlier_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "inlier_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
        )


class _NonFinite:
    """Stands for a NaN or an infinity while we look for where it sits."""


_NON_FINITE = _NonFinite()


def _safe_key(key: str) -> str:
    """A key as it may appear in an error's loc: bad characters escaped, so it can be encoded."""
    return _BAD_CHARS.sub(lambda m: f"\\u{ord(m.group()):04x}", key)


def _find_bad(value: Any, loc: list[Any]) -> tuple[list[Any], str] | None:
    if isinstance(value, str):
        return (loc, BAD_CHARS_MSG) if _BAD_CHARS.search(value) else None
    if value is _NON_FINITE:
        return loc, NON_FINITE_MSG
    if isinstance(value, dict):
        for k, v in value.items():
            if _BAD_CHARS.search(k):
                return [*loc, _safe_key(k)], BAD_CHARS_MSG
            found = _find_bad(v, [*loc, _safe_key(k)])
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = _find_bad(v, [*loc, i])
            if found is not None:
                return found
    return None


class _Parsed:
    """A JSON body parsed with NaN and infinities (NaN, Infinity, 1e400) marked, not floats."""

    def __init__(self, text: str, ndjson: bool) -> None:
        self.non_finite = False
        if ndjson:
            # Lines end at \n only: U+2028 and friends may stand inside a JSON string.
            lines = enumerate(text.split("\n"))
            self.docs = [(["body", n], self._loads(line)) for n, line in lines if line.strip()]
        else:
            self.docs = [(["body"], self._loads(text))]

    def _loads(self, text: str) -> Any:
        return json.loads(text, parse_constant=self._mark, parse_float=self._float)

    def _mark(self, _: str) -> Any:
        self.non_finite = True
        return _NON_FINITE

    def _float(self, text: str) -> Any:
        value = float(text)
        return value if math.isfinite(value) else self._mark(text)


def bad_value_location(text: str, ndjson: bool) -> tuple[list[Any], str] | None:
    """Where a NUL, an unpaired surrogate, a NaN or an infinity sits in a JSON body, if anywhere.

    ``text`` is the body decoded as strict UTF-8, so raw surrogates cannot be in it: only
    escapes produce them. One parse (C speed) finds the numbers JSON does not have; the walk
    in Python runs only when there is something to look for.
    """
    if "\x00" in text:
        return ["body"], BAD_CHARS_MSG
    try:
        parsed = _Parsed(text, ndjson)
    except (ValueError, RecursionError):
        return None  # malformed JSON is reported by the route's own parsing
    if not parsed.non_finite and "\\u" not in text:
        return None
    for loc, doc in parsed.docs:
        found = _find_bad(doc, loc)
        if found is not None:
            return found
    return None


def _where(loc: list[Any]) -> str:
    """``row 7777: data.prompt`` inside an array (an import, 1-based), else ``body.name``."""
    if len(loc) >= 2 and isinstance(loc[1], int):
        rest = ".".join(str(p) for p in loc[2:])
        return f"row {loc[1] + 1}" + (f": {rest}" if rest else "")
    return ".".join(str(p) for p in loc)


def _invalid(loc: list[Any], msg: str) -> Any:
    return problem(
        422,
        "Invalid input",
        f"{_where(loc)}: {msg}",
        "invalid-input",
        errors=[{"loc": loc, "msg": msg}],
    )


class Plumbing:
    def __init__(self, app: ASGIApp, *, max_body: int, metrics: Metrics) -> None:
        self.app = app
        self.max_body = max_body
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        given = _header(scope, b"x-request-id")
        # A caller's id is kept to tie logs together, but only a short, plain one.
        request_id = given if given and _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        current_request_id.set(request_id)
        status_holder = {"status": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"content-security-policy", CSP.encode()))
                headers.append((b"referrer-policy", b"same-origin"))
                message["headers"] = headers
            await send(message)

        try:
            rejection = None
            if scope["method"] in ("POST", "PUT", "PATCH") and scope["path"].startswith("/api/"):
                rejection, receive = await self._guard_body(scope, receive)
            if rejection is None:
                rejection = _guard_query(scope)
            if rejection is not None:
                await rejection(scope, receive, send_wrapper)
            else:
                await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            elapsed = time.perf_counter() - start
            self.metrics.requests.labels(scope["method"], path, str(status_holder["status"])).inc()
            self.metrics.latency.labels(scope["method"], path).observe(elapsed)
            log.debug(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status_holder["status"],
                ms=round(elapsed * 1000, 2),
                request_id=request_id,
            )

    async def _guard_body(self, scope: Scope, receive: Receive) -> tuple[Any, Receive]:
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            return self._too_large(), receive
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return self._too_large(), receive
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        ctype = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        ndjson = ctype in NDJSON_TYPES and any(p.match(scope["path"]) for p in NDJSON_PATHS)
        if body.strip() and ctype not in JSON_TYPES and not ndjson:
            return (
                problem(
                    415,
                    "Unsupported media type",
                    f"send JSON (application/json); got {ctype or 'no content type'}",
                    "unsupported-media-type",
                ),
                receive,
            )
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            # JSON is UTF-8 (RFC 8259); lenient decoders would let raw surrogates through.
            return _invalid(["body"], "not valid UTF-8"), receive
        found = bad_value_location(text, ndjson)
        if found is not None:
            return _invalid(*found), receive
        return None, replay(body, receive)

    def _too_large(self) -> Any:
        return problem(
            413,
            "Payload too large",
            f"a request body may be at most {self.max_body} bytes",
            "payload-too-large",
        )


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the whole ``body`` again, then whatever ``receive`` gives."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


def _guard_query(scope: Scope) -> Any:
    raw = scope.get("query_string", b"")
    if b"%00" not in raw and b"\x00" not in raw:
        return None
    if "\x00" not in unquote(raw.decode("latin-1")):
        return None
    msg = "NUL characters are not allowed"
    return problem(
        422,
        "Invalid input",
        f"query: {msg}",
        "invalid-input",
        errors=[{"loc": ["query"], "msg": msg}],
    )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None
