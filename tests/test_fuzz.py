"""Fuzz every operation with schemathesis, generated from our own OpenAPI document: whatever a
client sends, the answer is never a 5xx and always matches what the document promises.

Each generated request is sent as an admin and as a contributor, once as generated (its ids
are random strings, so mostly 404) and, for operations with ids in their path, once more with
ids that exist, so the fuzzer reaches the code behind the lookups.

Checks: all of schemathesis's defaults (not_a_server_error, status codes, content types,
response headers and schemas, Allow on 405, schema-invalid data rejected, ...) except
``positive_data_acceptance``. That one expects every schema-valid request to be accepted, and
our contract rejects some schema-valid requests on purpose, in ways JSON Schema cannot express:
a cursor the server did not issue (400), NUL characters and unpaired surrogates anywhere,
including object keys (422), a template or answer that breaks its question type's rules (422).

The database is a SQLite file in a temporary directory, prepared when this module is imported
(schemathesis.openapi.from_asgi needs the app at import time; from_fixture breaks on pytest 9).
"""

from __future__ import annotations

import asyncio
import atexit
import json
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from sqlalchemy import select

from conftest import PAIRWISE_TEMPLATE, make_settings, pairwise_item
from inlier.accounts import service as accounts
from inlier.app import create_app
from inlier.db.migrate import upgrade
from inlier.forum import service as forum
from inlier.forum.models import Post
from inlier.forum.schemas import ThreadIn
from inlier.projects import service as projects
from inlier.projects.schemas import ProjectIn
from inlier.workflow import service as workflow

DB_DIR = Path(tempfile.mkdtemp(prefix="inlier-fuzz-"))
atexit.register(shutil.rmtree, DB_DIR, ignore_errors=True)
DB_URL = f"sqlite:///{DB_DIR / 'fuzz.db'}"
upgrade(DB_URL)
app = create_app(make_settings(DB_URL, data_dir=DB_DIR / "data"))


async def _prepare() -> dict[str, str]:
    """An admin, a contributor holding a lease, a project with items and a forum thread:
    ids that exist."""
    now = app.state.clock.now()
    people = {}
    async with app.state.db.session() as s:
        for name, roles in (
            ("admin", ["admin"]),
            ("worker", ["contributor"]),
            ("victim", ["contributor"]),
        ):
            people[name] = await accounts.create_user(
                s,
                email=f"{name}@example.org",
                name=name.title(),
                password=f"{name}-password",
                roles=roles,
                profile={},
                now=now,
                passwords=app.state.passwords,
            )
        admin = accounts.principal_of(people["admin"])
        project = await projects.create_project(
            s, admin, ProjectIn(name="Fuzzed", template=PAIRWISE_TEMPLATE), now
        )
        acc = await projects.access(s, admin, project.id)
        await projects.import_items(s, acc, [pairwise_item(n) for n in range(50)], now)
        await projects.add_member(s, acc, str(people["worker"].id), "contributor", now)
        worker = accounts.principal_of(people["worker"])
        lease, _, _ = await workflow.next_assignment(s, worker, str(project.id), now, False)
        assert lease is not None
        fa = forum.ForumAccess(await forum.project_forum(s, project, now), True, None)
        thread = await forum.create_thread(
            s, fa, worker.id, ThreadIn(title="Q", body="Why $x$?"), now - timedelta(minutes=5)
        )
        post_id = await s.scalar(select(Post.id).where(Post.thread_id == thread.id))
        return {
            "admin_token": await accounts.issue_token(s, people["admin"], now=now),
            "worker_token": await accounts.issue_token(s, people["worker"], now=now),
            "victim_token": await accounts.issue_token(s, people["victim"], now=now),
            "victim_id": str(people["victim"].id),
            "project_id": str(project.id),
            "user_id": str(worker.id),
            "assignment_id": str(lease.id),
            "forum_id": str(fa.forum.id),
            "thread_id": str(thread.id),
            "post_id": str(post_id),
        }


REAL = asyncio.run(_prepare())
asyncio.run(app.state.db.dispose())  # the engine reconnects in the test client's own loop


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: Any, value: Any) -> bytes:
    """The document gives NDJSON bodies as a string; send lists as one JSON value a line."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    rows = value if isinstance(value, list) else [value]
    return "\n".join(json.dumps(row) for row in rows).encode("utf-8", "surrogatepass")


schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
# We send our own tokens, so the fuzzer must not generate (or leave out) Authorization itself;
# and unknown query parameters are ignored, as the contract allows (only unknown *body* fields
# are 422), so they are not generated as "negative" data.
schema.config.generation.update(with_security_parameters=False, allow_extra_parameters=False)
EXCLUDED = [schemathesis.checks.positive_data_acceptance]
ERASING = {("DELETE", "/api/v1/me"), ("POST", "/api/v1/users/{user_id}/erase")}


@schema.parametrize()
@settings(
    max_examples=15,
    derandomize=True,  # the same examples on every run
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_gets_a_server_error_or_an_undocumented_answer(case: Any) -> None:
    # Erasure ends a person's sessions: it is fuzzed on someone the other operations never use.
    erasing = (case.method.upper(), case.operation.path) in ERASING
    real = {**REAL, "user_id": REAL["victim_id"]} if erasing else REAL
    tokens = ("admin_token", "victim_token" if erasing else "worker_token")
    variants = [dict(case.path_parameters or {})]
    if case.path_parameters:
        variants.append({name: real[name] for name in case.path_parameters if name in real})
    for path_parameters in variants:
        case.path_parameters.update(path_parameters)
        for token in tokens:
            response = case.call_and_validate(
                headers={"Authorization": f"Bearer {REAL[token]}"}, excluded_checks=EXCLUDED
            )
            assert response.status_code < 500, response.text
