"""The rules for projects: who sees and works them, their settings, their items and counts."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, func, insert, literal, literal_column, select, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from inlier.accounts import service as accounts
from inlier.accounts.service import Principal
from inlier.db.engine import core_connection
from inlier.forum import service as forum
from inlier.kit.clock import iso
from inlier.kit.errors import Conflict, Forbidden, InvalidInput, NotFound
from inlier.kit.ids import parse_id
from inlier.projects.models import Item, Membership, Project
from inlier.projects.schemas import ItemIn, ProjectIn, ProjectPatch
from inlier.quality.models import Standing
from inlier.quality.scoring import PAUSED, REVIEWER
from inlier.questions import Template, parse_template
from inlier.questions.base import pydantic_problems

MANAGER_ROLES = ("owner",)
REVIEW_ROLES = ("reviewer", "owner")


@dataclass
class Access:
    project: Project
    role: str | None  # membership role, if any
    # The person's standing on the project (ok | warning | paused | reviewer), if scored.
    standing: str | None = None
    # True when the access query saw no live lease of theirs on the project (`next` then
    # skips looking for one; leases are only ever ended between the two).
    lease_free: bool = False

    @property
    def template(self) -> Template:
        return template_of(self.project)


_template_cache: dict[tuple[int, datetime], Template] = {}


def template_of(project: Project) -> Template:
    """Parsed templates are cached per project version: any change bumps ``updated_at``."""
    return template_for(project.id, project.updated_at, project.template)


def template_for(project_id: int, updated_at: datetime, template: dict[str, Any]) -> Template:
    """``template_of`` for a project read as columns: its id, ``updated_at`` and template."""
    key = (project_id, updated_at)
    cached = _template_cache.get(key)
    if cached is None:
        cached = parse_template(template, ["template"])
        if len(_template_cache) > 1000:
            _template_cache.clear()
        _template_cache[key] = cached
    return cached


def project_out(project: Project, role: str | None = None) -> dict[str, Any]:
    return {
        "id": str(project.id),
        "name": project.name,
        "guidelines": project.guidelines,
        "guidelines_version": project.guidelines_version,
        "template": project.template,
        "workflow": project.workflow,
        "requirements": project.requirements,
        "models": project.models,
        "quality": project.quality,
        "export": project.export,
        "lease_minutes": project.lease_minutes,
        "status": project.status,
        "visibility": project.visibility,
        "created_at": iso(project.created_at),
        "updated_at": iso(project.updated_at),
        "closes_at": iso(project.closes_at),
        "my_role": role,
    }


def audit_view(project: Project) -> dict[str, Any]:
    """A project's settings as the audit log records them: long texts as digests."""
    from inlier.audit.service import digest

    return {
        "name": project.name,
        "guidelines": digest(project.guidelines),
        "template": digest(json.dumps(project.template, sort_keys=True)),
        "workflow": project.workflow,
        "requirements": project.requirements,
        "models": project.models,
        "quality": project.quality,
        "export": project.export,
        "lease_minutes": project.lease_minutes,
        "status": project.status,
        "visibility": project.visibility,
        "closes_at": iso(project.closes_at),
    }


def _closing(value: datetime | None, now: datetime) -> datetime | None:
    """A closing time as stored (naive UTC); it must lie ahead."""
    if value is None:
        return None
    at = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if at <= now:
        raise InvalidInput(
            "closes_at: must be in the future",
            errors=[{"loc": ["body", "closes_at"], "msg": "must be in the future"}],
        )
    return at


def is_closed(project: Project, now: datetime | None) -> bool:
    return now is not None and project.closes_at is not None and project.closes_at <= now


def _open_at(now: datetime | None) -> Any:
    return (
        literal(True) if now is None else (Project.closes_at.is_(None)) | (Project.closes_at > now)
    )


async def _notify_closing(s: AsyncSession, project: Project, now: datetime) -> None:
    """Everyone who works the project hears when it stops taking work, ahead of time: its
    contributors and reviewers, and whoever submitted work in the last 30 days."""
    from inlier.notify import service as notify
    from inlier.workflow.models import Response

    assert project.closes_at is not None
    when = project.closes_at.strftime("%Y-%m-%d %H:%M UTC")
    people = union(
        select(Membership.user_id).where(
            Membership.project_id == project.id, Membership.role != "owner"
        ),
        select(Response.user_id).where(
            Response.project_id == project.id, Response.created_at >= now - timedelta(days=30)
        ),
    ).subquery()
    rows = select(
        people.c.user_id,
        literal(f"{project.name} stops taking work on {when}").label("title"),
        literal(
            f"The project {project.name!r} stops taking new work on {when}. Work you hold then "
            "can still be submitted until its lease ends."
        ).label("body"),
        literal("/").label("link"),
    )
    await notify.send_each(s, rows, "project.closing", now)


async def create_project(
    s: AsyncSession, who: Principal, body: ProjectIn, now: datetime
) -> Project:
    template = parse_template(body.template, ["body", "template"])
    project = Project(
        name=body.name,
        guidelines=body.guidelines,
        template=template.dump(),
        workflow=body.workflow.model_dump(exclude_none=True),
        requirements=body.requirements.model_dump(),
        models={k: v.model_dump(exclude_none=True) for k, v in body.models.items()},
        quality=body.quality.model_dump(exclude_none=True),
        export=body.export.model_dump(exclude_none=True),
        lease_minutes=body.lease_minutes,
        status=body.status,
        visibility=body.visibility,
        closes_at=_closing(body.closes_at, now),
        pseudonym_salt=secrets.token_hex(16),
        created_by=who.id,
        created_at=now,
        updated_at=now,
    )
    _check_references(project, template)
    s.add(project)
    await s.flush()
    s.add(Membership(project_id=project.id, user_id=who.id, role="owner", created_at=now))
    await s.flush()
    return project


#: Question types whose per-item agreement dynamic overlap can read (a majority share).
DYNAMIC_TYPES = ("label", "multi_label", "pairwise")


def _check_references(project: Project, template: Template) -> None:
    dynamic = (project.workflow or {}).get("dynamic_overlap")
    if dynamic:
        q = template.questions.get(dynamic["question"])
        if q is None or q.type not in DYNAMIC_TYPES:
            msg = f"a {', '.join(DYNAMIC_TYPES)} question of the template"
            raise InvalidInput(
                f"workflow.dynamic_overlap.question: {msg}",
                errors=[{"loc": ["body", "workflow", "dynamic_overlap", "question"], "msg": msg}],
            )
    for i, f in enumerate(template.spec.fields):
        if f.generated is not None and f.generated.model not in project.models:
            raise InvalidInput(
                f"template.fields.{i}.generated.model: no model named {f.generated.model!r}",
                errors=[
                    {
                        "loc": ["body", "template", "fields", i, "generated", "model"],
                        "msg": f"no model named {f.generated.model!r} in the project's models",
                    }
                ],
            )


_project_columns = tuple(Project.__table__.c)
# Every `next` runs it: built once (building a statement costs more than running it). Core:
# reading the row and making the Project from it costs a fraction of the ORM's load of it.
_access_row_statement: Any = None


def _access_row_query() -> Any:
    """The project's row, the person's membership role and standing on it, and whether they
    hold a live lease there.

    Built on first use, from the queue's table.
    """
    global _access_row_statement
    if _access_row_statement is None:
        # Imported here: the queue's models import this area's.
        from inlier.workflow.models import Assignment

        leases = Assignment.__table__.c
        held = (
            select(func.max(leases.id))
            .where(
                leases.user_id == bindparam("p_user"),
                leases.project_id == bindparam("p_project"),
                leases.state == literal_column("'active'"),
            )
            .scalar_subquery()
        )
        _access_row_statement = (
            select(
                *_project_columns,
                Membership.role.label("p_role"),
                Standing.state.label("p_standing"),
                held.label("p_held"),
            )
            .select_from(Project)
            .outerjoin(
                Membership,
                (Membership.project_id == Project.id) & (Membership.user_id == bindparam("p_user")),
            )
            .outerjoin(
                Standing,
                (Standing.project_id == Project.id) & (Standing.user_id == bindparam("p_user")),
            )
            .where(Project.id == bindparam("p_project"))
        )
    return _access_row_statement


async def _access_row(s: AsyncSession, params: dict[str, Any]) -> Any:
    """``(project, role, standing, lease_free)``, the project part of the session as if
    loaded."""
    row = (await (await core_connection(s)).execute(_access_row_query(), params)).first()
    if row is None:
        return None
    values = row._mapping
    # A project the session holds already is the one it gets, as an ORM query would give it.
    project = s.sync_session.identity_map.get(identity_key(Project, params["p_project"]))
    if project is None:
        project = Project(**{c.key: values[c.name] for c in _project_columns})
        make_transient_to_detached(project)
        s.add(project)
    return project, values["p_role"], values["p_standing"], values["p_held"] is None


async def access(s: AsyncSession, who: Principal, project_id: str | int) -> Access:
    """The project if ``who`` may see it; otherwise it does not exist for them (404)."""
    params = {"p_user": who.id, "p_project": parse_id(project_id, "project")}
    row = await _access_row(s, params)
    if row is None:
        raise NotFound("project not found")
    project, role, standing, lease_free = row
    if who.is_admin or role is not None:
        return Access(project, role, standing, lease_free)
    if (
        project.visibility == "open"
        and who.status == "approved"
        and project.status != "draft"
        and meets_requirements(project, who, await accounts.skills_of(s, who.id)) is None
    ):
        return Access(project, None, standing, lease_free)
    raise NotFound("project not found")


async def manage(s: AsyncSession, who: Principal, project_id: str | int) -> Access:
    """Owners of the project and admins manage it; others who can see it get 403."""
    acc = await access(s, who, project_id)
    if not (who.is_admin or acc.role in MANAGER_ROLES):
        raise Forbidden("only the project's owners and admins may do this")
    return acc


def meets_requirements(project: Project, who: Principal, skills: dict[str, int]) -> str | None:
    """``None`` when ``who`` meets the project's requirements, else the reason."""
    return meets(project.requirements, who, skills)


def meets(
    requirements: dict[str, Any] | None, who: Principal, skills: dict[str, int]
) -> str | None:
    req = requirements or {}
    for skill, level in (req.get("skills") or {}).items():
        if skills.get(skill, 0) < level:
            return "assessment_required"
    languages = req.get("languages")
    if languages and not set(languages) & set(who.profile.get("languages") or []):
        return "no_eligible_project"
    countries = req.get("countries")
    if countries and who.profile.get("country") not in countries:
        return "no_eligible_project"
    return None


async def work_reason(
    s: AsyncSession, who: Principal, acc: Access, now: datetime | None = None
) -> str | None:
    """``None`` when ``who`` may take attempts on the project now, else why not."""
    if who.status != "approved":
        return "not_approved"
    if acc.project.status != "active" or is_closed(acc.project, now):
        return "queue_empty"
    if acc.role is None and not (acc.project.visibility == "open" and who.has("contributor")):
        return "no_eligible_project"
    if acc.role in MANAGER_ROLES:
        return None
    if acc.standing == PAUSED:
        return "paused"
    needs_skills = bool((acc.project.requirements or {}).get("skills"))
    skills = await accounts.skills_of(s, who.id) if needs_skills else {}
    return meets_requirements(acc.project, who, skills)


def may_review(who: Principal, acc: Access) -> bool:
    """Reviewers by membership, and contributors whose quality promoted them."""
    return acc.role in REVIEW_ROLES or acc.standing == REVIEWER


@dataclass(frozen=True)
class Candidate:
    """A project someone may work, as routing needs it: no template, guidelines or models."""

    id: int
    role: str | None
    standing: str | None


async def workable_candidates(
    s: AsyncSession, who: Principal, now: datetime | None = None
) -> list[Candidate]:
    """``workable_projects`` reading only what eligibility needs (routing runs it on every
    `next` without a project; loading 50 whole projects would cost more than the rest)."""
    if who.status != "approved":
        return []
    rows = (
        await s.execute(
            select(
                Project.id, Project.requirements, Membership.role, Standing.state.label("standing")
            )
            .outerjoin(
                Membership,
                (Membership.project_id == Project.id) & (Membership.user_id == who.id),
            )
            .outerjoin(Standing, (Standing.project_id == Project.id) & (Standing.user_id == who.id))
            .where(
                Project.status == "active",
                _open_at(now),
                (Membership.id.is_not(None)) | (Project.visibility == "open"),
            )
            .order_by(Membership.id.is_(None), Project.id)
        )
    ).all()
    needs_skills = any((r.requirements or {}).get("skills") for r in rows)
    skills = await accounts.skills_of(s, who.id) if needs_skills else {}
    out: list[Candidate] = []
    for r in rows:
        if r.role is None and not who.has("contributor"):
            continue
        ok = r.standing != PAUSED and meets(r.requirements, who, skills) is None
        if r.role in MANAGER_ROLES or ok:
            out.append(Candidate(r.id, r.role, r.standing))
    return out


async def workable_projects(
    s: AsyncSession, who: Principal, now: datetime | None = None
) -> list[Access]:
    """Active projects ``who`` may work (not paused there), members' projects first: the
    ``workable_candidates``, loaded whole."""
    found = await workable_candidates(s, who, now)
    if not found:
        return []
    rows = await s.execute(select(Project).where(Project.id.in_([c.id for c in found])))
    loaded = {p.id: p for p in rows.scalars()}
    return [Access(loaded[c.id], c.role, c.standing) for c in found if c.id in loaded]


async def candidate_projects(s: AsyncSession, who: Principal) -> list[Access]:
    """The projects someone belongs to, and every open project that is not a draft, whatever
    its requirements: what a "why can't I work this" overview walks (it decides what to show)."""
    rows = (
        await s.execute(
            select(Project, Membership.role, Standing.state)
            .outerjoin(
                Membership,
                (Membership.project_id == Project.id) & (Membership.user_id == who.id),
            )
            .outerjoin(Standing, (Standing.project_id == Project.id) & (Standing.user_id == who.id))
            .where(
                (Membership.id.is_not(None))
                | ((Project.visibility == "open") & (Project.status != "draft"))
            )
            .order_by(Membership.id.is_(None), Project.id)
        )
    ).all()
    return [Access(project, role, standing) for project, role, standing in rows]


async def list_projects(
    s: AsyncSession, who: Principal, limit: int, after: int | None
) -> list[dict[str, Any]]:
    q = (
        select(Project, Membership.role)
        .outerjoin(
            Membership, (Membership.project_id == Project.id) & (Membership.user_id == who.id)
        )
        .order_by(Project.id)
    )
    if after is not None:
        q = q.where(Project.id > after)
    if not who.is_admin:
        q = q.where(
            (Membership.id.is_not(None))
            | ((Project.visibility == "open") & (Project.status != "draft"))
        )
    out: list[dict[str, Any]] = []
    skills = await accounts.skills_of(s, who.id)
    # Open projects are filtered by requirements here, so read in chunks until a page is full.
    while len(out) <= limit:
        rows = (await s.execute(q.limit(limit + 1))).all()
        for project, role in rows:
            visible = (
                role is not None
                or who.is_admin
                or (who.status == "approved" and meets_requirements(project, who, skills) is None)
            )
            if visible:
                out.append(project_out(project, role))
        if len(rows) <= limit:
            break
        q = q.where(Project.id > rows[-1][0].id)
    return out[: limit + 1]


async def patch_project(s: AsyncSession, acc: Access, body: ProjectPatch, now: datetime) -> Project:
    project = acc.project
    changes = body.model_dump(exclude_unset=True)
    has_items = await s.scalar(select(Item.id).where(Item.project_id == project.id).limit(1))
    if "template" in changes and changes["template"] is not None:
        template = parse_template(changes["template"], ["body", "template"])
        if has_items and template.dump() != project.template:
            raise Conflict("the template cannot change once items are imported")
        project.template = template.dump()
    if body.workflow is not None:
        new = body.workflow.model_dump(exclude_none=True)
        if has_items and new["overlap"] != (project.workflow or {}).get("overlap", 1):
            raise Conflict("overlap cannot change once items are imported")
        project.workflow = new
    if changes.get("guidelines") is not None and changes["guidelines"] != project.guidelines:
        # A new version: responses record the one they were made under.
        project.guidelines_version = (project.guidelines_version or 1) + 1
        # The change and its diff go to the forum.
        await forum.on_guidelines_changed(
            s, project, project.guidelines, changes["guidelines"], None, now
        )
    for key in ("name", "guidelines", "lease_minutes", "status", "visibility"):
        if key in changes and changes[key] is not None:
            setattr(project, key, changes[key])
    if body.requirements is not None:
        project.requirements = body.requirements.model_dump()
    if body.models is not None:
        project.models = {k: v.model_dump(exclude_none=True) for k, v in body.models.items()}
    if body.quality is not None:
        project.quality = body.quality.model_dump(exclude_none=True)
    if body.export is not None:
        project.export = body.export.model_dump(exclude_none=True)
    if "closes_at" in changes:
        closes_at = _closing(body.closes_at, now)
        if closes_at is not None and closes_at != project.closes_at:
            project.closes_at = closes_at
            await _notify_closing(s, project, now)
        project.closes_at = closes_at
    project.updated_at = now  # before template_of: it keys its cache on this
    _check_references(project, template_of(project))
    await s.flush()
    return project


async def add_member(
    s: AsyncSession, acc: Access, user_id: str, role: str, now: datetime
) -> Membership:
    try:
        user = await accounts.get_user(s, user_id)
    except NotFound as exc:
        raise InvalidInput(
            "user_id: no such user", errors=[{"loc": ["body", "user_id"], "msg": "no such user"}]
        ) from exc
    existing = (
        await s.execute(
            select(Membership).where(
                Membership.project_id == acc.project.id, Membership.user_id == user.id
            )
        )
    ).scalar_one_or_none()
    if existing is not None:
        existing.role = role
        await s.flush()
        return existing
    member = Membership(project_id=acc.project.id, user_id=user.id, role=role, created_at=now)
    s.add(member)
    await s.flush()
    return member


async def list_members(
    s: AsyncSession, project_id: int, limit: int, after: int | None
) -> list[dict[str, Any]]:
    q = (
        select(Membership)
        .where(Membership.project_id == project_id)
        .order_by(Membership.id)
        .limit(limit + 1)
    )
    if after is not None:
        q = q.where(Membership.id > after)
    return [
        {"id": str(m.id), "user_id": str(m.user_id), "role": m.role, "since": iso(m.created_at)}
        for m in (await s.execute(q)).scalars()
    ]


# ---- items ---------------------------------------------------------------------------------


class ItemChecker:
    """Validates import rows one by one, naming the 1-based row of the first problem."""

    def __init__(self, template: Template) -> None:
        self.template = template

    def check(self, row_no: int, raw: Any) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise self._fail(row_no, [], "must be an object with data (and optionally gold)")
        try:
            item = ItemIn.model_validate(raw)
        except ValidationError as exc:
            problems = pydantic_problems(exc, [])
            raise self._fail(row_no, problems[0]["loc"], problems[0]["msg"]) from exc
        problems = self.template.check_data(item.data, ["data"])
        if not problems and item.gold is not None:
            problems = self.template.check_answer(item.gold, item.data, ["gold"], partial=True)
        if problems:
            raise self._fail(row_no, problems[0]["loc"], problems[0]["msg"])
        return item.model_dump()

    @staticmethod
    def _fail(row_no: int, loc: list[Any], msg: str) -> InvalidInput:
        where = ".".join(str(p) for p in loc)
        detail = f"row {row_no}: {where + ': ' if where else ''}{msg}"
        return InvalidInput(detail, errors=[{"loc": ["body", row_no - 1, *loc], "msg": msg}])


def check_rows(template: Template, rows: Iterable[Any]) -> Iterator[dict[str, Any]]:
    checker = ItemChecker(template)
    for n, raw in enumerate(rows, start=1):
        yield checker.check(n, raw)


_COPY_COLUMNS = (
    "project_id",
    "external_id",
    "data",
    "gold",
    "priority",
    "import_batch",
    "created_at",
)


def _is_pg_integrity_error(exc: Exception) -> bool:
    """asyncpg's own error for a violated constraint (COPY runs below SQLAlchemy)."""
    import asyncpg

    return isinstance(exc, asyncpg.exceptions.IntegrityConstraintViolationError)


class ItemWriter:
    """Inserts checked rows in chunks and opens each chunk's slots set-wise as it goes.

    Each chunk runs in a savepoint, so a duplicate ``external_id`` is reported with its row
    number instead of failing the whole transaction blindly; each chunk has its own batch tag,
    so opening its slots reads just that chunk (no sort of the whole import).
    """

    def __init__(self, s: AsyncSession, project: Project, now: datetime, batch: int = 2000):
        self.s = s
        self.project = project
        self.now = now
        self.batch_size = batch
        self.batch_id = secrets.token_hex(8)
        self.pending: list[dict[str, Any]] = []
        self.count = 0
        self.chunks = 0
        self.overlap = int((project.workflow or {}).get("overlap", 1))

    async def add(self, row: dict[str, Any]) -> None:
        self.pending.append(
            {
                "project_id": self.project.id,
                "external_id": row.get("external_id"),
                "data": row["data"],
                "gold": row.get("gold"),
                "priority": row.get("priority", 0),
                "import_batch": f"{self.batch_id}-{self.chunks:08d}",
                "created_at": self.now,
            }
        )
        if len(self.pending) >= self.batch_size:
            await self.flush()

    async def flush(self) -> None:
        from inlier.workflow.service import open_attempt_slots

        if not self.pending:
            return
        pg = self.s.get_bind().dialect.name == "postgresql"
        try:
            async with self.s.begin_nested():
                # Asked inside the savepoint: the session emits SAVEPOINT on this request.
                conn = await self.s.connection()
                if pg:
                    await self._copy(conn)
                else:
                    await conn.execute(insert(Item.metadata.tables["items"]), self.pending)
        except IntegrityError as exc:
            raise await self._duplicate(exc) from exc
        except Exception as exc:
            if not (pg and _is_pg_integrity_error(exc)):
                raise
            raise await self._duplicate(exc) from exc
        tag = self.pending[0]["import_batch"]
        await open_attempt_slots(self.s, self.project.id, tag, self.overlap)
        self.count += len(self.pending)
        self.chunks += 1
        self.pending = []

    async def _copy(self, conn: AsyncConnection) -> None:
        """PostgreSQL: the chunk goes in with COPY, several times cheaper than INSERTs."""
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        dumps = json.dumps  # what SQLAlchemy's JSON type uses; JSONB normalizes it anyway
        records = [
            (
                r["project_id"],
                r["external_id"],
                dumps(r["data"]),
                None if r["gold"] is None else dumps(r["gold"]),
                r["priority"],
                r["import_batch"],
                r["created_at"],
            )
            for r in self.pending
        ]
        await raw.copy_records_to_table("items", records=records, columns=_COPY_COLUMNS)

    async def _duplicate(self, exc: Exception) -> Conflict:
        seen: dict[str, int] = {}
        for offset, row in enumerate(self.pending):
            ext = row["external_id"]
            n = self.count + offset + 1
            if ext is None:
                continue
            if ext in seen:
                return Conflict(f"row {n}: external_id {ext!r} repeats row {seen[ext]}")
            seen[ext] = n
            taken = await self.s.scalar(
                select(Item.id).where(Item.project_id == self.project.id, Item.external_id == ext)
            )
            if taken is not None:
                return Conflict(f"row {n}: external_id {ext!r} already exists")
        reason = exc.orig if isinstance(exc, IntegrityError) else exc
        return Conflict(f"rows {self.count + 1}..{self.count + len(self.pending)}: {reason}")

    async def finish(self) -> int:
        await self.flush()
        return self.count


async def import_items(s: AsyncSession, acc: Access, rows: list[Any], now: datetime) -> int:
    """Validate the whole batch, then insert it; a bad row rejects everything."""
    checked = list(check_rows(acc.template, rows))
    writer = ItemWriter(s, acc.project, now)
    for row in checked:
        await writer.add(row)
    return await writer.finish()


async def list_items(
    s: AsyncSession, project_id: int, limit: int, after: int | None
) -> list[dict[str, Any]]:
    q = select(Item).where(Item.project_id == project_id).order_by(Item.id).limit(limit + 1)
    if after is not None:
        q = q.where(Item.id > after)
    return [
        {
            "id": str(i.id),
            "external_id": i.external_id,
            "data": i.data,
            "gold": i.gold,
            "priority": i.priority,
            "created_at": iso(i.created_at),
        }
        for i in (await s.execute(q)).scalars()
    ]


async def count_items(s: AsyncSession, project_id: int) -> int:
    return int(await s.scalar(select(func.count()).where(Item.project_id == project_id)) or 0)


async def import_file(
    db: Any,
    acc: Access,
    path: Any,
    fmt: str,
    now: datetime,
    on_progress: Any = None,
) -> int:
    """One streaming pass over a file, checking and writing each row in one transaction.

    Memory stays flat whatever the file's size. A bad row or a duplicate ``external_id``
    stops the import and rolls the transaction back, so nothing of the file is kept.
    ``on_progress(units)`` is called once a chunk, with the units (bytes or rows) read.
    """
    from inlier.projects.files import read_rows

    consumed = 0

    def count(units: int) -> None:
        nonlocal consumed
        consumed += units

    async with db.session() as s:
        project = await s.get(Project, acc.project.id)
        assert project is not None
        writer = ItemWriter(s, project, now)
        checker = ItemChecker(acc.template)
        for n, raw in enumerate(read_rows(path, fmt, acc.template, count), start=1):
            await writer.add(checker.check(n, raw))
            if consumed and n % writer.batch_size == 0 and on_progress is not None:
                on_progress(consumed)
                consumed = 0
        created = await writer.finish()
    if on_progress is not None and consumed:
        on_progress(consumed)
    return created


async def managed_projects(s: AsyncSession, who: Principal) -> list[Access]:
    """The projects ``who`` manages: every project for admins, else those they own."""
    q = select(Project, Membership.role).outerjoin(
        Membership, (Membership.project_id == Project.id) & (Membership.user_id == who.id)
    )
    if not who.is_admin:
        q = q.where(Membership.role.in_(MANAGER_ROLES))
    rows = (await s.execute(q.order_by(Project.id.desc()))).all()
    return [Access(project, role) for project, role in rows]
