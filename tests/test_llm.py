"""Model in the loop: the expert writes a prompt, presses Generate, the model's answer arrives
split into steps. Against a real OpenAI-protocol server on loopback (tests/openai_server.py),
on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from conftest import Actor, World, make_settings
from inlier.app import create_app
from inlier.kit.clock import Clock
from inlier.llm import service as llm
from inlier.llm.steps import split_steps
from openai_server import ANSWER, FakeOpenAI, closed_port, running

KEY_ENV = "INLIER_TEST_LLM_KEY"
PROMPT = "A 58-year-old man has crushing chest pain for 40 minutes. What now?"
STEPS = split_steps(ANSWER)

TEMPLATE: dict[str, Any] = {
    "fields": [
        {"name": "topic", "type": "text", "title": "Topic"},
        {
            "name": "cot",
            "type": "steps",
            "generated": {"model": "default", "from": ["prompt"], "max_regenerations": 2},
        },
        {
            "name": "summary",
            "type": "markdown",
            "generated": {"model": "default", "from": ["topic", "cot"], "max_regenerations": 0},
        },
    ],
    "questions": [
        {"name": "prompt", "type": "text", "title": "Your question", "options": {"min_length": 10}},
        {"name": "steps", "type": "step_review", "options": {"steps_field": "cot"}},
    ],
}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with running() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.reset()
    monkeypatch.setenv(KEY_ENV, "sk-test-123")


@pytest.fixture
async def app(db_url: str, clock: Clock) -> AsyncIterator[Any]:
    """The app, with a provider timeout no answer of the fake server comes near, even on a
    loaded machine; the test of a silent provider shortens it."""
    application = create_app(make_settings(db_url, llm_timeout_seconds=10.0), clock=clock)
    yield application
    await application.state.db.dispose()


def openai_model(fake: FakeOpenAI, **overrides: Any) -> dict[str, Any]:
    return {
        "provider": "openai",
        "base_url": f"{fake.url}/v1",
        "model": "tiny-cot",
        "api_key_env": KEY_ENV,
        "params": {"temperature": 0.2, "max_tokens": 256, "top_p": 0.9, "seed": 7, "stop": ["##"]},
        "system_prompt": "You are a careful cardiologist.",
        **overrides,
    }


async def lease(
    world: World, models: dict[str, Any], template: dict[str, Any] = TEMPLATE, **project: Any
) -> tuple[Actor, str, str]:
    """A contributor holding a lease on a project with generated fields; (them, lease, project)."""
    owner = await world.user("owner")
    proj = await world.project(owner, template=template, models=models, **project)
    await world.items(owner, proj["id"], [{"external_id": "case-1", "data": {"topic": "STEMI"}}])
    worker = await world.user("contributor")
    await world.member(owner, proj["id"], worker)
    r = await worker.next(proj["id"])
    assert r.status_code == 200, r.text
    return worker, r.json()["id"], proj["id"]


async def generate(who: Actor, aid: str, field: str = "cot", **body: Any) -> httpx.Response:
    return await who.post(f"/assignments/{aid}/generate", json={"field": field, **body})


def events(text: str) -> list[tuple[str, Any]]:
    """Server-sent events as (event, data)."""
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def is_problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


# ---- the happy path ------------------------------------------------------------------------


async def test_generating_asks_the_model_and_returns_its_answer_as_steps(
    world: World, fake: FakeOpenAI
) -> None:
    worker, aid, _ = await lease(world, {"default": openai_model(fake)})
    r = await generate(worker, aid, inputs={"prompt": PROMPT})
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["field"] == "cot" and out["value"] == STEPS
    assert out["value"][0] == "Let me work through this."
    assert out["value"][-1] == "This is an inferior STEMI; activate the cath lab."
    assert out["provider"] == "openai" and out["model"] == "tiny-cot"
    assert out["params"] == openai_model(fake)["params"]
    assert out["usage"] == {"prompt_tokens": 42, "completion_tokens": 17}
    assert isinstance(out["latency_ms"], int) and out["latency_ms"] >= 0
    assert out["regenerations_left"] == 2

    [seen] = fake.requests
    assert seen.headers["authorization"] == "Bearer sk-test-123"
    assert seen.body["model"] == "tiny-cot" and seen.body["stream"] is False
    assert {k: seen.body[k] for k in ("temperature", "max_tokens", "top_p", "seed", "stop")} == {
        "temperature": 0.2,
        "max_tokens": 256,
        "top_p": 0.9,
        "seed": 7,
        "stop": ["##"],
    }
    assert seen.body["messages"] == [
        {"role": "system", "content": "You are a careful cardiologist."},
        {"role": "user", "content": PROMPT},
    ]

    latest = (await worker.get(f"/assignments/{aid}/generations")).json()["latest"]
    assert latest == {"cot": out}


async def test_a_field_generated_from_item_data_and_another_generation_gets_both(
    world: World, fake: FakeOpenAI
) -> None:
    model = openai_model(fake)
    del model["system_prompt"]
    worker, aid, _ = await lease(world, {"default": model})
    first = is_problem(await generate(worker, aid, "summary"), 422)
    assert first["errors"] == [{"loc": ["body", "field"], "msg": "generate cot first"}]
    assert fake.requests == []

    assert (await generate(worker, aid, inputs={"prompt": PROMPT})).status_code == 201
    fake.answer = "An inferior STEMI, treated with primary PCI."
    r = await generate(worker, aid, "summary")
    assert r.status_code == 201, r.text
    assert r.json()["value"] == "An inferior STEMI, treated with primary PCI."
    cot_call, summary_call = fake.requests
    # With no system prompt of its own, a steps field asks for numbered steps.
    assert cot_call.body["messages"][0] == {"role": "system", "content": llm.STEPS_SYSTEM_PROMPT}
    numbered = "\n".join(f"Step {i}: {s}" for i, s in enumerate(STEPS, 1))
    assert summary_call.body["messages"] == [
        {"role": "user", "content": f"## Topic\n\nSTEMI\n\n## cot\n\n{numbered}"}
    ]


async def test_streaming_sends_deltas_as_they_arrive_then_the_generation(
    world: World, fake: FakeOpenAI
) -> None:
    worker, aid, _ = await lease(world, {"default": openai_model(fake)})
    r = await worker.post(
        f"/assignments/{aid}/generate",
        json={"field": "cot", "inputs": {"prompt": PROMPT}},
        headers={"Accept": "text/event-stream"},
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    got = events(r.text)
    names = [name for name, _ in got]
    assert names[-1] == "done" and set(names[:-1]) == {"delta"} and len(names) > 3
    assert "".join(data["text"] for name, data in got if name == "delta") == ANSWER
    done = got[-1][1]
    assert done["value"] == STEPS
    assert done["usage"] == {"prompt_tokens": 42, "completion_tokens": 17}
    assert fake.requests[0].body["stream"] is True
    assert fake.requests[0].body["stream_options"] == {"include_usage": True}
    # The done event carries what a 201 would have: the same object GET shows.
    latest = (await worker.get(f"/assignments/{aid}/generations")).json()["latest"]
    assert latest["cot"] == done


# ---- limits and failures -------------------------------------------------------------------


async def test_after_the_first_generation_only_max_regenerations_more(
    world: World, fake: FakeOpenAI
) -> None:
    worker, aid, _ = await lease(world, {"default": openai_model(fake)})
    left = []
    for _ in range(3):
        r = await generate(worker, aid, inputs={"prompt": PROMPT})
        assert r.status_code == 201, r.text
        left.append(r.json()["regenerations_left"])
    assert left == [2, 1, 0]
    body = is_problem(await generate(worker, aid, inputs={"prompt": PROMPT}), 429)
    assert body["max_regenerations"] == 2 and body["field"] == "cot"
    assert len(fake.requests) == 3  # the fourth never reached the model
    streamed = await worker.post(
        f"/assignments/{aid}/generate",
        json={"field": "cot", "inputs": {"prompt": PROMPT}},
        headers={"Accept": "text/event-stream"},
    )
    is_problem(streamed, 429)  # refused before any stream begins


async def test_the_limit_holds_for_concurrent_requests(world: World, fake: FakeOpenAI) -> None:
    worker, aid, _ = await lease(world, {"default": openai_model(fake)})
    replies = await asyncio.gather(
        *(generate(worker, aid, inputs={"prompt": PROMPT}) for _ in range(6))
    )
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [201, 201, 201, 429, 429, 429], [r.text for r in replies]
    ids = {r.json()["generation_id"] for r in replies if r.status_code == 201}
    assert len(ids) == 3


@pytest.mark.parametrize(
    ("mode", "detail"),
    [
        ("error_500", "answered 500: the model is overloaded"),
        ("garbage", "not JSON"),
        ("no_choices", "no choices"),
        ("slow", "sent nothing for 1 seconds"),
        ("empty", "answer is empty"),
    ],
)
async def test_a_failing_provider_is_502_and_keeps_the_draft_and_the_allowance(
    world: World, fake: FakeOpenAI, mode: str, detail: str
) -> None:
    worker, aid, _ = await lease(world, {"default": openai_model(fake)})
    draft = {"prompt": PROMPT}
    assert (await worker.put(f"/assignments/{aid}/draft", json={"answer": draft})).is_success
    settings = world.app.state.settings
    if mode == "slow":  # fails in 1 s instead of 10; the calls after it get the usual 10 s
        world.app.state.settings = settings.model_copy(update={"llm_timeout_seconds": 1.0})
    fake.mode = mode
    body = is_problem(await generate(worker, aid, inputs={"prompt": PROMPT}), 502)
    assert detail in body["detail"] and body["type"].endswith("/provider-failed")
    assert "sk-test-123" not in json.dumps(body)

    got = (await worker.get(f"/assignments/{aid}")).json()
    assert got["draft"]["answer"] == draft and got["state"] == "active"
    assert (await worker.get(f"/assignments/{aid}/generations")).json()["latest"] == {}
    # The failure did not count: the first generation and both regenerations remain.
    world.app.state.settings = settings
    fake.mode = "ok"
    for _ in range(3):
        r = await generate(worker, aid, inputs={"prompt": PROMPT})
        assert r.status_code == 201, r.text
    is_problem(await generate(worker, aid, inputs={"prompt": PROMPT}), 429)


async def test_an_unreachable_server_or_a_missing_key_is_502_saying_which(
    world: World, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = openai_model(fake, base_url=f"http://127.0.0.1:{closed_port()}/v1")
    keyless = openai_model(fake, api_key_env="INLIER_TEST_NO_SUCH_KEY")
    monkeypatch.delenv("INLIER_TEST_NO_SUCH_KEY", raising=False)
    worker, aid, _ = await lease(world, {"default": dead})
    body = is_problem(await generate(worker, aid, inputs={"prompt": PROMPT}), 502)
    assert "could not reach the model server at 127.0.0.1" in body["detail"]
    worker, aid, _ = await lease(world, {"default": keyless})
    body = is_problem(await generate(worker, aid, inputs={"prompt": PROMPT}), 502)
    assert "INLIER_TEST_NO_SUCH_KEY" in body["detail"] and fake.requests == []


@pytest.mark.parametrize("mode", ["error_500", "cut_stream"])
async def test_a_stream_that_fails_ends_with_an_error_event(
    world: World, fake: FakeOpenAI, mode: str
) -> None:
    worker, aid, _ = await lease(world, {"default": openai_model(fake)})
    fake.mode = mode
    r = await worker.post(
        f"/assignments/{aid}/generate",
        json={"field": "cot", "inputs": {"prompt": PROMPT}},
        headers={"Accept": "text/event-stream"},
    )
    assert r.status_code == 200
    name, problem = events(r.text)[-1]
    assert name == "error" and problem["status"] == 502 and problem["title"]
    assert problem["type"].endswith("/provider-failed") and problem["detail"]
    assert (await worker.get(f"/assignments/{aid}/generations")).json()["latest"] == {}


# ---- who may generate, and what --------------------------------------------------------------


async def test_only_the_holder_of_a_live_lease_generates(
    world: World, fake: FakeOpenAI, clock: Clock
) -> None:
    worker, aid, pid = await lease(world, {"default": openai_model(fake)}, lease_minutes=5)
    stranger = await world.user("contributor")
    is_problem(await generate(stranger, aid, inputs={"prompt": PROMPT}), 404)
    is_problem(await generate(worker, "999999", inputs={"prompt": PROMPT}), 404)
    is_problem(await generate(worker, "not-an-id", inputs={"prompt": PROMPT}), 404)
    clock.advance(timedelta(minutes=6))
    is_problem(await generate(worker, aid, inputs={"prompt": PROMPT}), 409)
    again = await worker.next(pid)
    assert again.status_code == 200
    released = again.json()["id"]
    assert (await worker.post(f"/assignments/{released}/release")).status_code == 200
    is_problem(await generate(worker, released, inputs={"prompt": PROMPT}), 409)
    assert fake.requests == []


async def test_only_generated_fields_with_their_inputs_are_generated(
    world: World, fake: FakeOpenAI
) -> None:
    worker, aid, _ = await lease(world, {"default": openai_model(fake)})
    cases: list[tuple[dict[str, Any], list[Any]]] = [
        ({"field": "topic"}, ["body", "field"]),
        ({"field": "nope"}, ["body", "field"]),
        ({"field": "cot"}, ["body", "inputs", "prompt"]),
        ({"field": "cot", "inputs": {"prompt": "   "}}, ["body", "inputs", "prompt"]),
        ({"field": "cot", "inputs": {"prompt": "short"}}, ["body", "inputs", "prompt"]),
        ({"field": "cot", "inputs": {"prompt": 12345678901}}, ["body", "inputs", "prompt"]),
        ({"field": "cot", "inputs": {"prompt": PROMPT, "topic": "x"}}, ["body", "inputs", "topic"]),
        ({"field": "cot", "inputs": {"prompt": PROMPT, "ghost": 1}}, ["body", "inputs", "ghost"]),
        ({"field": "cot", "inputs": {"prompt": PROMPT}, "extra": 1}, ["body", "extra"]),
    ]
    for body, loc in cases:
        r = await worker.post(f"/assignments/{aid}/generate", json=body)
        problem = is_problem(r, 422)
        assert problem["errors"][0]["loc"] == loc, (body, problem)
    missing = is_problem(await generate(worker, aid), 422)
    assert "prompt" in missing["detail"]
    assert fake.requests == []
    assert (await worker.get(f"/assignments/{aid}/generations")).json()["latest"] == {}


async def test_reviewers_do_not_generate(world: World, fake: FakeOpenAI) -> None:
    worker, aid, pid = await lease(
        world, {"default": openai_model(fake)}, workflow={"review": {"sample_rate": 1.0}}
    )
    assert (await generate(worker, aid, inputs={"prompt": PROMPT})).status_code == 201
    steps = {"steps": [{"verdict": "approve"}] * len(STEPS), "final_answer_correct": True}
    answer = {"prompt": PROMPT, "steps": steps}
    assert (await worker.post(f"/assignments/{aid}/submit", json={"answer": answer})).is_success
    reviewer = await world.user("contributor")
    await world.member(await world.admin(), pid, reviewer, "reviewer")
    review = (await reviewer.next(pid)).json()
    assert review["stage"] == "review"
    is_problem(await generate(reviewer, review["id"], inputs={"prompt": PROMPT}), 409)


# ---- replay --------------------------------------------------------------------------------

REPLAY = {
    "provider": "replay",
    "model": "cardiology-demo",
    "responses": {
        "case-1/cot": ["Step 1: First take.\nStep 2: Done.", "1. Second take.\n2. Done again."],
        "*": "A summary for any item.",
    },
}


async def test_replay_serves_the_shipped_answers_labelled_as_replay(
    world: World, fake: FakeOpenAI
) -> None:
    worker, aid, _ = await lease(world, {"default": REPLAY})
    first = await generate(worker, aid, inputs={"prompt": PROMPT})
    assert first.status_code == 201, first.text
    assert first.json()["provider"] == "replay" and first.json()["model"] == "cardiology-demo"
    assert first.json()["value"] == ["First take.", "Done."]
    assert first.json()["usage"] == {"prompt_tokens": None, "completion_tokens": None}
    streamed = await worker.post(
        f"/assignments/{aid}/generate",
        json={"field": "cot", "inputs": {"prompt": PROMPT}},
        headers={"Accept": "text/event-stream"},
    )
    got = events(streamed.text)
    assert got[-1][0] == "done" and got[-1][1]["value"] == ["Second take.", "Done again."]
    assert "".join(d["text"] for n, d in got if n == "delta") == "1. Second take.\n2. Done again."
    third = await generate(worker, aid, inputs={"prompt": PROMPT})
    assert third.json()["value"] == ["First take.", "Done."]  # the list wraps around
    summary = await generate(worker, aid, "summary")
    assert summary.json()["value"] == "A summary for any item."
    assert fake.requests == []


async def test_replay_without_an_answer_for_the_item_is_502(world: World) -> None:
    only_other = {**REPLAY, "responses": {"case-2": "Not this one."}}
    worker, aid, _ = await lease(world, {"default": only_other})
    body = is_problem(await generate(worker, aid, inputs={"prompt": PROMPT}), 502)
    assert "no response for item 'case-1'" in body["detail"]


# ---- what other areas read -------------------------------------------------------------------


async def test_the_latest_generation_of_each_field_is_what_the_workflow_reads(
    world: World, fake: FakeOpenAI, app: Any
) -> None:
    worker, aid, _ = await lease(world, {"default": openai_model(fake)})
    await generate(worker, aid, inputs={"prompt": PROMPT})
    fake.answer = "1. Better.\n2. Best."
    second = (await generate(worker, aid, inputs={"prompt": PROMPT})).json()
    fake.answer = "In short: STEMI."
    summary = (await generate(worker, aid, "summary")).json()
    fake.mode = "error_500"
    await generate(worker, aid, inputs={"prompt": PROMPT})  # a failure changes nothing below
    async with app.state.db.session() as s:
        assert await llm.latest_values(s, int(aid)) == {
            "cot": ["Better.", "Best."],
            "summary": "In short: STEMI.",
        }
        assert await llm.generation_ids(s, int(aid)) == [
            second["generation_id"],
            summary["generation_id"],
        ]
        shown = await llm.generations_for(s, int(aid))
    assert shown["cot"]["generation_id"] == second["generation_id"]
    assert shown["cot"]["regenerations_left"] == 1 and shown["summary"]["regenerations_left"] == 0


# ---- configuration -------------------------------------------------------------------------


async def test_models_are_checked_per_provider_and_keys_are_never_stored(
    world: World, fake: FakeOpenAI
) -> None:
    owner = await world.user("owner")
    bad: list[tuple[dict[str, Any], str]] = [
        ({"provider": "openai", "model": "m"}, "base_url"),
        ({"provider": "openai", "base_url": f"{fake.url}/v1"}, "model"),
        ({"provider": "openai", "base_url": "ftp://x", "model": "m"}, "base_url"),
        ({"provider": "replay"}, "responses"),
        ({**openai_model(fake), "responses": {"*": "x"}}, "responses"),
        ({**openai_model(fake), "params": {"stream": True}}, "stream"),
        ({**openai_model(fake), "api_key_env": "sk-live-abc"}, "api_key_env"),
    ]
    for model, named in bad:
        r = await owner.post(
            "/projects", json={"name": "P", "template": TEMPLATE, "models": {"default": model}}
        )
        problem = is_problem(r, 422)
        assert named in json.dumps(problem["errors"]), (model, problem)
    made = await world.project(owner, template=TEMPLATE, models={"default": openai_model(fake)})
    assert made["models"]["default"]["api_key_env"] == KEY_ENV
    assert "sk-test-123" not in json.dumps(made)


async def test_a_submission_judges_the_latest_generation_and_records_it(
    world: World, fake: FakeOpenAI
) -> None:
    worker, aid, _ = await lease(world, {"default": openai_model(fake)})
    judged = {"steps": [{"verdict": "approve"}] * len(STEPS), "final_answer_correct": True}
    answer = {"prompt": PROMPT, "steps": judged}
    # Nothing generated yet: there is nothing to judge.
    r = await worker.post(
        f"/assignments/{aid}/submit", json={"answer": answer}, headers={"Idempotency-Key": "a"}
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "answer", "steps"]
    assert "generate 'cot' first" in r.json()["detail"]

    first = (await generate(worker, aid, inputs={"prompt": PROMPT})).json()
    fake.answer = "Step 1: Only one step this time.\nStep 2: And a second."
    latest = (await generate(worker, aid, inputs={"prompt": PROMPT})).json()
    assert len(latest["value"]) == 2
    held = (await worker.get(f"/assignments/{aid}")).json()
    assert held["generations"]["cot"]["generation_id"] == latest["generation_id"]

    # The steps judged must be the latest generation's, step for step.
    r = await worker.post(
        f"/assignments/{aid}/submit", json={"answer": answer}, headers={"Idempotency-Key": "b"}
    )
    assert r.status_code == 422 and "judge each of the 2 steps" in r.json()["detail"]
    answer["steps"] = {"steps": [{"verdict": "approve"}] * 2, "final_answer_correct": True}
    r = await worker.post(
        f"/assignments/{aid}/submit",
        json={"answer": answer, "generation_ids": [first["generation_id"]]},
        headers={"Idempotency-Key": "c"},
    )
    assert r.status_code == 201, r.text
    # The server records the generation the answer was made with, whatever the client says.
    assert r.json()["generation_ids"] == [latest["generation_id"]]
