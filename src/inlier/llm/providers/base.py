"""The one interface every model provider implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, ClassVar


class ProviderError(Exception):
    """The provider did not give us an answer; the message says why, in words for the expert."""


@dataclass(frozen=True)
class Call:
    """What to ask, of which model, and what the replay provider needs to find its answer."""

    config: dict[str, Any]  # the project's model entry (provider, base_url, model, params, …)
    messages: list[dict[str, str]]
    timeout: float
    item_external_id: str | None = None
    field: str = ""
    attempt: int = 0  # successful generations of this field so far, in this assignment

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.config.get("params") or {})


@dataclass
class Completion:
    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True)
class Delta:
    """A piece of the answer as it streams in."""

    text: str


class Provider(ABC):
    name: ClassVar[str]

    def model_name(self, config: dict[str, Any]) -> str:
        return str(config.get("model") or self.name)

    @abstractmethod
    async def complete(self, call: Call) -> Completion:
        """The whole answer at once; ``ProviderError`` when there is none."""

    @abstractmethod
    def stream(self, call: Call) -> AsyncIterator[Delta | Completion]:
        """Deltas as they arrive, then one ``Completion`` with the whole text (and usage)."""
