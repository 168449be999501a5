"""Snapshots: an export written once, streamed, to a file under the data directory, with a
manifest (rows, bytes, sha256, filters, who and when) so a training run can cite exactly what
it used. A snapshot never changes: later work goes into later versions."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from inlier.accounts.service import Principal
from inlier.audit import service as audit
from inlier.datasets import formats
from inlier.datasets.models import Snapshot
from inlier.datasets.options import ExportOptions, parse_options
from inlier.datasets.service import prepare
from inlier.db.engine import Database
from inlier.kit.clock import iso
from inlier.kit.errors import Conflict, InvalidInput, NotFound
from inlier.kit.ids import parse_id, sid
from inlier.projects import service as projects
from inlier.projects.models import Project

#: Filters are the export's query parameters; these two are the snapshot's own fields.
TOP_LEVEL = ("kind", "format")


def snapshot_options(kind: str, format: str, filters: Mapping[str, Any]) -> ExportOptions:
    """``parse_options`` on the body: errors name ``kind``/``format`` or ``filters.<name>``."""
    params: dict[str, str | None] = {"kind": kind, "format": format}
    errors: list[dict[str, Any]] = []
    for name, value in filters.items():
        if name in TOP_LEVEL:
            msg = f"give {name} beside filters, not inside"
            errors.append({"loc": ["body", "filters", name], "msg": msg})
        elif isinstance(value, bool):
            params[name] = "true" if value else "false"
        elif value is not None:
            params[name] = str(value)
    try:
        opts = parse_options(params, "filters")
    except InvalidInput as exc:
        for e in exc.errors or []:
            name = e["loc"][1]
            loc = ["body", name] if name in TOP_LEVEL else ["body", "filters", name]
            errors.append({"loc": loc, "msg": e["msg"]})
    if errors:
        names = ", ".join(dict.fromkeys(".".join(map(str, e["loc"][1:])) for e in errors))
        raise InvalidInput(f"{names}: {errors[0]['msg']}", errors=errors)
    return opts


def manifest_filters(opts: ExportOptions) -> dict[str, Any]:
    out = opts.filters()
    if opts.kind != "raw":
        out["form"] = opts.form
    return out


async def write_file(
    db: Database,
    project: Project,
    opts: ExportOptions,
    target: Path,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, int, str]:
    """Stream the export into ``target`` (created exclusively); rows, bytes and sha256."""
    job = prepare(project, opts)
    job.progress = progress
    digest = hashlib.sha256()
    size = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with target.open("xb") as fh:
            async for chunk in job.stream(db):
                fh.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    target.chmod(0o444)  # immutable, as far as the file system can say
    return job.tally.rows, size, digest.hexdigest()


async def create(
    db: Database,
    who: Principal,
    project: Project,
    name: str,
    opts: ExportOptions,
    data_dir: Path,
    now: datetime,
    request_id: str | None,
    progress: Callable[[int], None] | None = None,
) -> Snapshot:
    """Write the file, then add the row and its audit entry in one short transaction.

    The caller has checked who may and what was asked, and holds no transaction: rows are
    read in their own short transactions, as an export's are, and nothing is locked while
    the file is written. If anything fails, the file goes and no row is left.
    """
    folder = data_dir / "snapshots" / str(project.id)
    ext = formats.EXTENSIONS[opts.format]
    token = secrets.token_hex(8)
    partial = folder / f".{token}.part"
    rows, size, sha = await write_file(db, project, opts, partial, progress)
    final: Path | None = None
    try:
        async with db.session() as s:
            latest = await s.scalar(
                select(func.max(Snapshot.version)).where(
                    Snapshot.project_id == project.id, Snapshot.name == name
                )
            )
            snap = Snapshot(
                project_id=project.id,
                name=name,
                version=(latest or 0) + 1,
                kind=opts.kind,
                format=opts.format,
                form=opts.form,
                filters=manifest_filters(opts),
                rows=rows,
                bytes=size,
                sha256=sha,
                path="",
                created_by=who.id,
                created_at=now,
            )
            s.add(snap)
            try:
                await s.flush()
            except IntegrityError as exc:
                raise Conflict(f"snapshot {name!r} was just made by someone else; retry") from exc
            final = folder / f"{snap.id}-v{snap.version}-{token}.{ext}"
            partial.rename(final)
            snap.path = final.relative_to(data_dir).as_posix()
            target = f"snapshot:{snap.id}"
            await audit.record(
                s,
                who.id,
                "snapshot.create",
                target,
                {"after": audit_view(snap)},
                request_id,
                at=now,
            )
    except BaseException:
        partial.unlink(missing_ok=True)
        if final is not None:
            final.unlink(missing_ok=True)
        raise
    return snap


async def visible(s: AsyncSession, who: Principal, snapshot_id: str) -> Snapshot:
    """The snapshot if ``who`` manages its project (owners and admins); else it is not found."""
    snap = await s.get(Snapshot, parse_id(snapshot_id, "snapshot"))
    if snap is None:
        raise NotFound("snapshot not found")
    try:
        acc = await projects.access(s, who, snap.project_id)
    except NotFound:
        raise NotFound("snapshot not found") from None
    if not (who.is_admin or acc.role in projects.MANAGER_ROLES):
        raise NotFound("snapshot not found")
    return snap


def file_of(snap: Snapshot, data_dir: Path) -> Path:
    path = data_dir / snap.path
    if not path.is_file():
        raise NotFound("the snapshot's file is missing from the data directory")
    return path


def out(snap: Snapshot) -> dict[str, Any]:
    return {
        "id": str(snap.id),
        "project_id": str(snap.project_id),
        "name": snap.name,
        "version": snap.version,
        "kind": snap.kind,
        "format": snap.format,
        "manifest": {
            "rows": snap.rows,
            "bytes": snap.bytes,
            "sha256": snap.sha256,
            "filters": snap.filters,
            "created_by": sid(snap.created_by),
            "created_at": iso(snap.created_at),
        },
    }


def audit_view(snap: Snapshot) -> dict[str, Any]:
    body = out(snap)
    return {k: body[k] for k in ("project_id", "name", "version", "kind", "format")} | {
        "rows": snap.rows,
        "sha256": snap.sha256,
        "filters": snap.filters,
    }
