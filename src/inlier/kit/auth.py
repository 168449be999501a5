"""Who is calling, and the permission dependencies routes declare in their signatures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from inlier.accounts.service import Principal, principal_for_token
from inlier.kit.errors import Forbidden, Unauthorized
from inlier.kit.web import CSRF_HEADER, SESSION_COOKIE, csrf_ok, session_principal


async def _tx(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.db.session() as s:
        yield s


# The transaction commits when the route function returns, before the response is sent.
Tx = Annotated[AsyncSession, Depends(_tx, scope="function")]


# Declares the scheme in the OpenAPI document (and Swagger's Authorize); we check it ourselves,
# so that every failure is the same problem+json 401.
_bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/auth/token")
Declared = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def _principal(request: Request, s: Tx, _declared: Declared) -> Principal:
    header = request.headers.get("authorization", "")
    if not header and SESSION_COOKIE in request.cookies:
        # The pages' scripts call the API with the session cookie; the CSRF header proves
        # the call comes from one of our pages and not from another site.
        if not await csrf_ok(request, request.headers.get(CSRF_HEADER)):
            raise Unauthorized(
                "a valid bearer token, or a session with its CSRF token, is required"
            )
        who = await session_principal(request, s)
        if who is None:
            raise Unauthorized("the session has ended; sign in again")
        return who
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    principal = await principal_for_token(s, token.strip(), request.app.state.clock.now())
    if principal is None:
        raise Unauthorized("the token is unknown, revoked or expired")
    request.state.user_id = principal.id
    return principal


def _requires(*roles: str):
    async def check(p: Annotated[Principal, Depends(_principal)]) -> Principal:
        if not p.has(*roles):
            raise Forbidden(f"requires one of the roles: {', '.join(roles)}")
        return p

    return check


CurrentUser = Annotated[Principal, Depends(_principal)]
Admin = Annotated[Principal, Depends(_requires("admin"))]
OwnerOrAdmin = Annotated[Principal, Depends(_requires("owner", "admin"))]
