"""Model providers: one module each, found through this registry by the name a project gives."""

from __future__ import annotations

from inlier.llm.providers.base import Call, Completion, Delta, Provider, ProviderError
from inlier.llm.providers.openai import OpenAI
from inlier.llm.providers.replay import Replay

REGISTRY: dict[str, Provider] = {p.name: p for p in (OpenAI(), Replay())}

__all__ = ["REGISTRY", "Call", "Completion", "Delta", "Provider", "ProviderError"]
