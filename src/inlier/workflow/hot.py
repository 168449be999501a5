"""`next` and `submit` without FastAPI's routing and dependency solving.

Every contributor calls these two hundreds of times a day, and FastAPI's per-request work
(walking the included routers, solving the session/bearer/principal dependencies in their
exit stacks, the body field) costs about as much as the database work of the call. This ASGI
layer, inside ``Plumbing`` (so request ids, logs, metrics, security headers and the body
rules apply as to every request), answers the two calls on the ordinary path of a valid
request: a bearer token, a body the route's own model accepts. It calls the same services,
in the same transaction shape (committed before the response is sent), and answers with the
same responses.

Anything else goes to the FastAPI routes, which stay the contract (OpenAPI, errors): a
request without a bearer token, a body or header the fast path would not take as they are,
and every failure. A failure rolls the transaction back before the route runs the request
again, so the route gives the one answer the API documents (a 401, 404, 409 or 422 as
problem+json) from a database the failed attempt did not change.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from inlier.accounts.service import principal_for_token
from inlier.kit.middleware import JSON_TYPES, replay
from inlier.workflow import service
from inlier.workflow.schemas import NextIn, SubmitIn

_NEXT_PATH = "/api/v1/assignments/next"
_SUBMIT_PATH = re.compile(r"/api/v1/assignments/([^/]+)/submit")
# The header's declared limit on the route (``Header(max_length=200)``).
_MAX_IDEMPOTENCY_KEY = 200


@dataclass(frozen=True)
class _Route:
    """What ``Plumbing`` labels the request's metrics with: the route's path template."""

    path: str


# As FastAPI's routes are labelled: their path within the API's router.
_NEXT_ROUTE = _Route("/assignments/next")
_SUBMIT_ROUTE = _Route("/assignments/{assignment_id}/submit")


class _Declined(Exception):
    """The fast path does not answer this request; the FastAPI route does."""


_READ = frozenset((b"authorization", b"content-type", b"idempotency-key"))


class HotPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        submit = None if path == _NEXT_PATH else _SUBMIT_PATH.fullmatch(path)
        if path != _NEXT_PATH and submit is None:
            await self.app(scope, receive, send)
            return
        try:
            headers = _headers(scope)
        except _Declined:
            await self.app(scope, receive, send)
            return
        token = _bearer(headers.get(b"authorization"))
        if token is None or not scope.get("app"):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        try:
            if submit is None:
                response = await _next(scope, headers, token, body)
            else:
                response = await _submit(scope, headers, token, body, submit.group(1))
        except Exception:
            # The route answers: the documented error, or the same success on a retry; a
            # bug fails there as well, and is reported as any other.
            await self.app(scope, replay(body, receive), send)
            return
        scope["route"] = _NEXT_ROUTE if submit is None else _SUBMIT_ROUTE
        await response(scope, receive, send)


async def _next(scope: Scope, headers: dict[bytes, bytes], token: str, body: bytes) -> Response:
    project_id = None
    if body.strip():
        project_id = NextIn.model_validate(_json(headers, body)).project_id
    state = scope["app"].state
    now = state.clock.now()
    async with state.db.session() as s:
        # `next` locks the person's row on PostgreSQL (see the service): here, with the lookup.
        who = await principal_for_token(s, token, now, lock=state.pg)
        if who is None:
            raise _Declined
        scope.setdefault("state", {})["user_id"] = who.id
        out, reason = await service.next_assignment_out(
            s, who, project_id, now, state.pg, state.reclaim
        )
        # Made before the commit, as the route's: a response that cannot be made rolls back.
        if out is None:
            return Response(status_code=204, headers={"Inlier-Reason": reason or "queue_empty"})
        return JSONResponse(out)


async def _submit(
    scope: Scope, headers: dict[bytes, bytes], token: str, body: bytes, assignment_id: str
) -> Response:
    payload = SubmitIn.model_validate(_json(headers, body))
    raw_key = headers.get(b"idempotency-key")
    key = None if raw_key is None else raw_key.decode("latin-1")
    if key is not None and len(key) > _MAX_IDEMPOTENCY_KEY:
        raise _Declined
    state = scope["app"].state
    now = state.clock.now()
    async with state.db.session() as s:
        # The person and the assignment in one round trip.
        who, read = await service.submitter(s, token, assignment_id, now)
        if who is None:
            raise _Declined
        scope.setdefault("state", {})["user_id"] = who.id
        out, created = await service.submit_out(s, who, assignment_id, payload, key, now, read)
        return JSONResponse(out, status_code=201 if created else 200)


def _headers(scope: Scope) -> dict[bytes, bytes]:
    found: dict[bytes, bytes] = {}
    for key, value in scope["headers"]:
        if key in found and key in _READ:
            # A repeated header this layer reads is ambiguous here: the route decides.
            raise _Declined
        found[key] = value
    return found


def _bearer(header: bytes | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.decode("latin-1").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _json(headers: dict[bytes, bytes], body: bytes) -> Any:
    ctype = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
    if ctype not in JSON_TYPES:
        raise _Declined
    value = json.loads(body)
    if not isinstance(value, dict):
        raise _Declined
    return value


async def _read_body(receive: Receive) -> bytes:
    """The request body; ``Plumbing`` has already read it whole for its checks."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
