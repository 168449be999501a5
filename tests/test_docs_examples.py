"""The example files in docs/ load and work, so the documentation stays true."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from conftest import make_settings
from inlier.app import create_app
from inlier.cli import app as cli_app

EXAMPLES = Path(__file__).parent.parent / "docs" / "examples"


def test_the_documented_examples_create_projects_and_take_work(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'docs.db'}"
    env = {
        "INLIER_DATABASE_URL": url,
        "INLIER_ARGON2_TIME_COST": "1",
        "INLIER_ARGON2_MEMORY_KIB": "1024",
    }
    runner = CliRunner()

    def cli(*args: str, input: str | None = None) -> Any:
        result = runner.invoke(cli_app, list(args), env=env, input=input)
        assert result.exit_code == 0, result.output
        return result

    cli(
        "init",
        "--admin-email",
        "root@example.org",
        "--admin-password-stdin",
        input="root-password\n",
    )
    whole = json.loads(
        cli("projects", "create", "--template", str(EXAMPLES / "cardiology-preference.yaml")).stdout
    )
    assert whole["workflow"]["overlap"] == 3
    assert whole["requirements"]["skills"] == {"medicine.cardiology": 2}
    cot = json.loads(
        cli(
            "projects",
            "create",
            "--template",
            str(EXAMPLES / "cot-review.yaml"),
            "--name",
            "Math CoT",
            "--overlap",
            "1",
        ).stdout
    )
    out = cli("items", "import", cot["id"], str(EXAMPLES / "cot-items.jsonl")).output
    assert "imported 2 items" in out
    token = cli("tokens", "create", "--email", "root@example.org").stdout.strip()

    async def work() -> None:
        application = create_app(make_settings(url))
        transport = httpx.ASGITransport(app=application)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            a = (
                await c.post(
                    "/api/v1/assignments/next", json={"project_id": cot["id"]}, headers=headers
                )
            ).json()
            assert a["item"]["data"]["prompt"].startswith("How many positive divisors")
            answer = {
                "steps": {
                    "steps": [
                        {"verdict": "approve", "label": 1},
                        {"verdict": "improve", "label": -1, "rewrite": "(2+1)(2+1) = 9."},
                    ],
                    "final_answer_correct": False,
                },
                "difficulty": 2,
            }
            r = await c.post(
                f"/api/v1/assignments/{a['id']}/submit", json={"answer": answer}, headers=headers
            )
            assert r.status_code == 201, r.text
        await application.state.db.dispose()

    asyncio.run(work())
