"""Serves answers shipped with the project (demo data, or recorded runs), with no model at all.

A replay model's entry carries ``responses``: a mapping from a key to one answer or a list of
answers, written as a model would write them (a ``steps`` field is split as usual). The key is
looked up in this order, first found wins:

- ``"<external_id>/<field>"`` — this item, this field;
- ``"<external_id>"`` — this item, any field;
- ``"*/<field>"`` — any item, this field;
- ``"*"`` — anything.

With a list, the first generation serves the first answer, a regeneration the next, wrapping
around. Every generation says ``"provider": "replay"``, so nobody takes it for a live model.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

from inlier.llm.providers.base import Call, Completion, Delta, Provider, ProviderError


def replay_keys(external_id: str | None, field: str) -> list[str]:
    keys = [f"{external_id}/{field}", external_id] if external_id is not None else []
    return [*keys, f"*/{field}", "*"]


def replay_answer(responses: dict[str, Any], external_id: str | None, field: str, n: int) -> str:
    for key in replay_keys(external_id, field):
        found = responses.get(key)
        if isinstance(found, str):
            return found
        if isinstance(found, list) and found:
            return str(found[n % len(found)])
    item = f"item {external_id!r}" if external_id is not None else "this item (no external_id)"
    raise ProviderError(f"the replay data has no response for {item}, field {field!r}")


class Replay(Provider):
    name = "replay"

    def _text(self, call: Call) -> str:
        responses = call.config.get("responses") or {}
        return replay_answer(responses, call.item_external_id, call.field, call.attempt)

    async def complete(self, call: Call) -> Completion:
        return Completion(self._text(call))

    async def stream(self, call: Call) -> AsyncIterator[Delta | Completion]:
        text = self._text(call)
        # A few words at a time, so the page streams a replay as it would a live model.
        words = [*re.findall(r"\s*\S+(?:\s+\S+){0,3}", text), text[len(text.rstrip()) :]]
        for piece in words:
            if piece:
                yield Delta(piece)
                await asyncio.sleep(0)
        yield Completion(text)
