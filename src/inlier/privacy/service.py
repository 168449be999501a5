"""The rules for privacy: policy versions and consent, the data export, and erasure."""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import hmac
import json
import tempfile
import time
import weakref
import zipfile
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from inlier.accounts import service as accounts
from inlier.accounts.models import ApiToken, LoginFailure, User, UserSkill
from inlier.accounts.service import Principal
from inlier.audit import service as audit
from inlier.db.models import metadata  # every area's tables, whatever the caller imported
from inlier.experts.models import Application
from inlier.forum.models import PostReport
from inlier.kit.clock import iso
from inlier.kit.errors import Conflict, DomainError, invalid
from inlier.notify.models import Notification, OutboxMail
from inlier.privacy.holdings import HOLDINGS, Holding, jsonable
from inlier.privacy.models import Consent, Policy
from inlier.projects.models import Membership
from inlier.quality.models import Appeal
from inlier.workflow.models import Assignment

CONSENT_REQUIRED = "consent_required"
ERASED = "erased"
ERASED_NAME = "Erased user"
#: How far in the past an ``effective_at`` may lie and still count as "now" (clock skew).
NOW_SLACK = timedelta(minutes=1)


# ---- policies and consent ------------------------------------------------------------------


def policy_out(p: Policy) -> dict[str, Any]:
    return {
        "version": p.version,
        "effective_at": iso(p.effective_at),
        "markdown": p.markdown,
        "changes": p.changes,
        "published_at": iso(p.created_at),
    }


def parse_time(value: str, loc: list[str | int]) -> datetime:
    """An RFC 3339 time as naive UTC (a time without an offset is taken as UTC)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise invalid(loc, "an RFC 3339 time, e.g. 2026-11-16T00:00:00Z") from exc
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


async def current_policy(s: AsyncSession, now: datetime) -> Policy | None:
    """The version in force: the latest ``effective_at`` that has arrived."""
    return (
        await s.execute(
            select(Policy)
            .where(Policy.effective_at <= now)
            .order_by(Policy.effective_at.desc(), Policy.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def publish_policy(
    s: AsyncSession,
    who: Principal,
    *,
    version: str,
    markdown: str,
    changes: str | None,
    effective_at: str | None,
    now: datetime,
    request_id: str | None,
) -> Policy:
    """A new version, in force from ``effective_at`` (now or later; default now)."""
    if not version.strip():
        raise invalid(["body", "version"], "must not be blank")
    when = now
    if effective_at is not None:
        when = parse_time(effective_at, ["body", "effective_at"])
        if when < now - NOW_SLACK:
            raise invalid(["body", "effective_at"], "must be now or later")
        when = max(when, now)
    policy = Policy(
        version=version,
        markdown=markdown,
        changes=changes,
        effective_at=when,
        created_at=now,
        created_by=who.id,
    )
    s.add(policy)
    try:
        async with s.begin_nested():
            await s.flush()
    except IntegrityError as exc:
        raise Conflict(f"version {version!r} is already published") from exc
    _policies.pop(_cache_key(s), None)
    await audit.record(
        s,
        who.id,
        "policy.publish",
        f"policy:{policy.id}",
        {
            "after": {
                "version": version,
                "effective_at": iso(when),
                "markdown": audit.digest(markdown),
            }
        },
        request_id,
        at=now,
    )
    return policy


async def _address_hash(s: AsyncSession, address: str | None) -> str | None:
    """A keyed hash: it proves which address accepted without storing (or revealing) it."""
    if not address:
        return None
    key = (await accounts.secret_key(s)).encode()
    return hmac.new(key, b"consent:" + address.encode(), hashlib.sha256).hexdigest()


async def record_consent(
    s: AsyncSession, user_id: int, policy: Policy, address: str | None, now: datetime
) -> Consent:
    """Record that ``user_id`` accepted ``policy`` (again is a no-op: the first record stays).

    Sign-up calls this with the version the applicant accepted.
    """
    existing = (
        await s.execute(
            select(Consent).where(Consent.user_id == user_id, Consent.policy_id == policy.id)
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    consent = Consent(
        user_id=user_id,
        policy_id=policy.id,
        policy_version=policy.version,
        accepted_at=now,
        address_hash=await _address_hash(s, address),
    )
    s.add(consent)
    await s.flush()
    return consent


async def policy_to_accept(s: AsyncSession, version: str, now: datetime) -> Policy:
    """The version someone may accept: the one in force, or one published to come."""
    policy = (await s.execute(select(Policy).where(Policy.version == version))).scalar_one_or_none()
    if policy is None:
        raise invalid(["body", "policy_version"], f"no published policy version {version!r}")
    if policy.effective_at <= now:
        current = await current_policy(s, now)
        if current is not None and current.id != policy.id:
            raise Conflict(
                f"version {version!r} has been replaced; accept version {current.version!r}",
                extra={"current_version": current.version},
            )
    return policy


async def accept(
    s: AsyncSession, who: Principal, version: str, address: str | None, now: datetime
) -> Consent:
    policy = await policy_to_accept(s, version, now)
    return await record_consent(s, who.id, policy, address, now)


def consent_out(c: Consent) -> dict[str, Any]:
    return {"policy_version": c.policy_version, "accepted_at": iso(c.accepted_at)}


# Published versions change rarely and ``next`` asks on every call: each process keeps the
# list of (effective_at, id) for a few seconds. Publishing here clears it at once; another
# process sees a new version within the TTL.
_POLICIES_TTL = 10.0
_policies: weakref.WeakKeyDictionary[Any, tuple[float, list[tuple[datetime, int]]]] = (
    weakref.WeakKeyDictionary()
)


def _cache_key(s: AsyncSession) -> Any:
    """One cache per engine (per database, per app)."""
    return s.get_bind()


async def _published(s: AsyncSession) -> list[tuple[datetime, int]]:
    key = _cache_key(s)
    cached = _policies.get(key)
    if cached is not None and time.monotonic() - cached[0] < _POLICIES_TTL:
        return cached[1]
    rows = await s.execute(select(Policy.effective_at, Policy.id).order_by(Policy.effective_at))
    versions = [(at, pid) for at, pid in rows.tuples().all()]
    _policies[key] = (time.monotonic(), versions)
    return versions


async def consent_reason(s: AsyncSession, who: Principal, now: datetime) -> str | None:
    """``"consent_required"`` while a policy is in force that ``who`` has not accepted.

    No policy published (or none in force yet): no gate, and no query past the cache.
    """
    in_force = [(at, pid) for at, pid in await _published(s) if at <= now]
    if not in_force:
        return None
    policy_id = max(in_force)[1]
    accepted = await s.scalar(
        select(Consent.id).where(Consent.user_id == who.id, Consent.policy_id == policy_id)
    )
    return None if accepted is not None else CONSENT_REQUIRED


async def consent_view(s: AsyncSession, who: Principal, now: datetime) -> dict[str, Any] | None:
    """What the consent page shows: the policy in force, whether it is accepted, and what
    changed since the version this person accepted last (their words and a line diff)."""
    policy = await current_policy(s, now)
    if policy is None:
        return None
    accepted = (
        await s.execute(
            select(Policy)
            .join(Consent, Consent.policy_id == Policy.id)
            .where(Consent.user_id == who.id)
            .order_by(Policy.effective_at.desc(), Policy.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    diff: list[tuple[str, str]] = []
    if accepted is not None and accepted.id != policy.id:
        for line in difflib.ndiff(accepted.markdown.splitlines(), policy.markdown.splitlines()):
            if line[:1] in "+-" and line[2:].strip():
                diff.append(("added" if line[0] == "+" else "removed", line[2:]))
    return {
        "policy": policy,
        "accepted": accepted is not None and accepted.id == policy.id,
        "previous": accepted if accepted is not None and accepted.id != policy.id else None,
        "diff": diff,
    }


# ---- take my data --------------------------------------------------------------------------

README = """# Your data from Inlier

Exported {at} for user {user_id}. Each file is a JSON array of records (`account.json` is one
object). Ids are strings; times are RFC 3339 UTC.

| file | what it holds | what erasing your account does to it |
| --- | --- | --- |
{rows}

Your answers stay linked to datasets only through a pseudonym that differs per project; exports
given to AI teams never hold your name or email.
"""


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    return value


async def _rows(
    s: AsyncSession, holding: Holding, user_id: int, email: str, batch: int = 1000
) -> Any:
    table = metadata.tables[holding.table]
    columns = [
        c
        for c in table.columns
        if c.name not in holding.omit and (holding.only is None or c.name in holding.only)
    ]
    key = table.c.id
    after: Any = None
    while True:
        q = select(*columns).where(holding.where(table, user_id, email)).order_by(key).limit(batch)
        if after is not None:
            q = q.where(key > after)
        rows = (await s.execute(q)).mappings().all()
        for row in rows:
            yield {k: jsonable(k, _cell(v)) for k, v in row.items()}
        if len(rows) < batch:
            return
        after = rows[-1]["id"]


async def data_export(s: AsyncSession, user_id: int, now: datetime) -> IO[bytes]:
    """A zip of JSON files, one per kind of data, and a README; rewound, ready to stream.

    Rows are read in batches and written straight into the archive, which spills to disk
    past a few MiB, so a long history costs no memory.
    """
    user = await accounts.get_user(s, user_id)
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (returned)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for holding in HOLDINGS.values():
            with zf.open(holding.file, "w") as fh:
                if holding.table == "users":
                    account = [r async for r in _rows(s, holding, user.id, user.email)]
                    account[0]["skills"] = await accounts.skills_of(s, user.id)
                    fh.write(json.dumps(account[0], ensure_ascii=False, indent=2).encode())
                    continue
                fh.write(b"[")
                first = True
                async for row in _rows(s, holding, user.id, user.email):
                    line = json.dumps(row, ensure_ascii=False).encode()
                    fh.write((b"\n" if first else b",\n") + line)
                    first = False
                fh.write(b"\n]\n" if not first else b"]\n")
        rows = "\n".join(f"| `{h.file}` | {h.about} | {h.erasure} |" for h in HOLDINGS.values())
        zf.writestr("README.md", README.format(at=iso(now), user_id=user.id, rows=rows))
    out.seek(0)
    return out


# ---- erase me ------------------------------------------------------------------------------


def is_erased(user: User) -> bool:
    return user.status == ERASED


async def _check_not_last_admin(s: AsyncSession, user: User) -> None:
    if "admin" not in (user.roles or []):
        return
    others = select(User.roles).where(User.active.is_(True), User.id != user.id)
    if not any("admin" in (roles or []) for roles in (await s.execute(others)).scalars()):
        raise Conflict("this is the only active admin; make another admin first")


async def erase(
    s: AsyncSession, actor_id: int, user_id: int | str, now: datetime, request_id: str | None
) -> dict[str, Any]:
    """Remove or replace every piece of a person's personal data and disable the account.

    Contributions stay (their per-project pseudonym is derived from the id, which stays), so
    datasets and statistics do not change. Repeating it changes nothing and records nothing.
    Returns ``{id, status: "erased", erased_at}``.
    """
    user = await accounts.get_user(s, user_id)
    await accounts.lock_user(s, user.id)
    if is_erased(user):
        return await erasure_out(s, user)
    await _check_not_last_admin(s, user)
    old_email, old_status, user_was_active = user.email, user.status, user.active
    # Open leases go back to the queue now rather than when they expire. (Imported here:
    # the queue's ``next`` calls ``consent_reason``, so the two modules import each other.)
    from inlier.workflow import service as workflow

    person = accounts.principal_of(user)
    held = (
        await s.execute(
            select(Assignment.id).where(Assignment.user_id == user.id, Assignment.state == "active")
        )
    ).scalars()
    for assignment_id in list(held):
        with contextlib.suppress(DomainError):  # already expired: the queue reclaims it
            await workflow.give_back(s, person, str(assignment_id), "release", now)
    await s.execute(
        update(Assignment)
        .where(Assignment.user_id == user.id, Assignment.draft.is_not(None))
        .values(draft=None, draft_saved_at=None)
    )
    await s.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    await s.execute(delete(LoginFailure).where(LoginFailure.email == old_email))
    await s.execute(delete(UserSkill).where(UserSkill.user_id == user.id))
    await s.execute(delete(Membership).where(Membership.user_id == user.id))
    await s.execute(update(Consent).where(Consent.user_id == user.id).values(address_hash=None))
    await s.execute(
        update(Application).where(Application.user_id == user.id).values(profile={}, reason=None)
    )
    await s.execute(delete(Notification).where(Notification.user_id == user.id))
    await s.execute(
        update(Appeal)
        .where(Appeal.user_id == user.id)
        .values(message="(erased)", decision_reason=None)
    )
    await s.execute(
        delete(OutboxMail).where(
            (OutboxMail.user_id == user.id) | (OutboxMail.to_addr == old_email)
        )
    )
    await s.execute(delete(PostReport).where(PostReport.reporter_id == user.id))
    user.email = f"erased-{user.id}@invalid"
    user.name = ERASED_NAME
    user.profile = {}
    user.password_hash = "!erased"
    user.roles = []
    user.status = ERASED
    user.active = False
    await s.flush()
    await audit.record(
        s,
        actor_id,
        "user.erase",
        f"user:{user.id}",
        {
            "before": {"status": old_status, "active": user_was_active},
            "after": {"status": ERASED, "active": False},
        },
        request_id,
        at=now,
    )
    return await erasure_out(s, user)


async def erasure_out(s: AsyncSession, user: User) -> dict[str, Any]:
    entry = await audit.last_entry(s, "user.erase", f"user:{user.id}")
    return {"id": str(user.id), "status": user.status, "erased_at": entry["at"] if entry else None}


__all__ = [
    "CONSENT_REQUIRED",
    "accept",
    "consent_reason",
    "consent_view",
    "current_policy",
    "data_export",
    "erase",
    "publish_policy",
    "record_consent",
]
