"""The rules for people: creating them, signing them in, their tokens and skill levels."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, delete, func, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from inlier.accounts.models import ApiToken, LoginFailure, Meta, User, UserSkill
from inlier.accounts.passwords import Passwords, new_token, token_digest
from inlier.db.engine import core_connection
from inlier.kit.clock import iso
from inlier.kit.errors import Conflict, NotFound, RateLimited, invalid
from inlier.kit.ids import parse_id
from inlier.settings import Settings


@dataclass(frozen=True)
class Principal:
    """Who is calling: enough to authorize without another query."""

    id: int
    email: str
    name: str
    roles: tuple[str, ...]
    status: str
    profile: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def has(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)


def principal_of(user: User) -> Principal:
    return Principal(user.id, user.email, user.name, tuple(user.roles), user.status, user.profile)


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def create_user(
    s: AsyncSession,
    *,
    email: str,
    name: str,
    password: str,
    roles: list[str],
    profile: dict[str, Any] | None,
    now: datetime,
    passwords: Passwords,
    status: str = "approved",
) -> User:
    if len(password) < 8:
        raise invalid(["body", "password"], "at least 8 characters")
    user = User(
        email=normalize_email(email),
        name=name,
        password_hash=passwords.hash(password),
        roles=sorted(set(roles)),
        profile=profile or {},
        status=status,
        active=True,
        created_at=now,
    )
    s.add(user)
    try:
        async with s.begin_nested():
            await s.flush()
    except IntegrityError as exc:
        raise Conflict("a user with this email already exists") from exc
    return user


async def get_user(s: AsyncSession, user_id: str | int) -> User:
    user = await s.get(User, parse_id(user_id, "user"))
    if user is None:
        raise NotFound("user not found")
    return user


async def user_by_email(s: AsyncSession, email: str) -> User:
    """The user with this email; an unknown one is not found."""
    user = await find_user_by_email(s, email)
    if user is None:
        raise NotFound(f"no user with email {email}")
    return user


# Hot-path statements are built once, from the tables (Core: no ORM entity loading).
_users, _tokens = User.__table__.c, ApiToken.__table__.c
_LOCK_USER = select(_users.id).where(_users.id == bindparam("user_id")).with_for_update()


# Where a session records the person whose row it holds locked (see ``principal_for_token``).
_LOCKED_USER = "inlier.locked_user"


async def lock_user(s: AsyncSession, user_id: int) -> None:
    """Serialize one person's concurrent requests where it matters (PostgreSQL row lock)."""
    if s.info.get(_LOCKED_USER) == (s.sync_session.get_transaction(), user_id):
        return  # held until this transaction ends
    conn = await core_connection(s)
    await conn.execute(_LOCK_USER, {"user_id": user_id})
    s.info[_LOCKED_USER] = (s.sync_session.get_transaction(), user_id)


async def find_user_by_email(s: AsyncSession, email: str) -> User | None:
    res = await s.execute(select(User).where(User.email == normalize_email(email)))
    return res.scalar_one_or_none()


async def authenticate(
    s: AsyncSession,
    *,
    email: str,
    password: str,
    address: str,
    now: datetime,
    max_failures: int,
    window: timedelta,
    passwords: Passwords,
) -> User | None:
    """Check a password; ``None`` (with the failure recorded) when it is wrong.

    Too many recent failures for this email or address → 429. The caller commits before it
    answers 401, so that failures count even though the sign-in fails.
    """
    email = normalize_email(email)
    since = now - window
    for column, value in ((LoginFailure.email, email), (LoginFailure.address, address)):
        count = await s.scalar(
            select(func.count()).where(column == value, LoginFailure.at >= since)
        )
        if (count or 0) >= max_failures:
            oldest = await s.scalar(
                select(func.min(LoginFailure.at)).where(column == value, LoginFailure.at >= since)
            )
            wait = int(((oldest or now) + window - now).total_seconds()) + 1
            raise RateLimited(
                "too many failed sign-ins; try again later",
                headers={"Retry-After": str(max(wait, 1))},
            )
    user = await find_user_by_email(s, email)
    ok = passwords.verify(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        s.add(LoginFailure(email=email, address=address, at=now))
        await s.flush()
        return None
    await s.execute(delete(LoginFailure).where(LoginFailure.email == email))
    return user


async def issue_token(
    s: AsyncSession, user: User, *, now: datetime, name: str = "", days: int | None = None
) -> str:
    raw = new_token()
    s.add(
        ApiToken(
            user_id=user.id,
            token_hash=token_digest(raw),
            name=name[:200],
            created_at=now,
            expires_at=now + timedelta(days=days) if days else None,
        )
    )
    await s.flush()
    return raw


# Every request runs this: built once, only the columns a Principal needs (not the password
# hash), executed as Core so that no ORM entity is loaded.
_PRINCIPAL_BY_TOKEN = (
    select(
        _users.id,
        _users.email,
        _users.name,
        _users.roles,
        _users.status,
        _users.profile,
        _users.active,
        _tokens.expires_at,
    )
    .select_from(User.__table__.join(ApiToken.__table__, _tokens.user_id == _users.id))
    .where(_tokens.token_hash == bindparam("digest"), _tokens.revoked.is_(False))
)


_PRINCIPAL_BY_TOKEN_LOCKED = _PRINCIPAL_BY_TOKEN.with_for_update(of=User.__table__)


async def principal_for_token(
    s: AsyncSession, raw: str, now: datetime, *, lock: bool = False
) -> Principal | None:
    """The token's person; ``lock`` takes their row too (as ``lock_user``, in the same query)."""
    conn = await core_connection(s)
    statement = _PRINCIPAL_BY_TOKEN_LOCKED if lock else _PRINCIPAL_BY_TOKEN
    row = (await conn.execute(statement, {"digest": token_digest(raw)})).first()
    if row is None:
        return None
    if lock:
        s.info[_LOCKED_USER] = (s.sync_session.get_transaction(), row.id)
    return _principal(row, now)


def _principal(row: Any, now: datetime) -> Principal | None:
    if not row.active or (row.expires_at is not None and row.expires_at <= now):
        return None
    return Principal(row.id, row.email, row.name, tuple(row.roles), row.status, row.profile)


_ALONG = "along_"


def principal_along(along: Select[Any]) -> Select[Any]:
    """The token lookup with ``along``'s row joined to it, for one round trip instead of two.

    ``along`` stands alone (bind parameters only, no reference to the person); its columns
    come back named ``along_<name>``, NULL when it finds no row. A lock it takes (``FOR
    UPDATE``) stays its own: the person's row is not locked.
    """
    sub = along.subquery("along")
    return _PRINCIPAL_BY_TOKEN.add_columns(*(c.label(_ALONG + c.key) for c in sub.c)).outerjoin(
        sub, true()
    )


async def principal_for_token_along(
    s: AsyncSession, raw: str, now: datetime, statement: Select[Any], params: dict[str, Any]
) -> tuple[Principal | None, dict[str, Any] | None]:
    """``principal_for_token``, and the row of what ``statement`` (made by ``principal_along``)
    carries along, by its own column names; ``None`` when it has none."""
    conn = await core_connection(s)
    row = (await conn.execute(statement, {**params, "digest": token_digest(raw)})).first()
    if row is None:
        return None, None
    along = {k[len(_ALONG) :]: v for k, v in row._mapping.items() if k.startswith(_ALONG)}
    return _principal(row, now), None if along["id"] is None else along


async def skills_of(s: AsyncSession, user_id: int) -> dict[str, int]:
    rows = await s.execute(
        select(UserSkill.skill, UserSkill.level).where(UserSkill.user_id == user_id)
    )
    return {k: v for k, v in rows.all()}


async def set_skill(
    s: AsyncSession, user_id: str | int, skill: str, level: int, now: datetime
) -> None:
    user = await get_user(s, user_id)
    if not skill or len(skill) > 200 or any(not part for part in skill.split(".")):
        raise invalid(["path", "skill"], "a dotted skill key such as medicine.cardiology")
    existing = (
        await s.execute(
            select(UserSkill).where(UserSkill.user_id == user.id, UserSkill.skill == skill)
        )
    ).scalar_one_or_none()
    if existing is None:
        s.add(UserSkill(user_id=user.id, skill=skill, level=level, updated_at=now))
    else:
        existing.level = level
        existing.updated_at = now
    await s.flush()


async def user_out(
    s: AsyncSession, user: User, skills: dict[str, int] | None = None
) -> dict[str, Any]:
    """The user as the API shows it; ``skills`` when the caller already read them."""
    return {
        "id": str(user.id),
        "email": user.email,
        "name": user.name,
        "roles": list(user.roles),
        "profile": user.profile,
        "status": user.status,
        "skills": skills if skills is not None else await skills_of(s, user.id),
        "created_at": iso(user.created_at),
    }


async def list_users(s: AsyncSession, limit: int, after: int | None) -> list[dict[str, Any]]:
    """A page of users in id order (one more than ``limit``, for the cursor)."""
    q = select(User).order_by(User.id).limit(limit + 1)
    if after is not None:
        q = q.where(User.id > after)
    users = list((await s.execute(q)).scalars())
    skills: dict[int, dict[str, int]] = {u.id: {} for u in users}
    if users:
        rows = await s.execute(
            select(UserSkill.user_id, UserSkill.skill, UserSkill.level).where(
                UserSkill.user_id.in_(list(skills))
            )
        )
        for user_id, skill, level in rows.all():
            skills[user_id][skill] = level
    return [await user_out(s, u, skills[u.id]) for u in users]


async def secret_key(s: AsyncSession) -> str:
    """The deployment's signing key, created on first use and shared by every process."""
    row = await s.get(Meta, "secret_key")
    if row is None:
        row = Meta(key="secret_key", value=secrets.token_urlsafe(48))
        s.add(row)
        await s.flush()
    return row.value


async def revoke_token(s: AsyncSession, raw: str) -> None:
    """End a session or token (signing out); an unknown token is already ended."""
    await s.execute(
        update(ApiToken).where(ApiToken.token_hash == token_digest(raw)).values(revoked=True)
    )


async def sign_in(
    s: AsyncSession,
    *,
    email: str,
    password: str,
    address: str,
    now: datetime,
    settings: Settings,
    passwords: Passwords,
    token_name: str,
    days: int | None = None,
) -> tuple[User, str] | None:
    """Check the password under the sign-in limits and issue a token (API) or session (pages)."""
    user = await authenticate(
        s,
        email=email,
        password=password,
        address=address,
        now=now,
        max_failures=settings.login_max_failures,
        window=timedelta(minutes=settings.login_window_minutes),
        passwords=passwords,
    )
    if user is None:
        return None
    return user, await issue_token(s, user, now=now, name=token_name, days=days)
