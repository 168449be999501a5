"""REST routes for sign-in, the current user, users and skill levels."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Request

from inlier.accounts import service
from inlier.accounts.schemas import SkillLevelIn, TokenIn, TokenOut, UserIn, UserOut
from inlier.audit import service as audit
from inlier.experts import service as experts
from inlier.kit.auth import Admin, CurrentUser, Tx
from inlier.kit.errors import Unauthorized
from inlier.kit.openapi import problems
from inlier.kit.pagination import Limit, decode_cursor, page

router = APIRouter(tags=["accounts"])


@router.post("/auth/token", status_code=201, response_model=TokenOut, responses=problems(429))
async def create_token(body: TokenIn, request: Request) -> dict[str, Any]:
    """Exchange an email and password for a bearer token."""
    app = request.app
    async with app.state.db.session() as s:
        signed = await service.sign_in(
            s,
            email=body.email,
            password=body.password,
            address=request.client.host if request.client else "unknown",
            now=app.state.clock.now(),
            settings=app.state.settings,
            passwords=app.state.passwords,
            token_name="api",
        )
        if signed is not None:
            out = {"token": signed[1], "user": await service.user_out(s, signed[0])}
    # Committed first: failures count even though the sign-in fails.
    if signed is None:
        raise Unauthorized("wrong email or password")
    return out


@router.get("/me", response_model=UserOut, responses=problems())
async def me(who: CurrentUser, s: Tx) -> dict[str, Any]:
    """You: roles, profile, skills, and ``status`` (with ``decline_reason`` if declined)."""
    out = await service.user_out(s, await service.get_user(s, who.id))
    application = await experts.standing_of_application(s, who.id)
    if application is not None:
        out["application"] = application
        out["decline_reason"] = (
            application["reason"] if application["status"] == "declined" else None
        )
    return out


@router.post("/users", status_code=201, response_model=UserOut, responses=problems(403, 409))
async def create_user(body: UserIn, who: Admin, s: Tx, request: Request) -> dict[str, Any]:
    user = await service.create_user(
        s,
        email=body.email,
        name=body.name,
        password=body.password,
        roles=list(body.roles),
        profile=body.profile.model_dump(exclude_none=True),
        now=request.app.state.clock.now(),
        passwords=request.app.state.passwords,
    )
    await audit.record(
        s,
        who.id,
        "user.create",
        f"user:{user.id}",
        {"after": {"roles": list(user.roles), "status": user.status}},
        request.state.request_id,
        at=user.created_at,
    )
    return await service.user_out(s, user)


@router.get("/users", responses=problems(403))
async def list_users(
    who: Admin, s: Tx, limit: Limit = 50, cursor: str | None = None
) -> dict[str, Any]:
    users = await service.list_users(s, limit, decode_cursor(cursor))
    return page(users, limit, key=lambda u: int(u["id"]))


@router.get("/users/{user_id}", response_model=UserOut, responses=problems(403, 404))
async def get_user(user_id: str, who: Admin, s: Tx) -> dict[str, Any]:
    return await service.user_out(s, await service.get_user(s, user_id))


@router.put("/users/{user_id}/skills/{skill}", responses=problems(403, 404))
async def set_skill(
    user_id: str,
    body: SkillLevelIn,
    who: Admin,
    s: Tx,
    request: Request,
    skill: str = Path(max_length=200),
) -> dict[str, Any]:
    now = request.app.state.clock.now()
    user = await service.get_user(s, user_id)
    before = (await service.skills_of(s, user.id)).get(skill)
    await service.set_skill(s, user_id, skill, body.level, now)
    await audit.record(
        s,
        who.id,
        "user.skill_set",
        f"user:{user.id}",
        audit.changes({skill: before}, {skill: body.level}),
        request.state.request_id,
        at=now,
    )
    return {"user_id": user_id, "skill": skill, "level": body.level}
