"""Who may call what: every operation in the OpenAPI document, for every kind of caller, on their
own and someone else's resource, against an explicit table of expected statuses.

A new operation without a row in POLICY fails the suite: decide who may call it, then add it.

The callers, all relative to one project P:

- ``anonymous``: no token.
- ``contributor_member``: a contributor who is a member of P.
- ``contributor_outsider``: a contributor who is not a member of P.
- ``reviewer_member``: a contributor whose membership of P has the role ``reviewer``.
- ``owner``: the owner (creator) of P.
- ``other_owner``: an owner of other projects (Q and O), not a member of P.
- ``admin``.

The resources each operation is called on (its "targets"):

- projects: ``own`` = P, ``other`` = Q (members only; only ``other_owner`` belongs to it),
  ``open`` = O (``visibility: open``, no requirements, owned by ``other_owner``).
- users: ``own`` = the caller's own id, ``other`` = someone else's.
- assignments: ``own`` = a lease the caller holds, ``other`` = a lease someone else holds.
- forums, threads and posts: ``own`` = in P's forum, ``other`` = in Q's forum, ``community`` =
  in a community forum. Each call gets a fresh thread (written by the forum's owner; by an admin
  in the community forum), so locking or pinning one never changes what another call sees.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from conftest import GOOD_ANSWER, PAIRWISE_TEMPLATE, Actor, World, make_settings, pairwise_item
from inlier.app import create_app
from inlier.forum import service as forum
from inlier.forum.models import Forum, Post
from inlier.forum.schemas import ForumIn, ThreadIn
from inlier.projects.models import Project
from inlier.quality.models import Appeal

ROLES = (
    "anonymous",
    "contributor_member",
    "contributor_outsider",
    "reviewer_member",
    "owner",
    "other_owner",
    "admin",
)
TARGETS = {
    "none": ("-",),
    "user": ("own", "other"),
    "project": ("own", "other", "open"),
    "assignment": ("own", "other"),
    "attempt": ("own", "other"),
    "forum": ("own", "other", "community"),
    "thread": ("own", "other", "community"),
    "post": ("own", "other", "community"),
    "snapshot": ("own", "other"),
    "appeal": ("own", "other"),
}
Statuses = dict[str, tuple[int, ...]]
PASSWORD_FOR_APPLICANTS = "applicant-password"

# ---- the table -----------------------------------------------------------------------------
# One status per target, in the order of TARGETS[kind].

PUBLIC: Statuses = {role: (201,) for role in ROLES}  # signing in with one's own credentials

SIGNED_IN: Statuses = {
    "anonymous": (401,),
    "contributor_member": (200,),
    "contributor_outsider": (200,),
    "reviewer_member": (200,),
    "owner": (200,),
    "other_owner": (200,),
    "admin": (200,),
}

ADMIN_ONLY_CREATE: Statuses = {
    "anonymous": (401,),
    "contributor_member": (403,),
    "contributor_outsider": (403,),
    "reviewer_member": (403,),
    "owner": (403,),
    "other_owner": (403,),
    "admin": (201,),
}

ADMIN_ONLY_READ: Statuses = {
    "anonymous": (401,),
    "contributor_member": (403,),
    "contributor_outsider": (403,),
    "reviewer_member": (403,),
    "owner": (403,),
    "other_owner": (403,),
    "admin": (200,),
}

#                                   own    other
ADMIN_ONLY_ON_A_USER: Statuses = {
    "anonymous": (401, 401),
    "contributor_member": (403, 403),
    "contributor_outsider": (403, 403),
    "reviewer_member": (403, 403),
    "owner": (403, 403),
    "other_owner": (403, 403),
    "admin": (200, 200),
}

OWNERS_AND_ADMINS_CREATE: Statuses = {
    "anonymous": (401,),
    "contributor_member": (403,),
    "contributor_outsider": (403,),
    "reviewer_member": (403,),
    "owner": (201,),
    "other_owner": (201,),
    "admin": (201,),
}

#                                   P      Q      O (open)
SEE_PROJECT: Statuses = {
    "anonymous": (401, 401, 401),
    "contributor_member": (200, 404, 200),
    "contributor_outsider": (404, 404, 200),
    "reviewer_member": (200, 404, 200),
    "owner": (200, 404, 200),
    "other_owner": (404, 200, 200),
    "admin": (200, 200, 200),
}

# Owners and admins; 403 for those who can see the project, 404 for those who cannot.
MANAGE_PROJECT: Statuses = {
    "anonymous": (401, 401, 401),
    "contributor_member": (403, 404, 403),
    "contributor_outsider": (404, 404, 403),
    "reviewer_member": (403, 404, 403),
    "owner": (200, 404, 403),
    "other_owner": (404, 200, 200),
    "admin": (200, 200, 200),
}

MANAGE_PROJECT_CREATE: Statuses = {
    "anonymous": (401, 401, 401),
    "contributor_member": (403, 404, 403),
    "contributor_outsider": (404, 404, 403),
    "reviewer_member": (403, 404, 403),
    "owner": (201, 404, 403),
    "other_owner": (404, 201, 201),
    "admin": (201, 201, 201),
}

SIGNED_IN_CREATE: Statuses = {**{role: (201,) for role in ROLES}, "anonymous": (401,)}
SIGNED_IN_NO_CONTENT: Statuses = {**{role: (204,) for role in ROLES}, "anonymous": (401,)}
PUBLIC_READ: Statuses = {role: (200,) for role in ROLES}

# `next` for a project: 404 if you cannot see it, 204 (with Inlier-Reason) if you may not work
# it — admins and owners who are not members and not contributors — else a lease.
NEXT_ON_PROJECT: Statuses = {
    "anonymous": (401, 401, 401),
    "contributor_member": (200, 404, 200),
    "contributor_outsider": (404, 404, 200),
    "reviewer_member": (200, 404, 200),
    "owner": (200, 404, 204),
    "other_owner": (404, 200, 200),
    "admin": (204, 204, 204),
}

#                                   own    other
HOLDER_ONLY: Statuses = {
    "anonymous": (401, 401),
    "contributor_member": (200, 404),
    "contributor_outsider": (200, 404),
    "reviewer_member": (200, 404),
    "owner": (200, 404),
    "other_owner": (200, 404),
    "admin": (200, 404),
}

HOLDER_ONLY_SUBMIT: Statuses = {
    "anonymous": (401, 401),
    "contributor_member": (201, 404),
    "contributor_outsider": (201, 404),
    "reviewer_member": (201, 404),
    "owner": (201, 404),
    "other_owner": (201, 404),
    "admin": (201, 404),
}

# Generating a field of the work project's template (see WORK_TEMPLATE).
HOLDER_ONLY_GENERATE: Statuses = {
    "anonymous": (401, 401),
    "contributor_member": (201, 404),
    "contributor_outsider": (201, 404),
    "reviewer_member": (201, 404),
    "owner": (201, 404),
    "other_owner": (201, 404),
    "admin": (201, 404),
}

# Forums: a project's forum is its members' (404 for everyone else, read or write); community
# forums are every approved contributor's and owner's.
#                                   P      Q      community
READ_FORUM: Statuses = {
    "anonymous": (401, 401, 401),
    "contributor_member": (200, 404, 200),
    "contributor_outsider": (404, 404, 200),
    "reviewer_member": (200, 404, 200),
    "owner": (200, 404, 200),
    "other_owner": (404, 200, 200),
    "admin": (200, 200, 200),
}
WRITE_FORUM: Statuses = {
    role: tuple(201 if s == 200 else s for s in statuses) for role, statuses in READ_FORUM.items()
}
# Moderators: the project's owners and reviewers, and admins; in community forums, admins.
# Editing someone else's post is moderating (each call's post is the thread's owner's).
MODERATE_FORUM: Statuses = {
    "anonymous": (401, 401, 401),
    "contributor_member": (403, 404, 403),
    "contributor_outsider": (404, 404, 403),
    "reviewer_member": (200, 404, 403),
    "owner": (200, 404, 403),
    "other_owner": (404, 200, 403),
    "admin": (200, 200, 200),
}

# The work project W: the pairwise template plus a field the replay model generates.
WORK_TEMPLATE: dict[str, Any] = {
    **PAIRWISE_TEMPLATE,
    "fields": [
        *PAIRWISE_TEMPLATE["fields"],
        {
            "name": "critique",
            "type": "markdown",
            "generated": {"model": "demo", "from": ["prompt"]},
        },
    ],
}
#: The privacy policy the cast publishes and everyone (applicants too) accepts.
CURRENT_POLICY = "2026-01"
APPLICATION: dict[str, Any] = {
    "name": "Applicant",
    "password": PASSWORD_FOR_APPLICANTS,
    "profile": {"country": "US", "degree": "PhD", "languages": ["en"]},
    "consent": {"policy_version": CURRENT_POLICY},
}
# Many attempts, no cooldown, and a pass mark nobody reaches with no answers: every call
# in the walk can start and submit one.
ASSESSMENT: dict[str, Any] = {
    "name": "Preference basics",
    "skill": "medicine.cardiology",
    "level_on_pass": 1,
    "pass_mark": 1.0,
    "max_attempts": 100,
    "cooldown_hours": 0,
    "template": PAIRWISE_TEMPLATE,
    "items": [
        {
            "data": pairwise_item(1)["data"],
            "gold": {"preference": {"choice": "left", "strength": 2}},
        }
    ],
}
# A written answer a person grades: its attempts wait for a grade after submission.
WRITTEN_ASSESSMENT: dict[str, Any] = {
    **ASSESSMENT,
    "name": "Written rationale",
    "pass_mark": 0.5,
    "items": [
        {
            "data": pairwise_item(2)["data"],
            "gold": {
                "preference": {"choice": "left", "strength": 2},
                "rationale": "A gives the renal dose adjustment.",
            },
        }
    ],
}
WORK_MODELS = {"demo": {"provider": "replay", "responses": {"*": "A canned critique."}}}

PUBLIC_READ: Statuses = {role: (200,) for role in ROLES}

SIGNED_IN_CREATE: Statuses = {**{role: (201,) for role in ROLES}, "anonymous": (401,)}

#                                   own    other
OWN_ATTEMPT_ONLY: Statuses = {
    **{role: (200, 404) for role in ROLES},
    "anonymous": (401, 401),
}

V1 = "/api/v1"
POLICY: dict[tuple[str, str], tuple[str, Statuses]] = {
    ("POST", f"{V1}/auth/token"): ("none", PUBLIC),
    ("GET", f"{V1}/me"): ("none", SIGNED_IN),
    ("POST", f"{V1}/users"): ("none", ADMIN_ONLY_CREATE),
    ("GET", f"{V1}/users"): ("none", ADMIN_ONLY_READ),
    ("GET", f"{V1}/users/{{user_id}}"): ("user", ADMIN_ONLY_ON_A_USER),
    ("PUT", f"{V1}/users/{{user_id}}/skills/{{skill}}"): ("user", ADMIN_ONLY_ON_A_USER),
    ("POST", f"{V1}/projects"): ("none", OWNERS_AND_ADMINS_CREATE),
    ("GET", f"{V1}/projects"): ("none", SIGNED_IN),
    ("GET", f"{V1}/projects/{{project_id}}"): ("project", SEE_PROJECT),
    ("PATCH", f"{V1}/projects/{{project_id}}"): ("project", MANAGE_PROJECT),
    ("GET", f"{V1}/projects/{{project_id}}/stats"): ("project", MANAGE_PROJECT),
    ("POST", f"{V1}/projects/{{project_id}}/members"): ("project", MANAGE_PROJECT_CREATE),
    ("GET", f"{V1}/projects/{{project_id}}/members"): ("project", MANAGE_PROJECT),
    ("POST", f"{V1}/projects/{{project_id}}/items"): ("project", MANAGE_PROJECT_CREATE),
    ("GET", f"{V1}/projects/{{project_id}}/items"): ("project", MANAGE_PROJECT),
    ("GET", f"{V1}/projects/{{project_id}}/export"): ("project", MANAGE_PROJECT),
    ("POST", f"{V1}/assignments/next"): ("project", NEXT_ON_PROJECT),
    ("GET", f"{V1}/assignments/{{assignment_id}}"): ("assignment", HOLDER_ONLY),
    ("POST", f"{V1}/assignments/{{assignment_id}}/submit"): ("assignment", HOLDER_ONLY_SUBMIT),
    ("POST", f"{V1}/assignments/{{assignment_id}}/heartbeat"): ("assignment", HOLDER_ONLY),
    ("POST", f"{V1}/assignments/{{assignment_id}}/skip"): ("assignment", HOLDER_ONLY),
    ("POST", f"{V1}/assignments/{{assignment_id}}/release"): ("assignment", HOLDER_ONLY),
    ("PUT", f"{V1}/assignments/{{assignment_id}}/draft"): ("assignment", HOLDER_ONLY),
    ("POST", f"{V1}/render"): ("none", SIGNED_IN),
    ("POST", f"{V1}/assignments/{{assignment_id}}/generate"): ("assignment", HOLDER_ONLY_GENERATE),
    ("GET", f"{V1}/assignments/{{assignment_id}}/generations"): ("assignment", HOLDER_ONLY),
    ("POST", f"{V1}/applications"): ("none", PUBLIC),
    ("GET", f"{V1}/applications"): ("none", ADMIN_ONLY_READ),
    ("POST", f"{V1}/applications/{{application_id}}/decision"): ("none", ADMIN_ONLY_READ),
    ("GET", f"{V1}/skills"): ("none", PUBLIC_READ),
    ("POST", f"{V1}/skills"): ("none", OWNERS_AND_ADMINS_CREATE),
    ("POST", f"{V1}/assessments"): ("none", OWNERS_AND_ADMINS_CREATE),
    ("GET", f"{V1}/assessments"): ("none", SIGNED_IN),
    ("POST", f"{V1}/assessments/{{assessment_id}}/attempts"): ("none", SIGNED_IN_CREATE),
    ("POST", f"{V1}/assessment-attempts/{{attempt_id}}/submit"): ("attempt", OWN_ATTEMPT_ONLY),
    ("GET", f"{V1}/me/work"): ("none", SIGNED_IN),
    ("GET", f"{V1}/policies/current"): ("none", PUBLIC_READ),
    ("POST", f"{V1}/policies"): ("none", ADMIN_ONLY_CREATE),
    ("POST", f"{V1}/me/consents"): ("none", SIGNED_IN_CREATE),
    ("GET", f"{V1}/me/data-export"): ("none", SIGNED_IN),
    ("DELETE", f"{V1}/me"): ("none", SIGNED_IN_NO_CONTENT),
    ("POST", f"{V1}/users/{{user_id}}/erase"): ("user", ADMIN_ONLY_ON_A_USER),
    ("GET", f"{V1}/audit"): ("none", ADMIN_ONLY_READ),
    ("GET", f"{V1}/forums"): ("none", SIGNED_IN),
    ("POST", f"{V1}/forums"): ("none", ADMIN_ONLY_CREATE),
    ("GET", f"{V1}/forums/{{forum_id}}"): ("forum", READ_FORUM),
    ("GET", f"{V1}/forums/{{forum_id}}/threads"): ("forum", READ_FORUM),
    ("POST", f"{V1}/forums/{{forum_id}}/threads"): ("forum", WRITE_FORUM),
    ("GET", f"{V1}/threads/{{thread_id}}"): ("thread", READ_FORUM),
    ("POST", f"{V1}/threads/{{thread_id}}/posts"): ("thread", WRITE_FORUM),
    ("POST", f"{V1}/threads/{{thread_id}}/pin"): ("thread", MODERATE_FORUM),
    ("POST", f"{V1}/threads/{{thread_id}}/lock"): ("thread", MODERATE_FORUM),
    ("PATCH", f"{V1}/posts/{{post_id}}"): ("post", MODERATE_FORUM),
    ("GET", f"{V1}/posts/{{post_id}}/history"): ("post", READ_FORUM),
    ("POST", f"{V1}/posts/{{post_id}}/official"): ("post", MODERATE_FORUM),
    ("POST", f"{V1}/posts/{{post_id}}/hide"): ("post", MODERATE_FORUM),
    ("POST", f"{V1}/posts/{{post_id}}/report"): ("post", WRITE_FORUM),
    ("GET", f"{V1}/me/notifications"): ("none", SIGNED_IN),
    ("POST", f"{V1}/me/notifications/read"): ("none", SIGNED_IN),
}

# A snapshot of P (own) or Q (other): its project's owners and admins; 404 for everyone else.
#                                   own    other
MANAGE_SNAPSHOT: Statuses = {
    "anonymous": (401, 401),
    "contributor_member": (404, 404),
    "contributor_outsider": (404, 404),
    "reviewer_member": (404, 404),
    "owner": (200, 404),
    "other_owner": (404, 200),
    "admin": (200, 200),
}

POLICY.update(
    {
        ("POST", f"{V1}/projects/{{project_id}}/snapshots"): ("project", MANAGE_PROJECT_CREATE),
        ("GET", f"{V1}/projects/{{project_id}}/agreement"): ("project", MANAGE_PROJECT),
        ("GET", f"{V1}/projects/{{project_id}}/consensus"): ("project", MANAGE_PROJECT),
        ("GET", f"{V1}/snapshots/{{snapshot_id}}"): ("snapshot", MANAGE_SNAPSHOT),
        ("GET", f"{V1}/snapshots/{{snapshot_id}}/file"): ("snapshot", MANAGE_SNAPSHOT),
    }
)

ADMIN_ONLY_PUT: Statuses = {**ADMIN_ONLY_READ}

# A statement of contributor_member's: theirs to read, and admins'; nobody else's (404).
OWN_STATEMENT: Statuses = {
    "anonymous": (401,),
    "contributor_member": (200,),
    "contributor_outsider": (404,),
    "reviewer_member": (404,),
    "owner": (404,),
    "other_owner": (404,),
    "admin": (200,),
}

POLICY.update(
    {
        ("PUT", f"{V1}/projects/{{project_id}}/rate-card"): ("project", MANAGE_PROJECT),
        ("GET", f"{V1}/projects/{{project_id}}/rate-card"): ("project", SEE_PROJECT),
        ("GET", f"{V1}/projects/{{project_id}}/costs"): ("project", MANAGE_PROJECT),
        ("GET", f"{V1}/settings/pay"): ("none", SIGNED_IN),
        ("PUT", f"{V1}/settings/pay"): ("none", ADMIN_ONLY_PUT),
        ("PUT", f"{V1}/settings/location-tiers"): ("none", ADMIN_ONLY_PUT),
        ("GET", f"{V1}/me/earnings"): ("none", SIGNED_IN),
        ("GET", f"{V1}/me/earnings/summary"): ("none", SIGNED_IN),
        ("GET", f"{V1}/me/statements"): ("none", SIGNED_IN),
        ("GET", f"{V1}/statements/{{statement_id}}"): ("none", OWN_STATEMENT),
        ("POST", f"{V1}/payruns"): ("none", ADMIN_ONLY_CREATE),
        ("GET", f"{V1}/payruns"): ("none", ADMIN_ONLY_READ),
        ("GET", f"{V1}/payruns/{{payrun_id}}"): ("none", ADMIN_ONLY_READ),
        ("GET", f"{V1}/payruns/{{payrun_id}}/payouts.csv"): ("none", ADMIN_ONLY_READ),
        ("GET", f"{V1}/payruns/{{payrun_id}}/payouts.json"): ("none", ADMIN_ONLY_READ),
        ("POST", f"{V1}/payouts/{{payout_id}}/result"): ("none", ADMIN_ONLY_READ),
    }
)

# Appealing: 404 where the project is not yours to see, else 409 (nobody in the cast is paused
# or has rejected work; the appeals themselves are tested in test_quality).
APPEAL_ON_PROJECT: Statuses = {
    role: tuple(409 if s == 200 else s for s in statuses) for role, statuses in SEE_PROJECT.items()
}
# Deciding an appeal on P (own) or Q (other): the project's owners and admins; 403 for its
# members, 404 for everyone else.
#                                   own    other
DECIDE_APPEAL: Statuses = {
    "anonymous": (401, 401),
    "contributor_member": (403, 404),
    "contributor_outsider": (404, 404),
    "reviewer_member": (403, 404),
    "owner": (200, 404),
    "other_owner": (404, 200),
    "admin": (200, 200),
}

OWNERS_AND_ADMINS_READ: Statuses = {
    "anonymous": (401,),
    "contributor_member": (403,),
    "contributor_outsider": (403,),
    "reviewer_member": (403,),
    "owner": (200,),
    "other_owner": (200,),
    "admin": (200,),
}

POLICY.update(
    {
        ("GET", f"{V1}/assessments/{{assessment_id}}/grading"): ("none", OWNERS_AND_ADMINS_READ),
        ("POST", f"{V1}/assessment-attempts/{{attempt_id}}/grades"): (
            "none",
            OWNERS_AND_ADMINS_READ,
        ),
        ("GET", f"{V1}/me/standing"): ("none", SIGNED_IN),
        ("GET", f"{V1}/me/quality-events"): ("none", SIGNED_IN),
        ("GET", f"{V1}/me/appeals"): ("none", SIGNED_IN),
        ("POST", f"{V1}/appeals"): ("project", APPEAL_ON_PROJECT),
        ("POST", f"{V1}/appeals/{{appeal_id}}/decision"): ("appeal", DECIDE_APPEAL),
        ("GET", f"{V1}/projects/{{project_id}}/appeals"): ("project", MANAGE_PROJECT),
        ("GET", f"{V1}/projects/{{project_id}}/quality"): ("project", MANAGE_PROJECT),
        ("GET", f"{V1}/projects/{{project_id}}/quality/{{user_id}}"): ("project", MANAGE_PROJECT),
    }
)

# Erasing someone ends their sessions: these operations are called by a stand-in with the
# caller's roles, on a fresh "other" user, so the cast stays signed in for the other rows.
STAND_INS = {("DELETE", f"{V1}/me"), ("POST", f"{V1}/users/{{user_id}}/erase")}

# Which of P, Q and O each caller finds in GET /projects.
LISTED: dict[str, set[str]] = {
    "contributor_member": {"own", "open"},
    "contributor_outsider": {"open"},
    "reviewer_member": {"own", "open"},
    "owner": {"own", "open"},
    "other_owner": {"other", "open"},
    "admin": {"own", "other", "open"},
}

HTTP_METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}


def operations(app: Any) -> set[tuple[str, str]]:
    """(METHOD, path template) for every operation in the app's OpenAPI document."""
    return {
        (method.upper(), path)
        for path, item in app.openapi()["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


def test_every_operation_in_openapi_has_a_policy(tmp_path: Path) -> None:
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'unused.db'}"))
    ops = operations(app)
    assert ops, "the OpenAPI document lists no operations"
    missing = sorted(ops - POLICY.keys())
    assert not missing, f"operations with no row in POLICY (decide who may call them): {missing}"
    stale = sorted(POLICY.keys() - ops)
    assert not stale, f"rows in POLICY for operations that no longer exist: {stale}"
    for key, (kind, statuses) in POLICY.items():
        assert set(statuses) == set(ROLES), key
        assert all(len(s) == len(TARGETS[kind]) for s in statuses.values()), key
    # The document says which operations need a token: exactly those anonymous callers fail.
    paths = app.openapi()["paths"]
    for method, path in ops:
        declared = bool(paths[path][method.lower()].get("security"))
        needs_token = set(POLICY[(method, path)][1]["anonymous"]) == {401}
        assert declared == needs_token, (method, path, declared)


# ---- the world the table is checked against ------------------------------------------------

PASSWORD = "correct-horse"


@dataclass
class Cast:
    world: World
    actors: dict[str, Actor]
    spare: Actor  # someone who is none of the roles: the "other" user, added as a member
    projects: dict[str, str]  # target → project id
    work: str  # a project every signed-in role is a member of, for their own leases
    assessment: str  # an assessment anyone may take, with attempts enough for every call
    forums: dict[str, str]  # target → forum id
    snapshots: dict[str, str] = field(default_factory=dict)  # target → snapshot id
    counter: itertools.count[int] = field(default_factory=itertools.count)
    paid: dict[str, str] = field(default_factory=dict)
    written: str = ""  # an assessment with a written (graded) answer
    written_item: str = ""

    def password(self, role: str) -> str:
        return "admin-password" if role == "admin" else PASSWORD

    async def lease(self, role: str) -> str:
        """The id of a live lease ``role`` holds on the work project (taking one if needed)."""
        r = await self.actors[role].next(self.work)
        assert r.status_code == 200, (role, r.status_code, r.text)
        return str(r.json()["id"])

    async def application(self) -> str:
        """A new pending application, to be decided."""
        n = next(self.counter)
        r = await self.world.client.post(
            V1 + "/applications",
            json={**APPLICATION, "email": f"applicant{n}@example.org"},
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    async def written_attempt(self) -> str:
        """A submitted attempt, by a new contributor, whose written answer waits for a grade."""
        admin = self.actors["admin"]
        if not self.written:
            r = await admin.post("/assessments", json=WRITTEN_ASSESSMENT)
            assert r.status_code == 201, r.text
            self.written = r.json()["id"]
        who = await self.world.user("contributor")
        r = await who.post(f"/assessments/{self.written}/attempts")
        assert r.status_code == 201, r.text
        attempt = r.json()
        self.written_item = attempt["items"][0]["id"]
        answer = {
            "preference": {"choice": "left", "strength": 2},
            "rationale": "Because A is the safer dose.",
        }
        r = await who.post(
            f"/assessment-attempts/{attempt['id']}/submit",
            json={"answers": {attempt["items"][0]["id"]: answer}},
        )
        assert r.status_code == 200 and r.json()["pending"], r.text
        return str(attempt["id"])

    async def attempt(self, who: Actor) -> str:
        """An open attempt of ``who`` at the cast's assessment."""
        r = await who.post(f"/assessments/{self.assessment}/attempts")
        assert r.status_code in (200, 201), r.text
        return str(r.json()["id"])


async def build_cast(world: World) -> Cast:
    admin = await world.admin()
    actors: dict[str, Actor] = {"admin": admin}
    actors["owner"] = await world.user("owner")
    actors["other_owner"] = await world.user("owner")
    for role in ("contributor_member", "contributor_outsider", "reviewer_member"):
        actors[role] = await world.user("contributor")
    spare = await world.user("contributor")
    owner, other_owner = actors["owner"], actors["other_owner"]
    p = await world.project(owner, name="P")
    q = await world.project(other_owner, name="Q")
    o = await world.project(other_owner, name="O", visibility="open")
    work = await world.project(owner, name="W", template=WORK_TEMPLATE, models=WORK_MODELS)
    for proj, who in ((p, owner), (q, other_owner), (o, other_owner)):
        rows = [pairwise_item(n) for n in range(8)]
        await world.items(who, proj["id"], rows)
    await world.items(owner, work["id"], [pairwise_item(n) for n in range(40)])
    await world.member(owner, p["id"], actors["contributor_member"])
    await world.member(owner, p["id"], actors["reviewer_member"], "reviewer")
    for role in ROLES:
        if role not in ("anonymous", "owner"):
            await world.member(owner, work["id"], actors[role])
    projects = {"own": p["id"], "other": q["id"], "open": o["id"]}
    r = await admin.post("/assessments", json=ASSESSMENT)
    assert r.status_code == 201, r.text
    assessment_id = r.json()["id"]
    r = await admin.post("/policies", json={"version": CURRENT_POLICY, "markdown": "# Privacy"})
    assert r.status_code == 201, r.text
    for who in [*actors.values(), spare]:
        r = await who.post("/me/consents", json={"policy_version": CURRENT_POLICY})
        assert r.status_code == 201, r.text
    forums = {}
    async with world.app.state.db.session() as s:
        now = world.app.state.clock.now()
        for target in ("own", "other"):
            project = await s.get(Project, int(projects[target]))
            assert project is not None
            forums[target] = str((await forum.project_forum(s, project, now)).id)
        lounge = await forum.create_community(s, ForumIn(title="Lounge"), now)
        forums["community"] = str(lounge.id)
    return Cast(world, actors, spare, projects, work["id"], assessment_id, forums)


ROLES_OF = {
    "contributor_member": ("contributor",),
    "contributor_outsider": ("contributor",),
    "reviewer_member": ("contributor",),
    "owner": ("owner",),
    "other_owner": ("owner",),
    "admin": ("admin",),
}


async def stand_in(cast: Cast, role: str) -> Actor:
    return await cast.world.user(*ROLES_OF[role])


async def fresh_thread(cast: Cast, target: str) -> tuple[str, str]:
    """A new thread in the target's forum, by its owner (an admin in the community forum):
    its id and the id of its first post. Written directly and dated two minutes ago, so these
    fixtures do not count against their authors' posting rate limit (tested in test_forum)."""
    author = {"own": "owner", "other": "other_owner", "community": "admin"}[target]
    app = cast.world.app
    async with app.state.db.session() as s:
        fa = forum.ForumAccess(await s.get_one(Forum, int(cast.forums[target])), True, None)
        body = ThreadIn(title="A question", body="About the guidelines?")
        thread = await forum.create_thread(
            s, fa, int(cast.actors[author].id), body, app.state.clock.now() - timedelta(minutes=2)
        )
        post_id = await s.scalar(select(Post.id).where(Post.thread_id == thread.id))
    return str(thread.id), str(post_id)


async def request_for(
    cast: Cast, method: str, template: str, role: str, target: str
) -> tuple[str, dict[str, Any]]:
    """The path and keyword arguments of a well-formed call of this operation."""
    n = next(cast.counter)
    me = cast.actors.get(role)
    params: dict[str, str] = {"skill": "medicine.cardiology"}
    if "{project_id}" in template:
        params["project_id"] = cast.projects[target]
    if (method, template) in STAND_INS and me is not None:
        me = cast.actors[f"stand_in:{role}"] = await stand_in(cast, role)
    if "{user_id}" in template:
        other = cast.spare
        if (method, template) in STAND_INS:
            other = await cast.world.user("contributor")
        params["user_id"] = me.id if target == "own" and me is not None else other.id
    if "{assignment_id}" in template:
        holder = role if target == "own" and role != "anonymous" else "contributor_member"
        if target == "other" and role == "contributor_member":
            holder = "reviewer_member"
        params["assignment_id"] = await cast.lease(holder)
    if "{application_id}" in template:
        params["application_id"] = await cast.application()
    if "{assessment_id}" in template:
        params["assessment_id"] = cast.assessment
    if "{attempt_id}" in template and template.endswith("/grades"):
        params["attempt_id"] = await cast.written_attempt()
    elif "{attempt_id}" in template:
        mine = target == "own" and me is not None
        params["attempt_id"] = await cast.attempt(me if mine and me else cast.spare)
    pay_ids = {"{payrun_id}", "{payout_id}", "{statement_id}"}
    if pay_ids & set(re.findall(r"\{\w+\}", template)) or template.endswith("/rate-card"):
        params.update(await paid_week(cast))
    if "{snapshot_id}" in template:
        params["snapshot_id"] = await snapshot_of(cast, target)
    if "{appeal_id}" in template:
        params["appeal_id"] = await fresh_appeal(cast, target)
    if "{forum_id}" in template:
        params["forum_id"] = cast.forums[target]
    if "{thread_id}" in template or "{post_id}" in template:
        params["thread_id"], params["post_id"] = await fresh_thread(cast, target)
    path = template.format(**params).removeprefix(V1)
    bodies: dict[tuple[str, str], Any] = {
        ("POST", "/auth/token"): {
            "email": (me or cast.spare).email,
            "password": cast.password(role) if me else PASSWORD,
        },
        ("POST", "/users"): {"email": f"new{n}@example.org", "name": "New", "password": PASSWORD},
        ("PUT", "/users/{user_id}/skills/{skill}"): {"level": 2},
        ("POST", "/projects"): {"name": f"New {n}", "template": PAIRWISE_TEMPLATE},
        ("PATCH", "/projects/{project_id}"): {"name": f"Renamed {n}"},
        ("POST", "/projects/{project_id}/members"): {
            "user_id": cast.spare.id,
            "role": "contributor",
        },
        ("POST", "/projects/{project_id}/items"): [pairwise_item(1000 + n)],
        ("POST", "/assignments/next"): {"project_id": cast.projects.get(target)},
        ("POST", "/assignments/{assignment_id}/submit"): {"answer": GOOD_ANSWER},
        ("POST", "/assignments/{assignment_id}/heartbeat"): {"active_seconds": 10},
        ("PUT", "/assignments/{assignment_id}/draft"): {"answer": {"rationale": "so far"}},
        ("POST", "/render"): {"texts": ["$x^2$"]},
        ("POST", "/assignments/{assignment_id}/generate"): {"field": "critique"},
        ("POST", "/applications"): {**APPLICATION, "email": f"self{n}@example.org"},
        ("POST", "/applications/{application_id}/decision"): {"decision": "approve"},
        ("POST", "/skills"): {"key": f"code.lang{n}", "name": f"Language {n}"},
        ("POST", "/assessments"): ASSESSMENT,
        ("POST", "/assessment-attempts/{attempt_id}/submit"): {"answers": {}},
        ("POST", "/assessment-attempts/{attempt_id}/grades"): {
            "grades": [{"item_id": cast.written_item, "question": "rationale", "score": 1.0}]
        },
        ("PUT", "/projects/{project_id}/rate-card"): RATE_CARD,
        ("PUT", "/settings/pay"): {"currency": "USD"},
        ("PUT", "/settings/location-tiers"): {"BR": 2},
        ("POST", "/payruns"): {"period_start": "2020-01-06"},
        ("POST", "/payouts/{payout_id}/result"): {"status": "paid", "reference": "ref-1"},
        ("POST", "/policies"): {
            "version": f"v{n}",
            "markdown": "# Privacy, to come",
            "effective_at": "2999-01-01T00:00:00Z",
        },
        ("POST", "/me/consents"): {"policy_version": CURRENT_POLICY},
        ("POST", "/forums"): {"title": f"Category {n}"},
        ("POST", "/forums/{forum_id}/threads"): {"title": f"Question {n}", "body": "Why?"},
        ("POST", "/threads/{thread_id}/posts"): {"body": f"Reply {n}"},
        ("PATCH", "/posts/{post_id}"): {"body": f"Edited {n}"},
        ("POST", "/posts/{post_id}/report"): {"reason": "off topic"},
        ("POST", "/me/notifications/read"): {"ids": []},
        ("POST", "/projects/{project_id}/snapshots"): {"name": f"snap {n}", "filters": {}},
        ("POST", "/appeals"): {"project_id": cast.projects.get(target), "message": "Please."},
        ("POST", "/appeals/{appeal_id}/decision"): {"decision": "uphold", "reason": "Checked."},
    }
    key = (method, template.removeprefix(V1))
    return path, ({"json": bodies[key]} if key in bodies else {})


async def fresh_appeal(cast: Cast, target: str) -> str:
    """An open appeal of the spare contributor against a pause on P (own) or Q (other),
    written directly: each call decides its own."""
    app = cast.world.app
    now = app.state.clock.now()
    async with app.state.db.session() as s:
        appeal = Appeal(
            project_id=int(cast.projects[target]),
            user_id=int(cast.spare.id),
            kind="pause",
            message="I was ill that week.",
            status="open",
            due_at=now + timedelta(days=7),
            created_at=now,
        )
        s.add(appeal)
        await s.flush()
        return str(appeal.id)


async def snapshot_of(cast: Cast, target: str) -> str:
    """A snapshot of P (own) or Q (other), made once by the project's owner."""
    if target not in cast.snapshots:
        who = cast.actors["owner" if target == "own" else "other_owner"]
        r = await who.post(f"/projects/{cast.projects[target]}/snapshots", json={"name": "s"})
        assert r.status_code == 201, r.text
        cast.snapshots[target] = r.json()["id"]
    return cast.snapshots[target]


RATE_CARD: dict[str, Any] = {
    "effective_from": "2100-01-04T00:00:00Z",
    "stages": {"attempt": {"per_task": {"amount": 100, "currency": "USD"}}},
}


async def paid_week(cast: Cast) -> dict[str, str]:
    """A closed pay week in which contributor_member was paid: a run, a statement, a payout."""
    if cast.paid:
        return cast.paid
    world, owner = cast.world, cast.actors["owner"]
    admin, member = cast.actors["admin"], cast.actors["contributor_member"]
    clock = world.app.state.clock
    now = clock.now()
    monday = (now - timedelta(days=now.weekday())).date()
    for target in ("own", "other", "open"):
        who = owner if target == "own" else cast.actors["other_owner"]
        body = {**RATE_CARD, "effective_from": f"{monday}T00:00:00Z"}
        r = await who.put(f"/projects/{cast.projects[target]}/rate-card", json=body)
        assert r.status_code == 200, r.text
    lease = await member.next(cast.projects["own"])
    r = await member.post(f"/assignments/{lease.json()['id']}/submit", json={"answer": GOOD_ANSWER})
    assert r.status_code == 201, r.text
    clock.advance(timedelta(days=7))
    run = await admin.post("/payruns", json={"period_start": str(monday)})
    assert run.status_code == 201, run.text
    (statement,) = (await member.get("/me/statements")).json()["data"]
    cast.paid = {
        "payrun_id": run.json()["id"],
        "statement_id": statement["id"],
        "payout_id": statement["payout"]["id"],
    }
    return cast.paid


async def call(cast: Cast, role: str, method: str, path: str, **kw: Any) -> httpx.Response:
    if role == "anonymous":
        return await cast.world.client.request(method, V1 + path, **kw)
    actor = cast.actors.pop(f"stand_in:{role}", None) or cast.actors[role]
    return await actor.request(method, path, **kw)


def check_shape(r: httpx.Response) -> str | None:
    """What is wrong with the form of an answer, whatever its status."""
    if r.status_code >= 400:
        if not r.headers.get("content-type", "").startswith("application/problem+json"):
            return f"{r.status_code} is not problem+json"
        body = r.json()
        if body.get("status") != r.status_code or not all(
            body.get(k) for k in ("type", "title", "detail")
        ):
            return f"{r.status_code} problem lacks type/title/status/detail: {body}"
    if r.status_code == 401 and r.headers.get("www-authenticate") != "Bearer":
        return "401 without WWW-Authenticate: Bearer"
    if (
        r.status_code == 204
        and r.request.url.path.endswith("/assignments/next")
        and not r.headers.get("inlier-reason")
    ):
        return "204 without Inlier-Reason"
    return None


async def test_who_may_call_what(world: World, app: Any) -> None:
    """Walk every operation in the OpenAPI document; report every cell that differs."""
    cast = await build_cast(world)
    wrong: list[str] = []
    for method, template in sorted(operations(app)):
        if (method, template) not in POLICY:
            wrong.append(f"{method} {template}: no row in POLICY")
            continue
        kind, statuses = POLICY[(method, template)]
        for role in ROLES:
            for target, expected in zip(TARGETS[kind], statuses[role], strict=True):
                path, kw = await request_for(cast, method, template, role, target)
                r = await call(cast, role, method, path, **kw)
                cell = f"{method} {template} as {role} on {target}"
                if r.status_code != expected:
                    wrong.append(f"{cell}: expected {expected}, got {r.status_code} {r.text[:120]}")
                elif (problem := check_shape(r)) is not None:
                    wrong.append(f"{cell}: {problem}")
    assert not wrong, f"{len(wrong)} cells differ from POLICY:\n" + "\n".join(wrong)


async def test_the_project_list_shows_exactly_what_each_caller_may_see(world: World) -> None:
    cast = await build_cast(world)
    ids = {pid: target for target, pid in cast.projects.items()}
    for role, expected in LISTED.items():
        r = await cast.actors[role].get("/projects", params={"limit": 1000})
        assert r.status_code == 200
        seen = {ids[p["id"]] for p in r.json()["data"] if p["id"] in ids}
        assert seen == expected, role


async def test_what_a_member_sees_of_a_project_says_their_role(world: World) -> None:
    """``my_role`` is the caller's membership, so clients can tell what they may do."""
    cast = await build_cast(world)
    expected = {
        "contributor_member": "contributor",
        "reviewer_member": "reviewer",
        "owner": "owner",
        "admin": None,
    }
    for role, my_role in expected.items():
        r = await cast.actors[role].get(f"/projects/{cast.projects['own']}")
        assert r.status_code == 200 and r.json()["my_role"] == my_role, role
