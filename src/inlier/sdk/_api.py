"""Every endpoint of the REST API v1, written once for ``Client`` and ``AsyncClient``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import httpx

from inlier import __version__
from inlier.sdk._errors import InlierError
from inlier.sdk._flows import (
    JSON,
    Call,
    Feed,
    Flow,
    iterator,
    json_body,
    operation,
    pages,
    request,
    segment,
)

NDJSON = "application/x-ndjson"
#: A chunked import sends a batch once it holds this many bytes, well below the 16 MiB limit.
MAX_BATCH_BYTES = 8 * 1024 * 1024


def api_root(base_url: str) -> str:
    """``http://host:8000`` or ``http://host:8000/api/v1`` → the latter, with a trailing slash."""
    root = base_url.rstrip("/")
    if not root.endswith("/api/v1"):
        root += "/api/v1"
    return root + "/"


def _drop_none(**fields: Any) -> JSON:
    return {k: v for k, v in fields.items() if v is not None}


class Api:
    """What ``Client`` and ``AsyncClient`` share: state, options and every endpoint.

    ``token`` is sent as ``Authorization: Bearer``; ``login`` sets it. ``last_reason`` holds
    the ``Inlier-Reason`` of the last ``next_assignment`` that found nothing (else ``None``).
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float | httpx.Timeout = 30.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.token = token
        self.last_reason: str | None = None
        self._connect(
            {
                "base_url": api_root(base_url),
                "timeout": timeout,
                "headers": {"User-Agent": f"inlier-python/{__version__}", **(headers or {})},
                "transport": transport,
            }
        )

    def _connect(self, options: dict[str, Any]) -> None:
        raise NotImplementedError

    # ---- auth and users ----------------------------------------------------------------------

    @operation
    def login(self, email: str, password: str) -> Flow[JSON]:
        """Exchange an email and password for a token, keep it on this client, and return
        ``{token, user}``. Wrong credentials raise ``AuthenticationError``; too many failures
        raise ``RateLimitError``."""
        out = yield from request(
            Call("POST", "auth/token", json={"email": email, "password": password})
        )
        self.token = out["token"]
        return out

    @operation
    def me(self) -> Flow[JSON]:
        """The signed-in user, with ``roles``, ``profile``, ``status`` and ``skills``."""
        return (yield from request(Call("GET", "me")))

    @operation
    def create_user(
        self,
        email: str,
        name: str,
        password: str,
        *,
        roles: Sequence[str] = ("contributor",),
        profile: Mapping[str, Any] | None = None,
    ) -> Flow[JSON]:
        """Create an account (admins only). ``roles`` among contributor, reviewer, owner, admin;
        ``profile`` may hold ``country``, ``degree``, ``specialties``, ``languages``, …"""
        body: JSON = {"email": email, "name": name, "password": password, "roles": list(roles)}
        if profile is not None:
            body["profile"] = dict(profile)
        return (yield from request(Call("POST", "users", json=body)))

    @iterator
    def list_users(self, *, page_size: int | None = None) -> Feed[JSON]:
        """Every user (admins only), fetched ``page_size`` at a time (server default 50)."""
        yield from pages(Call("GET", "users"), page_size)

    @operation
    def get_user(self, user_id: str) -> Flow[JSON]:
        """One user by id (admins only)."""
        return (yield from request(Call("GET", f"users/{segment(user_id)}")))

    @operation
    def set_skill(self, user_id: str, skill: str, level: int) -> Flow[JSON]:
        """Set a user's level (0..5) in a skill such as ``medicine.cardiology`` (admins only)."""
        path = f"users/{segment(user_id)}/skills/{segment(skill)}"
        return (yield from request(Call("PUT", path, json={"level": level})))

    # ---- projects ----------------------------------------------------------------------------

    @operation
    def create_project(self, name: str, template: Mapping[str, Any], **fields: Any) -> Flow[JSON]:
        """Create a project (owners and admins) and return it.

        ``fields`` are the other members of the project body, passed through as given:
        ``guidelines``, ``workflow``, ``requirements``, ``models``, ``quality``, ``export``,
        ``lease_minutes``, ``status``, ``visibility``. An unknown one raises ``InvalidInputError``.
        """
        body = {"name": name, "template": dict(template), **fields}
        return (yield from request(Call("POST", "projects", json=body)))

    @operation
    def get_project(self, project_id: str) -> Flow[JSON]:
        """One project you may see, with ``my_role``."""
        return (yield from request(Call("GET", f"projects/{segment(project_id)}")))

    @operation
    def update_project(self, project_id: str, **changes: Any) -> Flow[JSON]:
        """Change some of a project's fields (``PATCH``; same names as ``create_project``)."""
        call = Call("PATCH", f"projects/{segment(project_id)}", json=changes)
        return (yield from request(call))

    @iterator
    def list_projects(self, *, page_size: int | None = None) -> Feed[JSON]:
        """Every project you may see, following ``next_cursor`` as you iterate."""
        yield from pages(Call("GET", "projects"), page_size)

    @operation
    def project_stats(self, project_id: str) -> Flow[JSON]:
        """``{items, slots: {open, leased, done}, responses, reviews: {...}}`` (owners, admins)."""
        return (yield from request(Call("GET", f"projects/{segment(project_id)}/stats")))

    @operation
    def add_member(self, project_id: str, user_id: str, role: str = "contributor") -> Flow[JSON]:
        """Make a user a ``contributor``, ``reviewer`` or ``owner`` of a project (or change their
        role); returns ``{project_id, user_id, role}``."""
        body = {"user_id": user_id, "role": role}
        call = Call("POST", f"projects/{segment(project_id)}/members", json=body)
        return (yield from request(call))

    @iterator
    def list_members(self, project_id: str, *, page_size: int | None = None) -> Feed[JSON]:
        """A project's memberships ``{id, user_id, role, since}`` (owners and admins)."""
        yield from pages(Call("GET", f"projects/{segment(project_id)}/members"), page_size)

    # ---- items and export --------------------------------------------------------------------

    @operation
    def import_items(self, project_id: str, items: Sequence[Mapping[str, Any]]) -> Flow[int]:
        """Import items ``{external_id?, data, gold?, priority?}`` as one JSON array and return
        how many were created. All or nothing: a bad row raises ``InvalidInputError`` whose
        ``detail`` names its 1-based row, and nothing is imported."""
        call = Call("POST", f"projects/{segment(project_id)}/items", json=list(items))
        return int((yield from request(call))["created"])

    @operation
    def import_items_ndjson(
        self, project_id: str, items: Iterable[Mapping[str, Any]], *, chunk_size: int = 1000
    ) -> Flow[int]:
        """Import any number of items from an iterable, as NDJSON batches of at most
        ``chunk_size`` rows (and 8 MiB); returns how many were created.

        The iterable is read lazily, one batch in memory at a time. Each batch is all or
        nothing, but earlier batches stay imported when a later one fails: the error's
        ``imported`` attribute (and a note on it) says how many rows that is, so the row the
        server names in ``detail`` is row ``imported + n`` of the whole input.
        """
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        path = f"projects/{segment(project_id)}/items"
        created = 0
        batch: list[bytes] = []
        size = 0
        for item in items:
            line = json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
            if batch and (len(batch) >= chunk_size or size + len(line) > MAX_BATCH_BYTES):
                created += yield from self._import_batch(path, batch, created)
                batch, size = [], 0
            batch.append(line)
            size += len(line)
        if batch:
            created += yield from self._import_batch(path, batch, created)
        return created

    def _import_batch(self, path: str, lines: list[bytes], before: int) -> Flow[int]:
        call = Call("POST", path, content=b"".join(lines), headers={"Content-Type": NDJSON})
        try:
            return int((yield from request(call))["created"])
        except InlierError as exc:
            exc.imported = before
            exc.add_note(f"{before} rows before this batch were imported; its rows count from 1")
            raise

    @iterator
    def list_items(self, project_id: str, *, page_size: int | None = None) -> Feed[JSON]:
        """A project's items, gold included (owners and admins)."""
        yield from pages(Call("GET", f"projects/{segment(project_id)}/items"), page_size)

    @iterator
    def export(
        self,
        project_id: str,
        *,
        kind: str = "raw",
        status: str | None = None,
        form: str | None = None,
        split: float | None = None,
        seed: int | None = None,
        **params: Any,
    ) -> Feed[JSON]:
        """Stream a project's export as JSON lines, one dict a row, read as they arrive.

        ``kind``: ``raw`` (one row per attempt, contributors as per-project pseudonyms), or a
        trainer dataset: ``sft``, ``preference``, ``kto``, ``ranking``, ``ratings``,
        ``stepwise``. ``status`` is ``all``, ``submitted`` or ``approved``; ``form`` is
        ``conversational`` or ``standard``; ``split`` (test fraction) and ``seed`` add a
        ``split`` column. Other parameters of the export endpoint (``submitted_from``,
        ``submitted_to``, ``gold``, ``part``, ``neutral_as``, ``rewrites``, ``aggregate``,
        ``min_agreement``) can be given as keywords: ``aggregate=True`` gives one row per item
        with the crowd's aggregate answer and its confidence (``raw``, ``ratings``,
        ``ranking``, ``preference``), and ``min_agreement=0.8`` keeps the items whose
        confidence is at least 0.8. Owners and admins only.
        """
        call = Call("GET", f"projects/{segment(project_id)}/export", lines=True)
        given = {"kind": kind, "status": status, "form": form, "split": split, "seed": seed}
        yield call.with_params(**_query(params), **_query(given), format="jsonl")

    @iterator
    def export_bytes(
        self, project_id: str, *, format: str = "parquet", kind: str = "raw", **params: Any
    ) -> Feed[bytes]:
        """The export file's bytes as they arrive, in any ``format`` (``jsonl``, ``csv``,
        ``parquet``, or ``hf``: a tar of a ``datasets`` folder); write them to a file::

            with open("prefs.parquet", "wb") as fh:
                for chunk in client.export_bytes(pid, kind="preference"):
                    fh.write(chunk)

        Takes the same keywords as ``export``.
        """
        call = Call("GET", f"projects/{segment(project_id)}/export", chunks=True)
        yield call.with_params(**_query(params), format=format, kind=kind)

    @operation
    def create_snapshot(
        self,
        project_id: str,
        name: str,
        *,
        kind: str = "raw",
        format: str = "jsonl",
        **filters: Any,
    ) -> Flow[JSON]:
        """Freeze a project's export as a named, versioned file (owners and admins); the
        same name again makes the next version. ``filters`` are the export's parameters
        (``status``, ``form``, ``gold``, ``split``, ``seed``, ...). Returns the snapshot with
        its ``manifest``: ``rows``, ``bytes``, ``sha256``, ``filters``, ``created_by/at``."""
        body = {"name": name, "kind": kind, "format": format, "filters": filters}
        path = f"projects/{segment(project_id)}/snapshots"
        return (yield from request(Call("POST", path, json=body)))

    @operation
    def get_snapshot(self, snapshot_id: str) -> Flow[JSON]:
        """A snapshot and its manifest."""
        return (yield from request(Call("GET", f"snapshots/{segment(snapshot_id)}")))

    @iterator
    def snapshot_bytes(self, snapshot_id: str) -> Feed[bytes]:
        """The snapshot's file as it was written, chunk by chunk; its sha256 is the
        manifest's."""
        yield Call("GET", f"snapshots/{segment(snapshot_id)}/file", chunks=True)

    @operation
    def agreement(self, project_id: str) -> Flow[JSON]:
        """Krippendorff's alpha per question and for the project, and each contributor's
        agreement with the per-item majority (owners and admins)."""
        return (yield from request(Call("GET", f"projects/{segment(project_id)}/agreement")))

    @operation
    def consensus(
        self,
        project_id: str,
        question: str | None = None,
        *,
        method: str | None = None,
        bootstrap: int | None = None,
        seed: int | None = None,
        page_size: int | None = 1000,
    ) -> Flow[JSON]:
        """Each item's aggregate answer to ``question`` with its confidence, and every
        contributor's estimated accuracy (owners and admins). ``method``: ``dawid_skene``,
        ``majority``, ``bradley_terry``, ``plackett_luce``, ``mean``, ``median`` (or crowd-kit's
        with ``inlier[crowd]`` on the server); the default depends on the question's type.
        Follows every page: ``data`` holds all items."""
        call = Call("GET", f"projects/{segment(project_id)}/consensus")
        given = _drop_none(question=question, method=method, bootstrap=bootstrap, seed=seed)
        out: JSON | None = None
        cursor: str | None = None
        while True:
            page = json_body((yield call.with_params(**given, limit=page_size, cursor=cursor)))
            if out is None:
                out = page
            else:
                out["data"].extend(page["data"])
            cursor = page.get("next_cursor")
            if not cursor:
                out["next_cursor"] = None
                return out

    # ---- work --------------------------------------------------------------------------------

    @operation
    def next_assignment(self, project_id: str | None = None) -> Flow[JSON | None]:
        """Your open lease, or a new one, in ``project_id`` or in any project you may work.

        Returns the assignment ``{id, project_id, stage, item, template, under_review,
        expires_at, ...}``, or ``None`` when there is nothing for you (``204``); then
        ``client.last_reason`` holds the server's ``Inlier-Reason`` (``queue_empty``,
        ``no_eligible_project``, ``paused``, ...). It is reset to ``None`` by each successful
        call; with concurrent calls on one ``AsyncClient`` it belongs to the latest one.
        """
        body = {"project_id": project_id} if project_id is not None else {}
        reply = yield Call("POST", "assignments/next", json=body)
        if reply is not None and reply.status_code == 204:
            self.last_reason = reply.headers.get("Inlier-Reason")
            return None
        self.last_reason = None
        return json_body(reply)

    @operation
    def get_assignment(self, assignment_id: str) -> Flow[JSON]:
        """Your assignment, with ``draft: {answer, saved_at} | None``."""
        return (yield from request(Call("GET", f"assignments/{segment(assignment_id)}")))

    @operation
    def submit(
        self,
        assignment_id: str,
        *,
        answer: Mapping[str, Any] | None = None,
        active_seconds: int | None = None,
        verdict: str | None = None,
        feedback: str | None = None,
        score: int | None = None,
        generation_ids: Sequence[str] | None = None,
        idempotency_key: str | None = None,
        retries: int = 2,
    ) -> Flow[JSON]:
        """Submit the work of an assignment and return the stored response.

        An attempt sends ``answer`` (and ``active_seconds``); a review sends ``verdict``
        (``approve``, ``improve`` with the edited ``answer``, or ``reject``) and optionally
        ``feedback`` and ``score`` (1..5). Omitted (``None``) fields are not sent.

        Every submit carries an ``Idempotency-Key``: ``idempotency_key``, or a fresh uuid4. A
        connection failure or timeout is retried up to ``retries`` times with the same key, so
        a response lost on the way back is never submitted twice: the server answers a repeat
        with the original response. Pass your own key to make retries across processes safe.
        """
        key = idempotency_key or str(uuid.uuid4())
        body = _drop_none(
            answer=dict(answer) if answer is not None else None,
            active_seconds=active_seconds,
            verdict=verdict,
            feedback=feedback,
            score=score,
            generation_ids=list(generation_ids) if generation_ids is not None else None,
        )
        call = Call(
            "POST",
            f"assignments/{segment(assignment_id)}/submit",
            json=body,
            headers={"Idempotency-Key": key},
        )
        for attempt in range(retries + 1):
            try:
                return (yield from request(call))
            except httpx.TransportError:
                if attempt == retries:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    @operation
    def heartbeat(self, assignment_id: str, active_seconds: int) -> Flow[JSON]:
        """Extend your lease and record active time: ``{id, expires_at, active_seconds}``."""
        path = f"assignments/{segment(assignment_id)}/heartbeat"
        return (yield from request(Call("POST", path, json={"active_seconds": active_seconds})))

    @operation
    def skip(self, assignment_id: str) -> Flow[JSON]:
        """Give the slot back and never be offered this item again; returns ``{id, state}``."""
        return (yield from request(Call("POST", f"assignments/{segment(assignment_id)}/skip")))

    @operation
    def release(self, assignment_id: str) -> Flow[JSON]:
        """Give the slot back; the item may be offered to you again. Returns ``{id, state}``."""
        return (yield from request(Call("POST", f"assignments/{segment(assignment_id)}/release")))

    @operation
    def save_draft(self, assignment_id: str, answer: Mapping[str, Any]) -> Flow[JSON]:
        """Autosave a partial answer, returned later by ``get_assignment``; ``{id, saved_at}``."""
        path = f"assignments/{segment(assignment_id)}/draft"
        return (yield from request(Call("PUT", path, json={"answer": dict(answer)})))

    @operation
    def generate(
        self, assignment_id: str, field: str, inputs: Mapping[str, Any] | None = None
    ) -> Flow[JSON]:
        """Fill a generated field of your assignment with the project's model.

        ``inputs`` are your current answers to the questions the field is generated from (item
        fields come from the item). Returns ``{generation_id, field, value, provider, model,
        params, latency_ms, usage, regenerations_left, ...}``; a ``steps`` field's value is a
        list of steps. Over the regeneration limit raises ``RateLimitError``; a failing model
        provider raises ``ServerError`` (502) and changes nothing.
        """
        body: JSON = {"field": field}
        if inputs is not None:
            body["inputs"] = dict(inputs)
        path = f"assignments/{segment(assignment_id)}/generate"
        return (yield from request(Call("POST", path, json=body)))

    @operation
    def generations(self, assignment_id: str) -> Flow[JSON]:
        """The latest generation of each field of your assignment: ``{field: generation}``."""
        path = f"assignments/{segment(assignment_id)}/generations"
        return dict((yield from request(Call("GET", path)))["latest"])

    # ---- experts: applications, skills, assessments ------------------------------------------

    @operation
    def apply(
        self,
        email: str,
        name: str,
        password: str,
        *,
        profile: Mapping[str, Any],
        policy_version: str,
    ) -> Flow[JSON]:
        """Apply as an expert (no token needed): ``profile`` holds ``country`` (ISO code),
        ``degree``, ``specialties`` (skill keys), ``languages`` and optionally ``timezone``.
        Returns ``{id, status: "pending"}``; the account can ``login`` at once."""
        body = {
            "email": email,
            "name": name,
            "password": password,
            "profile": dict(profile),
            "consent": {"policy_version": policy_version},
        }
        return (yield from request(Call("POST", "applications", json=body)))

    @iterator
    def list_applications(
        self, status: str | None = None, *, page_size: int | None = None
    ) -> Feed[JSON]:
        """Applications (admins only), optionally only ``pending``, ``approved`` or
        ``declined`` ones."""
        yield from pages(Call("GET", "applications").with_params(status=status), page_size)

    @operation
    def decide_application(
        self, application_id: str, decision: str, reason: str = ""
    ) -> Flow[JSON]:
        """``approve`` or ``decline`` (with the ``reason`` the applicant sees); admins only."""
        path = f"applications/{segment(application_id)}/decision"
        body = {"decision": decision, "reason": reason}
        return (yield from request(Call("POST", path, json=body)))

    @operation
    def skills(self) -> Flow[list[JSON]]:
        """The skill taxonomy: ``[{key, name, parent}]``."""
        reply = yield Call("GET", "skills")
        if reply is None:
            raise TypeError("this call has no response body")
        return list(reply.json())

    @operation
    def create_skill(self, key: str, name: str, parent: str | None = None) -> Flow[JSON]:
        """Add a skill (owners and admins); its parent is the key before its last dot."""
        body = _drop_none(key=key, name=name, parent=parent)
        return (yield from request(Call("POST", "skills", json=body)))

    @operation
    def create_assessment(
        self,
        name: str,
        skill: str,
        template: Mapping[str, Any],
        items: Sequence[Mapping[str, Any]],
        *,
        level_on_pass: int,
        pass_mark: float,
        **fields: Any,
    ) -> Flow[JSON]:
        """Create an assessment (owners and admins) of ``items`` ``{data, gold}``; ``fields``:
        ``max_attempts``, ``cooldown_hours``, ``paid``."""
        body = {
            "name": name,
            "skill": skill,
            "template": dict(template),
            "items": [dict(i) for i in items],
            "level_on_pass": level_on_pass,
            "pass_mark": pass_mark,
            **fields,
        }
        return (yield from request(Call("POST", "assessments", json=body)))

    @operation
    def assessments(self) -> Flow[list[JSON]]:
        """The assessments open to you, with ``attempts_left``, ``next_attempt_at`` and
        ``best_score``."""
        return list((yield from request(Call("GET", "assessments")))["data"])

    @operation
    def start_attempt(self, assessment_id: str) -> Flow[JSON]:
        """Start (or resume) an attempt: ``{id, items: [{id, data}], template}``. Over the
        limit or inside the cooldown raises ``ConflictError`` (its problem has ``retry_at``)."""
        path = f"assessments/{segment(assessment_id)}/attempts"
        return (yield from request(Call("POST", path)))

    @operation
    def submit_attempt(
        self,
        attempt_id: str,
        answers: Mapping[str, Mapping[str, Any]],
        active_seconds: int | None = None,
    ) -> Flow[JSON]:
        """Submit ``{item_id: {question: value}}`` once: ``{score, passed, level_granted,
        feedback}``."""
        body = _drop_none(
            answers={k: dict(v) for k, v in answers.items()}, active_seconds=active_seconds
        )
        path = f"assessment-attempts/{segment(attempt_id)}/submit"
        return (yield from request(Call("POST", path, json=body)))

    @operation
    def grading_queue(self, assessment_id: str) -> Flow[list[JSON]]:
        """Owners and admins: attempts whose written answers wait for a grade, with the
        reference answers (candidates are not named)."""
        path = f"assessments/{segment(assessment_id)}/grading"
        return list((yield from request(Call("GET", path)))["data"])

    @operation
    def grade_attempt(self, attempt_id: str, grades: Sequence[Mapping[str, Any]]) -> Flow[JSON]:
        """Grade written answers: ``[{item_id, question, score: 0..1, feedback?}]``; the last
        grade settles the attempt (its score, pass and the level granted)."""
        path = f"assessment-attempts/{segment(attempt_id)}/grades"
        return (yield from request(Call("POST", path, json={"grades": [dict(g) for g in grades]})))

    @operation
    def my_work(self) -> Flow[list[JSON]]:
        """Each project you belong to or could qualify for: ``{project_id, name, eligible,
        reason, action, available}``."""
        return list((yield from request(Call("GET", "me/work")))["projects"])

    # ---- pay -----------------------------------------------------------------------------------

    @operation
    def set_rate_card(self, project_id: str, card: Mapping[str, Any]) -> Flow[JSON]:
        """A new version of a project's rate card (owners and admins): ``effective_from``,
        ``stages``, ``multipliers``, ``phase``, ``max_minutes_per_task``, ``rejected_work``,
        ``hourly_floor``, ``incentives``. Inside a closed pay period raises ``ConflictError``."""
        path = f"projects/{segment(project_id)}/rate-card"
        return (yield from request(Call("PUT", path, json=dict(card))))

    @operation
    def rate_card(self, project_id: str) -> Flow[JSON]:
        """The rate card in force on a project you may see, with ``next`` if one is scheduled."""
        return (yield from request(Call("GET", f"projects/{segment(project_id)}/rate-card")))

    @operation
    def project_costs(
        self, project_id: str, *, start: str | None = None, end: str | None = None
    ) -> Flow[JSON]:
        """Owners and admins: what a project's work cost from day ``start`` to day ``end``
        (``YYYY-MM-DD``, both included): totals by stage, phase and kind, per approved item,
        per week, and per contributor pseudonym with the effective hourly wage."""
        call = Call("GET", f"projects/{segment(project_id)}/costs")
        return (yield from request(call.with_params(**{"from": start, "to": end})))

    @operation
    def pay_settings(self) -> Flow[JSON]:
        """The deployment's currency, payout threshold, auto-accept days, tiers and time zone."""
        return (yield from request(Call("GET", "settings/pay")))

    @operation
    def set_pay_settings(self, currency: str, **settings: Any) -> Flow[JSON]:
        """Admins: ``payout_threshold`` (money), ``auto_accept_days``, ``default_location_tier``,
        ``timezone``."""
        body: JSON = {"currency": currency, **settings}
        return (yield from request(Call("PUT", "settings/pay", json=body)))

    @operation
    def set_location_tiers(self, tiers: Mapping[str, int]) -> Flow[JSON]:
        """Admins: country code → location tier (countries not listed get the default)."""
        return (yield from request(Call("PUT", "settings/location-tiers", json=dict(tiers))))

    @operation
    def earnings(self, period: str = "current") -> Flow[JSON]:
        """Your lines in a pay week (``current`` or its Monday, ``YYYY-MM-DD``), with totals."""
        return (yield from request(Call("GET", "me/earnings", params={"period": period})))

    @operation
    def earnings_summary(self, year: int | None = None) -> Flow[JSON]:
        """Your annual totals (by kind and project) and the payouts behind them."""
        call = Call("GET", "me/earnings/summary").with_params(year=year)
        return (yield from request(call))

    @iterator
    def statements(self, *, page_size: int | None = None) -> Feed[JSON]:
        """Your statements, newest first (without their lines; see ``statement``)."""
        yield from pages(Call("GET", "me/statements"), page_size)

    @operation
    def statement(self, statement_id: str) -> Flow[JSON]:
        """One statement with every line, its inputs and formula."""
        return (yield from request(Call("GET", f"statements/{segment(statement_id)}")))

    @operation
    def create_payrun(self, period_start: str) -> Flow[JSON]:
        """Admins: close the week starting on Monday ``period_start`` (``YYYY-MM-DD``); running
        it again returns the same pay run."""
        body: JSON = {"period_start": period_start}
        return (yield from request(Call("POST", "payruns", json=body)))

    @iterator
    def payruns(self, *, page_size: int | None = None) -> Feed[JSON]:
        """Admins: every pay run, newest first."""
        yield from pages(Call("GET", "payruns"), page_size)

    @operation
    def payrun(self, payrun_id: str) -> Flow[JSON]:
        """Admins: one pay run with its totals by project, kind of line and payout status."""
        return (yield from request(Call("GET", f"payruns/{segment(payrun_id)}")))

    @operation
    def payouts(self, payrun_id: str) -> Flow[list[JSON]]:
        """Admins: a pay run's payouts, one row per person, for a payment processor."""
        path = f"payruns/{segment(payrun_id)}/payouts.json"
        return list((yield from request(Call("GET", path)))["data"])

    @operation
    def payout_result(self, payout_id: str, status: str, reference: str = "") -> Flow[JSON]:
        """Admins: ``paid`` or ``failed`` with the processor's reference; a failed payout's
        amount returns to the person's balance as an adjustment line."""
        body: JSON = {"status": status, "reference": reference}
        return (yield from request(Call("POST", f"payouts/{segment(payout_id)}/result", json=body)))

    # ---- privacy and audit -------------------------------------------------------------------

    @operation
    def current_policy(self) -> Flow[JSON]:
        """The privacy policy in force: ``{version, effective_at, markdown, changes}``. Before
        any is published raises ``NotFoundError``. Needs no sign-in."""
        return (yield from request(Call("GET", "policies/current")))

    @operation
    def publish_policy(
        self,
        version: str,
        markdown: str,
        *,
        effective_at: str | None = None,
        changes: str | None = None,
    ) -> Flow[JSON]:
        """Publish a privacy-policy version (admins), in force from ``effective_at`` (RFC 3339,
        now or later; default now). ``changes`` says what changed, shown to people."""
        body = _drop_none(
            version=version, markdown=markdown, effective_at=effective_at, changes=changes
        )
        return (yield from request(Call("POST", "policies", json=body)))

    @operation
    def accept_policy(self, policy_version: str) -> Flow[JSON]:
        """Accept a policy version (the one in force, or one to come); ``{policy_version,
        accepted_at}``. Until the version in force is accepted, ``next_assignment`` returns
        ``None`` with ``last_reason == "consent_required"``."""
        body = {"policy_version": policy_version}
        return (yield from request(Call("POST", "me/consents", json=body)))

    @operation
    def data_export(self) -> Flow[bytes]:
        """Everything stored about you, as the bytes of a zip of JSON files with a README."""
        reply = yield Call("GET", "me/data-export")
        if reply is None:  # pragma: no cover - only streamed calls answer None
            raise TypeError("this call has a response body")
        return reply.content

    @operation
    def erase_me(self) -> Flow[None]:
        """Erase your personal data and disable your account (this client's token stops
        working). Your contributions stay under their per-project pseudonyms."""
        yield Call("DELETE", "me")
        self.token = None

    @operation
    def erase_user(self, user_id: str) -> Flow[JSON]:
        """Erase a person's personal data on their request (admins): ``{id, status,
        erased_at}``. Repeating it changes nothing."""
        return (yield from request(Call("POST", f"users/{segment(user_id)}/erase")))

    @iterator
    def audit(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        page_size: int | None = None,
    ) -> Feed[JSON]:
        """Audit-log entries, oldest first (admins); each filter matches exactly: ``actor``
        a user id, ``action`` such as ``project.update``, ``target`` such as ``project:12``."""
        call = Call("GET", "audit").with_params(actor=actor, action=action, target=target)
        yield from pages(call, page_size)

    # ---- forums ------------------------------------------------------------------------------

    @iterator
    def list_forums(
        self, *, project_id: str | None = None, page_size: int | None = None
    ) -> Feed[JSON]:
        """The forums you may read ``{id, kind, project_id, title, ...}``; ``project_id`` picks
        that project's forum (created on first use)."""
        yield from pages(Call("GET", "forums", params=_drop_none(project_id=project_id)), page_size)

    @operation
    def create_forum(self, title: str, description: str = "") -> Flow[JSON]:
        """A community forum every approved contributor reads (admins only)."""
        body = {"title": title, "description": description}
        return (yield from request(Call("POST", "forums", json=body)))

    @operation
    def get_forum(self, forum_id: str) -> Flow[JSON]:
        """One forum you may read."""
        return (yield from request(Call("GET", f"forums/{segment(forum_id)}")))

    @iterator
    def list_threads(
        self, forum_id: str, *, q: str | None = None, page_size: int | None = None
    ) -> Feed[JSON]:
        """A forum's threads, newest first; ``q`` searches titles and posts (every word)."""
        call = Call("GET", f"forums/{segment(forum_id)}/threads", params=_drop_none(q=q))
        yield from pages(call, page_size)

    @operation
    def create_thread(
        self, forum_id: str, title: str, body: str, *, item_id: str | None = None
    ) -> Flow[JSON]:
        """Ask a question (markdown, math with ``$…$``); ``item_id`` links a case of the project.
        Returns the thread with its posts. Posting too fast raises ``RateLimitError``."""
        payload = _drop_none(title=title, body=body, item_id=item_id)
        return (
            yield from request(Call("POST", f"forums/{segment(forum_id)}/threads", json=payload))
        )

    @operation
    def get_thread(self, thread_id: str) -> Flow[JSON]:
        """``{id, forum_id, title, item_id, item, pinned, locked, posts: [...]}``."""
        return (yield from request(Call("GET", f"threads/{segment(thread_id)}")))

    @operation
    def reply(self, thread_id: str, body: str) -> Flow[JSON]:
        """Reply to a thread; a locked thread raises ``ConflictError``."""
        path = f"threads/{segment(thread_id)}/posts"
        return (yield from request(Call("POST", path, json={"body": body})))

    @operation
    def pin_thread(self, thread_id: str, pinned: bool = True) -> Flow[JSON]:
        """Pin or unpin a thread (the project's owners and reviewers, admins)."""
        path = f"threads/{segment(thread_id)}/pin"
        return (yield from request(Call("POST", path, json={"pinned": pinned})))

    @operation
    def lock_thread(self, thread_id: str, locked: bool = True) -> Flow[JSON]:
        """Lock or unlock a thread (moderators)."""
        path = f"threads/{segment(thread_id)}/lock"
        return (yield from request(Call("POST", path, json={"locked": locked})))

    @operation
    def edit_post(self, post_id: str, body: str) -> Flow[JSON]:
        """Edit a post (its author, or a moderator); the earlier text stays in its history."""
        return (yield from request(Call("PATCH", f"posts/{segment(post_id)}", json={"body": body})))

    @operation
    def post_history(self, post_id: str) -> Flow[list[JSON]]:
        """What a post said before each edit, oldest first."""
        out = yield from request(Call("GET", f"posts/{segment(post_id)}/history"))
        return list(out["data"])

    @operation
    def mark_official(self, post_id: str, official: bool = True) -> Flow[JSON]:
        """Mark (or unmark) a post as the official answer (moderators)."""
        path = f"posts/{segment(post_id)}/official"
        return (yield from request(Call("POST", path, json={"official": official})))

    @operation
    def hide_post(self, post_id: str, hidden: bool = True) -> Flow[JSON]:
        """Hide (or show again) a post (moderators)."""
        path = f"posts/{segment(post_id)}/hide"
        return (yield from request(Call("POST", path, json={"hidden": hidden})))

    @operation
    def report_post(self, post_id: str, reason: str) -> Flow[JSON]:
        """Report a post to the forum's moderators."""
        path = f"posts/{segment(post_id)}/report"
        return (yield from request(Call("POST", path, json={"reason": reason})))

    # ---- notifications -----------------------------------------------------------------------

    @operation
    def notifications(self, *, unread: bool = False, limit: int | None = None) -> Flow[JSON]:
        """``{data: [{id, kind, title, body, link, read, created_at}], unread, next_cursor}``,
        newest first."""
        params = _query(_drop_none(unread=unread, limit=limit))
        return (yield from request(Call("GET", "me/notifications", params=params)))

    @operation
    def mark_read(self, ids: Iterable[str]) -> Flow[JSON]:
        """Mark some of your notifications read; returns ``{read, unread}``."""
        body = {"ids": list(ids)}
        return (yield from request(Call("POST", "me/notifications/read", json=body)))

    # ---- quality: standing, events, appeals ---------------------------------------------------

    @operation
    def my_standing(self) -> Flow[list[JSON]]:
        """Your score on each project: ``{project_id, score, interval: [lo, hi], events, state,
        thresholds, reasons}``."""
        return list((yield from request(Call("GET", "me/standing")))["projects"])

    @iterator
    def quality_events(
        self, project_id: str | None = None, *, page_size: int | None = None
    ) -> Feed[JSON]:
        """The events behind your scores, newest first (a gold check names no item)."""
        yield from pages(
            Call("GET", "me/quality-events").with_params(project_id=project_id), page_size
        )

    @operation
    def appeal(self, project_id: str, message: str, response_id: str | None = None) -> Flow[JSON]:
        """Appeal your pause on a project, or (``response_id``) a rejection of your work."""
        body = _drop_none(project_id=project_id, message=message, response_id=response_id)
        return (yield from request(Call("POST", "appeals", json=body)))

    @operation
    def my_appeals(self) -> Flow[list[JSON]]:
        """Your appeals with their status, deadline and decision."""
        return list((yield from request(Call("GET", "me/appeals")))["data"])

    @operation
    def decide_appeal(self, appeal_id: str, decision: str, reason: str) -> Flow[JSON]:
        """``uphold`` or ``reinstate`` an appeal (the project's owners and admins)."""
        path = f"appeals/{segment(appeal_id)}/decision"
        return (
            yield from request(Call("POST", path, json={"decision": decision, "reason": reason}))
        )

    @operation
    def project_appeals(self, project_id: str, status: str | None = None) -> Flow[list[JSON]]:
        """A project's appeals (owners and admins), newest first."""
        call = Call("GET", f"projects/{segment(project_id)}/appeals").with_params(status=status)
        return list((yield from request(call))["data"])

    @operation
    def project_quality(self, project_id: str) -> Flow[JSON]:
        """Owners: ``{thresholds, contributors: [...], weekly: [...]}``."""
        return (yield from request(Call("GET", f"projects/{segment(project_id)}/quality")))

    @operation
    def person_quality(self, project_id: str, user_id: str) -> Flow[JSON]:
        """Owners: one contributor's standing, events and attempts on the project."""
        path = f"projects/{segment(project_id)}/quality/{segment(user_id)}"
        return (yield from request(Call("GET", path)))


def _query(params: dict[str, Any]) -> dict[str, Any]:
    """Query values as the server spells them: booleans ``true``/``false``."""
    return {k: ("true" if v else "false") if isinstance(v, bool) else v for k, v in params.items()}
