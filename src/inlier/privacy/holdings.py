"""Where personal data lives: every table that names a person, what the data export takes
from it, and what erasure does to it.

This map is the single place to extend when an area adds a table that refers to a user (by a
foreign key to ``users.id`` or by a bare user-id column such as ``slots.leased_by``):
``tests/test_privacy.py`` walks the schema and fails for any such table missing here. Add a
``Holding`` (its rows then appear in ``GET /me/data-export``) and, if erasure must change its
rows, a step in ``privacy.service.erase``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table, or_

Match = Callable[[Table, int, str], ColumnElement[bool]]


@dataclass(frozen=True)
class Holding:
    table: str
    #: The JSON file of the export that holds these rows.
    file: str
    #: What the rows are, and what erasure does to them (the export's README says both).
    about: str
    erasure: str
    #: Columns holding the person's id; a row is theirs when any of them does.
    columns: tuple[str, ...] = ("user_id",)
    #: Columns never exported (secrets, hashes, other people's salts).
    omit: tuple[str, ...] = ()
    #: When given, only these columns are exported.
    only: tuple[str, ...] | None = None
    #: A custom row filter (table, user id, email) when the columns alone do not say it.
    match: Match | None = None

    def where(self, table: Table, user_id: int, email: str) -> ColumnElement[bool]:
        if self.match is not None:
            return self.match(table, user_id, email)
        return or_(*(table.c[c] == user_id for c in self.columns))


def _by_email(table: Table, _user_id: int, email: str) -> ColumnElement[bool]:
    return table.c.email == email


def _audit(table: Table, user_id: int, _email: str) -> ColumnElement[bool]:
    return or_(table.c.actor_id == user_id, table.c.target == f"user:{user_id}")


KEPT = "kept: it holds no personal data beyond the id, and the account is disabled"

HOLDINGS: dict[str, Holding] = {
    h.table: h
    for h in (
        Holding(
            "users",
            "account.json",
            "your account: email, name, roles, profile, status",
            "email, name and profile replaced (erased-<id>@invalid, 'Erased user', {}); "
            "password unusable; roles removed; account disabled",
            columns=("id",),
            omit=("password_hash",),
        ),
        Holding(
            "api_tokens",
            "tokens.json",
            "your sign-in sessions and API tokens (names and dates; never the secrets)",
            "deleted: every session and token stops working",
            omit=("token_hash",),
        ),
        Holding(
            "login_failures",
            "sign_in_failures.json",
            "failed sign-ins with your email, with the client address",
            "deleted",
            match=_by_email,
        ),
        Holding(
            "user_skills",
            "skills.json",
            "your skill levels",
            "deleted",
        ),
        Holding(
            "project_members",
            "memberships.json",
            "the projects you belong to and your role in each",
            "deleted",
        ),
        Holding(
            "projects",
            "projects_created.json",
            "projects you created (their id and name)",
            KEPT,
            columns=("created_by",),
            only=("id", "name", "created_at", "created_by"),
        ),
        Holding(
            "slots",
            "leases.json",
            "tasks leased to you right now",
            "released back to the queue",
            columns=("leased_by",),
            only=("id", "project_id", "item_id", "stage", "lease_expires_at", "leased_by"),
        ),
        Holding(
            "assignments",
            "assignments.json",
            "every task you took, with its timings and your autosaved draft",
            "drafts deleted; open leases released; the rest kept (no personal data)",
            omit=("request_hash",),
        ),
        Holding(
            "touches",
            "items_worked.json",
            "the items you have had in hand (so nobody works an item twice)",
            KEPT,
        ),
        Holding(
            "responses",
            "responses.json",
            "your submitted answers and reviews",
            "kept under your per-project pseudonym, so datasets and statistics do not change",
        ),
        Holding(
            "generations",
            "generations.json",
            "model generations made while you worked",
            "kept with your contributions",
        ),
        Holding(
            "consents",
            "consents.json",
            "the privacy-policy versions you accepted, and when",
            "kept (version and time) without the address hash",
        ),
        Holding(
            "policies",
            "policies_published.json",
            "privacy-policy versions you published (as an admin)",
            KEPT,
            columns=("created_by",),
            only=("id", "version", "effective_at", "created_at", "created_by"),
        ),
        Holding(
            "applications",
            "application.json",
            "your application to join: profile, consent, the decision and its reason",
            "profile and decision reason removed; status and dates kept",
            omit=("decided_by",),
        ),
        Holding(
            "assessment_attempts",
            "assessment_attempts.json",
            "your assessment attempts: answers, scores, feedback and timings",
            KEPT,
        ),
        Holding(
            "assessments",
            "assessments_created.json",
            "assessments you created (as an owner or admin)",
            KEPT,
            columns=("created_by",),
            only=("id", "name", "skill", "created_at", "created_by"),
        ),
        Holding(
            "skills",
            "skills_created.json",
            "skills you added to the taxonomy",
            KEPT,
            columns=("created_by",),
            only=("key", "name", "created_by"),
        ),
        Holding(
            "quality_events",
            "quality_events.json",
            "the quality signals about your work (gold checks, review verdicts, agreement, "
            "speed and authenticity flags), without items or grading details, which would "
            "name the hidden gold items",
            KEPT,
            omit=("item_id", "response_id", "detail"),
        ),
        Holding(
            "standings",
            "standing.json",
            "your quality score and standing on each project",
            KEPT,
        ),
        Holding(
            "skill_scores",
            "skill_scores.json",
            "your quality score in each skill",
            KEPT,
        ),
        Holding(
            "appeals",
            "appeals.json",
            "your appeals, with the decisions and their reasons",
            "your message and the decision's reason removed; status and dates kept",
            omit=("decided_by",),
        ),
        Holding(
            "earnings_lines",
            "earnings.json",
            "every earnings line: amount, the inputs and formula it was computed from",
            "kept with amounts and dates (contractor records must be kept); "
            "the person is shown as erased",
        ),
        Holding(
            "statements",
            "statements.json",
            "your weekly pay statements",
            "kept with amounts and dates; the person is shown as erased",
        ),
        Holding(
            "payouts",
            "payouts.json",
            "payouts sent to you, with the processor's reference",
            "kept with amounts and dates; the person is shown as erased",
        ),
        Holding(
            "payruns",
            "payruns_created.json",
            "pay runs you started (as an admin)",
            KEPT,
            columns=("created_by",),
            only=("id", "period_start", "created_at", "created_by"),
        ),
        Holding(
            "rate_cards",
            "rate_cards_created.json",
            "rate cards you set (as an owner or admin)",
            KEPT,
            columns=("created_by",),
            only=("id", "project_id", "version", "effective_from", "created_by"),
        ),
        Holding(
            "forum_threads",
            "forum_threads.json",
            "forum threads you started",
            "kept; you are shown as 'deleted user'",
            columns=("author_id",),
        ),
        Holding(
            "forum_posts",
            "forum_posts.json",
            "everything you posted in the forums",
            "kept so threads still read; you are shown as 'deleted user'",
            columns=("author_id",),
        ),
        Holding(
            "forum_post_edits",
            "forum_post_edits.json",
            "earlier versions of posts you edited",
            KEPT,
            columns=("editor_id",),
        ),
        Holding(
            "forum_reports",
            "forum_reports.json",
            "posts you reported to the moderators, with your reason",
            "deleted",
            columns=("reporter_id",),
        ),
        Holding(
            "notifications",
            "notifications.json",
            "your inbox: replies, review feedback and other notices",
            "deleted",
        ),
        Holding(
            "mail_outbox",
            "emails.json",
            "emails sent or queued to you",
            "deleted",
        ),
        Holding(
            "snapshots",
            "snapshots_created.json",
            "dataset snapshots you froze (their id, project, name and version)",
            KEPT,
            columns=("created_by",),
            only=("id", "project_id", "name", "version", "created_at", "created_by"),
        ),
        Holding(
            "audit_entries",
            "audit.json",
            "audit-log entries you made or that are about you (ids only, no personal data)",
            "kept unchanged: the log is append-only and never held personal data",
            columns=("actor_id",),
            match=_audit,
        ),
    )
}

#: Columns that hold a user id without a foreign key to ``users.id``. The coverage test
#: reads foreign keys from the schema; it reads these from here (add yours).
UNLINKED_USER_COLUMNS: frozenset[tuple[str, str]] = frozenset(
    {("slots", "leased_by"), ("audit_entries", "actor_id")}
)


def jsonable(column: str, value: Any) -> Any:
    """Ids as strings, as the API shows them; times are formatted by the caller."""
    is_id = column == "id" or column.endswith(("_id", "_by"))
    if is_id and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value
