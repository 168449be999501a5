"""The rules of pay: settings, rate cards, the ledger's sweep, pay runs, statements, payouts.

Lines are written when work is accepted: the queue calls ``on_attempt_submitted`` and
``on_review_decided`` in the transaction that records the work. One function, ``accrue``, is
the guarantee behind them: for every response whose pay line does not yet reflect its current
status it computes the line (or, when the old line is already in a closed period, an
adjustment for the difference). It is idempotent and set-driven, in batches; the pay run's
sweep looks only at what changed since the sweeps before it. So pay is right whether a line
came from a hook, from the sweep, or from code that does not go through the queue.

A statement's lines are its person's lines in the pay periods its run closed: a line carries
its period from the moment it is accepted, and a closed period is never written again, because
every line writer holds the settings row (``FOR KEY SHARE``, on PostgreSQL) that a pay run
locks and updates with the end of the closed periods.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    bindparam,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from inlier.accounts.models import User, UserSkill
from inlier.accounts.service import Principal
from inlier.audit import service as audit
from inlier.db.engine import core_connection
from inlier.experts.models import Assessment, AssessmentAttempt, AssessmentItem
from inlier.kit.clock import iso
from inlier.kit.errors import Conflict, NotFound, invalid
from inlier.kit.ids import parse_id
from inlier.notify import service as notify
from inlier.pay import rules
from inlier.pay.models import EarningsLine, Payout, PayRun, PaySettings, RateCard, Statement
from inlier.pay.schemas import PayoutResultIn, PaySettingsIn, RateCardIn
from inlier.projects.models import Project
from inlier.workflow.models import Response

BATCH = 2000
ACCEPTED, PENDING = "accepted", "pending"
REVIEWED = ("approved", "improved", "rejected")
GOOD = ("approved", "improved")


def _dialect(s: AsyncSession) -> str:
    bind = s.bind
    assert bind is not None
    return str(bind.dialect.name)


# ---- settings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    currency: str = "USD"
    payout_threshold: int = 0
    auto_accept_days: int = 7
    default_location_tier: int = 1
    timezone: str = "UTC"
    location_tiers: dict[str, int] | None = None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def tier_of(self, country: Any) -> int:
        tiers = self.location_tiers or {}
        return int(tiers.get(str(country or "").upper(), self.default_location_tier))


async def settings(s: AsyncSession) -> Settings:
    row = await s.get(PaySettings, 1)
    if row is None:
        return Settings(location_tiers={})
    return Settings(
        row.currency,
        row.payout_threshold,
        row.auto_accept_days,
        row.default_location_tier,
        row.timezone,
        dict(row.location_tiers or {}),
    )


def settings_out(st: Settings) -> dict[str, Any]:
    return {
        "currency": st.currency,
        "payout_threshold": {"amount": st.payout_threshold, "currency": st.currency},
        "auto_accept_days": st.auto_accept_days,
        "default_location_tier": st.default_location_tier,
        "timezone": st.timezone,
        "location_tiers": st.location_tiers or {},
    }


async def _settings_row(s: AsyncSession, *, lock: bool = False) -> PaySettings:
    """The settings row, created with defaults if missing; ``lock`` serializes pay writers."""
    values = {
        "id": 1,
        "currency": "USD",
        "payout_threshold": 0,
        "auto_accept_days": 7,
        "default_location_tier": 1,
        "timezone": "UTC",
        "location_tiers": {},
    }
    await _insert_ignore(s, PaySettings, [values], "id")
    row = await s.get(PaySettings, 1, with_for_update=lock or None, populate_existing=True)
    assert row is not None
    return row


async def put_settings(s: AsyncSession, body: PaySettingsIn, now: datetime) -> Settings:
    threshold = body.payout_threshold
    if threshold is not None and threshold.currency != body.currency:
        raise invalid(["body", "payout_threshold", "currency"], f"must be {body.currency}")
    row = await _settings_row(s, lock=True)
    if body.timezone != row.timezone and await s.scalar(select(func.count(PayRun.id))):
        raise Conflict(
            "the time zone cannot change once a pay run exists (it would move closed periods)",
            errors=[{"loc": ["body", "timezone"], "msg": "pay runs exist"}],
        )
    if body.currency != row.currency and await s.scalar(select(func.count(EarningsLine.id))):
        raise Conflict(
            "the currency cannot change once earnings exist",
            errors=[{"loc": ["body", "currency"], "msg": "earnings exist"}],
        )
    row.currency = body.currency
    row.payout_threshold = threshold.amount if threshold else 0
    row.auto_accept_days = body.auto_accept_days
    row.default_location_tier = body.default_location_tier
    row.timezone = body.timezone
    row.updated_at = now
    await s.flush()
    return await settings(s)


async def put_location_tiers(s: AsyncSession, tiers: dict[str, int], now: datetime) -> Settings:
    row = await _settings_row(s, lock=True)
    row.location_tiers = dict(sorted(tiers.items()))
    row.updated_at = now
    await s.flush()
    return await settings(s)


# ---- rate cards ------------------------------------------------------------------------------


def _naive_utc(at: datetime) -> datetime:
    if at.tzinfo is not None:
        from datetime import UTC

        at = at.astimezone(UTC).replace(tzinfo=None)
    return at


async def closed_until(s: AsyncSession) -> datetime | None:
    """The end of the latest closed pay period: nothing before it may change."""
    value = await s.scalar(select(PaySettings.closed_until).where(PaySettings.id == 1))
    return value if isinstance(value, datetime) else None


async def _hold(s: AsyncSession, *, wait: bool = True) -> tuple[bool, datetime | None]:
    """Hold the settings row while writing lines; ``(held, end of the closed periods)``.

    A pay run locks the row (``FOR UPDATE``) and writes the new end of the closed periods on
    it, so a writer that holds it (``FOR KEY SHARE``, which writers do not contend on) either
    writes before the run starts or reads the run's result: a line never lands in a period
    closed under it. ``wait=False`` (the queue's hooks, the pages that read the ledger) does
    not wait for a run: ``(False, …)`` then, and a later sweep writes the line. SQLite has one
    writer: nothing to hold.
    """
    q = select(PaySettings.closed_until).where(PaySettings.id == 1)
    if _dialect(s) == "postgresql":
        q = q.with_for_update(key_share=True, skip_locked=not wait)
    row = (await s.execute(q)).first()
    if row is None:
        if not wait and await s.scalar(select(PaySettings.id).where(PaySettings.id == 1)):
            return False, None  # there, and skipped: a pay run holds it
        # No settings yet: made with their defaults.
        await _settings_row(s)
        return await _hold(s, wait=wait)
    return True, row[0]


def _open_line(closed: datetime | None) -> ColumnElement[bool]:
    """Lines not in a closed period: pending, or in a period from ``closed`` on."""
    L = EarningsLine
    if closed is None:
        return literal(True) == literal(True)
    return or_(L.period_start.is_(None), L.period_start >= closed)


def _in_run(run: PayRun, user_id: Any = None) -> ColumnElement[bool]:
    """The lines a run's statements hold: those in the periods it closed."""
    L = EarningsLine
    cond = [L.period_start < run.period_end]
    if run.lines_from is not None:
        cond.append(L.period_start >= run.lines_from)
    if user_id is not None:
        cond.append(L.user_id == user_id)
    return and_(*cond)


def _check_currency(card: dict[str, Any], currency: str) -> None:
    def walk(value: Any, loc: list[str | int]) -> None:
        if isinstance(value, dict):
            if set(value) == {"amount", "currency"} and value["currency"] != currency:
                raise invalid(
                    ["body", *loc, "currency"],
                    f"the deployment pays in {currency}; every amount must be in {currency}",
                )
            for k, v in value.items():
                walk(v, [*loc, k])
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, [*loc, i])

    walk(card, [])


async def put_rate_card(
    s: AsyncSession, project: Project, body: RateCardIn, who: Principal, now: datetime
) -> RateCard:
    st = await settings(s)
    card = body.model_dump(mode="json", exclude={"effective_from"}, exclude_none=True)
    _check_currency(card, st.currency)
    effective = _naive_utc(body.effective_from)
    # One pay writer at a time: no run closes under us, no line is written beside us.
    closed = (await _settings_row(s, lock=True)).closed_until
    if closed is not None and effective < closed:
        raise Conflict(
            f"effective_from falls inside a closed pay period (closed until {iso(closed)}); "
            "a rate card never changes a closed period",
            errors=[{"loc": ["body", "effective_from"], "msg": "inside a closed pay period"}],
        )
    version = (
        await s.scalar(
            select(func.coalesce(func.max(RateCard.version), 0)).where(
                RateCard.project_id == project.id
            )
        )
        or 0
    ) + 1
    rc = RateCard(
        project_id=project.id,
        version=version,
        effective_from=effective,
        card=card,
        created_by=who.id,
        created_at=now,
    )
    s.add(rc)
    try:
        async with s.begin_nested():
            await s.flush()
    except IntegrityError as exc:
        raise Conflict("another rate card was saved at the same moment; retry") from exc
    # Lines not yet on a statement for work from effective_from on are recomputed under it.
    await s.execute(
        delete(EarningsLine).where(
            EarningsLine.project_id == project.id,
            EarningsLine.kind == "work",
            _open_line(closed),
            EarningsLine.work_at >= effective,
        )
    )
    await accrue(s, now, project_id=project.id)
    await audit.record(
        s,
        who.id,
        "ratecard.set",
        f"project:{project.id}",
        {"after": {"version": rc.version, "effective_from": iso(rc.effective_from), **card}},
        None,
        at=now,
    )
    return rc


def rate_card_out(rc: RateCard) -> dict[str, Any]:
    return {
        "id": str(rc.id),
        "project_id": str(rc.project_id),
        "version": rc.version,
        "effective_from": iso(rc.effective_from),
        **rc.card,
        "created_at": iso(rc.created_at),
    }


async def rate_card_view(s: AsyncSession, project_id: int, now: datetime) -> dict[str, Any]:
    """The card in force now, and the next one if one is scheduled."""
    cards = (
        (
            await s.execute(
                select(RateCard)
                .where(RateCard.project_id == project_id)
                .order_by(RateCard.effective_from, RateCard.version)
            )
        )
        .scalars()
        .all()
    )
    current = [c for c in cards if c.effective_from <= now]
    upcoming = [c for c in cards if c.effective_from > now]
    if not current and not upcoming:
        raise NotFound("this project has no rate card yet")
    base = rate_card_out(current[-1]) if current else {"version": None, "effective_from": None}
    return {**base, "next": rate_card_out(upcoming[0]) if upcoming else None}


class _Cards:
    """Every version of some projects' rate cards, to find the one in force at a time."""

    def __init__(self, rows: Sequence[RateCard]) -> None:
        self.by_project: dict[int, list[RateCard]] = {}
        for rc in sorted(rows, key=lambda r: (r.effective_from, r.version)):
            self.by_project.setdefault(rc.project_id, []).append(rc)
        self.keys = {
            p: [(c.effective_from, c.version) for c in cs] for p, cs in self.by_project.items()
        }

    @classmethod
    async def load(cls, s: AsyncSession, project_ids: Iterable[int]) -> _Cards:
        ids = sorted(set(project_ids))
        if not ids:
            return cls([])
        rows = (await s.execute(select(RateCard).where(RateCard.project_id.in_(ids)))).scalars()
        return cls(list(rows))

    def at(self, project_id: int, when: datetime) -> RateCard | None:
        keys = self.keys.get(project_id)
        if not keys:
            return None
        i = bisect.bisect_right(keys, (when, 10**9))
        return self.by_project[project_id][i - 1] if i else None


# ---- the ledger's sweep ----------------------------------------------------------------------


def _ignoring(model: Any, key: str, pg: bool) -> Any:
    """An ``INSERT`` that leaves out rows whose ``key`` is taken."""
    ins = pg_insert(model) if pg else sqlite_insert(model)
    return ins.on_conflict_do_nothing(index_elements=[key])


async def _insert_ignore(s: AsyncSession, model: Any, rows: list[dict[str, Any]], key: str) -> None:
    if not rows:
        return
    await s.execute(_ignoring(model, key, _dialect(s) == "postgresql"), rows)


def _period(at: datetime, st: Settings, closed: datetime | None) -> datetime:
    """The period a line accepted at ``at`` belongs to: its week, or the first open one."""
    start, _ = rules.period_of(at, st.tz)
    if closed is not None and start < closed:
        return closed
    return start


async def accrue(
    s: AsyncSession,
    now: datetime,
    *,
    user_id: int | None = None,
    project_id: int | None = None,
    response_ids: Sequence[int] | None = None,
    bulk: bool = True,
    run: PayRun | None = None,
    wait: bool = True,
) -> int:
    """Bring the ledger up to date with the responses; returns how many lines it wrote.

    On PostgreSQL a sweep of everyone (the pay run, a project's costs, a new rate card) writes
    the lines of responses that have none in one set-based pass (``_bulk_new_lines``); what is
    left — lines to re-price, adjustments, auto-acceptances — goes through ``_apply`` in
    batches. ``bulk=False`` keeps to ``_apply`` (tests compare the two). A pay ``run``'s sweep
    looks only at responses after the settings' ``swept_through`` and at attempts reviewed
    since (every earlier response was checked by a sweep before it). ``wait=False`` writes
    nothing while a pay run holds the settings (the queue's hooks and the pages that read the
    ledger: a later sweep catches up)."""
    held, closed = await _hold(s, wait=wait)
    if not held:
        return 0
    st = await settings(s)
    due = now - timedelta(days=st.auto_accept_days)
    since = 0
    if run is not None:
        since = int(await s.scalar(select(PaySettings.swept_through)) or 0)
    has_line = exists().where(EarningsLine.response_id == Response.id)
    line_matches = exists().where(
        EarningsLine.response_id == Response.id, EarningsLine.basis_status == Response.status
    )
    # Read from the partial index of pending lines, not by probing every response.
    pending_due = Response.id.in_(
        select(EarningsLine.response_id).where(
            EarningsLine.kind == "work",
            EarningsLine.status == PENDING,
            EarningsLine.work_at <= due,
        )
    )
    conditions: list[ColumnElement[bool]] = [~line_matches, pending_due]
    bulk = bulk and user_id is None and response_ids is None and _dialect(s) == "postgresql"
    if run is not None:
        # A response's status changes only in review: past the watermark, a response needs
        # a line if it has none, and a reviewed attempt if its line predates the verdict.
        Review = Response.__table__.alias("rv")
        reviewed = select(Review.c.target_response_id).where(
            Review.c.id > since, Review.c.target_response_id.is_not(None)
        )
        conditions = [and_(Response.id.in_(reviewed), ~line_matches), pending_due]
        if not bulk:  # the set-based pass writes exactly these
            conditions.insert(0, and_(Response.id > since, ~has_line))
    written = 0
    if bulk:
        written += await _bulk_new_lines(s, now, st, closed, project_id, since)
    for condition in conditions:
        last = 0
        while True:
            q = select(Response.id).where(condition, Response.id > last)
            if user_id is not None:
                q = q.where(Response.user_id == user_id)
            if project_id is not None:
                q = q.where(Response.project_id == project_id)
            if response_ids is not None:
                q = q.where(Response.id.in_(list(response_ids)))
            ids = list((await s.execute(q.order_by(Response.id).limit(BATCH))).scalars())
            if not ids:
                break
            written += await _apply(s, ids, now, st, closed)
            last = ids[-1]
            if len(ids) < BATCH:
                break
    if response_ids is None:
        written += await _accrue_assessments(s, now, st, closed, user_id)
    return written


async def _accrue_assessments(
    s: AsyncSession, now: datetime, st: Settings, closed: datetime | None, user_id: int | None
) -> int:
    """Lines for submitted attempts at paid assessments that have none yet.

    An assessment is not part of a project; it qualifies people for the projects that require
    its skill. A paid attempt is paid under the ``assessment`` stage of the rate card in force
    (when it was submitted) of such a project, at the onboarding phase; when several projects
    qualify, the one that pays the attempt the most (then the lowest id) pays it. It is
    accepted when submitted: a graded test needs no review.
    """
    A, T = Assessment, AssessmentAttempt
    key = literal("assess:") + cast(T.id, String)
    has_line = exists().where(EarningsLine.source_key == key)
    q = (
        select(T.id, T.user_id, T.active_seconds, T.submitted_at, A.skill, A.id.label("aid"))
        .join(A, A.id == T.assessment_id)
        .where(A.paid.is_(True), T.submitted_at.is_not(None), ~has_line)
        .order_by(T.id)
    )
    if user_id is not None:
        q = q.where(T.user_id == user_id)
    rows = (await s.execute(q)).all()
    if not rows:
        return 0
    priced = list((await s.execute(select(RateCard.project_id).distinct())).scalars())
    requirements = (
        await s.execute(select(Project.id, Project.requirements).where(Project.id.in_(priced)))
    ).all()
    by_skill: dict[str, list[int]] = {}
    for pid, req in requirements:
        for skill in (req or {}).get("skills") or {}:
            by_skill.setdefault(skill, []).append(pid)
    cards = await _Cards.load(s, priced)
    aids = {r.aid for r in rows}
    tasks: dict[int, int] = dict(
        (
            await s.execute(
                select(AssessmentItem.assessment_id, func.count())
                .where(AssessmentItem.assessment_id.in_(aids))
                .group_by(AssessmentItem.assessment_id)
            )
        ).all()
    )
    users = {r.user_id for r in rows}
    profiles: dict[int, dict[str, Any]] = dict(
        (await s.execute(select(User.id, User.profile).where(User.id.in_(users)))).all()
    )
    inserts: list[dict[str, Any]] = []
    for r in rows:
        profile = profiles.get(r.user_id) or {}
        worker = rules.Worker(
            degree=profile.get("degree"), location_tier=st.tier_of(profile.get("country"))
        )
        best: tuple[int, RateCard, rules.Computed] | None = None
        for pid in sorted(by_skill.get(r.skill, [])):
            rc = cards.at(pid, r.submitted_at)
            if rc is None:
                continue
            c = rules.assessment_line(
                rc.card, rc.version, r.active_seconds or 0, tasks.get(r.aid, 1), worker
            )
            if c is not None and (best is None or c.amount > best[2].amount):
                best = (pid, rc, c)
        if best is None:
            c = rules.Computed(
                0,
                {},
                "0",
                {"stage": "assessment", "phase": "onboarding", "assessment_id": str(r.aid)},
                0,
                f"a paid assessment of {r.skill}, but no project requiring {r.skill} had a "
                "rate card with an assessment rate when it was submitted",
            )
            pid_out, card_id = None, None
        else:
            pid_out, rc, c = best
            card_id = rc.id
            c = rules.Computed(
                c.amount,
                c.inputs,
                c.formula,
                {**c.labels, "assessment_id": str(r.aid)},
                c.seconds,
                f"paid assessment of {r.skill} (onboarding), at the assessment rate of the "
                "project that requires it",
            )
        inserts.append(
            {
                "source_key": f"assess:{r.id}",
                "user_id": r.user_id,
                "project_id": pid_out,
                "response_id": None,
                "stage": "assessment",
                "kind": "work",
                "status": ACCEPTED,
                "basis_status": "submitted",
                "amount": c.amount,
                "currency": st.currency,
                "inputs": c.inputs,
                "formula": c.formula,
                "labels": c.labels,
                "reason": c.reason,
                "seconds": c.seconds,
                "active_seconds": max(0, int(r.active_seconds or 0)),
                "phase": "onboarding",
                "rate_card_id": card_id,
                "work_at": r.submitted_at,
                "accepted_at": r.submitted_at,
                "period_start": _period(r.submitted_at, st, closed),
                "created_at": now,
            }
        )
    await _insert_ignore(s, EarningsLine, inserts, "source_key")
    return len(inserts)


_NULL_KEY = "\x1f"  # stands for a missing degree in join keys (no degree holds it)


async def _bulk_new_lines(
    s: AsyncSession,
    now: datetime,
    st: Settings,
    closed: datetime | None,
    project_id: int | None,
    since: int = 0,
) -> int:
    """Work lines for every response that has none, set-based (PostgreSQL).

    The SQL gathers, per response, what its amount depends on (the card in force when it was
    submitted, stage, outcome, degree, location tier, skill level, active seconds); Python
    prices each *distinct* combination with ``rules.work_line`` — the same function ``_apply``
    uses, so a line is the same whichever path wrote it — and one ``INSERT … SELECT`` joins
    the prices back and writes the lines with their acceptance time and period. Only
    responses after ``since`` are looked at (the pay run's watermark).
    """
    from sqlalchemy import text

    await s.execute(text("SET LOCAL work_mem = '64MB'"))  # sort and hash in memory
    cards = (await s.execute(select(RateCard))).scalars().all()
    ordered = sorted(cards, key=lambda c: (c.project_id, c.effective_from, c.version))
    windows = []
    for i, c in enumerate(ordered):
        nxt = ordered[i + 1] if i + 1 < len(ordered) else None
        until = nxt.effective_from if nxt is not None and nxt.project_id == c.project_id else None
        windows.append({"id": c.id, "p": c.project_id, "lo": c.effective_from, "hi": until})
    by_id = {c.id: c for c in cards}
    requirements = (await s.execute(select(Project.id, Project.requirements))).all()
    wanted = [
        {"p": pid, "skill": k}
        for pid, req in requirements
        for k in ((req or {}).get("skills") or {})
    ]
    tiers = [{"c": c, "t": int(t)} for c, t in (st.location_tiers or {}).items()]
    await s.execute(
        text(
            "DROP TABLE IF EXISTS pay_cards, pay_req, pay_tiers, pay_todo, pay_keys, "
            "pay_priced, pay_weeks"
        )
    )
    await s.execute(
        text(
            "CREATE TEMP TABLE pay_cards (id bigint, project_id bigint, lo timestamp, "
            "hi timestamp) ON COMMIT DROP"
        )
    )
    await s.execute(
        text("CREATE TEMP TABLE pay_req (project_id bigint, skill text) ON COMMIT DROP")
    )
    await s.execute(text("CREATE TEMP TABLE pay_tiers (country text, tier int) ON COMMIT DROP"))
    if windows:
        await s.execute(text("INSERT INTO pay_cards VALUES (:id, :p, :lo, :hi)"), windows)
    if wanted:
        await s.execute(text("INSERT INTO pay_req VALUES (:p, :skill)"), wanted)
    if tiers:
        await s.execute(text("INSERT INTO pay_tiers VALUES (:c, :t)"), tiers)
    only = "AND r.project_id = :project" if project_id is not None else ""
    only += " AND r.id > :since" if since else ""
    await s.execute(
        text(
            f"""
            CREATE TEMP TABLE pay_todo ON COMMIT DROP AS
            SELECT r.id, r.user_id, r.project_id, r.stage, r.status, r.active_seconds,
                   r.created_at, r.needs_review,
                   CASE
                       WHEN r.stage <> 'attempt' OR NOT r.needs_review THEN r.created_at
                       WHEN rv.created_at IS NOT NULL
                           THEN LEAST(rv.created_at, r.created_at + make_interval(days => :days))
                       WHEN r.created_at + make_interval(days => :days) <= :now
                           THEN r.created_at + make_interval(days => :days)
                   END AS accepted_at,
                   COALESCE(c.id, 0) AS card_key,
                   CASE WHEN r.stage = 'attempt' THEN r.status ELSE 'submitted' END AS outcome,
                   CASE WHEN jsonb_typeof(u.profile -> 'degree') = 'string'
                        THEN u.profile ->> 'degree' ELSE :null_key END AS degree_key,
                   COALESCE(t.tier, :default_tier) AS tier,
                   COALESCE((SELECT max(us.level) FROM user_skills us
                             JOIN pay_req q ON q.skill = us.skill
                             WHERE q.project_id = r.project_id AND us.user_id = r.user_id),
                            -1) AS level_key
            FROM responses r
            JOIN users u ON u.id = r.user_id
            LEFT JOIN responses rv ON rv.id = r.review_id
            LEFT JOIN pay_tiers t
                   ON t.country = upper(COALESCE(u.profile ->> 'country', ''))
            LEFT JOIN pay_cards c ON c.project_id = r.project_id AND c.lo <= r.created_at
                   AND (c.hi IS NULL OR r.created_at < c.hi)
            WHERE NOT EXISTS (SELECT 1 FROM earnings_lines l WHERE l.response_id = r.id) {only}
            """
        ),
        {
            "null_key": _NULL_KEY,
            "default_tier": st.default_location_tier,
            "days": st.auto_accept_days,
            "now": now,
            **({"project": project_id} if project_id is not None else {}),
            **({"since": since} if since else {}),
        },
    )
    await s.execute(
        text(
            "CREATE TEMP TABLE pay_priced (card_key bigint, stage text, outcome text, "
            "degree_key text, tier int, level_key int, secs int, amount bigint, inputs jsonb, "
            "formula text, labels jsonb, reason text, seconds int, phase text) ON COMMIT DROP"
        )
    )
    # Priced in chunks: a week of 2M tasks has hundreds of thousands of combinations.
    await s.execute(
        text(
            "CREATE TEMP TABLE pay_keys ON COMMIT DROP AS SELECT row_number() OVER () AS n, k.* "
            "FROM (SELECT DISTINCT card_key, stage, outcome, degree_key, tier, level_key, "
            "active_seconds FROM pay_todo) k"
        )
    )
    chunk, n = 20_000, 0
    while True:
        keys = (
            await s.execute(
                text(
                    "SELECT card_key, stage, outcome, degree_key, tier, level_key, "
                    "active_seconds FROM pay_keys WHERE n > :lo AND n <= :hi"
                ),
                {"lo": n, "hi": n + chunk},
            )
        ).all()
        if not keys:
            break
        await s.execute(
            text(
                "INSERT INTO pay_priced VALUES (:card_key, :stage, :outcome, :degree_key, "
                ":tier, :level_key, :secs, :amount, CAST(:inputs AS jsonb), :formula, "
                "CAST(:labels AS jsonb), :reason, :seconds, :phase)"
            ),
            [_priced(by_id, *k) for k in keys],
        )
        n += chunk
    if not n:
        await s.execute(
            text("DROP TABLE pay_todo, pay_keys, pay_priced, pay_cards, pay_req, pay_tiers")
        )
        return 0
    # The pay weeks the new lines fall in (closed weeks give way to the first open one).
    span = (await s.execute(text("SELECT min(created_at), max(created_at) FROM pay_todo"))).one()
    weeks = []
    lo = rules.period_of(span[0], st.tz)[0]
    last = span[1] + timedelta(days=st.auto_accept_days + 1)
    while lo <= last:
        hi = rules.period_of(lo, st.tz)[1]
        weeks.append({"lo": lo, "hi": hi, "period": _period(lo, st, closed)})
        lo = hi
    await s.execute(
        text(
            "CREATE TEMP TABLE pay_weeks (lo timestamp, hi timestamp, period timestamp) "
            "ON COMMIT DROP"
        )
    )
    await s.execute(text("INSERT INTO pay_weeks VALUES (:lo, :hi, :period)"), weeks)
    result = await s.execute(
        text(
            """
            INSERT INTO earnings_lines (source_key, user_id, project_id, response_id, stage,
                kind, status, basis_status, amount, currency, inputs, formula, labels, reason,
                seconds, active_seconds, phase, rate_card_id, work_at, accepted_at,
                period_start, created_at)
            SELECT 'work:' || t.id, t.user_id, t.project_id, t.id, t.stage, 'work',
                   CASE WHEN t.accepted_at IS NULL THEN 'pending' ELSE 'accepted' END,
                   t.status, p.amount, :currency, p.inputs, p.formula, p.labels, p.reason,
                   p.seconds, GREATEST(t.active_seconds, 0), p.phase, NULLIF(t.card_key, 0),
                   t.created_at, t.accepted_at, w.period, :now
            FROM pay_todo t
            JOIN pay_priced p ON p.card_key = t.card_key AND p.stage = t.stage
                 AND p.outcome = t.outcome AND p.degree_key = t.degree_key
                 AND p.tier = t.tier AND p.level_key = t.level_key
                 AND p.secs = t.active_seconds
            LEFT JOIN pay_weeks w ON t.accepted_at >= w.lo AND t.accepted_at < w.hi
            ON CONFLICT (source_key) DO NOTHING
            """
        ),
        {"currency": st.currency, "now": now},
    )
    await s.execute(
        text("DROP TABLE pay_todo, pay_keys, pay_priced, pay_weeks, pay_cards, pay_req, pay_tiers")
    )
    return int(getattr(result, "rowcount", 0) or 0)


class Work(Protocol):
    """A recorded response, as the queue holds it (a ``Response`` or what it wrote with Core)."""

    id: int
    user_id: int
    project_id: int
    stage: str
    status: str
    needs_review: bool
    active_seconds: int
    created_at: datetime


def _work(
    r: Work,
    reviewed_at: datetime | None,
    rc: RateCard | _Card | None,
    worker: rules.Worker,
    st: Settings,
    closed: datetime | None,
    now: datetime,
) -> tuple[rules.Computed, dict[str, Any], dict[str, Any]]:
    """A work line's amount and inputs, and when it counts (status, acceptance, period)."""
    # A review's status is the verdict it gave: rejecting work is work done, paid in full.
    outcome = r.status if r.stage == "attempt" else "submitted"
    c = rules.work_line(
        rc.card if rc else None,
        rc.version if rc else None,
        r.stage,
        r.active_seconds,
        outcome,
        worker,
    )
    # When the work counts as accepted: at once without review, on the review, or
    # auto_accept_days after submission if nobody reviewed it first.
    auto_at = r.created_at + timedelta(days=st.auto_accept_days)
    accepted_at: datetime | None
    if r.stage != "attempt" or not r.needs_review:
        accepted_at = r.created_at
    elif reviewed_at is not None:
        accepted_at = min(reviewed_at, auto_at)
    else:
        accepted_at = auto_at if auto_at <= now else None
    fields = {
        "amount": c.amount,
        "inputs": c.inputs,
        "formula": c.formula,
        "labels": c.labels,
        "reason": c.reason,
        "seconds": c.seconds,
        "basis_status": r.status,
        "rate_card_id": rc.id if rc else None,
        "phase": c.labels.get("phase"),
        "active_seconds": max(0, int(r.active_seconds or 0)),
    }
    state = {
        "status": ACCEPTED if accepted_at else PENDING,
        "accepted_at": accepted_at,
        "period_start": _period(accepted_at, st, closed) if accepted_at else None,
    }
    return c, fields, state


def _new_work_line(
    r: Work, fields: dict[str, Any], state: dict[str, Any], st: Settings, now: datetime
) -> dict[str, Any]:
    return {
        "source_key": f"work:{r.id}",
        "user_id": r.user_id,
        "project_id": r.project_id,
        "response_id": r.id,
        "stage": r.stage,
        "kind": "work",
        "currency": st.currency,
        "work_at": r.created_at,
        "created_at": now,
        **fields,
        **state,
    }


def _priced(
    by_id: dict[int, RateCard],
    card_key: int,
    stage: str,
    outcome: str,
    degree_key: str,
    tier: int,
    level_key: int,
    seconds: int,
) -> dict[str, Any]:
    """One combination of what a work line depends on, priced by ``rules.work_line``."""
    rc = by_id.get(card_key)
    worker = rules.Worker(
        degree=None if degree_key == _NULL_KEY else degree_key,
        location_tier=tier,
        skill_level=None if level_key < 0 else level_key,
    )
    line = rules.work_line(
        rc.card if rc else None, rc.version if rc else None, stage, seconds, outcome, worker
    )
    return {
        "card_key": card_key,
        "stage": stage,
        "outcome": outcome,
        "degree_key": degree_key,
        "tier": tier,
        "level_key": level_key,
        "secs": seconds,
        "amount": line.amount,
        "inputs": json.dumps(line.inputs),
        "formula": line.formula,
        "labels": json.dumps(line.labels),
        "reason": line.reason,
        "seconds": line.seconds,
        "phase": line.labels.get("phase"),
    }


async def _apply(
    s: AsyncSession, ids: list[int], now: datetime, st: Settings, closed: datetime | None
) -> int:
    Review = Response.__table__.alias("review")
    rows = (
        await s.execute(
            select(
                Response.id,
                Response.user_id,
                Response.project_id,
                Response.stage,
                Response.status,
                Response.needs_review,
                Response.active_seconds,
                Response.created_at,
                Review.c.created_at.label("reviewed_at"),
            )
            .outerjoin(Review, Review.c.id == Response.review_id)
            .where(Response.id.in_(ids))
        )
    ).all()
    users = {r.user_id for r in rows}
    projects = {r.project_id for r in rows}
    profiles: dict[int, dict[str, Any]] = dict(
        (await s.execute(select(User.id, User.profile).where(User.id.in_(users)))).all()
    )
    requirements: dict[int, dict[str, Any]] = dict(
        (
            await s.execute(
                select(Project.id, Project.requirements).where(Project.id.in_(projects))
            )
        ).all()
    )
    wanted = {k for req in requirements.values() for k in ((req or {}).get("skills") or {})}
    levels: dict[tuple[int, str], int] = {}
    if wanted:
        for uid, skill, level in (
            await s.execute(
                select(UserSkill.user_id, UserSkill.skill, UserSkill.level).where(
                    UserSkill.user_id.in_(users), UserSkill.skill.in_(wanted)
                )
            )
        ).all():
            levels[(uid, skill)] = level
    cards = await _Cards.load(s, projects)
    existing: dict[int, list[EarningsLine]] = {}
    for line in (
        await s.execute(select(EarningsLine).where(EarningsLine.response_id.in_(ids)))
    ).scalars():
        existing.setdefault(line.response_id or 0, []).append(line)

    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for r in rows:
        profile = profiles.get(r.user_id) or {}
        skills = ((requirements.get(r.project_id) or {}).get("skills") or {}).keys()
        held = [levels[(r.user_id, k)] for k in skills if (r.user_id, k) in levels]
        worker = rules.Worker(
            degree=profile.get("degree"),
            location_tier=st.tier_of(profile.get("country")),
            skill_level=max(held) if held else None,
        )
        rc = cards.at(r.project_id, r.created_at)
        c, fields, state = _work(r, r.reviewed_at, rc, worker, st, closed, now)
        lines = existing.get(r.id, [])
        work = next((ln for ln in lines if ln.kind == "work"), None)
        if (
            work is None
            or work.period_start is None
            or closed is None
            or (work.period_start >= closed)
        ):
            if work is None:
                inserts.append(_new_work_line(r, fields, state, st, now))
            else:
                updates.append({"id": work.id, **fields, **state})
            continue
        # The line is on a closed statement: the difference is an adjustment line now.
        if any(ln.basis_status == r.status for ln in lines):
            continue
        paid = sum(ln.amount for ln in lines)
        changed_at = r.reviewed_at or now
        inputs = {"now_due": c.amount, "already_counted": paid}
        inserts.append(
            {
                "source_key": f"adj:{r.id}:{r.status}",
                "user_id": r.user_id,
                "project_id": r.project_id,
                "response_id": r.id,
                "stage": r.stage,
                "kind": "adjustment",
                "status": ACCEPTED,
                "basis_status": r.status,
                "amount": c.amount - paid,
                "currency": st.currency,
                "inputs": inputs,
                "formula": "now_due - already_counted",
                "labels": {**c.labels, "adjusts_line": str(work.id)},
                "reason": (
                    f"the work was {r.status} in review after the period that paid it closed; "
                    f"it is now due {rules.money(c.amount, st.currency)}, "
                    f"{rules.money(paid, st.currency)} was already counted"
                ),
                "seconds": 0,
                "rate_card_id": rc.id if rc else None,
                "phase": c.labels.get("phase"),
                "work_at": r.created_at,
                "accepted_at": changed_at,
                "period_start": _period(max(changed_at, now), st, closed),
                "created_at": now,
            }
        )
    await _insert_ignore(s, EarningsLine, inserts, "source_key")
    if updates:
        for u in updates:
            await s.execute(
                update(EarningsLine)
                .where(EarningsLine.id == u["id"], _open_line(closed))
                .values({k: v for k, v in u.items() if k != "id"})
            )
    return len(inserts) + len(updates)


# ---- hooks for the queue ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Card:
    """What pricing reads of a rate card (``_work``), without loading the ORM entity."""

    id: int
    version: int
    card: dict[str, Any]


def _pricing_statement(pg: bool, with_skills: bool) -> Any:
    """What a submission's amount depends on, in one query, holding the settings row: the
    card in force when the work was submitted, the person's profile and level in the
    project's required skills (``p_skills``), the settings."""
    card_id = (
        select(RateCard.id)
        .where(
            RateCard.project_id == bindparam("p_project"),
            RateCard.effective_from <= bindparam("p_at", type_=RateCard.effective_from.type),
        )
        .order_by(RateCard.effective_from.desc(), RateCard.version.desc())
        .limit(1)
        .scalar_subquery()
    )
    level: Any = literal(None)
    if with_skills:
        level = (
            select(func.max(UserSkill.level))
            .where(
                UserSkill.user_id == bindparam("p_user"),
                UserSkill.skill.in_(bindparam("p_skills", expanding=True)),
            )
            .scalar_subquery()
        )
    P = PaySettings
    q = (
        select(
            P.currency,
            P.auto_accept_days,
            P.default_location_tier,
            P.timezone,
            P.location_tiers,
            P.closed_until,
            RateCard.id.label("card_id"),
            RateCard.version.label("card_version"),
            RateCard.card.label("card"),
            User.profile,
            level.label("level"),
        )
        .select_from(P)
        .join(RateCard, RateCard.id == card_id)
        .join(User, User.id == bindparam("p_user"))
        .where(P.id == 1)
    )
    if pg:
        q = q.with_for_update(key_share=True, skip_locked=True, of=P)
    return q


# Every submission to a paying project runs one: built once.
_PRICING = {(pg, sk): _pricing_statement(pg, sk) for pg in (False, True) for sk in (False, True)}
_INSERT_LINE = {pg: _ignoring(EarningsLine, "source_key", pg) for pg in (False, True)}


async def on_attempt_submitted(
    s: AsyncSession, response: Work, now: datetime, *, skills: Iterable[str] | None = None
) -> None:
    """Write the line of work just recorded, in the caller's transaction: pending while it
    awaits review, accepted otherwise (in the week of ``now``, the first open one).

    One query reads what the amount depends on — the card in force when the work was
    submitted, the person's degree, country and level in the project's required ``skills``
    (the project's requirements, read if not given), the settings — and holds the settings
    row; one ``INSERT`` writes the line. Nothing is written for a project without a rate card
    in force (its ``0`` lines come from the sweep), nor while a pay run holds the settings:
    the sweep writes what this did not, the same line.
    """
    if skills is None:
        req = await s.scalar(select(Project.requirements).where(Project.id == response.project_id))
        skills = ((req or {}).get("skills") or {}).keys()
    wanted = sorted(skills)
    pg = _dialect(s) == "postgresql"
    params: dict[str, Any] = {
        "p_project": response.project_id,
        "p_at": response.created_at,
        "p_user": response.user_id,
    }
    if wanted:
        params["p_skills"] = wanted
    conn = await core_connection(s)
    row = (await conn.execute(_PRICING[pg, bool(wanted)], params)).first()
    if row is None:
        return
    st = Settings(
        row.currency,
        0,
        row.auto_accept_days,
        row.default_location_tier,
        row.timezone,
        dict(row.location_tiers or {}),
    )
    profile = row.profile or {}
    worker = rules.Worker(
        degree=profile.get("degree"),
        location_tier=st.tier_of(profile.get("country")),
        skill_level=row.level,
    )
    card = _Card(row.card_id, row.card_version, row.card)
    _, fields, state = _work(response, None, card, worker, st, row.closed_until, now)
    await conn.execute(_INSERT_LINE[pg], _new_work_line(response, fields, state, st, now))


def priced(project_id: Any) -> ColumnElement[bool]:
    """Whether a project has a rate card: a column the queue reads with what it submits, so a
    project that pays nothing costs its submissions no pay query."""
    return exists().where(RateCard.project_id == project_id)


async def on_review_decided(
    s: AsyncSession, attempt: Work, review: Work, now: datetime, *, priced: bool | None = None
) -> None:
    """Call after a verdict: re-prices the attempt (accepted, or rejected at the policy's
    fraction; an adjustment if its period is closed) and writes the reviewer's own line.
    Nothing for a project without a rate card (``priced``, read if not given), nor while a
    pay run holds the settings."""
    if priced is None:
        card = await s.scalar(
            select(RateCard.id).where(RateCard.project_id == attempt.project_id).limit(1)
        )
        priced = card is not None
    if not priced:
        return
    await accrue(s, now, response_ids=[attempt.id, review.id], wait=False)


# ---- pay runs --------------------------------------------------------------------------------


def payrun_out(run: PayRun) -> dict[str, Any]:
    return {
        "id": str(run.id),
        "period_start": iso(run.period_start),
        "period_end": iso(run.period_end),
        "statements": run.statements,
        "total": run.total,
        "currency": run.currency,
        "status": run.status,
        "created_at": iso(run.created_at),
    }


def _monday(st: Settings, day: date, loc: list[str | int]) -> tuple[datetime, datetime]:
    if day.weekday() != 0:
        raise invalid(loc, f"a pay period starts on a Monday; {day.isoformat()} is not one")
    return rules.period_from_day(day, st.tz)


async def create_payrun(
    s: AsyncSession, who: Principal | None, day: date, now: datetime, progress: Any = None
) -> tuple[PayRun, bool]:
    """Close one week into statements; ``(run, False)`` when it was already closed."""
    st = await settings(s)
    start, end = _monday(st, day, ["body", "period_start"])
    if end > now:
        raise Conflict(
            f"the period ends at {iso(end)}; it can be paid once it has ended",
            errors=[{"loc": ["body", "period_start"], "msg": "the period has not ended"}],
        )
    existing = await s.scalar(select(PayRun).where(PayRun.period_start == start))
    if existing is not None:
        return existing, False
    # Pay runs, rate-card changes and line writers take turns on the settings row.
    row = await _settings_row(s, lock=True)
    existing = await s.scalar(
        select(PayRun).where(PayRun.period_start == start).execution_options(populate_existing=True)
    )
    if existing is not None:
        return existing, False
    run = PayRun(
        period_start=start,
        period_end=end,
        status="building",
        statements=0,
        total=0,
        currency=st.currency,
        created_by=who.id if who else None,
        created_at=now,
        lines_from=row.closed_until,
    )
    s.add(run)
    try:
        async with s.begin_nested():
            await s.flush()
    except IntegrityError:
        again = await s.scalar(select(PayRun).where(PayRun.period_start == start))
        if again is None:
            raise Conflict("another pay run for this period is being built; retry") from None
        return again, False
    step = progress or (lambda _name: None)
    step("lines")
    mark = int(await s.scalar(select(func.coalesce(func.max(Response.id), 0))) or 0)
    await accrue(s, now, run=run)
    step("bonuses")
    await _bonuses(s, st, run, now)
    step("statements")
    await _close(s, st, run, now)
    if row.closed_until is None or row.closed_until < end:
        row.closed_until = end
    # The sweep after next may start past what this one saw: by then no transaction that
    # began before this run can still be writing a response below it.
    if row.sweep_mark_at is None or row.sweep_mark_at <= now - timedelta(days=1):
        row.swept_through = row.sweep_mark
        row.sweep_mark, row.sweep_mark_at = mark, now
    await s.flush()
    await _tell_statements_ready(s, run, now)
    step("done")
    diff = {"after": {"period_start": iso(run.period_start), "statements": run.statements}}
    await audit.record(
        s, who.id if who else None, "payrun.create", f"payrun:{run.id}", diff, None, at=now
    )
    return run, True


async def _tell_statements_ready(s: AsyncSession, run: PayRun, now: datetime) -> None:
    """Everyone with a statement in the run finds it in their inbox (one statement for all)."""
    week = run.period_start.strftime("%Y-%m-%d")
    link = literal("/earnings/statements/") + cast(Statement.id, String)
    rows = select(
        Statement.user_id.label("user_id"),
        literal(f"Your pay statement for the week of {week} is ready").label("title"),
        literal("Every line shows how its amount was computed.").label("body"),
        link.label("link"),
    ).where(Statement.payrun_id == run.id)
    await notify.send_each(s, rows, "statement", now)


def _json_obj(s: AsyncSession, *pairs: Any) -> Any:
    fn = func.jsonb_build_object if _dialect(s) == "postgresql" else func.json_object
    return fn(*pairs)


async def _bonuses(s: AsyncSession, st: Settings, run: PayRun, now: datetime) -> None:
    """Incentive and floor lines for the work being closed, per person and project."""
    start, end = run.period_start, run.period_end
    open_work = and_(EarningsLine.kind == "work", EarningsLine.status == ACCEPTED, _in_run(run))
    project_ids = list(
        (await s.execute(select(EarningsLine.project_id).where(open_work).distinct())).scalars()
    )
    cards = await _Cards.load(s, [p for p in project_ids if p is not None])
    at = end - timedelta(microseconds=1)
    tag = start.strftime("%Y%m%d")
    is_attempt = EarningsLine.stage == "attempt"
    attempt_ok = and_(is_attempt, EarningsLine.basis_status != "rejected")
    for project_id in project_ids:
        if project_id is None:
            continue
        rc = cards.at(project_id, at)
        if rc is None:
            continue
        card = rc.card
        floor = (card.get("hourly_floor") or {}).get("amount")
        incentives = card.get("incentives") or []
        if not floor and not incentives:
            continue
        rows = (
            await s.execute(
                select(
                    EarningsLine.user_id,
                    func.sum(EarningsLine.amount).label("paid"),
                    func.sum(EarningsLine.seconds).label("seconds"),
                    func.sum(case((attempt_ok, 1), else_=0)).label("accepted"),
                    func.sum(
                        case(
                            (and_(is_attempt, EarningsLine.basis_status.in_(REVIEWED)), 1), else_=0
                        )
                    ).label("reviewed"),
                    func.sum(
                        case((and_(is_attempt, EarningsLine.basis_status.in_(GOOD)), 1), else_=0)
                    ).label("good"),
                )
                .where(open_work, EarningsLine.project_id == project_id)
                .group_by(EarningsLine.user_id)
            )
        ).all()
        lines: list[dict[str, Any]] = []

        def add(
            user: int,
            key: str,
            kind: str,
            c: rules.Computed,
            reason: str,
            lines: list[dict[str, Any]] = lines,
            project_id: int = project_id,
            rc: RateCard = rc,
        ) -> None:
            lines.append(
                {
                    "source_key": key,
                    "user_id": user,
                    "project_id": project_id,
                    "kind": kind,
                    "status": ACCEPTED,
                    "amount": c.amount,
                    "currency": st.currency,
                    "inputs": c.inputs,
                    "formula": c.formula,
                    "labels": {**c.labels, "rate_card_version": rc.version},
                    "reason": reason,
                    "seconds": 0,
                    "rate_card_id": rc.id,
                    "work_at": start,
                    "accepted_at": end,
                    "period_start": start,
                    "created_at": now,
                }
            )

        window_counts: dict[int, dict[int, int]] = {}
        for i, rule in enumerate(incentives):
            if rule["kind"] == "per_task":
                lo = _naive_utc(datetime.fromisoformat(rule["starts_at"].replace("Z", "+00:00")))
                hi = _naive_utc(datetime.fromisoformat(rule["ends_at"].replace("Z", "+00:00")))
                window_counts[i] = dict(
                    (
                        await s.execute(
                            select(EarningsLine.user_id, func.count())
                            .where(
                                open_work,
                                attempt_ok,
                                EarningsLine.project_id == project_id,
                                EarningsLine.work_at >= lo,
                                EarningsLine.work_at < hi,
                            )
                            .group_by(EarningsLine.user_id)
                        )
                    ).all()
                )
        for r in rows:
            accepted, reviewed, good = int(r.accepted or 0), int(r.reviewed or 0), int(r.good or 0)
            for i, rule in enumerate(incentives):
                bonus = int(rule["bonus"]["amount"])
                key = f"inc:{tag}:{project_id}:{r.user_id}:{i}"
                if rule["kind"] == "approved_count" and accepted >= rule["threshold"]:
                    inputs = {"bonus": bonus, "approved": accepted, "threshold": rule["threshold"]}
                    c = rules.Computed(bonus, inputs, "bonus", {"rule": "approved_count"})
                    add(
                        r.user_id,
                        key,
                        "incentive",
                        c,
                        f"{accepted} accepted tasks this period (the bonus starts at "
                        f"{rule['threshold']})",
                    )
                elif rule["kind"] == "quality" and reviewed >= rule["min_tasks"]:
                    score = rules.formula.exact(good) / reviewed
                    if score >= rules.formula.exact(rule["min_score"]):
                        inputs = {
                            "bonus": bonus,
                            "approved": good,
                            "reviewed": reviewed,
                            "min_score": rule["min_score"],
                            "min_tasks": rule["min_tasks"],
                        }
                        c = rules.Computed(bonus, inputs, "bonus", {"rule": "quality"})
                        add(
                            r.user_id,
                            key,
                            "incentive",
                            c,
                            f"{good} of {reviewed} reviewed tasks approved (at least "
                            f"{rule['min_score']} over {rule['min_tasks']} tasks earns the bonus)",
                        )
                elif rule["kind"] == "per_task":
                    n = int(window_counts.get(i, {}).get(r.user_id, 0))
                    if n:
                        inputs = {"bonus": bonus, "tasks": n}
                        c = rules.Computed(bonus * n, inputs, "bonus * tasks", {"rule": "per_task"})
                        add(
                            r.user_id,
                            key,
                            "incentive",
                            c,
                            f"{n} accepted tasks submitted from {rule['starts_at']} to "
                            f"{rule['ends_at']}, with a bonus for each",
                        )
            if floor:
                top = rules.floor_topup(int(floor), int(r.seconds or 0), int(r.paid or 0))
                if top is not None:
                    add(
                        r.user_id,
                        f"floor:{tag}:{project_id}:{r.user_id}",
                        "floor_topup",
                        top,
                        "the project's hourly floor: pay over your active time is topped up to it",
                    )
        await _insert_ignore(s, EarningsLine, lines, "source_key")


async def _close(s: AsyncSession, st: Settings, run: PayRun, now: datetime) -> None:
    """One statement per person with lines in the periods the run closes, with its total
    and what it carries forward, in one ``INSERT … SELECT … GROUP BY``; then its payouts and
    carried balances. The lines are not written: a statement's lines are its person's lines
    in its run's periods."""
    L = EarningsLine
    summed = func.sum(L.amount)
    below = or_(summed < st.payout_threshold, summed < 0)
    ins = pg_insert(Statement) if _dialect(s) == "postgresql" else sqlite_insert(Statement)
    await s.execute(
        ins.from_select(
            [
                "payrun_id",
                "user_id",
                "period_start",
                "period_end",
                "total",
                "carried_forward",
                "created_at",
            ],
            select(
                literal(run.id),
                L.user_id,
                literal(run.period_start),
                literal(run.period_end),
                summed,
                case((below, summed), else_=0),
                literal(now),
            )
            .where(_in_run(run))
            .group_by(L.user_id),
        ).on_conflict_do_nothing(index_elements=["payrun_id", "user_id"])
    )
    await s.execute(
        insert(Payout).from_select(
            ["payrun_id", "statement_id", "user_id", "amount", "currency", "status", "created_at"],
            select(
                literal(run.id),
                Statement.id,
                Statement.user_id,
                Statement.total,
                literal(st.currency),
                literal("pending"),
                literal(now),
            ).where(
                Statement.payrun_id == run.id,
                Statement.carried_forward == 0,
                Statement.total > 0,
            ),
        )
    )
    week = rules.local_day(run.period_start, st.tz).isoformat()
    await s.execute(
        insert(L).from_select(
            [
                "source_key",
                "user_id",
                "kind",
                "status",
                "amount",
                "currency",
                "inputs",
                "formula",
                "labels",
                "reason",
                "seconds",
                "work_at",
                "accepted_at",
                "period_start",
                "created_at",
            ],
            select(
                literal("carry:") + cast(Statement.id, String),
                Statement.user_id,
                literal("carry_forward"),
                literal(ACCEPTED),
                Statement.carried_forward,
                literal(st.currency),
                _json_obj(s, literal("carried"), Statement.carried_forward),
                literal("carried"),
                _json_obj(s, literal("from_statement"), cast(Statement.id, String)),
                literal(
                    f"the balance of the week of {week} was below the payout threshold "
                    f"({rules.money(st.payout_threshold, st.currency)}); it carries forward"
                ),
                literal(0),
                literal(run.period_end),
                literal(run.period_end),
                literal(run.period_end),
                literal(now),
            ).where(Statement.payrun_id == run.id, Statement.carried_forward != 0),
        )
    )
    count, total = (
        await s.execute(
            select(func.count(Statement.id), func.coalesce(func.sum(Statement.total), 0)).where(
                Statement.payrun_id == run.id
            )
        )
    ).one()
    run.statements = int(count)
    run.total = int(total)
    run.status = "closed"
    await s.flush()


async def list_payruns(s: AsyncSession, limit: int, after: int | None) -> list[dict[str, Any]]:
    q = select(PayRun).order_by(PayRun.id.desc()).limit(limit + 1)
    if after is not None:
        q = q.where(PayRun.id < after)
    return [payrun_out(r) for r in (await s.execute(q)).scalars()]


async def get_payrun(s: AsyncSession, payrun_id: str) -> PayRun:
    run = await s.get(PayRun, parse_id(payrun_id, "pay run"))
    if run is None:
        raise NotFound("pay run not found")
    return run


async def payrun_breakdown(s: AsyncSession, run: PayRun) -> dict[str, Any]:
    """Totals of a run by project, kind of line, phase and country (for the admin page)."""
    L = EarningsLine
    base = select(L).where(_in_run(run)).subquery()
    by_project = (
        await s.execute(
            select(base.c.project_id, Project.name, func.sum(base.c.amount), func.count())
            .outerjoin(Project, Project.id == base.c.project_id)
            .group_by(base.c.project_id, Project.name)
            .order_by(base.c.project_id)
        )
    ).all()
    by_kind = (
        await s.execute(
            select(base.c.kind, func.sum(base.c.amount), func.count())
            .group_by(base.c.kind)
            .order_by(base.c.kind)
        )
    ).all()
    by_phase = (
        await s.execute(
            select(base.c.phase, func.sum(base.c.amount), func.count())
            .group_by(base.c.phase)
            .order_by(base.c.phase)
        )
    ).all()
    country = User.profile["country"].as_string()
    by_country = (
        await s.execute(
            select(country, func.sum(base.c.amount), func.count())
            .select_from(base)
            .join(User, User.id == base.c.user_id)
            .group_by(country)
            .order_by(country)
        )
    ).all()
    payouts = (
        await s.execute(
            select(Payout.status, func.count(), func.sum(Payout.amount))
            .where(Payout.payrun_id == run.id)
            .group_by(Payout.status)
        )
    ).all()
    return {
        "phases": [{"phase": k, "total": int(t or 0), "lines": int(c)} for k, t, c in by_phase],
        "countries": [
            {"country": k, "total": int(t or 0), "lines": int(c)} for k, t, c in by_country
        ],
        "projects": [
            {"project_id": p and str(p), "name": n, "total": int(t or 0), "lines": int(c)}
            for p, n, t, c in by_project
        ],
        "kinds": [{"kind": k, "total": int(t or 0), "lines": int(c)} for k, t, c in by_kind],
        "payouts": [{"status": k, "count": int(c), "total": int(t or 0)} for k, c, t in payouts],
    }


# ---- costs and effective wages ---------------------------------------------------------------


def hourly_wage(amount: int, seconds: int) -> int | None:
    """Pay ÷ active time, in minor units an hour (rounded half up); ``None`` without time."""
    if seconds <= 0:
        return None
    return rules.formula.evaluate("amount * 3600 / seconds", {"amount": amount, "seconds": seconds})


def parse_day(value: str | None, name: str) -> date | None:
    """A ``YYYY-MM-DD`` query parameter, or ``None``; anything else is a 422 naming it."""
    if not value:
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise invalid(["query", name], "a date, YYYY-MM-DD") from None


def _range(
    st: Settings, start: date | None, end: date | None
) -> tuple[datetime | None, datetime | None]:
    """Days in the deployment's time zone, both included, as naive UTC bounds."""
    if start is not None and end is not None and end < start:
        raise invalid(["query", "to"], "must not be before from")
    lo = rules.period_from_day(start, st.tz)[0] if start else None
    hi = rules.period_from_day(end + timedelta(days=1), st.tz)[0] if end else None
    return lo, hi


async def project_costs(
    s: AsyncSession,
    project: Project,
    start: date | None,
    end: date | None,
    now: datetime,
    top: int = 100,
) -> dict[str, Any]:
    """What a project's work cost over a range of days (by the day it was accepted): totals
    by stage, phase and kind of line, per approved item, per week, and per contributor (by
    the project's pseudonym) with the effective hourly wage: pay ÷ active time."""
    from inlier.datasets.options import pseudonym

    st = await settings(s)
    lo, hi = _range(st, start, end)
    await accrue(s, now, project_id=project.id, wait=False)
    L = EarningsLine
    cond = [L.project_id == project.id, L.status == ACCEPTED]
    if lo is not None:
        cond.append(L.accepted_at >= lo)
    if hi is not None:
        cond.append(L.accepted_at < hi)
    where = and_(*cond)
    total, lines, seconds = (
        await s.execute(
            select(
                func.coalesce(func.sum(L.amount), 0),
                func.count(),
                func.coalesce(func.sum(L.active_seconds), 0),
            ).where(where)
        )
    ).one()
    total, seconds = int(total), int(seconds)
    approved = int(
        await s.scalar(
            select(func.count(func.distinct(Response.item_id)))
            .select_from(L)
            .join(Response, Response.id == L.response_id)
            .where(where, L.kind == "work", L.stage == "attempt", L.basis_status != "rejected")
        )
        or 0
    )

    def per_item(amount: int) -> int | None:
        if not approved:
            return None
        return rules.formula.evaluate("amount / items", {"amount": amount, "items": approved})

    async def grouped(col: Any) -> list[dict[str, Any]]:
        rows = (
            await s.execute(
                select(
                    col,
                    func.sum(L.amount),
                    func.count(),
                    func.coalesce(func.sum(L.active_seconds), 0),
                )
                .where(where)
                .group_by(col)
                .order_by(col)
            )
        ).all()
        return [
            {
                "key": k,
                "total": int(t or 0),
                "lines": int(c),
                "active_seconds": int(sec),
                "per_approved_item": per_item(int(t or 0)),
                "share": float(rules.formula.exact(int(t or 0)) / total) if total else 0.0,
            }
            for k, t, c, sec in rows
        ]

    by_stage = await grouped(L.stage)
    by_phase = await grouped(L.phase)
    by_kind = await grouped(L.kind)
    weeks = (
        await s.execute(
            select(L.period_start, func.sum(L.amount))
            .where(where)
            .group_by(L.period_start)
            .order_by(L.period_start)
        )
    ).all()
    biggest = max((int(t or 0) for _, t in weeks), default=0)
    people = (
        await s.execute(
            select(
                L.user_id,
                func.sum(L.amount).label("total"),
                func.coalesce(func.sum(L.active_seconds), 0),
                func.count(),
            )
            .where(where)
            .group_by(L.user_id)
            .order_by(func.sum(L.amount).desc(), L.user_id)
            .limit(top)
        )
    ).all()
    n_people = int(await s.scalar(select(func.count(func.distinct(L.user_id))).where(where)) or 0)
    pending = int(
        await s.scalar(
            select(func.coalesce(func.sum(L.amount), 0)).where(
                L.project_id == project.id, L.status == PENDING
            )
        )
        or 0
    )
    return {
        "project_id": str(project.id),
        "currency": st.currency,
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "total": total,
        "lines": int(lines),
        "pending": pending,
        "active_seconds": seconds,
        "effective_hourly": hourly_wage(total, seconds),
        "approved_items": approved,
        "per_approved_item": per_item(total),
        "by_stage": [{"stage": r.pop("key"), **r} for r in by_stage],
        "by_phase": [{"phase": r.pop("key"), **r} for r in by_phase],
        "by_kind": [{"kind": r.pop("key"), **r} for r in by_kind],
        "weeks": [
            {
                "period_start": iso(p),
                "total": int(t or 0),
                "share_of_max": float(rules.formula.exact(int(t or 0)) / biggest) if biggest else 0,
            }
            for p, t in weeks
        ],
        "contributors_count": n_people,
        "contributors": [
            {
                "pseudonym": pseudonym(project, uid),
                "total": int(t or 0),
                "active_seconds": int(sec),
                "lines": int(c),
                "effective_hourly": hourly_wage(int(t or 0), int(sec)),
            }
            for uid, t, sec, c in people
        ],
    }


async def my_wages(
    s: AsyncSession,
    who: Principal,
    lo: datetime | None = None,
    hi: datetime | None = None,
) -> list[dict[str, Any]]:
    """Per project, what this person was paid (accepted lines, in the periods from ``lo`` to
    ``hi`` if given) over their active time."""
    L = EarningsLine
    cond = [L.user_id == who.id, L.status == ACCEPTED, L.kind != "carry_forward"]
    if lo is not None:
        cond.append(L.period_start >= lo)
    if hi is not None:
        cond.append(L.period_start < hi)
    rows = (
        await s.execute(
            select(
                L.project_id,
                Project.name,
                func.sum(L.amount),
                func.coalesce(func.sum(L.active_seconds), 0),
            )
            .outerjoin(Project, Project.id == L.project_id)
            .where(*cond)
            .group_by(L.project_id, Project.name)
            .order_by(L.project_id)
        )
    ).all()
    return [
        {
            "project_id": None if p is None else str(p),
            "name": n,
            "total": int(t or 0),
            "active_seconds": int(sec),
            "effective_hourly": hourly_wage(int(t or 0), int(sec)),
        }
        for p, n, t, sec in rows
        if p is not None
    ]


async def pay_terms(
    s: AsyncSession, project_ids: Sequence[int], now: datetime
) -> dict[int, dict[str, Any]]:
    """What a contributor reads before starting each project: the rate of each stage, the time
    cap, the estimated minutes of a per-task project and the rejected-work policy (the card
    in force now, else the next one scheduled)."""
    if not project_ids:
        return {}
    st = await settings(s)
    cards = await _Cards.load(s, project_ids)
    out: dict[int, dict[str, Any]] = {}
    for pid in project_ids:
        rc = cards.at(pid, now)
        if rc is None:
            upcoming = [c for c in cards.by_project.get(pid, []) if c.effective_from > now]
            rc = upcoming[0] if upcoming else None
        if rc is None:
            continue
        card = rc.card
        stages = []
        for stage, spec in (card.get("stages") or {}).items():
            basis = "hourly" if spec.get("hourly") else "per_task"
            stages.append({"stage": stage, "basis": basis, "amount": int(spec[basis]["amount"])})
        fraction = (card.get("rejected_work") or {}).get("pay_fraction", 0)
        out[pid] = {
            "version": rc.version,
            "effective_from": iso(rc.effective_from),
            "currency": st.currency,
            "stages": stages,
            "phase": card.get("phase") or "core",
            "max_minutes_per_task": int(card.get("max_minutes_per_task") or 60),
            "estimated_minutes_per_task": card.get("estimated_minutes_per_task"),
            "rejected_pay_fraction": fraction,
            "rejected_work": rules.rejected_policy(fraction),
            "hourly_floor": (card.get("hourly_floor") or {}).get("amount"),
        }
    return out


# ---- payouts ---------------------------------------------------------------------------------

PAYOUT_COLUMNS = (
    "payout_id",
    "user_id",
    "email",
    "name",
    "country",
    "amount_minor",
    "currency",
    "statement_id",
)


async def payout_rows(s: AsyncSession, run: PayRun) -> list[dict[str, Any]]:
    rows = (
        await s.execute(
            select(Payout, User.email, User.name, User.profile)
            .join(User, User.id == Payout.user_id)
            .where(Payout.payrun_id == run.id)
            .order_by(Payout.id)
        )
    ).all()
    return [
        {
            "payout_id": str(p.id),
            "user_id": str(p.user_id),
            "email": email,
            "name": name,
            "country": (profile or {}).get("country"),
            "amount_minor": p.amount,
            "currency": p.currency,
            "statement_id": str(p.statement_id),
            "status": p.status,
            "reference": p.reference,
        }
        for p, email, name, profile in rows
    ]


def payouts_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(PAYOUT_COLUMNS)
    for r in rows:
        cells = ["" if r[c] is None else str(r[c]) for c in PAYOUT_COLUMNS]
        # A spreadsheet must never run a name as a formula.
        w.writerow(
            ["'" + c if c[:1] in ("=", "+", "-", "@") and not c[1:].isdigit() else c for c in cells]
        )
    return buf.getvalue()


def payout_out(p: Payout) -> dict[str, Any]:
    return {
        "id": str(p.id),
        "status": p.status,
        "amount": p.amount,
        "currency": p.currency,
        "reference": p.reference,
    }


async def record_result(
    s: AsyncSession,
    payout_id: str,
    body: PayoutResultIn,
    now: datetime,
    actor_id: int | None = None,
    payrun_id: int | None = None,
) -> dict[str, Any]:
    p = await s.get(
        Payout, parse_id(payout_id, "payout"), with_for_update=True, populate_existing=True
    )
    if p is None or (payrun_id is not None and p.payrun_id != payrun_id):
        raise NotFound("payout not found")
    if p.status == body.status:
        return payout_out(p)
    if p.status != "pending":
        raise Conflict(
            f"this payout is already {p.status}; its result cannot change",
            errors=[{"loc": ["body", "status"], "msg": f"already {p.status}"}],
        )
    st = await settings(s)
    p.status = body.status
    p.reference = body.reference or None
    p.decided_at = now
    if body.status == "failed":
        await _insert_ignore(
            s,
            EarningsLine,
            [
                {
                    "source_key": f"payout:{p.id}",
                    "user_id": p.user_id,
                    "kind": "adjustment",
                    "status": ACCEPTED,
                    "amount": p.amount,
                    "currency": p.currency,
                    "inputs": {"failed_payout": p.amount},
                    "formula": "failed_payout",
                    "labels": {"payout_id": str(p.id)},
                    "reason": (
                        f"payout {p.id} failed"
                        + (f" ({body.reference})" if body.reference else "")
                        + "; its amount returns to your balance"
                    ),
                    "seconds": 0,
                    "work_at": now,
                    "accepted_at": now,
                    "period_start": _period(now, st, (await _hold(s))[1]),
                    "created_at": now,
                }
            ],
            "source_key",
        )
    await s.flush()
    after = {"status": p.status, "reference": p.reference}
    diff = {"before": {"status": "pending"}, "after": after}
    await audit.record(s, actor_id, "payout.result", f"payout:{p.id}", diff, None, at=now)
    return payout_out(p)


# ---- what a contributor sees -----------------------------------------------------------------


def line_out(ln: EarningsLine, statement_id: int | None = None) -> dict[str, Any]:
    return {
        "id": str(ln.id),
        "kind": ln.kind,
        "status": ln.status,
        "project_id": None if ln.project_id is None else str(ln.project_id),
        "response_id": None if ln.response_id is None else str(ln.response_id),
        "amount": ln.amount,
        "currency": ln.currency,
        "inputs": ln.inputs,
        "formula": ln.formula,
        "labels": ln.labels or {},
        "reason": ln.reason,
        "explanation": rules.explain(
            ln.kind, ln.inputs, ln.labels or {}, ln.amount, ln.currency, ln.reason
        ),
        "work_at": iso(ln.work_at),
        "accepted_at": iso(ln.accepted_at),
        "period_start": iso(ln.period_start),
        "statement_id": None if statement_id is None else str(statement_id),
    }


def parse_period(value: str, st: Settings, now: datetime) -> tuple[datetime, datetime]:
    if value == "current":
        return rules.period_of(now, st.tz)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        msg = "current, or the Monday a period starts (YYYY-MM-DD)"
        raise invalid(["query", "period"], msg) from None
    return _monday(st, day, ["query", "period"])


async def earnings(s: AsyncSession, who: Principal, period: str, now: datetime) -> dict[str, Any]:
    """The person's lines of a period, after a catch-up sweep of theirs.

    While a pay run closes a week the sweep is left out (``wait=False``) and the page shows
    the ledger as it stands, rather than waiting for the run: the run writes what is missing.
    The same holds for the annual summary and a project's costs.
    """
    st = await settings(s)
    start, end = parse_period(period, st, now)
    await accrue(s, now, user_id=who.id, wait=False)
    L = EarningsLine
    where = L.period_start == start
    if start <= now < end:
        where = where | (L.status == PENDING)
    lines = (
        (await s.execute(select(L).where(L.user_id == who.id, where).order_by(L.work_at, L.id)))
        .scalars()
        .all()
    )
    # The statement each line is on: the person's statement in the run that closed its period.
    runs = (
        await s.execute(
            select(Statement.id, PayRun.lines_from, PayRun.period_end)
            .join(PayRun, PayRun.id == Statement.payrun_id)
            .where(Statement.user_id == who.id, PayRun.period_end > start)
        )
    ).all()

    def on(ln: EarningsLine) -> int | None:
        p = ln.period_start
        for sid, lo, hi in runs:
            if p is not None and (lo is None or p >= lo) and p < hi:
                return int(sid)
        return None

    return {
        "period": {"start": iso(start), "end": iso(end)},
        "lines": [line_out(ln, on(ln)) for ln in lines],
        "total": sum(ln.amount for ln in lines if ln.status == ACCEPTED),
        "pending": sum(ln.amount for ln in lines if ln.status == PENDING),
        "currency": st.currency,
    }


async def _statement_out(
    s: AsyncSession, st_row: Statement, payout: Payout | None, *, with_lines: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(st_row.id),
        "payrun_id": str(st_row.payrun_id),
        "user_id": str(st_row.user_id),
        "period": {"start": iso(st_row.period_start), "end": iso(st_row.period_end)},
        "total": st_row.total,
        "carried_forward": st_row.carried_forward,
        "currency": (await settings(s)).currency,
        "payout": payout_out(payout) if payout else None,
    }
    if with_lines:
        run = await s.get(PayRun, st_row.payrun_id)
        assert run is not None
        lines = (
            await s.execute(
                select(EarningsLine)
                .where(_in_run(run, st_row.user_id))
                .order_by(EarningsLine.work_at, EarningsLine.id)
            )
        ).scalars()
        out["lines"] = [line_out(ln, st_row.id) for ln in lines]
    return out


async def my_statements(
    s: AsyncSession, who: Principal, limit: int, after: int | None
) -> list[dict[str, Any]]:
    q = (
        select(Statement, Payout)
        .outerjoin(Payout, Payout.statement_id == Statement.id)
        .where(Statement.user_id == who.id)
        .order_by(Statement.id.desc())
        .limit(limit + 1)
    )
    if after is not None:
        q = q.where(Statement.id < after)
    return [
        await _statement_out(s, st_row, p, with_lines=False)
        for st_row, p in (await s.execute(q)).all()
    ]


async def statement(s: AsyncSession, who: Principal, statement_id: str) -> dict[str, Any]:
    row = (
        await s.execute(
            select(Statement, Payout)
            .outerjoin(Payout, Payout.statement_id == Statement.id)
            .where(Statement.id == parse_id(statement_id, "statement"))
        )
    ).first()
    if row is None or (row[0].user_id != who.id and not who.is_admin):
        raise NotFound("statement not found")
    return await _statement_out(s, row[0], row[1], with_lines=True)


async def annual_summary(
    s: AsyncSession, who: Principal, year: int, now: datetime | None = None
) -> dict[str, Any]:
    """Totals a contractor files with: earned by kind and project, and every payout."""
    if now is not None:
        await accrue(s, now, user_id=who.id, wait=False)
    st = await settings(s)
    lo, _ = rules.period_of(datetime(year, 1, 1), st.tz)
    lo = lo if rules.local_day(lo, st.tz).year == year else lo + timedelta(days=7)
    hi, _ = rules.period_of(datetime(year + 1, 1, 1), st.tz)
    hi = hi if rules.local_day(hi, st.tz).year == year + 1 else hi + timedelta(days=7)
    in_year = and_(
        Statement.user_id == who.id, Statement.period_start >= lo, Statement.period_start < hi
    )
    L = EarningsLine
    # A statement's lines: its person's, in the periods its run closed.
    on_statement = and_(
        PayRun.id == Statement.payrun_id,
        L.user_id == Statement.user_id,
        L.period_start < PayRun.period_end,
        or_(PayRun.lines_from.is_(None), L.period_start >= PayRun.lines_from),
    )
    by_kind = (
        await s.execute(
            select(EarningsLine.kind, func.sum(EarningsLine.amount))
            .select_from(Statement)
            .join(PayRun, PayRun.id == Statement.payrun_id)
            .join(L, on_statement)
            .where(in_year)
            .group_by(EarningsLine.kind)
            .order_by(EarningsLine.kind)
        )
    ).all()
    by_project = (
        await s.execute(
            select(EarningsLine.project_id, Project.name, func.sum(EarningsLine.amount))
            .select_from(Statement)
            .join(PayRun, PayRun.id == Statement.payrun_id)
            .join(L, on_statement)
            .outerjoin(Project, Project.id == EarningsLine.project_id)
            .where(in_year, EarningsLine.kind != "carry_forward")
            .group_by(EarningsLine.project_id, Project.name)
            .order_by(EarningsLine.project_id)
        )
    ).all()
    payouts = (
        await s.execute(
            select(Payout, Statement.period_start)
            .join(Statement, Statement.id == Payout.statement_id)
            .where(in_year)
            .order_by(Statement.period_start)
        )
    ).all()
    kinds = {k: int(v or 0) for k, v in by_kind}
    paid = sum(p.amount for p, _ in payouts if p.status == "paid")
    return {
        "year": year,
        "currency": st.currency,
        # Carried balances move between weeks; they are not new earnings.
        "earned": sum(v for k, v in kinds.items() if k != "carry_forward"),
        "by_kind": kinds,
        "by_project": [
            {"project_id": p and str(p), "name": n, "total": int(t or 0)} for p, n, t in by_project
        ],
        "paid": paid,
        # Pay ÷ active time per project, over the lines of the year's periods.
        "wages": await my_wages(s, who, lo, hi),
        "payouts": [
            {**payout_out(p), "period_start": iso(ps), "decided_at": iso(p.decided_at)}
            for p, ps in payouts
        ],
    }


def statement_csv(st: dict[str, Any]) -> str:
    """A statement's lines, one a row, with the numbers that make each amount."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "line_id",
            "kind",
            "project_id",
            "response_id",
            "amount_minor",
            "currency",
            "formula",
            "inputs",
            "explanation",
        ]
    )
    for ln in st["lines"]:
        w.writerow(
            [
                ln["id"],
                ln["kind"],
                ln["project_id"] or "",
                ln["response_id"] or "",
                ln["amount"],
                ln["currency"],
                ln["formula"],
                json.dumps(ln["inputs"], sort_keys=True),
                ln["explanation"],
            ]
        )
    w.writerow(["total", "", "", "", st["total"], st["currency"], "", "", ""])
    return buf.getvalue()


def summary_csv(summary: dict[str, Any]) -> str:
    """The annual summary as rows: totals by kind and by project, then each payout."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    cur = summary["currency"]
    w.writerow(["section", "key", "name", "amount_minor", "currency", "status", "reference"])
    w.writerow(["total", "earned", "", summary["earned"], cur, "", ""])
    w.writerow(["total", "paid", "", summary["paid"], cur, "", ""])
    for kind, amount in summary["by_kind"].items():
        w.writerow(["kind", kind, "", amount, cur, "", ""])
    for p in summary["by_project"]:
        name = p["name"] or ""
        if name[:1] in ("=", "+", "-", "@"):
            name = "'" + name  # a spreadsheet must never run a name as a formula
        w.writerow(["project", p["project_id"] or "", name, p["total"], cur, "", ""])
    for p in summary["payouts"]:
        w.writerow(
            [
                "payout",
                p["id"],
                (p["period_start"] or "")[:10],
                p["amount"],
                p["currency"],
                p["status"],
                p["reference"] or "",
            ]
        )
    return buf.getvalue()
