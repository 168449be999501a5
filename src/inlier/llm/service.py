"""Model in the loop: fill a template's generated fields for the person holding an assignment.

A generation runs in three steps, so that no transaction (on SQLite: the one write lock) is
held while a model thinks, which may take minutes:

1. ``plan_generation`` (short transaction): the lease, the field, its inputs and the
   regeneration limit are checked, and the request to the model is built. Bad input stops
   here and changes nothing.
2. ``run`` / ``Provider.stream`` (no transaction): the provider is called.
3. ``record`` (short transaction): the limit is checked again under the assignment's row lock
   (two racing requests cannot both pass it) and the generation is stored. A failed call is
   stored with its error and never counts against the limit.

Other areas read the results through ``latest_values``, ``generation_ids`` and
``generations_for``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from inlier.accounts.service import Principal
from inlier.kit.clock import iso
from inlier.kit.errors import Conflict, DomainError, InvalidInput, RateLimited
from inlier.llm.models import Generation
from inlier.llm.providers import REGISTRY, Call, Completion, Provider, ProviderError
from inlier.llm.schemas import GenerateIn
from inlier.llm.steps import split_steps
from inlier.projects import service as projects
from inlier.projects.models import Item, Project
from inlier.questions import REGISTRY as QUESTIONS
from inlier.questions import Template
from inlier.questions.base import FieldSpec
from inlier.workflow import service as workflow

ATTEMPT = "attempt"
# Without a system prompt of the project's own, a steps field asks for steps we can split.
STEPS_SYSTEM_PROMPT = (
    "Solve the problem step by step. Write each step on its own line, starting with "
    '"Step 1:", "Step 2:" and so on, and state the final answer in the last step.'
)


class ProviderFailed(DomainError):
    status = 502
    title = "Model provider failed"
    type = "provider-failed"


class RegenerationLimit(RateLimited):
    title = "Regeneration limit reached"
    type = "regeneration-limit"


@dataclass
class Plan:
    """Everything a generation needs once the checks have passed, detached from the session."""

    who: Principal
    assignment_id: int
    project_id: int
    item_id: int
    field: FieldSpec
    allowed: int  # generations that may succeed in all: the first plus max_regenerations
    done: int  # successful generations so far
    provider: Provider
    model: str
    params: dict[str, Any]
    inputs: dict[str, Any]
    call: Call


@dataclass
class Outcome:
    """What a provider call came to: a value, or an error in words."""

    latency_ms: int
    text: str | None = None
    value: Any = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error: str | None = None


# ---- 1. checks and the request -------------------------------------------------------------


async def plan_generation(
    s: AsyncSession,
    who: Principal,
    assignment_id: str,
    body: GenerateIn,
    now: datetime,
    timeout: float,
) -> Plan:
    a = await workflow.own_assignment(s, who, assignment_id)
    workflow._require_live(a, now)
    if a.stage != ATTEMPT:
        raise Conflict("fields are generated while attempting an item, not while reviewing it")
    project = await s.get(Project, a.project_id)
    item = await s.get(Item, a.item_id)
    assert project is not None and item is not None
    template = projects.template_of(project)
    spec = template.fields.get(body.field)
    if spec is None or spec.generated is None:
        generated = sorted(n for n, f in template.fields.items() if f.generated is not None)
        msg = f"not a generated field of this template; generated fields: {generated}"
        raise InvalidInput(f"field: {msg}", errors=[{"loc": ["body", "field"], "msg": msg}])
    gen = spec.generated
    config = dict((project.models or {}).get(gen.model) or {})
    provider = REGISTRY.get(str(config.get("provider")))
    if provider is None:
        raise ProviderFailed(f"the project has no usable model named {gen.model!r}")
    latest = await _latest(s, a.id)
    inputs = _inputs(template, spec, item.data, body.inputs, latest)
    done = await _successes(s, a.id, spec.name)
    allowed = 1 + gen.max_regenerations
    if done >= allowed:
        raise _over_limit(spec.name, gen.max_regenerations)
    messages = build_messages(config, template, spec, inputs)
    if not messages and provider.name != "replay":
        msg = "the field is generated from nothing, so there is nothing to ask the model"
        raise InvalidInput(f"field: {msg}", errors=[{"loc": ["body", "field"], "msg": msg}])
    call = Call(
        config=config,
        messages=messages,
        timeout=timeout,
        item_external_id=item.external_id,
        field=spec.name,
        attempt=done,
    )
    return Plan(
        who=who,
        assignment_id=a.id,
        project_id=a.project_id,
        item_id=a.item_id,
        field=spec,
        allowed=allowed,
        done=done,
        provider=provider,
        model=provider.model_name(config),
        params=call.params,
        inputs=inputs,
        call=call,
    )


def _over_limit(field: str, max_regenerations: int) -> RegenerationLimit:
    return RegenerationLimit(
        f"{field} was generated once and regenerated {max_regenerations} times, the most "
        "this template allows",
        extra={"field": field, "max_regenerations": max_regenerations},
    )


def _filled(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    return value is not None and value != [] and value != {}


def _inputs(
    template: Template,
    spec: FieldSpec,
    data: dict[str, Any],
    given: dict[str, Any],
    latest: dict[str, Generation],
) -> dict[str, Any]:
    """The values ``spec`` is generated from: item data, earlier generations, the expert's answers.

    Every missing one is named at once, so the expert can fill them all in one go.
    """
    for name in given:
        if name not in template.questions:
            msg = (
                "not an input: values of the item's fields come from the item"
                if name in template.fields
                else "not a question of this template"
            )
            raise InvalidInput(
                f"inputs.{name}: {msg}", errors=[{"loc": ["body", "inputs", name], "msg": msg}]
            )
    assert spec.generated is not None
    out: dict[str, Any] = {}
    missing: list[dict[str, Any]] = []
    missing_names: list[str] = []
    for name in spec.generated.from_:
        source = template.fields.get(name)
        if source is not None and source.generated is not None:
            g = latest.get(name)
            if g is None:
                missing.append({"loc": ["body", "field"], "msg": f"generate {name} first"})
                missing_names.append(name)
            else:
                out[name] = g.value
        elif source is not None:
            out[name] = data.get(name)
        elif not _filled(given.get(name)):
            missing.append({"loc": ["body", "inputs", name], "msg": "answer this question first"})
            missing_names.append(name)
        else:
            q = template.questions[name]
            problems = QUESTIONS[q.type].check_answer(
                q, given[name], data, ["body", "inputs", name]
            )
            if problems:
                first = problems[0]
                where = ".".join(str(p) for p in first["loc"][1:])
                raise InvalidInput(f"{where}: {first['msg']}", errors=problems)
            out[name] = given[name]
    if missing:
        raise InvalidInput(
            f"{spec.name} is generated from {', '.join(missing_names)}, not given yet",
            errors=missing,
        )
    return out


# ---- prompts -------------------------------------------------------------------------------


def as_text(value: Any) -> str:
    """A value as a model should read it: steps numbered, chats as turns, the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(f"Step {i}: {v}" for i, v in enumerate(value, 1))
    if isinstance(value, list) and all(isinstance(v, dict) and "content" in v for v in value):
        return "\n\n".join(f"{v.get('role', 'user')}: {v['content']}" for v in value)
    return json.dumps(value, ensure_ascii=False, indent=2)


def build_messages(
    config: dict[str, Any], template: Template, spec: FieldSpec, inputs: dict[str, Any]
) -> list[dict[str, str]]:
    """The chat sent to the model: the system prompt, then the inputs as the user's turn.

    One input is sent as it is; several go under headings (their titles) in the order the
    field's ``from`` lists them. A single ``chat`` field is sent as the conversation it is.
    """
    system = config.get("system_prompt") or (STEPS_SYSTEM_PROMPT if spec.type == "steps" else "")
    messages: list[dict[str, str]] = [{"role": "system", "content": system}] if system else []
    names = list(inputs)
    if len(names) == 1:
        only = template.fields.get(names[0])
        value = inputs[names[0]]
        if only is not None and only.type == "chat" and isinstance(value, list):
            return messages + [
                {"role": str(m.get("role") or "user"), "content": str(m.get("content"))}
                for m in value
                if isinstance(m, dict)
            ]
        return [*messages, {"role": "user", "content": as_text(value)}]
    if not names:
        return messages
    sections = []
    for name in names:
        part = template.fields.get(name) or template.questions.get(name)
        title = (part.title if part is not None else None) or name
        sections.append(f"## {title}\n\n{as_text(inputs[name])}")
    return [*messages, {"role": "user", "content": "\n\n".join(sections)}]


def shape(field_type: str, text: str) -> Any:
    """The model's text as the field's value; ``ProviderError`` when nothing usable came."""
    if not text.strip():
        raise ProviderError("the model's answer is empty")
    if field_type == "steps":
        return split_steps(text)
    if field_type == "chat":
        return [{"role": "assistant", "content": text}]
    return text


# ---- 2. the call ---------------------------------------------------------------------------


def elapsed_ms(started: float) -> int:
    return max(0, round((time.perf_counter() - started) * 1000))


def finish(plan: Plan, completion: Completion, started: float) -> Outcome:
    """An outcome from a provider's whole answer (or its error when the answer is unusable)."""
    try:
        value = shape(plan.field.type, completion.text)
    except ProviderError as exc:
        return Outcome(elapsed_ms(started), text=completion.text, error=str(exc))
    return Outcome(
        elapsed_ms(started),
        text=completion.text,
        value=value,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
    )


async def run(plan: Plan) -> Outcome:
    started = time.perf_counter()
    try:
        completion = await plan.provider.complete(plan.call)
    except ProviderError as exc:
        return Outcome(elapsed_ms(started), error=str(exc))
    return finish(plan, completion, started)


# ---- 3. the record -------------------------------------------------------------------------


async def record(s: AsyncSession, plan: Plan, outcome: Outcome, now: datetime) -> Generation:
    """Store the generation; a failed one is stored too, and then raised as ``ProviderFailed``.

    The caller commits before raising: the session's transaction must end with the record in it.
    """
    if outcome.error is None:
        # The row lock makes racing generations of one assignment take turns (PostgreSQL;
        # SQLite has one writer anyway), so the count below is the true one.
        await workflow.own_assignment(s, plan.who, str(plan.assignment_id), lock=True)
        if await _successes(s, plan.assignment_id, plan.field.name) >= plan.allowed:
            assert plan.field.generated is not None
            raise _over_limit(plan.field.name, plan.field.generated.max_regenerations)
    g = Generation(
        assignment_id=plan.assignment_id,
        project_id=plan.project_id,
        item_id=plan.item_id,
        user_id=plan.who.id,
        field=plan.field.name,
        provider=plan.provider.name,
        model=plan.model[:200],
        params=plan.params,
        inputs=plan.inputs,
        value=outcome.value,
        text=outcome.text,
        latency_ms=outcome.latency_ms,
        prompt_tokens=outcome.prompt_tokens,
        completion_tokens=outcome.completion_tokens,
        error=outcome.error[:1000] if outcome.error else None,
        created_at=now,
    )
    s.add(g)
    await s.flush()
    return g


def generation_out(g: Generation, regenerations_left: int) -> dict[str, Any]:
    return {
        "generation_id": str(g.id),
        "field": g.field,
        "value": g.value,
        "provider": g.provider,
        "model": g.model,
        "params": g.params,
        "latency_ms": g.latency_ms,
        "usage": {"prompt_tokens": g.prompt_tokens, "completion_tokens": g.completion_tokens},
        "created_at": iso(g.created_at),
        "regenerations_left": max(0, regenerations_left),
    }


def left_after(plan: Plan) -> int:
    """Regenerations left once this plan's generation succeeded."""
    return plan.allowed - plan.done - 1


# ---- what other areas read -----------------------------------------------------------------


async def _successes(s: AsyncSession, assignment_id: int, field: str) -> int:
    n = await s.scalar(
        select(func.count()).where(
            Generation.assignment_id == assignment_id,
            Generation.field == field,
            Generation.error.is_(None),
        )
    )
    return int(n or 0)


async def _latest(s: AsyncSession, assignment_id: int) -> dict[str, Generation]:
    # An assignment has a handful of generations (fields times 1 + max_regenerations at most,
    # plus failures), so reading them all beats a per-field subquery on both engines.
    rows = (
        await s.execute(
            select(Generation)
            .where(Generation.assignment_id == assignment_id, Generation.error.is_(None))
            .order_by(Generation.id)
        )
    ).scalars()
    return {g.field: g for g in rows}


async def latest_values(s: AsyncSession, assignment_id: int) -> dict[str, Any]:
    """Field → the value of its latest successful generation in this assignment."""
    return {field: g.value for field, g in (await _latest(s, assignment_id)).items()}


async def generation_ids(s: AsyncSession, assignment_id: int) -> list[str]:
    """The ids of the latest successful generation of each field, oldest first."""
    latest = await _latest(s, assignment_id)
    return [str(g.id) for g in sorted(latest.values(), key=lambda g: g.id)]


async def generations_for(
    s: AsyncSession, assignment_id: int, template: Template | None = None
) -> dict[str, dict[str, Any]]:
    """Field → its latest generation as the API shows it, for a page rendered after a reload.

    ``regenerations_left`` needs the template; without one it is read from the project.
    """
    latest = await _latest(s, assignment_id)
    if not latest:
        return {}
    if template is None:
        first = next(iter(latest.values()))
        project = await s.get(Project, first.project_id)
        assert project is not None
        template = projects.template_of(project)
    counts = dict(
        (
            await s.execute(
                select(Generation.field, func.count())
                .where(Generation.assignment_id == assignment_id, Generation.error.is_(None))
                .group_by(Generation.field)
            )
        ).all()
    )
    out: dict[str, dict[str, Any]] = {}
    for field, g in latest.items():
        spec = template.fields.get(field)
        allowed = 1 + (spec.generated.max_regenerations if spec and spec.generated else 0)
        out[field] = generation_out(g, allowed - int(counts.get(field, 0)))
    return out
