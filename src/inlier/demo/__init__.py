"""Demo data: a small network and one project per kind of work, so `inlier demo` shows them all."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from sqlalchemy import select

from inlier.accounts import service as accounts
from inlier.accounts.models import User
from inlier.accounts.passwords import Passwords
from inlier.db.engine import Database
from inlier.kit.clock import Clock
from inlier.projects import service as projects
from inlier.projects.schemas import ProjectIn

PASSWORD = "inlier-demo"
PEOPLE = [
    ("admin@demo.inlier", "Ada Admin", ["admin"], {}),
    ("owner@demo.inlier", "Olu Owner", ["owner"], {}),
    (
        "cardio@demo.inlier",
        "Dr. Camila Reyes",
        ["contributor"],
        {
            "country": "BR",
            "degree": "MD",
            "specialties": ["medicine.cardiology"],
            "languages": ["pt-BR", "en"],
        },
    ),
    (
        "math@demo.inlier",
        "Dr. Minh Tran",
        ["contributor"],
        {"country": "VN", "degree": "PhD", "specialties": ["math.olympiad"], "languages": ["en"]},
    ),
    (
        "reviewer@demo.inlier",
        "Dr. Ruth Okafor",
        ["contributor", "reviewer"],
        {
            "country": "NG",
            "degree": "MD",
            "specialties": ["medicine.cardiology"],
            "languages": ["en"],
        },
    ),
]


# Each project: <name>_project.json and <name>_items.json, and who works on it.
DEMO_PROJECTS = [
    ("generate", ("cardio@demo.inlier",)),
    ("cardiology", ("cardio@demo.inlier", "math@demo.inlier")),
    ("helpfulness", ("cardio@demo.inlier", "math@demo.inlier")),
    ("ranking", ("cardio@demo.inlier", "math@demo.inlier")),
    ("math", ("math@demo.inlier",)),
]


def _load(name: str) -> Any:
    return json.loads(resources.files("inlier.demo").joinpath(name).read_text("utf-8"))


async def seed(db: Database, clock: Clock, passwords: Passwords) -> list[tuple[str, str, str]]:
    """Create the demo people and projects once; returns (email, password, roles) to print."""
    now = clock.now()
    logins = [(email, PASSWORD, ", ".join(roles)) for email, _, roles, _ in PEOPLE]
    async with db.session() as s:
        if await s.scalar(select(User.id).where(User.email == "owner@demo.inlier")):
            return logins
        users: dict[str, User] = {}
        for email, name, roles, profile in PEOPLE:
            users[email] = await accounts.create_user(
                s,
                email=email,
                name=name,
                password=PASSWORD,
                roles=roles,
                profile=profile,
                now=now,
                passwords=passwords,
            )
        for email in ("cardio@demo.inlier", "reviewer@demo.inlier"):
            await accounts.set_skill(s, users[email].id, "medicine.cardiology", 3, now)
        owner = accounts.principal_of(users["owner@demo.inlier"])
        for name, workers in DEMO_PROJECTS:
            body = ProjectIn.model_validate(_load(f"{name}_project.json"))
            project = await projects.create_project(s, owner, body, now)
            acc = projects.Access(project, "owner")
            await projects.import_items(s, acc, _load(f"{name}_items.json"), now)
            for email in workers:
                await projects.add_member(s, acc, str(users[email].id), "contributor", now)
            await projects.add_member(
                s, acc, str(users["reviewer@demo.inlier"].id), "reviewer", now
            )
            if name == "cardiology":
                await _pinned_question(s, project, users, now)
    return logins


async def _pinned_question(s: Any, project: Any, users: dict[str, User], now: Any) -> None:
    """The cardiology forum's pinned Q&A, which the workbench shows beside the guidelines."""
    from inlier.forum import service as forum
    from inlier.forum.schemas import ThreadIn

    fa = forum.ForumAccess(await forum.project_forum(s, project, now), True, None)
    question = ThreadIn(
        title="Renal dosing: does a correct drug with the wrong dose win?",
        body=(
            "Response A picks the right anticoagulant but the full dose for a patient with "
            "CrCl $= 28$ mL/min; B picks an older drug with the right adjustment. "
            "Which is *clinically sound*?"
        ),
    )
    thread = await forum.create_thread(s, fa, users["cardio@demo.inlier"].id, question, now)
    ta = forum.ThreadAccess(thread, fa)
    owner = accounts.principal_of(users["owner@demo.inlier"])
    answer = await forum.reply(
        s,
        ta,
        owner,
        "A wrong dose makes an answer unsafe, whatever the drug: prefer **B**, and say in the "
        "rationale that A needs a renal adjustment (e.g. apixaban $2.5$ mg twice daily when "
        "two of age $\\geq 80$, weight $\\leq 60$ kg, creatinine $\\geq 1.5$ mg/dL apply).",
        now,
    )
    await forum.set_official(s, answer, ta, True, now)
    await forum.set_pinned(s, ta, True)
