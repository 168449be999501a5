"""REST routes for snapshots (frozen exports), agreement and consensus."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse

from inlier.audit import service as audit
from inlier.datasets import aggregate, snapshots
from inlier.datasets import agreement as agreement_of
from inlier.datasets.schemas import SnapshotIn, SnapshotOut
from inlier.datasets.service import prepare
from inlier.kit.auth import CurrentUser, Tx
from inlier.kit.openapi import problems
from inlier.kit.pagination import Limit, decode_cursor
from inlier.projects import service as projects

router = APIRouter(tags=["datasets"])

_FILE_CONTENT = {
    "application/x-ndjson": {"schema": {"type": "string"}},
    "text/csv": {"schema": {"type": "string"}},
    "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
    "application/x-tar": {"schema": {"type": "string", "format": "binary"}},
}


@router.post(
    "/projects/{project_id}/snapshots",
    status_code=201,
    response_model=SnapshotOut,
    responses=problems(403, 404, 409),
)
async def create_snapshot(
    project_id: str, body: SnapshotIn, who: CurrentUser, s: Tx, request: Request
) -> dict[str, Any]:
    """Freeze an export as a named, versioned file with a manifest (owners and admins).

    ``filters`` are the export's query parameters as an object, checked as the export checks
    them. The file is written before the answer; the same name again is the next version.
    """
    acc = await projects.manage(s, who, project_id)
    opts = snapshots.snapshot_options(body.kind, body.format, body.filters)
    prepare(acc.project, opts)  # a kind the template cannot fill is refused before writing
    # The checks are done: end their transaction, so no lock is held while the file is written.
    await s.commit()
    state = request.app.state
    snap = await snapshots.create(
        state.db,
        who,
        acc.project,
        body.name.strip(),
        opts,
        state.settings.data_dir,
        state.clock.now(),
        request.state.request_id,
    )
    return snapshots.out(snap)


@router.get("/snapshots/{snapshot_id}", response_model=SnapshotOut, responses=problems(404))
async def get_snapshot(snapshot_id: str, who: CurrentUser, s: Tx) -> dict[str, Any]:
    """A snapshot and its manifest (the project's owners and admins; others 404)."""
    return snapshots.out(await snapshots.visible(s, who, snapshot_id))


@router.get(
    "/snapshots/{snapshot_id}/file",
    responses={**problems(404), 200: {"content": _FILE_CONTENT}},
    response_class=FileResponse,
)
async def snapshot_file(
    snapshot_id: str, who: CurrentUser, s: Tx, request: Request
) -> FileResponse:
    """The snapshot's file as it was written; ``ETag`` and ``Repr-Digest`` carry its sha256."""
    snap = await snapshots.visible(s, who, snapshot_id)
    path = snapshots.file_of(snap, request.app.state.settings.data_dir)
    await audit.record(
        s,
        who.id,
        "snapshot.download",
        f"snapshot:{snap.id}",
        {"after": {"project_id": str(snap.project_id), "sha256": snap.sha256}},
        request.state.request_id,
        at=request.app.state.clock.now(),
    )
    digest = base64.b64encode(bytes.fromhex(snap.sha256)).decode()
    ext = path.suffix
    return FileResponse(
        path,
        media_type=snapshots.formats.MEDIA_TYPES[snap.format],
        filename=f"{snap.name}-v{snap.version}{ext}".replace("/", "_"),
        headers={"ETag": f'"sha256-{snap.sha256}"', "Repr-Digest": f"sha-256=:{digest}:"},
    )


@router.get("/projects/{project_id}/agreement", responses=problems(403, 404))
async def agreement(project_id: str, who: CurrentUser, s: Tx, request: Request) -> dict[str, Any]:
    """Krippendorff's alpha per question and each contributor's agreement with the per-item
    majority, under their per-project pseudonym (owners and admins)."""
    acc = await projects.manage(s, who, project_id)
    await s.commit()  # the answers are read in their own short transactions
    return await agreement_of.agreement(request.app.state.db, acc.project)


@router.get("/projects/{project_id}/consensus", responses=problems(400, 403, 404, 422))
async def consensus(
    project_id: str,
    who: CurrentUser,
    s: Tx,
    request: Request,
    question: str | None = Query(
        None, max_length=64, description="default: the first question that can be aggregated"
    ),
    method: str | None = Query(
        None,
        max_length=64,
        description="default by type: dawid_skene (label, multi_label, step_review), "
        "bradley_terry (pairwise), plackett_luce (ranking), mean (rating, rubric)",
    ),
    bootstrap: int = Query(100, ge=0, le=1000, description="pairwise, ranking: resamples"),
    seed: int = Query(0, ge=0, le=2**31 - 1, description="seed of the bootstrap"),
    limit: Limit = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Each item's aggregate answer to one question with its confidence, a page of items at a
    time, and every contributor's estimated accuracy under their pseudonym (owners and
    admins). The model is fitted on all attempts not rejected."""
    acc = await projects.manage(s, who, project_id)
    after = decode_cursor(cursor)
    aggregate.resolve(acc.project, question, method)  # a bad question or method: 422 first
    await s.commit()  # the answers are read in their own short transactions
    return await aggregate.consensus_of(
        request.app.state.db,
        acc.project,
        question,
        method,
        bootstrap=bootstrap,
        seed=seed,
        limit=limit,
        after=after,
    )
