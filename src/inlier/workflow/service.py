"""The queue: who gets which slot next, leases, drafts, submissions and reviews.

Every function runs inside the caller's transaction. On PostgreSQL the slot a person gets is
locked with ``FOR UPDATE SKIP LOCKED`` so concurrent callers never wait on each other; SQLite
runs one writer at a time (``BEGIN IMMEDIATE``), which gives the same guarantees.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Select,
    bindparam,
    delete,
    func,
    insert,
    literal,
    literal_column,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from inlier.accounts import service as accounts
from inlier.accounts.service import Principal
from inlier.datasets import dynamic
from inlier.db.engine import core_connection
from inlier.kit.clock import iso
from inlier.kit.errors import Conflict, InvalidInput, LeaseLost, NotFound
from inlier.kit.ids import parse_id
from inlier.llm import service as llm
from inlier.notify import service as notify
from inlier.pay import service as pay
from inlier.privacy import service as privacy
from inlier.projects import service as projects
from inlier.projects.models import Item, Project
from inlier.quality import service as quality
from inlier.questions import Template
from inlier.workflow.models import DONE, LEASED, OPEN, Assignment, Response, Slot, Touch
from inlier.workflow.schemas import REJECT_REASONS, SubmitIn

ATTEMPT, REVIEW = "attempt", "review"
# Written as literals, not parameters: a partial index (WHERE state = 'open') is only usable
# when the planner can see the same literal, which PostgreSQL's generic plans otherwise hide.
IS_OPEN = Slot.state == literal_column("'open'")
IS_LEASED = Slot.state == literal_column("'leased'")
VERDICT_STATUS = {"approve": "approved", "improve": "improved", "reject": "rejected"}

# The statements of `next` and `submit` are built once, from the tables, and run as Core:
# building a statement and loading ORM rows cost more CPU than SQLite spends running them.
# Parameters are named p_*, apart from column values of INSERT/UPDATE, which take the
# column's name.
_tables = Slot.metadata.tables
_slots, _items, _touches = _tables["slots"], _tables["items"], _tables["touches"]
_assignments, _responses = _tables["assignments"], _tables["responses"]
_S, _I, _T, _A, _R = _slots.c, _items.c, _touches.c, _assignments.c, _responses.c

_IS_OPEN = _S.state == literal_column("'open'")


def _pick_statement(pg: bool, gold: bool | None) -> Select[Any]:
    """The best open slot of a stage that the person has not touched, with its item's data;
    ``gold`` True/False keeps to gold items or leaves them out (None: any item)."""
    touched = select(_T.id).where(_T.item_id == _S.item_id, _T.user_id == bindparam("p_user"))
    q = (
        select(_S.id, _S.item_id, _I.data)
        .select_from(_slots.join(_items, _I.id == _S.item_id))
        .where(
            _S.project_id == bindparam("p_project"),
            _S.stage == bindparam("p_stage"),
            _IS_OPEN,
            ~touched.exists(),
        )
        .order_by(_S.priority.desc(), _S.id)
        .limit(1)
    )
    if gold is not None:
        q = q.where(_I.gold.is_not(None) if gold else _I.gold.is_(None))
    if pg:
        q = q.with_for_update(skip_locked=True, of=_slots)
    return q


_PICK = {
    (pg, gold): _pick_statement(pg, gold) for pg in (False, True) for gold in (None, False, True)
}
# A gold item the person has not seen, for a fresh honeypot slot (a project has few).
_GOLD_ITEM = (
    select(_I.id, _I.data, _I.priority)
    .where(
        _I.project_id == bindparam("p_project"),
        _I.gold.is_not(None),
        ~select(_T.id).where(_T.item_id == _I.id, _T.user_id == bindparam("p_user")).exists(),
    )
    .order_by(func.random())
    .limit(1)
)
_NEW_SLOT = insert(_slots).returning(_S.id)

_earlier = _assignments.alias("earlier")


def _earlier_draft(column: str, slot: Any = None, user: Any = None) -> Any:
    """A draft left on a lapsed lease of the same slot by the same person, newest first."""
    return (
        select(_earlier.c[column])
        .where(
            _earlier.c.slot_id == (bindparam("p_slot") if slot is None else slot),
            _earlier.c.user_id == (bindparam("p_user") if user is None else user),
            _earlier.c.draft.is_not(None),
        )
        .order_by(_earlier.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


# The draft comes along inside the INSERT: usually there is none, and asking costs a statement.
_INSERT_LEASE = (
    insert(_assignments)
    .values(draft=_earlier_draft("draft"), draft_saved_at=_earlier_draft("draft_saved_at"))
    .returning(_A.id, _A.draft, _A.draft_saved_at)
)
_TAKE_SLOT = update(_slots).where(_S.id == bindparam("p_slot"), _IS_OPEN)
_INSERT_TOUCH = insert(_touches)


def _bound(table: Any, prefix: str, names: tuple[str, ...]) -> dict[str, Any]:
    """Column values as typed parameters ``prefix + column`` (for statements inside a WITH)."""
    return {n: bindparam(prefix + n, type_=table.c[n].type) for n in names}


_LEASE_FIELDS = (
    "slot_id",
    "project_id",
    "item_id",
    "user_id",
    "stage",
    "state",
    "created_at",
    "expires_at",
    "active_seconds",
)


def _lease_pg() -> Any:
    """PostgreSQL: the lease's three writes in one round trip (data-modifying WITH).

    ``taken`` is 0 when the slot was no longer open; the caller then rolls everything back.
    """
    leased = (
        insert(_assignments)
        .values(
            **_bound(_assignments, "a_", _LEASE_FIELDS),
            draft=_earlier_draft("draft"),
            draft_saved_at=_earlier_draft("draft_saved_at"),
        )
        .returning(_A.id, _A.draft, _A.draft_saved_at)
        .cte("leased")
    )
    taken = (
        update(_slots)
        .where(_S.id == bindparam("p_slot"), _IS_OPEN)
        .values(
            state=LEASED,
            leased_by=bindparam("a_user_id", type_=_S.leased_by.type),
            lease_expires_at=bindparam("a_expires_at", type_=_S.lease_expires_at.type),
            assignment_id=select(leased.c.id).scalar_subquery(),
        )
        .returning(_S.id)
        .cte("taken")
    )
    touched = (
        insert(_touches).values(**_bound(_touches, "a_", ("item_id", "user_id"))).cte("touched")
    )
    return select(
        leased.c.id,
        leased.c.draft,
        leased.c.draft_saved_at,
        select(func.count()).select_from(taken).scalar_subquery().label("taken"),
    ).add_cte(touched)


_LEASE_PG = _lease_pg()


def _pick_and_lease_pg(gold: bool | None) -> Any:
    """PostgreSQL: the pick and the lease in one round trip (data-modifying WITH).

    The best open slot is locked as ``_pick_statement`` locks it (skipping slots that others
    are taking); the assignment, the slot's lease and the touch are written from it. No row
    when there is no open slot; ``taken`` as in ``_lease_pg``.
    """
    picked = _pick_statement(True, gold).cte("picked")
    user = bindparam("a_user_id", type_=_A.user_id.type)
    values = _bound(_assignments, "a_", _LEASE_FIELDS)
    leased = (
        insert(_assignments)
        .from_select(
            [*_LEASE_FIELDS, "draft", "draft_saved_at"],
            select(
                *(
                    picked.c.id if n == "slot_id" else picked.c.item_id if n == "item_id" else v
                    for n, v in values.items()
                ),
                _earlier_draft("draft", picked.c.id, user),
                _earlier_draft("draft_saved_at", picked.c.id, user),
            ),
        )
        .returning(_A.id, _A.draft, _A.draft_saved_at)
        .cte("leased")
    )
    taken = (
        update(_slots)
        .where(_S.id == select(picked.c.id).scalar_subquery(), _IS_OPEN)
        .values(
            state=LEASED,
            leased_by=user,
            lease_expires_at=values["expires_at"],
            assignment_id=select(leased.c.id).scalar_subquery(),
        )
        .returning(_S.id)
        .cte("taken")
    )
    touched = (
        insert(_touches).from_select(["item_id", "user_id"], select(picked.c.item_id, user))
    ).cte("touched")
    return (
        select(
            leased.c.id,
            leased.c.draft,
            leased.c.draft_saved_at,
            picked.c.id.label("slot_id"),
            picked.c.item_id,
            picked.c.data,
            select(func.count()).select_from(taken).scalar_subquery().label("taken"),
        )
        .select_from(leased.join(picked, true()))
        .add_cte(touched)
    )


_PICK_AND_LEASE_PG = {gold: _pick_and_lease_pg(gold) for gold in (None, False)}
_HELD = select(_A.id).where(
    _A.user_id == bindparam("p_user"),
    _A.project_id == bindparam("p_project"),
    _A.state == literal_column("'active'"),
)
_latest = _assignments.alias("latest")
# Routing in one statement: the person's live leases, and their latest task (for the project
# they worked last); both come from the index on (user_id, ...).
_WHERE_AT = select(_A.project_id, _A.state, _A.id).where(
    _A.user_id == bindparam("p_user"),
    (_A.state == literal_column("'active'"))
    | (
        _A.id
        == select(func.max(_latest.c.id))
        .where(_latest.c.user_id == bindparam("p_user"))
        .scalar_subquery()
    ),
)
_ITEM_DATA = select(_I.data).where(_I.id == bindparam("p_item"))
_INSERT_RESPONSE = insert(_responses).returning(_R.id)
_projects = _tables["projects"]
_ASSIGNMENT_FIELDS = tuple(c.name for c in _assignments.c if c.name not in ("draft",))
_P = _projects.c
# What a submission reads: the assignment, its project's rules and its item, in one statement.
_FOR_SUBMIT = (
    select(
        *(_A[name] for name in _ASSIGNMENT_FIELDS),
        _P.updated_at.label("project_updated_at"),
        _P.template.label("project_template"),
        _P.workflow.label("project_workflow"),
        _P.quality.label("project_quality"),
        _P.requirements.label("project_requirements"),
        _P.guidelines_version.label("project_guidelines_version"),
        _I.data.label("item_data"),
        _I.priority.label("item_priority"),
        _I.gold.label("item_gold"),
        # Whether the project pays (has a rate card): only then does pay write a line here.
        pay.priced(_A.project_id).label("project_priced"),
    )
    .select_from(
        _assignments.join(_projects, _P.id == _A.project_id).join(_items, _I.id == _A.item_id)
    )
    .where(_A.id == bindparam("p_id"))
    # Two racing submits of one lease run one after the other (PostgreSQL; SQLite has one
    # writer), and the second sees the first's result.
    .with_for_update(of=_assignments)
)
_NEEDS_REVIEW = update(_responses).where(_R.id == bindparam("p_id"))
_END_ASSIGNMENT = update(_assignments).where(_A.id == bindparam("p_id"))
_SLOT_DONE = update(_slots).where(_S.id == bindparam("p_slot"))
_RESPONSE_FIELDS = tuple(c.name for c in _responses.c if c.name != "id")


def _record_pg() -> Any:
    """PostgreSQL: the response, the end of its lease and the slot done in one round trip."""
    recorded = (
        insert(_responses)
        .values(**_bound(_responses, "r_", _RESPONSE_FIELDS))
        .returning(_R.id)
        .cte("recorded")
    )
    ended = (
        update(_assignments)
        .where(_A.id == bindparam("p_id"))
        .values(
            **_bound(
                _assignments,
                "a_",
                ("state", "ended_at", "idempotency_key", "request_hash", "active_seconds"),
            ),
            response_id=select(recorded.c.id).scalar_subquery(),
        )
        .cte("ended")
    )
    done = (
        update(_slots)
        .where(_S.id == bindparam("p_slot"))
        .values(state=DONE, leased_by=None, lease_expires_at=None)
        .cte("done")
    )
    return select(recorded.c.id).add_cte(ended).add_cte(done)


_RECORD_PG = _record_pg()


def _attach(s: AsyncSession, obj: Any) -> Any:
    """Make an object written with Core part of the session, as if loaded from its row.

    Every column attribute must be set: whatever is missing would be loaded lazily, which an
    async session cannot do.
    """
    make_transient_to_detached(obj)
    s.add(obj)
    return obj


# ---- slots ---------------------------------------------------------------------------------


async def open_attempt_slots(s: AsyncSession, project_id: int, batch_id: str, overlap: int) -> None:
    """One attempt slot per (item, replica) for a freshly imported batch, in item order."""
    replicas = union_all(*(select(literal(r).label("r")) for r in range(overlap))).subquery()
    source = (
        select(
            Item.project_id,
            Item.id,
            literal(ATTEMPT),
            replicas.c.r,
            literal(OPEN),
            Item.priority,
        )
        .select_from(Item)
        .join(replicas, literal(True))
        .where(Item.import_batch == batch_id)
        .order_by(Item.id, replicas.c.r)
    )
    await s.execute(
        insert(Slot).from_select(
            ["project_id", "item_id", "stage", "replica", "state", "priority"], source
        )
    )


async def reclaim_expired(s: AsyncSession, project_id: int, now: datetime, pg: bool) -> int:
    """Expired leases go back to the queue; the person who let one lapse may get it again."""
    q = select(Slot.id, Slot.assignment_id, Slot.item_id, Slot.leased_by).where(
        Slot.project_id == project_id, IS_LEASED, Slot.lease_expires_at <= now
    )
    if pg:
        q = q.with_for_update(skip_locked=True)
    rows = (await s.execute(q.limit(500))).all()
    if not rows:
        return 0
    await s.execute(
        update(Slot)
        .where(Slot.id.in_([r.id for r in rows]), Slot.state == LEASED)
        .values(state=OPEN, leased_by=None, lease_expires_at=None, assignment_id=None)
    )
    await s.execute(
        update(Assignment)
        .where(Assignment.id.in_([r.assignment_id for r in rows]), Assignment.state == "active")
        .values(state="expired", ended_at=now)
    )
    for r in rows:
        await _untouch(s, r.item_id, r.leased_by)
    return len(rows)


async def _untouch(s: AsyncSession, item_id: int, user_id: int | None) -> None:
    if user_id is not None:
        await s.execute(delete(Touch).where(Touch.item_id == item_id, Touch.user_id == user_id))


def _pick_params(project_id: int, stage: str, user_id: int) -> dict[str, Any]:
    return {"p_project": project_id, "p_stage": stage, "p_user": user_id}


async def _pick_slot(
    s: AsyncSession,
    project_id: int,
    stage: str,
    user_id: int,
    pg: bool,
    gold: bool | None = None,
) -> tuple[int, int, dict[str, Any]] | None:
    """``(slot id, item id, item data)``: the item comes along, so answering needs no query."""
    conn = await core_connection(s)
    row = (await conn.execute(_PICK[pg, gold], _pick_params(project_id, stage, user_id))).first()
    return (row.id, row.item_id, row.data) if row else None


async def _pick_gold(
    s: AsyncSession, project_id: int, user_id: int, pg: bool
) -> tuple[int, int, dict[str, Any]] | None:
    """A honeypot: an open slot of a gold item, or a fresh slot of one the person has not
    seen. Gold items are seen by everyone who works the project, once each."""
    picked = await _pick_slot(s, project_id, ATTEMPT, user_id, pg, gold=True)
    if picked is not None:
        return picked
    conn = await core_connection(s)
    row = (await conn.execute(_GOLD_ITEM, {"p_project": project_id, "p_user": user_id})).first()
    if row is None:
        return None
    slot_id = (
        await conn.execute(
            _NEW_SLOT,
            {
                "project_id": project_id,
                "item_id": row.id,
                "stage": ATTEMPT,
                "replica": -1,  # beyond the item's overlap: a honeypot draw
                "state": OPEN,
                "priority": row.priority,
            },
        )
    ).scalar_one()
    return slot_id, row.id, row.data


async def _held(s: AsyncSession, user_id: int, project_id: int, now: datetime) -> Assignment | None:
    """The person's live lease on the project; one that ran out is ended here and now."""
    conn = await core_connection(s)
    held_id = (await conn.execute(_HELD, {"p_user": user_id, "p_project": project_id})).scalar()
    if held_id is None:  # the usual case: no ORM load
        return None
    a = await s.get(Assignment, held_id)
    if a is None or a.expires_at > now:
        return a
    # Reclaim may have skipped this slot (locked by a concurrent caller): end it ourselves.
    # Both updates are guarded, so whoever gets there second changes nothing.
    await s.execute(
        update(Slot)
        .where(Slot.id == a.slot_id, Slot.assignment_id == a.id, Slot.state == LEASED)
        .values(state=OPEN, leased_by=None, lease_expires_at=None, assignment_id=None)
    )
    await s.execute(
        update(Assignment)
        .where(Assignment.id == a.id, Assignment.state == "active")
        .values(state="expired", ended_at=now)
    )
    await _untouch(s, a.item_id, user_id)
    await s.refresh(a)
    return None


def _lease_fields(
    acc: projects.Access, who: Principal, slot_id: int, item_id: int, stage: str, now: datetime
) -> dict[str, Any]:
    return {
        "slot_id": slot_id,
        "project_id": acc.project.id,
        "item_id": item_id,
        "user_id": who.id,
        "stage": stage,
        "state": "active",
        "created_at": now,
        "expires_at": now + timedelta(minutes=acc.project.lease_minutes),
        "active_seconds": 0,
    }


def _leased(fields: dict[str, Any], row: Any) -> _Leased:
    return _Leased(
        id=row.id,
        **fields,
        ended_at=None,
        draft=row.draft,
        draft_saved_at=row.draft_saved_at,
        idempotency_key=None,
        request_hash=None,
        response_id=None,
    )


async def _pick_and_lease(
    s: AsyncSession,
    acc: projects.Access,
    who: Principal,
    stage: str,
    now: datetime,
    gold: bool | None,
) -> tuple[_Leased, dict[str, Any]] | None:
    """PostgreSQL: ``_pick_slot`` and ``_lease`` in one statement; ``(lease, item data)``."""
    # The slot and item are the statement's to pick; their places hold placeholders.
    fields = _lease_fields(acc, who, 0, 0, stage, now)
    params = {f"a_{k}": v for k, v in fields.items() if k not in ("slot_id", "item_id")}
    params.update(_pick_params(acc.project.id, stage, who.id))
    conn = await core_connection(s)
    row = (await conn.execute(_PICK_AND_LEASE_PG[gold], params)).first()
    if row is None:
        return None
    if row.taken != 1:
        raise Conflict("the slot was taken; try again")
    fields.update(slot_id=row.slot_id, item_id=row.item_id)
    return _leased(fields, row), row.data


async def _lease(
    s: AsyncSession,
    acc: projects.Access,
    who: Principal,
    slot_id: int,
    item_id: int,
    stage: str,
    now: datetime,
) -> _Leased:
    fields = _lease_fields(acc, who, slot_id, item_id, stage, now)
    expires = fields["expires_at"]
    conn = await core_connection(s)
    # A draft left on a lapsed lease of the same slot comes back with it (inside the INSERT).
    keys = {"p_slot": slot_id, "p_user": who.id}
    if conn.dialect.name == "postgresql":
        row = (
            await conn.execute(_LEASE_PG, {**{f"a_{k}": v for k, v in fields.items()}, **keys})
        ).one()
        if row.taken != 1:
            raise Conflict("the slot was taken; try again")
    else:
        row = (await conn.execute(_INSERT_LEASE, {**fields, **keys})).one()
        taken = await conn.execute(
            _TAKE_SLOT,
            {
                "p_slot": slot_id,
                "state": LEASED,
                "leased_by": who.id,
                "lease_expires_at": expires,
                "assignment_id": row.id,
            },
        )
        if taken.rowcount != 1:
            raise Conflict("the slot was taken; try again")
        await conn.execute(_INSERT_TOUCH, {"item_id": item_id, "user_id": who.id})
    return _leased(fields, row)


@dataclass
class _Leased:
    """A lease just written with Core; an ``Assignment`` only for callers that want one."""

    id: int
    slot_id: int
    project_id: int
    item_id: int
    user_id: int
    stage: str
    state: str
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    active_seconds: int
    draft: dict[str, Any] | None
    draft_saved_at: datetime | None
    idempotency_key: str | None
    request_hash: str | None
    response_id: int | None

    def attach(self, s: AsyncSession) -> Assignment:
        return _attach(s, Assignment(**vars(self)))


class ReclaimSchedule:
    """Sweeps a project's lapsed leases at most every ``every`` per process.

    Everyone's `next` would otherwise sweep; a lapsed lease waiting a second longer costs
    nothing, and a person's own lapsed lease is ended on the spot by ``_held`` regardless.
    """

    def __init__(self, every: timedelta = timedelta(seconds=1)) -> None:
        self.every = every
        self._last: dict[int, datetime] = {}

    def due(self, project_id: int, now: datetime) -> bool:
        last = self._last.get(project_id)
        if last is not None and timedelta(0) <= now - last < self.every:
            return False
        self._last[project_id] = now
        return True


async def next_assignment(
    s: AsyncSession,
    who: Principal,
    project_id: str | None,
    now: datetime,
    pg: bool,
    schedule: ReclaimSchedule | None = None,
) -> tuple[Assignment | None, projects.Access | None, str | None]:
    """The person's current lease, or a new one on the best open slot, or why there is none."""
    a, acc, reason, _ = await _next(s, who, project_id, now, pg, schedule)
    return (a.attach(s) if isinstance(a, _Leased) else a), acc, reason


async def next_assignment_out(
    s: AsyncSession,
    who: Principal,
    project_id: str | None,
    now: datetime,
    pg: bool,
    schedule: ReclaimSchedule | None = None,
) -> tuple[dict[str, Any] | None, str | None]:
    """``next_assignment`` as the API shows it: ``(assignment_out, None)`` or ``(None, why)``."""
    a, acc, reason, item_data = await _next(s, who, project_id, now, pg, schedule)
    if a is None:
        return None, reason
    return await assignment_out(s, a, acc, item_data=item_data), None


async def _next(
    s: AsyncSession,
    who: Principal,
    project_id: str | None,
    now: datetime,
    pg: bool,
    schedule: ReclaimSchedule | None,
) -> tuple[Assignment | _Leased | None, projects.Access | None, str | None, dict[str, Any] | None]:
    """``next_assignment``, plus the item's data when a new lease read it already."""
    # Before anything else: nobody works under a privacy policy they have not accepted (a
    # lease already held stays held; it can still be submitted).
    consent = await privacy.consent_reason(s, who, now)
    if consent is not None:
        return None, None, consent, None
    if pg:
        # A double-clicked `next` must return the one lease, not race itself to a 204.
        await accounts.lock_user(s, who.id)
    if project_id is not None:
        acc = await projects.access(s, who, project_id)
        reason = await projects.work_reason(s, who, acc, now)
        if reason == "paused" and await quality.settle_overdue(s, now, user_id=who.id):
            # An appeal past its deadline was granted just now: look again.
            acc = await projects.access(s, who, project_id)
            reason = await projects.work_reason(s, who, acc, now)
        if reason is not None:
            return None, None, reason, None
        if schedule is None or schedule.due(acc.project.id, now):
            await reclaim_expired(s, acc.project.id, now, pg)
        held = None if acc.lease_free else await _held(s, who.id, acc.project.id, now)
        if held is not None:
            return held, acc, None, None
        return await _take(s, who, [acc], now, pg)
    # Routing: the projects are read without their templates, and one query each finds the
    # leases held anywhere and the project worked last, so `next` costs about the same with
    # 50 projects as with one.
    found = await projects.workable_candidates(s, who, now)
    if not found and await quality.settle_overdue(s, now, user_id=who.id):
        found = await projects.workable_candidates(s, who, now)
    if not found:
        # Imported here: the experts area reads the queue's overview.
        from inlier.experts import service as experts

        return None, None, await experts.nothing_to_do_reason(s, who, now), None
    conn = await core_connection(s)
    rows = (await conn.execute(_WHERE_AT, {"p_user": who.id})).all()
    holding = {r.project_id for r in rows if r.state == "active"}
    last = max(rows, key=lambda r: r.id).project_id if rows else None
    # The project worked last first (people keep their context), then members' projects,
    # then open ones.
    found.sort(key=lambda c: c.id != last)
    for c in found:
        if c.id in holding:
            held = await _held(s, who.id, c.id, now)
            if held is not None:
                return held, await _access(s, c), None, None
    for c in found:
        if schedule is None or schedule.due(c.id, now):
            await reclaim_expired(s, c.id, now, pg)
        got = await _take(s, who, [await _access(s, c)], now, pg)
        if got[0] is not None:
            return got
    return None, None, "queue_empty", None


async def _access(s: AsyncSession, c: projects.Candidate) -> projects.Access:
    project = await s.get(Project, c.id)
    assert project is not None
    return projects.Access(project, c.role, c.standing)


async def _take(
    s: AsyncSession, who: Principal, candidates: list[projects.Access], now: datetime, pg: bool
) -> tuple[_Leased | None, projects.Access | None, str | None, dict[str, Any] | None]:
    """A new lease on the best open slot of the first project that has one."""
    for acc in candidates:
        stages = (REVIEW, ATTEMPT) if projects.may_review(who, acc) else (ATTEMPT,)
        gold_rate = float((acc.project.quality or {}).get("gold_rate") or 0.0)
        for stage in stages:
            gold: bool | None = None
            picked = None
            if stage == ATTEMPT and gold_rate > 0:
                # Honeypots are mixed in at the project's rate and served nowhere else.
                gold = False
                if random.random() < gold_rate:
                    picked = await _pick_gold(s, acc.project.id, who.id, pg)
            if picked is None and pg:
                got = await _pick_and_lease(s, acc, who, stage, now, gold)
                if got is not None:
                    return got[0], acc, None, got[1]
                continue
            if picked is None:
                picked = await _pick_slot(s, acc.project.id, stage, who.id, pg, gold)
            if picked is not None:
                slot_id, item_id, item_data = picked
                a = await _lease(s, acc, who, slot_id, item_id, stage, now)
                return a, acc, None, item_data
    return None, None, "queue_empty", None


# ---- the holder's actions ------------------------------------------------------------------


async def own_assignment(
    s: AsyncSession, who: Principal, assignment_id: str, *, lock: bool = False
) -> Assignment:
    """Someone else's assignment does not exist for you.

    ``lock`` takes the row for the rest of the transaction (PostgreSQL), so two racing
    requests on one lease run one after the other and the second sees the first's result.
    """
    a = await s.get(
        Assignment,
        parse_id(assignment_id, "assignment"),
        with_for_update=lock or None,
        populate_existing=lock,
    )
    if a is None or a.user_id != who.id:
        raise NotFound("assignment not found")
    return a


def _require_live(a: Assignment | _Submitting, now: datetime) -> None:
    if a.state != "active":
        raise LeaseLost(f"this assignment is {a.state}; it is no longer yours")
    if a.expires_at <= now:
        raise LeaseLost("the lease expired; the slot went back to the queue")


async def heartbeat(
    s: AsyncSession, who: Principal, assignment_id: str, active_seconds: int, now: datetime
) -> Assignment:
    a = await own_assignment(s, who, assignment_id, lock=True)
    _require_live(a, now)
    project = await s.get(Project, a.project_id)
    assert project is not None
    a.active_seconds = max(a.active_seconds, active_seconds)
    a.expires_at = now + timedelta(minutes=project.lease_minutes)
    await s.execute(update(Slot).where(Slot.id == a.slot_id).values(lease_expires_at=a.expires_at))
    await s.flush()
    return a


async def give_back(
    s: AsyncSession, who: Principal, assignment_id: str, how: str, now: datetime
) -> Assignment:
    """``skip`` (never offered this item again) or ``release`` (back to the queue, for anyone)."""
    a = await own_assignment(s, who, assignment_id, lock=True)
    _require_live(a, now)
    a.state = "skipped" if how == "skip" else "released"
    a.ended_at = now
    await s.execute(
        update(Slot)
        .where(Slot.id == a.slot_id, Slot.assignment_id == a.id)
        .values(state=OPEN, leased_by=None, lease_expires_at=None, assignment_id=None)
    )
    if how == "release":
        await _untouch(s, a.item_id, who.id)
    await s.flush()
    return a


async def save_draft(
    s: AsyncSession, who: Principal, assignment_id: str, answer: dict[str, Any], now: datetime
) -> Assignment:
    a = await own_assignment(s, who, assignment_id, lock=True)
    _require_live(a, now)
    a.draft = answer
    a.draft_saved_at = now
    await s.flush()
    return a


def _body_hash(body: SubmitIn) -> str:
    canonical = json.dumps(
        body.model_dump(exclude_unset=True), sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _sampled(response_id: int, rate: float) -> bool:
    if rate <= 0:
        return False
    if rate >= 1:
        return True
    digest = hashlib.sha256(f"review:{response_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


async def submit(
    s: AsyncSession,
    who: Principal,
    assignment_id: str,
    body: SubmitIn,
    key: str | None,
    now: datetime,
) -> tuple[Response, bool]:
    """Record a submission; ``(response, False)`` when it repeats an earlier one by key."""
    response, created = await _submit(s, who, assignment_id, body, key, now)
    return (response.attach(s) if isinstance(response, _Recorded) else response), created


async def submit_out(
    s: AsyncSession,
    who: Principal,
    assignment_id: str,
    body: SubmitIn,
    key: str | None,
    now: datetime,
    read: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], bool]:
    """``submit`` as the API shows it: ``(response_out, created)``.

    ``read`` is what ``submitter`` read of the assignment, if it was called.
    """
    response, created = await _submit(s, who, assignment_id, body, key, now, read)
    return response_out(response), created


_SUBMITTER = accounts.principal_along(_FOR_SUBMIT)


async def submitter(
    s: AsyncSession, token: str, assignment_id: str, now: datetime
) -> tuple[Principal | None, Mapping[str, Any] | None]:
    """The token's person and what their submission reads of the assignment, in one round
    trip: ``submit_out(..., read=)`` then does not read it again."""
    return await accounts.principal_for_token_along(
        s, token, now, _SUBMITTER, {"p_id": parse_id(assignment_id, "assignment")}
    )


async def _submit(
    s: AsyncSession,
    who: Principal,
    assignment_id: str,
    body: SubmitIn,
    key: str | None,
    now: datetime,
    read: Mapping[str, Any] | None = None,
) -> tuple[Response | _Recorded, bool]:
    """Record a submission; ``(response, False)`` when it repeats an earlier one by key.

    ``read`` is the row of ``_FOR_SUBMIT`` when the caller read it already (``submitter``).
    """
    if read is None:
        found = (
            await (await core_connection(s)).execute(
                _FOR_SUBMIT, {"p_id": parse_id(assignment_id, "assignment")}
            )
        ).first()
        read = None if found is None else found._mapping
    if read is None or read["user_id"] != who.id:
        raise NotFound("assignment not found")
    digest = _body_hash(body)
    project_id = read["project_id"]
    a = _Submitting(
        **{name: read[name] for name in _ASSIGNMENT_FIELDS},
        template=projects.template_for(
            project_id, read["project_updated_at"], read["project_template"]
        ),
        workflow=read["project_workflow"] or {},
        rules=quality.ProjectRules(
            project_id, read["project_quality"] or {}, read["project_requirements"] or {}
        ),
        guidelines_version=read["project_guidelines_version"],
        item_data=read["item_data"],
        item_priority=read["item_priority"],
        item_gold=read["item_gold"],
        priced=bool(read["project_priced"]),
        ending={"ended_at": now, "idempotency_key": key, "request_hash": digest},
    )
    _refresh_loaded(s, read)
    if a.response_id is not None:
        if key is not None and key == a.idempotency_key:
            if digest != a.request_hash:
                raise Conflict("this Idempotency-Key was already used with a different body")
            existing = await s.get(Response, a.response_id)
            assert existing is not None
            return existing, False
        raise LeaseLost("this assignment was already submitted")
    _require_live(a, now)
    if a.stage == ATTEMPT:
        response = await _submit_attempt(s, who, a, body, now)
    else:
        response = await _submit_review(s, who, a, body, now)
    return response, True


@dataclass(frozen=True)
class _Submitting:
    """The assignment being submitted, with what the submission needs of its project and item."""

    id: int
    slot_id: int
    project_id: int
    item_id: int
    user_id: int
    stage: str
    state: str
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    active_seconds: int
    draft_saved_at: datetime | None
    idempotency_key: str | None
    request_hash: str | None
    response_id: int | None
    template: Template
    workflow: dict[str, Any]
    rules: quality.ProjectRules
    guidelines_version: int
    item_data: dict[str, Any]
    item_priority: int
    item_gold: dict[str, Any] | None
    priced: bool
    # What the assignment records when the submission is stored (with its response's id).
    ending: dict[str, Any]


def _refresh_loaded(s: AsyncSession, values: Any) -> None:
    """Core writes bypass the session: an Assignment it already holds gets the new values."""
    mapping = getattr(values, "_mapping", values)
    a = s.sync_session.identity_map.get(identity_key(Assignment, mapping["id"]))
    if a is not None:
        for name in _ASSIGNMENT_FIELDS:
            if name in mapping:
                set_committed_value(a, name, mapping[name])


async def _project(s: AsyncSession, project_id: int) -> Project:
    project = await s.get(Project, project_id)
    assert project is not None
    return project


def _reject_fields(body: SubmitIn, names: tuple[str, ...], stage: str) -> None:
    present = body.model_fields_set
    for name in names:
        if name in present:
            raise InvalidInput(
                f"{name}: not part of a submission for the {stage} stage",
                errors=[{"loc": ["body", name], "msg": f"not allowed for the {stage} stage"}],
            )


async def _generated(s: AsyncSession, template: Template, assignment_id: int) -> dict[str, Any]:
    """The latest generated value of each generated field (no query when there are none)."""
    if not template.generated:
        return {}
    return await llm.latest_values(s, assignment_id)


def _check_answer(template: Template, answer: Any, data: dict[str, Any]) -> None:
    """The answer against the item's data and the fields generated during the task: a
    ``step_review`` of a generated chain judges the latest generation, step for step."""
    for q in template.spec.questions:
        steps_field = q.options.get("steps_field") if q.type == "step_review" else None
        missing = steps_field in template.generated and data.get(steps_field) is None
        if missing and isinstance(answer, dict) and answer.get(q.name) is not None:
            msg = f"generate {steps_field!r} first: there are no steps to judge yet"
            raise InvalidInput(
                f"body.answer.{q.name}: {msg}",
                errors=[{"loc": ["body", "answer", q.name], "msg": msg}],
            )
    problems = template.check_answer(answer, data, ["body", "answer"])
    if problems:
        first = problems[0]
        raise InvalidInput(
            f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}", errors=problems
        )


async def _record(
    s: AsyncSession, a: _Submitting, body: SubmitIn, now: datetime, **fields: Any
) -> _Recorded:
    """Store what the holder of ``a`` submitted, with the larger of the two active times."""
    values: dict[str, Any] = {
        "project_id": a.project_id,
        "item_id": a.item_id,
        "slot_id": a.slot_id,
        "assignment_id": a.id,
        "user_id": a.user_id,
        "answer": body.answer,
        "active_seconds": max(a.active_seconds, body.active_seconds or 0),
        "created_at": now,
        "status": "submitted",
        "needs_review": False,
        "target_response_id": None,
        "verdict": None,
        "feedback": None,
        "score": None,
        "review_id": None,
        "generation_ids": None,
        "guidelines_version": a.guidelines_version,
        "reason_code": None,
        **fields,
    }
    # The lease ends and its slot is done in the same breath.
    ended = {"state": "submitted", **a.ending, "active_seconds": values["active_seconds"]}
    conn = await core_connection(s)
    if conn.dialect.name == "postgresql":
        params = {
            **{f"r_{k}": v for k, v in values.items()},
            **{f"a_{k}": v for k, v in ended.items()},
            "p_id": a.id,
            "p_slot": a.slot_id,
        }
        response_id = (await conn.execute(_RECORD_PG, params)).scalar_one()
    else:
        response_id = (await conn.execute(_INSERT_RESPONSE, values)).scalar_one()
        await conn.execute(_END_ASSIGNMENT, {"p_id": a.id, **ended, "response_id": response_id})
        done = {"state": DONE, "leased_by": None, "lease_expires_at": None}
        await conn.execute(_SLOT_DONE, {"p_slot": a.slot_id, **done})
    _refresh_loaded(s, {"id": a.id, **ended, "response_id": response_id})
    return _Recorded(id=response_id, **values)


@dataclass
class _Recorded:
    """A response just written with Core; a ``Response`` only for callers that want one."""

    id: int
    project_id: int
    item_id: int
    slot_id: int
    assignment_id: int
    user_id: int
    stage: str
    answer: dict[str, Any] | None
    active_seconds: int
    created_at: datetime
    status: str
    needs_review: bool
    target_response_id: int | None
    verdict: str | None
    feedback: str | None
    score: int | None
    review_id: int | None
    generation_ids: list[str] | None
    guidelines_version: int | None
    reason_code: str | None

    def attach(self, s: AsyncSession) -> Response:
        return _attach(s, Response(**vars(self)))


async def _submit_attempt(
    s: AsyncSession,
    who: Principal,
    a: _Submitting,
    body: SubmitIn,
    now: datetime,
) -> _Recorded:
    _reject_fields(body, ("verdict", "feedback", "score", "reason_code"), ATTEMPT)
    if body.answer is None:
        raise InvalidInput(
            "answer: required", errors=[{"loc": ["body", "answer"], "msg": "field required"}]
        )
    generated = await _generated(s, a.template, a.id)
    _check_answer(a.template, body.answer, {**a.item_data, **generated})
    # The generations it was made with are the server's record, not the client's word.
    ids = await llm.generation_ids(s, a.id) if generated else None
    response = await _record(s, a, body, now, stage=ATTEMPT, status="submitted", generation_ids=ids)
    flagged = False
    if a.rules.quality:  # a project that measures quality: gold, speed, authenticity
        signals = await quality.on_attempt(
            s,
            a.rules,
            a.template,
            response.id,
            who.id,
            a.item_id,
            a.item_gold,
            body.answer,
            response.active_seconds,
            generated,
            body.authenticity.model_dump() if body.authenticity else None,
            now,
        )
        flagged = signals.review
        overlap = int(a.workflow.get("overlap", 1))
        if overlap > 1 and not a.item_gold:
            await quality.on_item_complete(s, a.rules, a.template, a.item_id, overlap, now)
    if a.workflow.get("dynamic_overlap"):
        await dynamic.top_up_slots(s, a.project_id, a.item_id)
    rate = float((a.workflow.get("review") or {}).get("sample_rate", 0.0))
    if flagged or _sampled(response.id, rate):
        conn = await core_connection(s)
        await conn.execute(_NEEDS_REVIEW, {"p_id": response.id, "needs_review": True})
        response.needs_review = True
        s.add(
            Slot(
                project_id=a.project_id,
                item_id=a.item_id,
                stage=REVIEW,
                replica=0,
                state=OPEN,
                priority=a.item_priority,
                target_response_id=response.id,
            )
        )
        await s.flush()
    if a.priced:  # its pay line, pending while it awaits review
        skills = (a.rules.requirements.get("skills") or {}).keys()
        await pay.on_attempt_submitted(s, response, now, skills=skills)
    return response


async def _submit_review(
    s: AsyncSession,
    who: Principal,
    a: _Submitting,
    body: SubmitIn,
    now: datetime,
) -> _Recorded:
    _reject_fields(body, ("generation_ids", "authenticity"), REVIEW)
    if body.verdict is None:
        raise InvalidInput(
            "verdict: required", errors=[{"loc": ["body", "verdict"], "msg": "field required"}]
        )
    slot = await s.get(Slot, a.slot_id)
    assert slot is not None and slot.target_response_id is not None
    target = await s.get(Response, slot.target_response_id)
    assert target is not None
    if body.verdict == "improve":
        if body.answer is None:
            raise InvalidInput(
                "answer: an improvement carries the edited answer",
                errors=[{"loc": ["body", "answer"], "msg": "required when the verdict is improve"}],
            )
        generated = await _generated(s, a.template, target.assignment_id)
        _check_answer(a.template, body.answer, {**a.item_data, **generated})
    elif body.answer is not None:
        raise InvalidInput(
            "answer: only an improvement carries an answer",
            errors=[{"loc": ["body", "answer"], "msg": "only allowed when the verdict is improve"}],
        )
    reason_code = feedback = None
    if body.verdict == "reject":
        # A rejection always says why: a code, and feedback (the code's text by default).
        reason_code = body.reason_code or "other"
        feedback = body.feedback or REJECT_REASONS[reason_code]
    elif body.reason_code is not None:
        raise InvalidInput(
            "reason_code: only a rejection carries a reason code",
            errors=[{"loc": ["body", "reason_code"], "msg": "only allowed when rejecting"}],
        )
    review = await _record(
        s,
        a,
        body,
        now,
        stage=REVIEW,
        status=VERDICT_STATUS[body.verdict],
        target_response_id=target.id,
        verdict=body.verdict,
        feedback=feedback or body.feedback,
        score=body.score,
        reason_code=reason_code,
    )
    target.status = VERDICT_STATUS[body.verdict]
    target.review_id = review.id
    # The author hears about it (the reviewer is not named), in this transaction.
    await notify.on_review(s, target, review, now)
    if a.rules.quality:
        await quality.on_review(
            s,
            a.rules,
            a.template,
            target,
            a.item_gold,
            who.id,
            review.id,
            body.verdict,
            body.answer,
            now,
        )
    if body.verdict == "reject":
        # The attempt's slot opens again; its author already touched the item, so someone
        # else will do it.
        await s.execute(
            update(Slot)
            .where(Slot.id == target.slot_id)
            .values(state=OPEN, leased_by=None, lease_expires_at=None, assignment_id=None)
        )
    await s.flush()
    # The attempt's line is re-priced under the verdict, and the review gets its own.
    await pay.on_review_decided(s, target, review, now, priced=a.priced)
    return review


# ---- views ---------------------------------------------------------------------------------


async def assignment_out(
    s: AsyncSession,
    a: Assignment | _Leased,
    acc: projects.Access | None,
    *,
    with_draft: bool = False,
    item_data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The assignment as the API shows it; ``item_data`` when the caller already read it."""
    project = acc.project if acc else await _project(s, a.project_id)
    if item_data is None:
        conn = await core_connection(s)
        item_data = (await conn.execute(_ITEM_DATA, {"p_item": a.item_id})).scalar_one()
    under_review = None
    made_in = a.id  # where generated fields were made: the author's task, for a review
    if a.stage == REVIEW:
        slot = await s.get(Slot, a.slot_id)
        target = await s.get(Response, slot.target_response_id) if slot else None
        if target is not None:
            under_review = {"response_id": str(target.id), "answer": target.answer}
            made_in = target.assignment_id
    out: dict[str, Any] = {
        "id": str(a.id),
        "project_id": str(a.project_id),
        "stage": a.stage,
        "state": a.state,
        "item": {"id": str(a.item_id), "data": item_data},
        "template": project.template,
        "under_review": under_review,
        "expires_at": iso(a.expires_at),
        "active_seconds": a.active_seconds,
    }
    template = projects.template_of(project)
    if template.generated:
        # What the model wrote for this task (for a review: for the attempt under review).
        out["generations"] = await llm.generations_for(s, made_in, template)
    if with_draft:
        out["draft"] = (
            {"answer": a.draft, "saved_at": iso(a.draft_saved_at)} if a.draft is not None else None
        )
    return out


def response_out(r: Response | _Recorded) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(r.id),
        "assignment_id": str(r.assignment_id),
        "project_id": str(r.project_id),
        "item_id": str(r.item_id),
        "stage": r.stage,
        "answer": r.answer,
        "active_seconds": r.active_seconds,
        "status": r.status,
        "created_at": iso(r.created_at),
        "generation_ids": r.generation_ids or [],
    }
    if r.stage == REVIEW:
        out.update(
            verdict=r.verdict,
            feedback=r.feedback,
            score=r.score,
            reason_code=r.reason_code,
            target_response_id=str(r.target_response_id),
        )
    else:
        out["needs_review"] = r.needs_review
    return out


async def stats(s: AsyncSession, project_id: int) -> dict[str, Any]:
    slot_counts = dict(
        (
            await s.execute(
                select(Slot.state, func.count())
                .where(Slot.project_id == project_id)
                .group_by(Slot.state)
            )
        ).all()
    )
    verdicts = dict(
        (
            await s.execute(
                select(Response.verdict, func.count())
                .where(Response.project_id == project_id, Response.stage == REVIEW)
                .group_by(Response.verdict)
            )
        ).all()
    )
    responses = await s.scalar(
        select(func.count()).where(Response.project_id == project_id, Response.stage == ATTEMPT)
    )
    return {
        "items": await projects.count_items(s, project_id),
        "slots": {k: int(slot_counts.get(k, 0)) for k in (OPEN, LEASED, DONE)},
        "responses": int(responses or 0),
        "reviews": {
            "approved": int(verdicts.get("approve", 0)),
            "improved": int(verdicts.get("improve", 0)),
            "rejected": int(verdicts.get("reject", 0)),
        },
    }
