"""REST routes for privacy: policy versions, consents, the data export and erasure."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from inlier.kit.auth import Admin, CurrentUser, Tx
from inlier.kit.errors import NotFound
from inlier.kit.openapi import problems
from inlier.privacy import service
from inlier.privacy.schemas import ConsentIn, ConsentOut, ErasureOut, PolicyIn, PolicyOut

router = APIRouter(tags=["privacy"])


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


@router.get("/policies/current", response_model=PolicyOut, responses=problems(404))
async def current_policy(request: Request) -> dict[str, Any]:
    """The privacy policy in force (no sign-in needed); 404 before any is published."""
    async with request.app.state.db.session() as s:
        policy = await service.current_policy(s, request.app.state.clock.now())
        if policy is None:
            raise NotFound("no privacy policy has been published")
        return service.policy_out(policy)


@router.post("/policies", status_code=201, response_model=PolicyOut, responses=problems(403, 409))
async def publish_policy(body: PolicyIn, who: Admin, s: Tx, request: Request) -> dict[str, Any]:
    """Publish a version, in force from ``effective_at`` (now or later; default now)."""
    policy = await service.publish_policy(
        s,
        who,
        version=body.version,
        markdown=body.markdown,
        changes=body.changes,
        effective_at=body.effective_at,
        now=request.app.state.clock.now(),
        request_id=request_id(request),
    )
    return service.policy_out(policy)


@router.post("/me/consents", status_code=201, response_model=ConsentOut, responses=problems(409))
async def accept_policy(
    body: ConsentIn, who: CurrentUser, s: Tx, request: Request
) -> dict[str, Any]:
    """Accept a policy version: the one in force, or one published to take effect later."""
    consent = await service.accept(
        s, who, body.policy_version, client_address(request), request.app.state.clock.now()
    )
    return service.consent_out(consent)


def _chunks(fh: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := fh.read(64 * 1024):
            yield chunk
    finally:
        fh.close()


def zip_response(fh: IO[bytes], user_id: int) -> StreamingResponse:
    return StreamingResponse(
        _chunks(fh),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="inlier-data-{user_id}.zip"'},
    )


@router.get(
    "/me/data-export",
    responses={
        **problems(),
        200: {"content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}},
    },
)
async def data_export(who: CurrentUser, s: Tx, request: Request) -> StreamingResponse:
    """Everything stored about you: a zip of JSON files, one per kind of data, and a README."""
    fh = await service.data_export(s, who.id, request.app.state.clock.now())
    return zip_response(fh, who.id)


@router.delete(
    "/me",
    status_code=204,
    responses={**problems(409), 204: {"description": "Erased; the account is disabled"}},
)
async def erase_me(who: CurrentUser, s: Tx, request: Request) -> Response:
    """Erase your personal data and disable your account. Your contributions stay, under
    their per-project pseudonyms."""
    await service.erase(s, who.id, who.id, request.app.state.clock.now(), request_id(request))
    return Response(status_code=204)


@router.post("/users/{user_id}/erase", response_model=ErasureOut, responses=problems(403, 404, 409))
async def erase_user(user_id: str, who: Admin, s: Tx, request: Request) -> dict[str, Any]:
    """Erase a person's personal data on their request (admins). Repeating it is a no-op."""
    return await service.erase(
        s, who.id, user_id, request.app.state.clock.now(), request_id(request)
    )
