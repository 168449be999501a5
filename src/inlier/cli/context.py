"""What every command shares: settings, a database, the acting user, and error printing."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from sqlalchemy import select

from inlier.accounts.models import User
from inlier.accounts.passwords import Passwords
from inlier.accounts.service import Principal, principal_of, user_by_email
from inlier.db.engine import Database
from inlier.kit.errors import DomainError
from inlier.settings import Settings

T = TypeVar("T")
console = Console(stderr=True)
out = Console()


def settings_from(database_url: str | None) -> Settings:
    s = Settings()
    if database_url:
        s = s.model_copy(update={"database_url": database_url})
    return s


def run(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run one async unit of work against the database, printing domain errors plainly."""

    async def go() -> T:
        db = Database(settings, null_pool=True)
        try:
            return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(go())
    except DomainError as exc:
        console.print(f"[red]error:[/red] {exc.detail}")
        for e in exc.errors or []:
            loc = ".".join(str(p) for p in e.get("loc", []))
            console.print(f"  {loc}: {e.get('msg')}")
        raise typer.Exit(code=2) from None


async def acting_user(db: Database, email: str | None) -> Principal:
    """The user a command acts as: ``--as`` or the first admin."""
    async with db.session() as s:
        if email:
            return principal_of(await user_by_email(s, email))
        users = (await s.execute(select(User).order_by(User.id))).scalars()
        admin = next((u for u in users if "admin" in u.roles), None)
        if admin is None:
            raise DomainError("no admin yet; run `inlier init` first")
        return principal_of(admin)


async def managed_project(db: Database, as_user: str | None, project: str) -> Any:
    """The project's access record, if the acting user may manage it."""
    from inlier.projects import service as projects

    who = await acting_user(db, as_user)
    async with db.session() as s:
        return await projects.manage(s, who, project)


def passwords_for(settings: Settings) -> Passwords:
    return Passwords(settings.argon2_time_cost, settings.argon2_memory_kib)


def read_secret(from_stdin: bool, prompt: str) -> str:
    if from_stdin:
        value = sys.stdin.readline().rstrip("\n")
    else:
        value = typer.prompt(prompt, hide_input=True, confirmation_prompt=True)
    if len(value) < 8:
        console.print("[red]error:[/red] passwords are at least 8 characters")
        raise typer.Exit(code=2)
    return value


def dump(data: Any) -> None:
    import json

    out.print_json(json.dumps(data, default=str))
