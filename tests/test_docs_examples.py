"""The example files in docs/ load and work, so the documentation stays true."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx

from conftest import Cli, make_settings
from inlier.app import create_app

EXAMPLES = Path(__file__).parent.parent / "docs" / "examples"


def test_the_documented_examples_create_projects_and_take_work(cli: Cli) -> None:
    def ok(*args: str) -> Any:
        result = cli(*args)
        assert result.exit_code == 0, result.output
        return result

    assert cli.init().exit_code == 0
    whole = json.loads(
        ok("projects", "create", "--template", str(EXAMPLES / "cardiology-preference.yaml")).stdout
    )
    assert whole["workflow"]["overlap"] == 3
    assert whole["requirements"]["skills"] == {"medicine.cardiology": 2}
    cot = json.loads(
        ok(
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
    assert (
        "imported 2 items"
        in ok("items", "import", cot["id"], str(EXAMPLES / "cot-items.jsonl")).output
    )
    token = ok("tokens", "create", "--email", "root@example.org").stdout.strip()

    async def work() -> None:
        application = create_app(make_settings(cli.url))
        transport = httpx.ASGITransport(app=application)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.post(
                "/api/v1/assignments/next", json={"project_id": cot["id"]}, headers=headers
            )
            a = r.json()
            # The item with priority 1 comes first.
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


EXPORT_KINDS = ("raw", "sft", "preference", "kto", "ranking", "ratings", "stepwise")
#: Values that differ from one database to the next, written as these in the example rows.
STABLE = {"contributor": "c_5e1f0a9c2b7d", "submitted_at": "2026-11-20T12:00:00.000Z"}


def _stable(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: STABLE.get(k, v) if v is not None else v for k, v in row.items()}
    if isinstance(out.get("meta"), dict):
        out["meta"] = _stable(out["meta"])
    return out


def test_the_documented_export_rows_are_what_the_export_gives(cli: Cli) -> None:
    """docs/examples/exports/<kind>.json is the first row of each kind for the example project
    worked with the example answer (INLIER_WRITE_EXAMPLES=1 rewrites them)."""
    import os

    assert cli.init().exit_code == 0
    made = cli("projects", "create", "--template", str(EXAMPLES / "exports-project.yaml"))
    assert made.exit_code == 0, made.output
    pid = json.loads(made.stdout)["id"]
    assert cli("items", "import", pid, str(EXAMPLES / "exports-items.jsonl")).exit_code == 0
    token = cli("tokens", "create", "--email", "root@example.org").stdout.strip()
    answer = json.loads((EXAMPLES / "exports-answer.json").read_text())

    async def work() -> dict[str, Any]:
        application = create_app(make_settings(cli.url))
        transport = httpx.ASGITransport(app=application)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            a = (await c.post("/api/v1/assignments/next", json={}, headers=headers)).json()
            r = await c.post(
                f"/api/v1/assignments/{a['id']}/submit", json={"answer": answer}, headers=headers
            )
            assert r.status_code == 201, r.text
            firsts = {}
            for kind in EXPORT_KINDS:
                r = await c.get(f"/api/v1/projects/{pid}/export?kind={kind}", headers=headers)
                assert r.status_code == 200, r.text
                firsts[kind] = _stable(json.loads(r.text.splitlines()[0]))
        await application.state.db.dispose()
        return firsts

    firsts = asyncio.run(work())
    for kind, row in firsts.items():
        path = EXAMPLES / "exports" / f"{kind}.json"
        if os.environ.get("INLIER_WRITE_EXAMPLES"):
            path.write_text(json.dumps(row, indent=2, ensure_ascii=False) + "\n")
        assert json.loads(path.read_text()) == row, kind


def test_the_model_in_the_loop_example_generates_from_what_the_expert_wrote(cli: Cli) -> None:
    """docs/models.md's example: write a question, generate (replay), judge each step, submit."""

    def ok(*args: str) -> Any:
        result = cli(*args)
        assert result.exit_code == 0, result.output
        return result

    assert cli.init().exit_code == 0
    spec = str(EXAMPLES / "write-and-generate.yaml")
    project = json.loads(ok("projects", "create", "--template", spec).stdout)
    assert project["models"]["live"]["api_key_env"] == "INLIER_LIVE_MODEL_KEY"
    items = str(EXAMPLES / "write-and-generate-items.jsonl")
    assert "imported 2 items" in ok("items", "import", project["id"], items).output
    token = ok("tokens", "create", "--email", "root@example.org").stdout.strip()

    async def work() -> None:
        application = create_app(make_settings(cli.url))
        transport = httpx.ASGITransport(app=application)
        headers = {"Authorization": f"Bearer {token}"}
        prompt = "A 64-year-old has an inferior STEMI and low blood pressure. What do you avoid?"
        async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as c:
            r = await c.post(
                "/assignments/next", json={"project_id": project["id"]}, headers=headers
            )
            a = r.json()
            assert a["item"]["data"]["brief"].startswith("An acute coronary syndrome")
            r = await c.post(
                f"/assignments/{a['id']}/generate",
                json={"field": "cot", "inputs": {"prompt": prompt}},
                headers=headers,
            )
            assert r.status_code == 201, r.text
            generated = r.json()
            assert generated["provider"] == "replay" and len(generated["value"]) == 4
            assert generated["value"][2].startswith("With RV involvement avoid nitrates")
            verdicts = [{"verdict": "approve", "label": 1}] * len(generated["value"])
            answer = {"prompt": prompt, "steps": {"steps": verdicts, "final_answer_correct": True}}
            r = await c.post(
                f"/assignments/{a['id']}/submit",
                json={"answer": answer, "generation_ids": [generated["generation_id"]]},
                headers=headers,
            )
            assert r.status_code == 201, r.text
            assert r.json()["generation_ids"] == [generated["generation_id"]]
        await application.state.db.dispose()

    asyncio.run(work())
