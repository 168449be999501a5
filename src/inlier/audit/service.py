"""The audit log's rules: how an entry is written, chained, redacted, listed and verified.

Every area records an owner's or admin's change by calling ``record`` inside the transaction
that makes the change, so the entry commits (or rolls back) with it::

    from inlier.audit import service as audit

    await audit.record(
        s, who.id, "project.update", f"project:{project.id}",
        audit.changes(before, after), request_id, at=now,
    )

Entries form a hash chain: each holds the SHA-256 of its own canonical JSON (which includes the
previous entry's hash), so editing or deleting any entry breaks the chain at that entry, and the
head row (the last id and hash) catches deleted newest entries. Appends are serialized: on
PostgreSQL by a transaction-scoped advisory lock, on SQLite by its single writer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from inlier.audit.models import AuditEntry, AuditHead
from inlier.kit.clock import iso
from inlier.kit.middleware import current_request_id

#: The advisory lock every append takes on PostgreSQL ("inlier.audit" as a number).
ADVISORY_LOCK = 0x1A1D17
REDACTED = "[redacted]"
#: Keys whose values are personal data or secrets wherever they appear in a diff.
PERSONAL_KEYS = frozenset(
    {
        "email",
        "password",
        "password_hash",
        "token",
        "token_hash",
        "secret",
        "api_key",
        "address",
        "client_address",
        "addresses",
        "bio",
        "phone",
        "free_text",
        "reason_text",
    }
)
#: Also personal when the target is a person (``user:…``, ``application:…``): their name and
#: profile. A project's ``name`` is not personal and stays readable.
PERSON_KEYS = frozenset({"name", "profile"})
PERSON_TARGETS = ("user:", "application:")


def canonical(value: Any) -> bytes:
    """The one byte string an entry hashes to: sorted keys, no spaces, UTF-8."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def entry_hash(
    *,
    id: int,
    at: datetime,
    actor_id: int | None,
    action: str,
    target: str,
    diff: Any,
    request_id: str | None,
    prev_hash: str | None,
) -> str:
    body = {
        "id": str(id),
        "at": iso(at),
        "actor": None if actor_id is None else str(actor_id),
        "action": action,
        "target": target,
        "diff": diff,
        "request_id": request_id,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical(body)).hexdigest()


def redact(value: Any, target: str = "") -> Any:
    """``value`` with every personal field replaced by ``"[redacted]"`` (see PERSONAL_KEYS)."""
    keys = PERSONAL_KEYS | (PERSON_KEYS if target.startswith(PERSON_TARGETS) else frozenset())

    def walk(v: Any) -> Any:
        if isinstance(v, Mapping):
            return {
                str(k): (REDACTED if str(k).lower() in keys and w is not None else walk(w))
                for k, w in v.items()
            }
        if isinstance(v, list | tuple):
            return [walk(w) for w in v]
        if isinstance(v, datetime):
            return iso(v)
        return v

    return walk(value)


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """``{before: {...}, after: {...}}`` holding only the keys whose values differ."""
    keys = [k for k in {**before, **after} if before.get(k) != after.get(k)]
    return {
        "before": {k: before.get(k) for k in keys},
        "after": {k: after.get(k) for k in keys},
    }


def digest(text_value: str | None) -> str | None:
    """A long text (guidelines, a policy) as its SHA-256: the log says that it changed."""
    if text_value is None:
        return None
    return "sha256:" + hashlib.sha256(text_value.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


async def record(
    s: AsyncSession,
    actor_id: int | None,
    action: str,
    target: str,
    diff: Mapping[str, Any] | None,
    request_id: str | None,
    *,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction and return it.

    ``action`` is ``<area>.<verb>`` (``project.update``); ``target`` is ``<kind>:<id>``
    (``project:12``); ``diff`` is usually ``changes(before, after)`` or ``{"after": {...}}``.
    Personal fields in ``diff`` are redacted here, whatever the caller passed. Without a
    ``request_id``, the id of the request being served is used (services called by pages).
    """
    request_id = request_id or current_request_id.get()
    at = at or _now()
    moment = at.replace(microsecond=at.microsecond // 1000 * 1000)  # what RFC 3339 shows
    clean = redact(dict(diff or {}), target)
    if s.get_bind().dialect.name == "postgresql":
        await s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
    head = await s.get(AuditHead, "chain", populate_existing=True)
    last = (
        await s.execute(select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()))
    ).first()
    prev_hash = last.hash if last is not None else None
    next_id = (last.id if last is not None else 0) + 1
    entry = AuditEntry(
        id=next_id,
        at=moment,
        actor_id=actor_id,
        action=action[:64],
        target=target[:200],
        diff=clean,
        request_id=request_id[:64] if request_id else None,
        prev_hash=prev_hash,
    )
    entry.hash = entry_hash(
        id=next_id,
        at=moment,
        actor_id=actor_id,
        action=entry.action,
        target=entry.target,
        diff=clean,
        request_id=entry.request_id,
        prev_hash=prev_hash,
    )
    s.add(entry)
    if head is None:
        s.add(AuditHead(name="chain", last_id=next_id, last_hash=entry.hash, entries=1))
    else:
        head.last_id, head.last_hash, head.entries = next_id, entry.hash, head.entries + 1
    await s.flush()
    return entry


def entry_out(e: AuditEntry) -> dict[str, Any]:
    return {
        "id": str(e.id),
        "at": iso(e.at),
        "actor": None if e.actor_id is None else str(e.actor_id),
        "action": e.action,
        "target": e.target,
        "diff": e.diff,
        "request_id": e.request_id,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


def _id_or_none(value: str) -> int | None:
    if value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


async def list_entries(
    s: AsyncSession,
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    limit: int = 50,
    after: int | None = None,
    newest_first: bool = False,
) -> list[dict[str, Any]]:
    """Entries oldest first (the API) or newest first (the admin page), matching every filter
    given exactly; one more than ``limit``, and ``after`` is the last id of the page before."""
    order = AuditEntry.id.desc() if newest_first else AuditEntry.id
    q = select(AuditEntry).order_by(order).limit(limit + 1)
    if actor is not None:
        actor_id = _id_or_none(actor)
        if actor_id is None or str(actor_id) != actor:
            return []
        q = q.where(AuditEntry.actor_id == actor_id)
    if action is not None:
        q = q.where(AuditEntry.action == action)
    if target is not None:
        q = q.where(AuditEntry.target == target)
    if after is not None:
        q = q.where(AuditEntry.id < after if newest_first else AuditEntry.id > after)
    return [entry_out(e) for e in (await s.execute(q)).scalars()]


async def entries_about(s: AsyncSession, user_id: int) -> AsyncIterator[dict[str, Any]]:
    """Every entry a person made or that is about them (their data export)."""
    q = (
        select(AuditEntry)
        .where((AuditEntry.actor_id == user_id) | (AuditEntry.target == f"user:{user_id}"))
        .order_by(AuditEntry.id)
    )
    for e in (await s.execute(q)).scalars():
        yield entry_out(e)


async def last_entry(s: AsyncSession, action: str, target: str) -> dict[str, Any] | None:
    e = (
        await s.execute(
            select(AuditEntry)
            .where(AuditEntry.action == action, AuditEntry.target == target)
            .order_by(AuditEntry.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    return None if e is None else entry_out(e)


@dataclass
class Verdict:
    """What ``verify`` found: how many entries it checked, and the first broken one if any."""

    entries: int
    broken_id: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_id is None and self.reason is None

    def out(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "broken": None if self.ok else {"id": self.broken_id, "reason": self.reason},
        }


async def count(s: AsyncSession) -> int:
    return int(await s.scalar(select(func.count()).select_from(AuditEntry)) or 0)


async def verify(
    db: Any, *, batch: int = 1000, progress: Callable[[int], None] | None = None
) -> Verdict:
    """Recompute the chain from the first entry, in id order, in batches of short reads.

    ``db`` is a ``Database``; ``progress(n)`` is called with the entries checked after each
    batch. Stops at the first entry whose hash, or whose link to the entry before, is wrong.
    """
    checked = 0
    prev_hash: str | None = None
    prev_id = 0
    after = 0
    while True:
        async with db.session() as s:
            rows = list(
                (
                    await s.execute(
                        select(AuditEntry)
                        .where(AuditEntry.id > after)
                        .order_by(AuditEntry.id)
                        .limit(batch)
                    )
                ).scalars()
            )
            head = await s.get(AuditHead, "chain") if not rows else None
        for e in rows:
            if e.prev_hash != prev_hash:
                what = "the first entry" if prev_id == 0 else f"entry {prev_id}"
                return Verdict(
                    checked,
                    str(e.id),
                    f"prev_hash does not match {what}: an entry before it was deleted, "
                    "inserted or edited",
                )
            expected = entry_hash(
                id=e.id,
                at=e.at,
                actor_id=e.actor_id,
                action=e.action,
                target=e.target,
                diff=e.diff,
                request_id=e.request_id,
                prev_hash=e.prev_hash,
            )
            if expected != e.hash:
                return Verdict(checked, str(e.id), "its content does not match its hash: edited")
            checked += 1
            prev_hash, prev_id = e.hash, e.id
        after = rows[-1].id if rows else after
        if progress is not None and rows:
            progress(checked)
        if not rows:
            break
    if checked == 0 and head is None:
        return Verdict(0)
    if head is None or head.last_id != prev_id or head.last_hash != prev_hash:
        said = "no head" if head is None else f"the head names entry {head.last_id}"
        return Verdict(
            checked,
            str(prev_id) if prev_id else None,
            f"the chain ends at entry {prev_id} but {said}: the newest entries were deleted",
        )
    if head.entries != checked:
        return Verdict(
            checked, None, f"the head counts {head.entries} entries, the chain holds {checked}"
        )
    return Verdict(checked)


async def export_entries(db: Any, *, batch: int = 1000) -> AsyncIterator[dict[str, Any]]:
    """Every entry in id order, read in short batches (``inlier audit export``)."""
    after = 0
    while True:
        async with db.session() as s:
            rows = list(
                (
                    await s.execute(
                        select(AuditEntry)
                        .where(AuditEntry.id > after)
                        .order_by(AuditEntry.id)
                        .limit(batch)
                    )
                ).scalars()
            )
        if not rows:
            return
        for e in rows:
            yield entry_out(e)
        after = rows[-1].id
