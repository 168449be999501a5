"""Commands. Each one calls the same services as the API."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TimeRemainingColumn,
)

from inlier.accounts import service as accounts
from inlier.accounts.schemas import UserIn
from inlier.audit import service as audit
from inlier.cli.context import (
    acting_user,
    console,
    dump,
    managed_project,
    out,
    passwords_for,
    read_secret,
    run,
    settings_from,
)
from inlier.db import migrate
from inlier.db.engine import Database
from inlier.kit.clock import Clock
from inlier.kit.errors import InvalidInput
from inlier.projects import service as projects
from inlier.projects.files import detect_format, total_units
from inlier.projects.schemas import ProjectIn

app = typer.Typer(
    help="Inlier: expert human feedback on AI models. Set INLIER_DATABASE_URL "
    "(default sqlite:///./inlier.db) or pass --database-url.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema: migrate up or down.", no_args_is_help=True)
users_app = typer.Typer(help="Create and list users.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens for scripts and the SDK.", no_args_is_help=True)
projects_app = typer.Typer(help="Create and inspect projects.", no_args_is_help=True)
items_app = typer.Typer(help="Import items into a project.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log: verify its chain, export it.", no_args_is_help=True)
mail_app = typer.Typer(help="The email outbox (notifications sent by email).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(projects_app, name="projects")
app.add_typer(items_app, name="items")
app.add_typer(audit_app, name="audit")
privacy_app = typer.Typer(
    help="Personal data: purge what has outlived its retention.", no_args_is_help=True
)
app.add_typer(privacy_app, name="privacy")
#: The request id of changes made from the command line, as the audit log shows them.
CLI = "cli"
app.add_typer(mail_app, name="mail")

DbUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="INLIER_DATABASE_URL",
        help="sqlite:///file.db or postgresql://user@host/db",
    ),
]
AsUser = Annotated[
    str | None, typer.Option("--as", help="act as this user (email); default: the first admin")
]


@db_app.command("upgrade")
def db_upgrade(
    database_url: DbUrl = None,
    revision: Annotated[str, typer.Argument(help="target revision")] = "head",
) -> None:
    """Migrate the database schema to the latest version (or REVISION)."""
    settings = settings_from(database_url)
    migrate.upgrade(settings.database_url, revision)
    console.print(f"[green]database at {revision}[/green]: {settings.database_url}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="target revision, e.g. base")],
    database_url: DbUrl = None,
) -> None:
    """Migrate the database schema down to REVISION."""
    settings = settings_from(database_url)
    migrate.downgrade(settings.database_url, revision)
    console.print(f"database at {revision}")


@app.command()
def init(
    admin_email: Annotated[str, typer.Option(help="email of the first admin")],
    admin_password_stdin: Annotated[
        bool, typer.Option("--admin-password-stdin", help="read the password from standard input")
    ] = False,
    admin_name: Annotated[str, typer.Option(help="display name")] = "Admin",
    database_url: DbUrl = None,
) -> None:
    """Create the database schema and the first admin."""
    settings = settings_from(database_url)
    password = read_secret(admin_password_stdin, "Admin password")
    migrate.upgrade(settings.database_url)

    async def work(db: Database) -> str:
        async with db.session() as s:
            existing = await accounts.find_user_by_email(s, admin_email)
            if existing is not None:
                return f"{admin_email} already exists; nothing changed"
            user = await accounts.create_user(
                s,
                email=admin_email,
                name=admin_name,
                password=password,
                roles=["admin"],
                profile={},
                now=Clock().now(),
                passwords=passwords_for(settings),
            )
            await accounts.secret_key(s)
            return f"created admin {user.email} (id {user.id})"

    console.print(f"[green]{run(settings, work)}[/green]")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="worker processes (PostgreSQL: one per core)")] = 1,
    database_url: DbUrl = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning")] = "info",
    forwarded_allow_ips: Annotated[
        str,
        typer.Option(
            help="proxies whose X-Forwarded-For is trusted (comma-separated, or *); the "
            "client address feeds the sign-in limits"
        ),
    ] = "127.0.0.1",
) -> None:
    """Migrate the database if needed, then serve the API (and pages) with uvicorn."""
    import uvicorn

    settings = settings_from(database_url)
    migrate.upgrade(settings.database_url)
    os.environ["INLIER_DATABASE_URL"] = settings.database_url
    os.environ.setdefault("INLIER_LOG_LEVEL", log_level.upper())
    console.print(
        f"Inlier on http://{host}:{port}  "
        f"(API docs: /api/v1/docs, database: {settings.database_url})"
    )
    uvicorn.run(
        "inlier.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level.lower(),
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
    )


@app.command()
def worker(
    database_url: DbUrl = None,
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="jobs this process runs at the same time")
    ] = 1,
) -> None:
    """Run background jobs (PostgreSQL): purge expired personal data on INLIER_PURGE_CRON and
    send the email outbox on INLIER_MAIL_CRON, until SIGINT or SIGTERM.

    Every `inlier serve` process runs such a worker too, unless INLIER_WORKER_IN_SERVER=false.
    Any number of workers may run against one database: each job runs once.
    On SQLite there are no workers: the server purges on a timer.
    """
    import asyncio
    import logging

    from inlier.jobs import worker as jobs
    from inlier.kit.logging import configure_logging
    from inlier.settings import is_sqlite

    settings = settings_from(database_url)
    if is_sqlite(settings.database_url):
        console.print(
            "[red]error:[/red] workers run on PostgreSQL; on SQLite `inlier serve` purges on a "
            "timer and `inlier mail send` sends the outbox"
        )
        raise typer.Exit(code=2)
    configure_logging(settings.log_level, json_logs=settings.log_json)
    # Procrastinate logs through the standard library: its job starts, ends and failures.
    level = logging.getLevelName(settings.log_level.upper())
    logging.basicConfig(
        level=level if isinstance(level, int) else logging.INFO,
        format="%(levelname)s %(name)s %(message)s",
    )
    console.print(f"worker on {settings.database_url} (concurrency {concurrency}); Ctrl-C stops")
    try:
        asyncio.run(jobs.run(settings, concurrency=concurrency))
    except jobs.SchemaMissing as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from None
    console.print("worker stopped")


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    database_url: DbUrl = None,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="only create the demo data")] = False,
) -> None:
    """Create the schema and demo data (people and projects), print the logins, and serve."""
    from inlier.demo import seed

    settings = settings_from(database_url)
    migrate.upgrade(settings.database_url)
    logins = run(settings, lambda db: seed(db, Clock(), passwords_for(settings)))
    out.print("\n[bold]Inlier demo[/bold] — sign in with any of these (email / password):\n")
    for email, password, roles in logins:
        out.print(f"  {email} / {password}    [dim]({roles})[/dim]")
    out.print(
        f"\nAPI: http://{host}:{port}/api/v1/docs   ·   get a token: "
        f"curl -s -X POST http://{host}:{port}/api/v1/auth/token "
        "-H 'content-type: application/json' "
        f'-d \'{{"email": "cardio@demo.inlier", "password": "inlier-demo"}}\'\n'
    )
    if not no_serve:
        serve(
            host=host,
            port=port,
            workers=1,
            database_url=settings.database_url,
            log_level="info",
            forwarded_allow_ips="127.0.0.1",
        )


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="sign-in email")],
    name: Annotated[str, typer.Option(help="display name")],
    role: Annotated[
        list[str], typer.Option(help="contributor, reviewer, owner or admin (repeatable)")
    ] = ["contributor"],  # noqa: B006 - Typer reads the default list
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from stdin")
    ] = False,
    country: Annotated[str | None, typer.Option(help="ISO country code, e.g. BR")] = None,
    degree: Annotated[str | None, typer.Option(help="e.g. MD, PhD")] = None,
    database_url: DbUrl = None,
) -> None:
    """Create a user (as POST /users does)."""
    settings = settings_from(database_url)
    password = read_secret(password_stdin, "Password")
    profile: dict[str, Any] = {k: v for k, v in {"country": country, "degree": degree}.items() if v}
    try:
        body = UserIn.model_validate(
            {"email": email, "name": name, "password": password, "roles": role, "profile": profile}
        )
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from None

    async def work(db: Database) -> dict[str, Any]:
        async with db.session() as s:
            user = await accounts.create_user(
                s,
                email=body.email,
                name=body.name,
                password=body.password,
                roles=list(body.roles),
                profile=body.profile.model_dump(exclude_none=True),
                now=Clock().now(),
                passwords=passwords_for(settings),
            )
            after = {"roles": list(user.roles), "status": user.status}
            await audit.record(s, None, "user.create", f"user:{user.id}", {"after": after}, CLI)
            return await accounts.user_out(s, user)

    dump(run(settings, work))


@users_app.command("list")
def users_list(database_url: DbUrl = None) -> None:
    """List users (id, email, roles)."""
    from sqlalchemy import select

    from inlier.accounts.models import User

    async def work(db: Database) -> list[tuple[int, str, list[str]]]:
        async with db.session() as s:
            rows = (
                await s.execute(select(User.id, User.email, User.roles).order_by(User.id))
            ).all()
            return [(r[0], r[1], r[2]) for r in rows]

    for uid, email, roles in run(settings_from(database_url), work):
        out.print(f"{uid}\t{email}\t{','.join(roles)}")


@tokens_app.command("create")
def tokens_create(
    email: Annotated[str, typer.Option(help="whose token")],
    name: Annotated[str, typer.Option(help="a label to recognise it by")] = "cli",
    days: Annotated[int | None, typer.Option(help="expires after this many days")] = None,
    database_url: DbUrl = None,
) -> None:
    """Create an API token for a user and print it (it is stored hashed; keep it safe)."""

    async def work(db: Database) -> str:
        async with db.session() as s:
            user = await accounts.user_by_email(s, email)
            return await accounts.issue_token(s, user, now=Clock().now(), name=name, days=days)

    out.print(run(settings_from(database_url), work))


def _load_spec(path: Path) -> Any:
    text = path.read_text("utf-8")
    try:
        return (
            yaml.safe_load(text) if path.suffix.lower() in (".yaml", ".yml") else json.loads(text)
        )
    except (yaml.YAMLError, ValueError) as exc:
        console.print(f"[red]error:[/red] {path}: {exc}")
        raise typer.Exit(code=2) from None


@projects_app.command("create")
def projects_create(
    template: Annotated[
        Path,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="template YAML/JSON: fields and questions, or a whole project",
        ),
    ],
    name: Annotated[str | None, typer.Option(help="project name (or `name` in the file)")] = None,
    guidelines: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="markdown file")
    ] = None,
    overlap: Annotated[int | None, typer.Option(help="independent attempts per item")] = None,
    review_rate: Annotated[
        float | None, typer.Option(help="share of attempts reviewed, 0..1")
    ] = None,
    lease_minutes: Annotated[int | None, typer.Option(help="how long a lease lasts")] = None,
    visibility: Annotated[str | None, typer.Option(help="members or open")] = None,
    as_user: AsUser = None,
    database_url: DbUrl = None,
) -> None:
    """Create a project from a template file (as POST /projects does); prints the project."""
    spec = _load_spec(template)
    if not isinstance(spec, dict):
        console.print("[red]error:[/red] the file must hold an object")
        raise typer.Exit(code=2)
    body: dict[str, Any] = dict(spec) if "template" in spec else {"template": spec}
    if name:
        body["name"] = name
    if guidelines:
        body["guidelines"] = guidelines.read_text("utf-8")
    workflow = dict(body.get("workflow") or {})
    if overlap is not None:
        workflow["overlap"] = overlap
    if review_rate is not None:
        workflow["review"] = {"sample_rate": review_rate}
    if workflow:
        body["workflow"] = workflow
    if lease_minutes is not None:
        body["lease_minutes"] = lease_minutes
    if visibility is not None:
        body["visibility"] = visibility
    try:
        parsed = ProjectIn.model_validate(body)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from None

    async def work(db: Database) -> dict[str, Any]:
        who = await acting_user(db, as_user)
        async with db.session() as s:
            project = await projects.create_project(s, who, parsed, Clock().now())
            view = {"after": projects.audit_view(project)}
            await audit.record(s, who.id, "project.create", f"project:{project.id}", view, CLI)
            return projects.project_out(project, "owner")

    dump(run(settings_from(database_url), work))


@projects_app.command("list")
def projects_list(as_user: AsUser = None, database_url: DbUrl = None) -> None:
    """List the projects you may see (id, status, name)."""

    async def work(db: Database) -> list[dict[str, Any]]:
        who = await acting_user(db, as_user)
        async with db.session() as s:
            return await projects.list_projects(s, who, 1000, None)

    for p in run(settings_from(database_url), work):
        out.print(f"{p['id']}\t{p['status']}\t{p['name']}")


@users_app.command("set-skill")
def users_set_skill(
    email: Annotated[str, typer.Option(help="whose skill")],
    skill: Annotated[str, typer.Option(help="dotted key, e.g. medicine.cardiology")],
    level: Annotated[int, typer.Option(min=0, max=5, help="0..5")],
    database_url: DbUrl = None,
) -> None:
    """Set a user's level in a skill (as PUT /users/{id}/skills/{skill} does)."""

    async def work(db: Database) -> str:
        async with db.session() as s:
            user = await accounts.user_by_email(s, email)
            before = (await accounts.skills_of(s, user.id)).get(skill)
            await accounts.set_skill(s, user.id, skill, level, Clock().now())
            diff = audit.changes({skill: before}, {skill: level})
            await audit.record(s, None, "user.skill_set", f"user:{user.id}", diff, CLI)
            return f"{email}: {skill} = {level}"

    out.print(run(settings_from(database_url), work))


@projects_app.command("add-member")
def projects_add_member(
    project: Annotated[str, typer.Argument(help="project id")],
    email: Annotated[str, typer.Option(help="the member's email")],
    role: Annotated[str, typer.Option(help="contributor, reviewer or owner")] = "contributor",
    as_user: AsUser = None,
    database_url: DbUrl = None,
) -> None:
    """Add someone to a project, or change their role in it."""
    if role not in ("contributor", "reviewer", "owner"):
        console.print("[red]error:[/red] --role is contributor, reviewer or owner")
        raise typer.Exit(code=2)

    async def work(db: Database) -> str:
        who = await acting_user(db, as_user)
        async with db.session() as s:
            acc = await projects.manage(s, who, project)
            user = await accounts.user_by_email(s, email)
            await projects.add_member(s, acc, str(user.id), role, Clock().now())
            after = {"after": {"user_id": str(user.id), "role": role}}
            target = f"project:{acc.project.id}"
            await audit.record(s, who.id, "project.member_add", target, after, CLI)
            return f"{email} is now {role} of project {project}"

    out.print(run(settings_from(database_url), work))


@projects_app.command("set-status")
def projects_set_status(
    project: Annotated[str, typer.Argument(help="project id")],
    status: Annotated[str, typer.Argument(help="draft, active, paused or completed")],
    as_user: AsUser = None,
    database_url: DbUrl = None,
) -> None:
    """Open, pause or close a project for work."""
    from inlier.projects.schemas import ProjectPatch

    try:
        patch = ProjectPatch.model_validate({"status": status})
    except ValueError:
        console.print("[red]error:[/red] status is draft, active, paused or completed")
        raise typer.Exit(code=2) from None

    async def work(db: Database) -> str:
        who = await acting_user(db, as_user)
        async with db.session() as s:
            acc = await projects.manage(s, who, project)
            before = projects.audit_view(acc.project)
            await projects.patch_project(s, acc, patch, Clock().now())
            diff = audit.changes(before, projects.audit_view(acc.project))
            await audit.record(s, who.id, "project.update", f"project:{acc.project.id}", diff, CLI)
            return f"project {project} is {status}"

    out.print(run(settings_from(database_url), work))


@projects_app.command("stats")
def projects_stats(
    project: Annotated[str, typer.Argument(help="project id")],
    as_user: AsUser = None,
    database_url: DbUrl = None,
) -> None:
    """Items, slots (open / leased / done), responses and review outcomes of a project."""
    from inlier.workflow import service as workflow

    async def work(db: Database) -> dict[str, Any]:
        who = await acting_user(db, as_user)
        async with db.session() as s:
            acc = await projects.manage(s, who, project)
            return await workflow.stats(s, acc.project.id)

    dump(run(settings_from(database_url), work))


@items_app.command("import")
def items_import(
    project: Annotated[str, typer.Argument(help="project id")],
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help=".jsonl, .csv or .parquet")
    ],
    as_user: AsUser = None,
    database_url: DbUrl = None,
) -> None:
    """Import items from a file in one transaction: one bad row imports nothing.

    JSONL rows are {"external_id"?, "data": {...}, "gold"?, "priority"?}. CSV and Parquet
    columns are the template's fields (plus external_id, priority, and gold as JSON).
    """
    settings = settings_from(database_url)
    try:
        fmt = detect_format(file)
    except InvalidInput as exc:
        console.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(code=2) from None
    total = total_units(file, fmt)
    by_bytes = fmt != "parquet"
    columns: list[str | ProgressColumn] = [
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn() if by_bytes else MofNCompleteColumn(),
        TimeRemainingColumn(),
    ]

    async def work(db: Database) -> int:
        acc = await managed_project(db, as_user, project)
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task("importing", total=total)
            return await projects.import_file(
                db, acc, file, fmt, Clock().now(), lambda n: bar.advance(task, n)
            )

    created = run(settings, work)
    console.print(f"[green]imported {created} items[/green] into project {project}")


@app.command("export")
def export(
    project: Annotated[str, typer.Argument(help="project id")],
    kind: Annotated[
        str, typer.Option(help="raw, sft, preference, kto, ranking, ratings or stepwise")
    ] = "raw",
    format: Annotated[str, typer.Option("--format", help="jsonl, csv, parquet or hf")] = "jsonl",
    form: Annotated[
        str | None, typer.Option(help="trainer kinds: conversational (default) or standard")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(help="all, submitted or approved (default: all for raw, else submitted)"),
    ] = None,
    submitted_from: Annotated[
        str | None, typer.Option("--from", help="RFC 3339: attempts at or after")
    ] = None,
    submitted_to: Annotated[str | None, typer.Option("--to", help="RFC 3339: before")] = None,
    gold: Annotated[
        str | None, typer.Option(help="include or exclude items with gold answers")
    ] = None,
    split: Annotated[
        str | None, typer.Option(help="test fraction, e.g. 0.1: adds a split column by item")
    ] = None,
    seed: Annotated[str | None, typer.Option(help="seed of the split (default 0)")] = None,
    part: Annotated[str | None, typer.Option(help="with --split: only train or test")] = None,
    neutral_as: Annotated[
        str | None, typer.Option(help="stepwise: true or false for a neutral (0) step")
    ] = None,
    rewrites: Annotated[
        bool, typer.Option("--rewrites", help="stepwise: export the expert-corrected chain")
    ] = False,
    aggregate: Annotated[
        bool,
        typer.Option(
            "--aggregate", help="raw, ratings, ranking, preference: one row per item (consensus)"
        ),
    ] = False,
    min_agreement: Annotated[
        str | None,
        typer.Option(help="with --aggregate: drop items whose consensus confidence is below"),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--out", "--output", help="file to write (default stdout); a folder for hf"
        ),
    ] = None,
    as_user: AsUser = None,
    database_url: DbUrl = None,
) -> None:
    """Export a project's responses as a dataset (streamed; contributors appear as pseudonyms).

    ``--format hf`` writes a Hugging Face ``datasets`` folder (``load_from_disk``) to --out.
    """
    from inlier.datasets import service as datasets

    given = {
        "kind": kind,
        "format": format,
        "form": form,
        "status": status,
        "submitted_from": submitted_from,
        "submitted_to": submitted_to,
        "gold": gold,
        "split": split,
        "seed": seed,
        "part": part,
        "neutral_as": neutral_as,
        "rewrites": "true" if rewrites else None,
        "aggregate": "true" if aggregate else None,
        "min_agreement": min_agreement,
    }

    async def work(db: Database) -> int:
        # Checked inside `run`, which prints a bad option as it prints any domain error.
        opts = datasets.parse_options({k: v for k, v in given.items() if v is not None}, "option")
        if opts.format == "hf" and output is None:
            raise InvalidInput(
                "--format hf writes a folder: give it with --out",
                errors=[{"loc": ["option", "out"], "msg": "required with --format hf"}],
            )
        who = await acting_user(db, as_user)
        async with db.session() as s:
            acc = await projects.manage(s, who, project)
            job = datasets.prepare(acc.project, opts)
            asked = {"kind": opts.kind, "format": opts.format, "filters": opts.filters()}
            target = f"project:{acc.project.id}"
            await audit.record(s, who.id, "export.create", target, {"after": asked}, CLI)
        with Progress(
            "[progress.description]{task.description}",
            MofNCompleteColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task(f"exporting {opts.kind} rows", total=None)
            job.progress = lambda n: bar.update(task, completed=n)
            if opts.format == "hf":
                assert output is not None
                await job.write_folder(db, output)
                return job.tally.rows
            fh = output.open("wb") if output else sys.stdout.buffer
            try:
                async for chunk in job.stream(db):
                    fh.write(chunk)
            finally:
                if output:
                    fh.close()
                else:
                    fh.flush()
        return job.tally.rows

    n = run(settings_from(database_url), work)
    console.print(f"[green]{n} rows[/green]" + (f" → {output}" if output else ""))


@app.command("consensus")
def consensus(
    project: Annotated[str, typer.Argument(help="project id")],
    question: Annotated[
        str | None, typer.Option(help="the question (default: the first that can be aggregated)")
    ] = None,
    method: Annotated[
        str | None,
        typer.Option(
            help="dawid_skene, majority, bradley_terry, plackett_luce, mean, median "
            "(or crowd-kit's with inlier[crowd]); default by the question's type"
        ),
    ] = None,
    bootstrap: Annotated[
        int, typer.Option(min=0, max=1000, help="pairwise, ranking: bootstrap resamples")
    ] = 100,
    seed: Annotated[int, typer.Option(min=0, help="seed of the bootstrap")] = 0,
    as_user: AsUser = None,
    database_url: DbUrl = None,
) -> None:
    """Each item's aggregate answer to a question, with its confidence, and every
    contributor's estimated accuracy (pseudonyms), as JSON."""
    from inlier.datasets import aggregate

    async def work(db: Database) -> dict[str, Any]:
        acc = await managed_project(db, as_user, project)
        aggregate.resolve(acc.project, question, method)
        return await aggregate.consensus_of(
            db, acc.project, question, method, bootstrap=bootstrap, seed=seed, limit=2**62
        )

    dump(run(settings_from(database_url), work))


snapshots_app = typer.Typer(help="Dataset snapshots: exports frozen once.", no_args_is_help=True)
app.add_typer(snapshots_app, name="snapshots")


@snapshots_app.command("create")
def snapshots_create(
    project: Annotated[str, typer.Argument(help="project id")],
    name: Annotated[str, typer.Option(help="the snapshot's name; again, the next version")],
    kind: Annotated[
        str, typer.Option(help="raw, sft, preference, kto, ranking, ratings or stepwise")
    ] = "raw",
    format: Annotated[str, typer.Option("--format", help="jsonl, csv, parquet or hf")] = "jsonl",
    filters: Annotated[
        list[str] | None,
        typer.Option("--filter", help="an export parameter, e.g. status=approved (repeatable)"),
    ] = None,
    as_user: AsUser = None,
    database_url: DbUrl = None,
) -> None:
    """Freeze a project's export as a named, versioned file under INLIER_DATA_DIR; prints
    its manifest (rows, bytes, sha256, filters) as JSON."""
    from inlier.datasets import snapshots
    from inlier.datasets.service import prepare

    settings = settings_from(database_url)

    async def work(db: Database) -> dict[str, Any]:
        given: dict[str, str] = {}
        for f in filters or []:
            key, sep, value = f.partition("=")
            if not sep or not key:
                raise InvalidInput(
                    f"--filter {f!r}: write it as name=value",
                    errors=[{"loc": ["option", "filter"], "msg": "name=value"}],
                )
            given[key] = value
        opts = snapshots.snapshot_options(kind, format, given)
        who = await acting_user(db, as_user)
        async with db.session() as s:
            acc = await projects.manage(s, who, project)
        prepare(acc.project, opts)
        with Progress(
            "[progress.description]{task.description}",
            MofNCompleteColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task(f"writing {opts.kind} rows", total=None)
            snap = await snapshots.create(
                db,
                who,
                acc.project,
                name.strip(),
                opts,
                settings.data_dir,
                Clock().now(),
                CLI,
                lambda n: bar.update(task, completed=n),
            )
        return snapshots.out(snap)

    out = run(settings, work)
    m = out["manifest"]
    console.print(
        f"[green]snapshot {out['id']}[/green]: {out['name']} version {out['version']}, "
        f"{m['rows']} rows, {m['bytes']} bytes"
    )
    typer.echo(json.dumps(out, indent=2))


payruns_app = typer.Typer(help="Weekly pay runs.", no_args_is_help=True)
payouts_app = typer.Typer(help="Payouts for a payment processor.", no_args_is_help=True)
app.add_typer(payruns_app, name="payruns")
app.add_typer(payouts_app, name="payouts")


@payruns_app.command("create")
def payruns_create(
    period_start: Annotated[str, typer.Option(help="the Monday the week starts, YYYY-MM-DD")],
    database_url: DbUrl = None,
) -> None:
    """Close one ended week into statements (as POST /payruns does); running it again changes
    nothing."""
    from datetime import date

    from inlier.pay import service as pay

    try:
        day = date.fromisoformat(period_start)
    except ValueError:
        console.print("[red]error:[/red] --period-start: a date, YYYY-MM-DD")
        raise typer.Exit(code=2) from None
    steps = ["lines", "bonuses", "statements", "done"]

    async def work(db: Database) -> dict[str, Any]:
        who = await acting_user(db, None)
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
        ) as bar:
            task = bar.add_task("pay run", total=len(steps))

            def step(name: str) -> None:
                bar.update(task, description=f"pay run: {name}", completed=steps.index(name) + 1)

            async with db.session() as s:
                run_, created = await pay.create_payrun(s, who, day, Clock().now(), step)
                out_ = pay.payrun_out(run_)
            bar.update(task, completed=len(steps))
        return {**out_, "created": created}

    dump(run(settings_from(database_url), work))


@payouts_app.command("export")
def payouts_export(
    payrun: Annotated[str, typer.Argument(help="pay run id")],
    format: Annotated[str, typer.Option("--format", help="csv or json")] = "csv",
    database_url: DbUrl = None,
) -> None:
    """Print a pay run's payouts for a payment processor, one row per person."""
    from inlier.pay import service as pay

    if format not in ("csv", "json"):
        console.print("[red]error:[/red] --format: csv or json")
        raise typer.Exit(code=2)

    async def work(db: Database) -> list[dict[str, Any]]:
        async with db.session() as s:
            return await pay.payout_rows(s, await pay.get_payrun(s, payrun))

    rows = run(settings_from(database_url), work)
    if format == "csv":
        sys.stdout.write(pay.payouts_csv(rows))
    else:
        sys.stdout.write(json.dumps({"data": rows}, indent=2) + "\n")


payroll_app = typer.Typer(
    help="Weekly pay: run a week, export its payouts, record payment results.",
    no_args_is_help=True,
)
app.add_typer(payroll_app, name="payroll")


def _week(value: str, option: str = "--week") -> Any:
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        console.print(
            f"[red]error:[/red] {option}: a date, YYYY-MM-DD (the Monday the week starts)"
        )
        raise typer.Exit(code=2) from None


@payroll_app.command("run")
def payroll_run(
    week: Annotated[str, typer.Option(help="the Monday the week starts, YYYY-MM-DD")],
    database_url: DbUrl = None,
) -> None:
    """Close one ended week into statements, with a progress bar (as POST /payruns does);
    running it again changes nothing. The same as `inlier payruns create`."""
    payruns_create(period_start=week, database_url=database_url)


@payroll_app.command("export")
def payroll_export(
    week: Annotated[
        str | None, typer.Option(help="the week's Monday, YYYY-MM-DD (or give --payrun)")
    ] = None,
    payrun: Annotated[str | None, typer.Option(help="a pay run id")] = None,
    format: Annotated[str, typer.Option("--format", help="csv or json")] = "csv",
    database_url: DbUrl = None,
) -> None:
    """Print a pay run's payouts for a payment processor, one row per person."""
    from sqlalchemy import select

    from inlier.pay import rules
    from inlier.pay import service as pay
    from inlier.pay.models import PayRun

    if (week is None) == (payrun is None):
        console.print("[red]error:[/red] give exactly one of --week or --payrun")
        raise typer.Exit(code=2)
    if payrun is None:
        day = _week(week or "")

        async def find(db: Database) -> str | None:
            async with db.session() as s:
                st = await pay.settings(s)
                start, _ = rules.period_from_day(day, st.tz)
                found = await s.scalar(select(PayRun.id).where(PayRun.period_start == start))
                return None if found is None else str(found)

        payrun = run(settings_from(database_url), find)
        if payrun is None:
            console.print(f"[red]error:[/red] no pay run for the week of {week}")
            raise typer.Exit(code=1)
    payouts_export(payrun=payrun, format=format, database_url=database_url)


@payroll_app.command("result")
def payroll_result(
    payout: Annotated[str, typer.Argument(help="payout id")],
    status: Annotated[str, typer.Option(help="paid or failed")],
    reference: Annotated[str, typer.Option(help="the payment processor's reference")] = "",
    database_url: DbUrl = None,
) -> None:
    """Record what the payment processor did with a payout; a failed payout's amount returns
    to the person's balance."""
    from inlier.pay import service as pay
    from inlier.pay.schemas import PayoutResultIn

    if status not in ("paid", "failed"):
        console.print("[red]error:[/red] --status: paid or failed")
        raise typer.Exit(code=2)
    body = PayoutResultIn(status=status, reference=reference)  # type: ignore[arg-type]

    async def work(db: Database) -> dict[str, Any]:
        who = await acting_user(db, None)
        async with db.session() as s:
            return await pay.record_result(s, payout, body, Clock().now(), who.id)

    dump(run(settings_from(database_url), work))


@audit_app.command("verify")
def audit_verify(database_url: DbUrl = None) -> None:
    """Recompute the audit log's hash chain; name the first entry that was edited or deleted.

    Exits 1 when the chain is broken.
    """

    async def work(db: Database) -> audit.Verdict:
        async with db.session() as s:
            total = await audit.count(s)
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("verifying the audit chain", total=total)
            return await audit.verify(db, progress=lambda n: bar.update(task, completed=n))

    verdict = run(settings_from(database_url), work)
    if verdict.ok:
        out.print(f"ok: {verdict.entries} entries, the chain is intact")
        return
    where = f"entry {verdict.broken_id}" if verdict.broken_id else "the chain head"
    out.print(f"BROKEN at {where}: {verdict.reason} ({verdict.entries} entries verified before)")
    raise typer.Exit(code=1)


@audit_app.command("export")
def audit_export(
    output: Annotated[
        Path | None, typer.Option("--out", help="file to write (default: standard output)")
    ] = None,
    database_url: DbUrl = None,
) -> None:
    """Write every audit entry, oldest first, as JSON lines."""

    async def work(db: Database) -> int:
        n = 0
        fh = output.open("w", encoding="utf-8") if output else sys.stdout
        try:
            async for entry in audit.export_entries(db):
                fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
                n += 1
        finally:
            if output:
                fh.close()
            else:
                fh.flush()
        return n

    n = run(settings_from(database_url), work)
    console.print(f"[green]{n} entries[/green]" + (f" → {output}" if output else ""))


@mail_app.command("send")
def mail_send(
    database_url: DbUrl = None,
    limit: Annotated[int, typer.Option(min=1, help="send at most this many emails")] = 10_000,
    batch: Annotated[int, typer.Option(min=1, max=1000, help="emails claimed at a time")] = 100,
) -> None:
    """Deliver the pending emails through the SMTP server in INLIER_SMTP_* settings.

    Failures are retried with backoff on later runs and marked failed after a few attempts.
    """
    from inlier.notify import mail

    settings = settings_from(database_url)
    if not settings.smtp_host:
        console.print("[red]error:[/red] set INLIER_SMTP_HOST (and _PORT, _FROM, ...) first")
        raise typer.Exit(code=2)
    sender = mail.SmtpSender(settings)

    async def work(db: Database) -> mail.Delivery:
        clock = Clock()
        total = min(limit, await mail.pending_count(db, clock.now()))
        result = mail.Delivery()
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
        ) as bar:
            task = bar.add_task("sending", total=total)
            while result.done < total:
                step = await mail.deliver_pending(
                    db,
                    sender,
                    min(batch, total - result.done),
                    now=clock.now,
                    on_progress=lambda n: bar.advance(task, n),
                )
                if not step.done:
                    break
                result.sent += step.sent
                result.retried += step.retried
                result.failed += step.failed
        return result

    r = run(settings, work)
    console.print(
        f"[green]{r.sent} sent[/green], {r.retried} to retry later, {r.failed} failed for good"
    )
    if r.retried or r.failed:
        raise typer.Exit(code=1)


@privacy_app.command("purge")
def privacy_purge(database_url: DbUrl = None) -> None:
    """Delete client addresses, drafts of ended tasks and read notifications older than the
    INLIER_RETENTION_* settings allow (servers and workers also do this on a schedule)."""
    from inlier.privacy import retention

    settings = settings_from(database_url)

    async def work(db: Database) -> retention.Purged:
        async with db.session() as s:
            return await retention.purge(s, settings, Clock().now())

    done = run(settings, work)
    out.print(
        f"purged: {done.sign_in_failures} sign-in failures, {done.consent_addresses} consent "
        f"addresses, {done.drafts} drafts, {done.notifications} read notifications"
    )


quality_app = typer.Typer(help="Contributors' quality and their appeals.", no_args_is_help=True)
app.add_typer(quality_app, name="quality")


@quality_app.command("show")
def quality_show(
    project: Annotated[str, typer.Argument(help="project id")],
    as_user: AsUser = None,
    database_url: DbUrl = None,
) -> None:
    """Each contributor's score (with its 90% interval), state, volume, gold accuracy and
    agreement on a project, as its owners see them."""
    from rich.table import Table

    from inlier.quality import service as quality

    async def work(db: Database) -> list[dict[str, Any]]:
        who = await acting_user(db, as_user)
        async with db.session() as s:
            acc = await projects.manage(s, who, project)
            return await quality.contributors(s, acc.project)

    rows = run(settings_from(database_url), work)
    table = Table("user", "name", "score", "interval", "state", "responses", "gold", "agreement")

    def num(x: float | None) -> str:
        return "—" if x is None else f"{x:.2f}"

    for r in rows:
        lo, hi = r["interval"]
        table.add_row(
            r["user_id"],
            r["name"],
            num(r["score"]),
            f"{lo:.2f} to {hi:.2f}",
            r["state"],
            str(r["responses"]),
            num(r["gold_accuracy"]),
            num(r["agreement"]),
        )
    out.print(table if rows else "no contributor has worked this project yet")


@quality_app.command("appeals")
def quality_appeals(
    project: Annotated[str, typer.Argument(help="project id")],
    status: Annotated[str | None, typer.Option(help="open, upheld or reinstated")] = None,
    as_user: AsUser = None,
    database_url: DbUrl = None,
) -> None:
    """A project's appeals, newest first, with their deadlines (overdue ones are granted)."""
    from inlier.quality import service as quality

    async def work(db: Database) -> list[dict[str, Any]]:
        who = await acting_user(db, as_user)
        async with db.session() as s:
            acc = await projects.manage(s, who, project)
            rows = await quality.project_appeals(s, acc.project.id, status, Clock().now())
            return [quality.appeal_out(a) for a in rows]

    dump(run(settings_from(database_url), work))


@quality_app.command("decide")
def quality_decide(
    appeal: Annotated[str, typer.Argument(help="appeal id")],
    decision: Annotated[str, typer.Argument(help="uphold or reinstate")],
    reason: Annotated[str, typer.Option(help="why; the person reads it")],
    as_user: AsUser = None,
    database_url: DbUrl = None,
) -> None:
    """Uphold an appeal, or reinstate (lifts the pause; a rejected piece of work counts as
    approved). The decision is audited and the person is notified."""
    from inlier.quality import service as quality

    if decision not in ("uphold", "reinstate"):
        console.print("[red]error:[/red] decision is uphold or reinstate")
        raise typer.Exit(code=2)

    async def work(db: Database) -> dict[str, Any]:
        who = await acting_user(db, as_user)
        async with db.session() as s:
            decided = await quality.decide_appeal(s, who, appeal, decision, reason, Clock().now())
            return quality.appeal_out(decided)

    dump(run(settings_from(database_url), work))
