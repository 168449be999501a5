"""The `inlier` command, run in-process against real SQLite databases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from conftest import PAIRWISE_TEMPLATE, Cli
from inlier.cli import app


@pytest.fixture
def ready(cli: Cli, tmp_path: Path) -> tuple[Cli, str]:
    """An initialised database with one project; returns (cli, project id)."""
    r = cli.init()
    assert r.exit_code == 0, r.output
    tpl = tmp_path / "template.yaml"
    tpl.write_text(json.dumps(PAIRWISE_TEMPLATE))
    r = cli("projects", "create", "--template", str(tpl), "--name", "CLI project", "--overlap", "2")
    assert r.exit_code == 0, r.output
    return cli, json.loads(r.stdout)["id"]


def _rows(n: int, bad_at: int | None = None) -> list[dict[str, Any]]:
    rows = []
    for i in range(1, n + 1):
        data: dict[str, Any] = {"prompt": f"Q{i}", "response_a": "a", "response_b": "b"}
        if i == bad_at:
            data["response_b"] = 42
        rows.append({"external_id": f"e{i}", "data": data})
    return rows


def test_init_creates_the_admin_once(cli: Any) -> None:
    r = cli.init()
    assert r.exit_code == 0 and "created admin root@example.org" in r.output
    r = cli.init()
    assert r.exit_code == 0 and "already exists" in r.output


def test_init_refuses_a_short_password(cli: Any) -> None:
    r = cli("init", "--admin-email", "root@example.org", "--admin-password-stdin", input="short\n")
    assert r.exit_code == 2 and "at least 8" in r.output


def test_a_cli_token_opens_the_api(ready: tuple[Any, str]) -> None:
    import asyncio

    import httpx

    from conftest import make_settings
    from inlier.app import create_app

    cli, _ = ready
    r = cli(
        "users",
        "create",
        "--email",
        "exp@example.org",
        "--name",
        "Expert",
        "--role",
        "contributor",
        "--country",
        "BR",
        "--password-stdin",
        input="expert-password\n",
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["profile"]["country"] == "BR"
    token = cli("tokens", "create", "--email", "exp@example.org").stdout.strip()

    async def me_with(token: str) -> httpx.Response:
        app = create_app(make_settings(cli.url))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            me = await c.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        await app.state.db.dispose()
        return me

    me = asyncio.run(me_with(token))
    assert me.status_code == 200 and me.json()["email"] == "exp@example.org"


def test_projects_create_reports_template_errors_with_their_place(cli: Any, tmp_path: Path) -> None:
    cli.init()
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: Broken\ntemplate:\n  fields: [{name: prompt, type: markdown}]\n"
        "  questions:\n    - {name: q, type: pairwise, options: {left: prompt, right: nope}}\n"
    )
    r = cli("projects", "create", "--template", str(bad))
    assert r.exit_code == 2
    assert "questions.0.options.right" in r.output and "nope" in r.output


def test_import_jsonl_csv_and_parquet(ready: tuple[Any, str], tmp_path: Path) -> None:
    cli, pid = ready
    jsonl = tmp_path / "items.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in _rows(5)) + "\n")
    r = cli("items", "import", pid, str(jsonl))
    assert r.exit_code == 0, r.output
    assert "imported 5 items" in r.output

    csv_path = tmp_path / "items.csv"
    csv_path.write_text(
        "external_id,prompt,response_a,response_b,priority\n"
        'c1,Why?,Because,No,3\nc2,"Multi, comma",x,y,\n'
    )
    r = cli("items", "import", pid, str(csv_path))
    assert r.exit_code == 0 and "imported 2 items" in r.output, r.output

    table = pa.table(
        {
            "external_id": ["p1", "p2", "p3"],
            "prompt": ["a", "b", "c"],
            "response_a": ["1", "2", "3"],
            "response_b": ["4", "5", "6"],
        }
    )
    pq.write_table(table, tmp_path / "items.parquet")
    r = cli("items", "import", pid, str(tmp_path / "items.parquet"))
    assert r.exit_code == 0 and "imported 3 items" in r.output, r.output

    r = cli("export", pid)
    assert r.exit_code == 0  # no responses yet: an empty export
    assert r.stdout.strip() == ""


def test_a_bad_row_imports_nothing_and_names_its_row(
    ready: tuple[Any, str], tmp_path: Path
) -> None:
    cli, pid = ready
    path = tmp_path / "items.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in _rows(10, bad_at=7)) + "\n")
    r = cli("items", "import", pid, str(path))
    assert r.exit_code == 2
    assert "row 7" in r.output and "response_b" in r.output
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(json.dumps(r) for r in _rows(3)) + "\n")
    r = cli("items", "import", pid, str(good))
    assert "imported 3 items" in r.output  # e1..e3 were free: nothing of the bad file landed


def test_a_duplicate_external_id_imports_nothing(ready: tuple[Any, str], tmp_path: Path) -> None:
    cli, pid = ready
    path = tmp_path / "items.jsonl"
    rows = _rows(4)
    rows[3]["external_id"] = "e2"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    r = cli("items", "import", pid, str(path))
    assert r.exit_code == 2 and "row 4" in r.output and "e2" in r.output
    r = cli("items", "import", pid, str(path.with_name("none.jsonl")))
    assert r.exit_code != 0  # a missing file is refused before anything happens
    again = tmp_path / "again.jsonl"
    again.write_text("\n".join(json.dumps(r) for r in _rows(4)) + "\n")
    assert "imported 4 items" in cli("items", "import", pid, str(again)).output


def test_owner_actions_from_the_command_line(ready: tuple[Any, str], tmp_path: Path) -> None:
    cli, pid = ready
    r = cli(
        "users",
        "create",
        "--email",
        "rev@example.org",
        "--name",
        "Rev",
        "--password-stdin",
        input="reviewer-pass\n",
    )
    assert r.exit_code == 0, r.output
    r = cli("projects", "add-member", pid, "--email", "rev@example.org", "--role", "reviewer")
    assert r.exit_code == 0 and "reviewer" in r.output
    assert cli("projects", "add-member", pid, "--email", "nobody@example.org").exit_code == 2
    r = cli(
        "users",
        "set-skill",
        "--email",
        "rev@example.org",
        "--skill",
        "medicine.cardiology",
        "--level",
        "4",
    )
    assert r.exit_code == 0, r.output
    assert (
        cli(
            "users", "set-skill", "--email", "rev@example.org", "--skill", "x", "--level", "9"
        ).exit_code
        == 2
    )
    r = cli("projects", "set-status", pid, "paused")
    assert r.exit_code == 0 and "paused" in r.output
    assert cli("projects", "set-status", pid, "sleeping").exit_code == 2
    path = tmp_path / "items.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in _rows(3)) + "\n")
    cli("items", "import", pid, str(path))
    stats = json.loads(cli("projects", "stats", pid).stdout)
    assert stats["items"] == 3 and stats["slots"]["open"] == 6  # overlap 2
    listing = cli("projects", "list").stdout
    assert "paused" in listing


def test_demo_data_is_created_once(cli: Any) -> None:
    r = cli("demo", "--no-serve")
    assert r.exit_code == 0, r.output
    assert "cardio@demo.inlier / inlier-demo" in r.output
    r = cli("demo", "--no-serve")
    assert r.exit_code == 0
    listing = cli("projects", "list", "--as", "owner@demo.inlier")
    from inlier.demo import DEMO_PROJECTS

    # Once: a second run adds no project.
    assert listing.stdout.count("\n") == len(DEMO_PROJECTS), listing.stdout
    assert "Physics: rank three explanations" in listing.stdout


def _all_commands() -> list[list[str]]:
    """Every command and subcommand of `inlier`, walked from the app (new ones included)."""
    import typer.main

    out: list[list[str]] = []

    def walk(cmd: Any, path: list[str]) -> None:
        # Typer's groups are not click.Group subclasses; they do have the commands mapping.
        out.append(path)
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return out


@pytest.mark.parametrize("command", _all_commands(), ids=lambda c: " ".join(c) or "inlier")
def test_every_command_explains_itself(command: list[str]) -> None:
    r = CliRunner().invoke(app, [*command, "--help"])
    assert r.exit_code == 0
    assert "Usage" in r.output and len(r.output) > 200


def test_commands_work_in_a_process_of_their_own(tmp_path: Path) -> None:
    """As people run them: a command imports only what it needs, where the test process has
    every module loaded already (an area reading another's table must import it itself)."""
    env = {
        **os.environ,
        "INLIER_DATABASE_URL": f"sqlite:///{tmp_path / 'own.db'}",
        "INLIER_ARGON2_TIME_COST": "1",
        "INLIER_ARGON2_MEMORY_KIB": "1024",
    }

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "inlier", *args],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    run(
        "init",
        "--admin-email",
        "root@example.org",
        "--admin-password-stdin",
        stdin="pw-123456789\n",
    )
    tpl = tmp_path / "template.yaml"
    tpl.write_text(json.dumps(PAIRWISE_TEMPLATE))
    pid = json.loads(run("projects", "create", "--template", str(tpl), "--name", "Own").stdout)[
        "id"
    ]
    jsonl = tmp_path / "items.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in _rows(3)) + "\n")
    assert "imported 3 items" in run("items", "import", pid, str(jsonl)).stderr  # with the bar
