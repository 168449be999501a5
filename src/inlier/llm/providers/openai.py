"""Any server that speaks OpenAI's ``/v1/chat/completions``: OpenAI, vLLM, Ollama, llama.cpp…"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx

from inlier.llm.providers.base import Call, Completion, Delta, Provider, ProviderError

# A runaway model must not fill the database: no field value needs more than this.
MAX_TEXT = 1_000_000
MAX_BODY = 8 * 1024 * 1024


def endpoint(base_url: str) -> str:
    """``http://h/v1`` (as the OpenAI SDK takes it) and ``http://h`` both mean ``http://h/v1``."""
    root = base_url.rstrip("/")
    if not re.search(r"/v\d+$", root):
        root += "/v1"
    return root + "/chat/completions"


def _where(url: str) -> str:
    # Host and port only: a base_url may carry credentials in its userinfo.
    u = httpx.URL(url)
    return f"{u.host}:{u.port}" if u.port else u.host


def _headers(config: dict[str, Any]) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    env = config.get("api_key_env")
    if env:
        key = os.environ.get(env)
        if not key:
            raise ProviderError(
                f"the environment variable {env}, which should hold the model's API key, "
                "is not set on the server"
            )
        headers["Authorization"] = f"Bearer {key}"
    return headers


def _server_message(body: bytes) -> str:
    """The server's own words, when it gave any (OpenAI's ``{"error": {"message"}}``)."""
    message = ""
    try:
        parsed = json.loads(body)
        err = parsed.get("error") if isinstance(parsed, dict) else None
        if isinstance(err, dict):
            message = str(err.get("message") or "")
        elif isinstance(err, str):
            message = err
    except ValueError:
        message = body[:200].decode("utf-8", "replace")
    return " ".join(message.split())[:300]


def _error_text(status: int, body: bytes) -> str:
    message = _server_message(body)
    return f"the model server answered {status}" + (f": {message}" if message else "")


def _text_of(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts, as some servers send them
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        if parts and all(isinstance(p, str) for p in parts):
            return "".join(p for p in parts if isinstance(p, str))
    return None


def _usage(payload: Any) -> tuple[int | None, int | None]:
    usage = payload.get("usage") if isinstance(payload, dict) else None
    if not isinstance(usage, dict):
        return None, None

    def count(name: str) -> int | None:
        v = usage.get(name)
        return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None

    return count("prompt_tokens"), count("completion_tokens")


def parse_completion(payload: Any) -> Completion:
    """A non-streaming ``chat.completion`` body → its text and usage."""
    try:
        message = payload["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        raise ProviderError("the model server's answer has no choices[0].message") from None
    text = _text_of(message.get("content") if isinstance(message, dict) else None)
    if text is None:
        raise ProviderError("the model's answer has no text content")
    if len(text) > MAX_TEXT:
        raise ProviderError(f"the model's answer is longer than {MAX_TEXT} characters")
    return Completion(text, *_usage(payload))


class OpenAI(Provider):
    name = "openai"

    def _request(self, call: Call, stream: bool) -> tuple[str, dict[str, Any], dict[str, str]]:
        url = endpoint(str(call.config.get("base_url") or ""))
        body: dict[str, Any] = {
            "model": self.model_name(call.config),
            "messages": call.messages,
            **call.params,
            "stream": stream,
        }
        if stream:
            body["stream_options"] = {"include_usage": True}
        return url, body, _headers(call.config)

    def _client(self, call: Call) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=httpx.Timeout(call.timeout))

    def _failed(self, url: str, call: Call, exc: httpx.HTTPError) -> ProviderError:
        if isinstance(exc, httpx.TimeoutException):
            return ProviderError(
                f"the model server at {_where(url)} sent nothing for {call.timeout:g} seconds"
            )
        return ProviderError(
            f"could not reach the model server at {_where(url)} ({type(exc).__name__})"
        )

    async def complete(self, call: Call) -> Completion:
        url, body, headers = self._request(call, stream=False)
        try:
            async with self._client(call) as http:
                r = await http.post(url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise self._failed(url, call, exc) from exc
        if not 200 <= r.status_code < 300:
            raise ProviderError(_error_text(r.status_code, r.content))
        if len(r.content) > MAX_BODY:
            raise ProviderError("the model server's answer is too large")
        try:
            payload = r.json()
        except ValueError:
            raise ProviderError("the model server's answer is not JSON") from None
        return parse_completion(payload)

    async def stream(self, call: Call) -> AsyncIterator[Delta | Completion]:
        url, body, headers = self._request(call, stream=True)
        headers["Accept"] = "text/event-stream"
        try:
            async with (
                self._client(call) as http,
                http.stream("POST", url, json=body, headers=headers) as r,
            ):
                if not 200 <= r.status_code < 300:
                    raise ProviderError(_error_text(r.status_code, await r.aread()))
                if r.headers.get("content-type", "").startswith("application/json"):
                    # The server ignored `stream: true` and answered in one piece.
                    done = parse_completion(json.loads(await r.aread()))
                    yield Delta(done.text)
                    yield done
                    return
                async for event in _events(r):
                    yield event
        except httpx.HTTPError as exc:
            raise self._failed(url, call, exc) from exc
        except ValueError:
            raise ProviderError("the model server's answer is not JSON") from None


async def _events(r: httpx.Response) -> AsyncIterator[Delta | Completion]:
    """OpenAI's stream: ``data: {chunk}`` lines, then ``data: [DONE]``."""
    pieces: list[str] = []
    size = 0
    usage: tuple[int | None, int | None] = (None, None)
    finished = False
    async for line in r.aiter_lines():
        if not line.startswith("data:"):
            continue  # comments (keep-alives), event names, blank separators
        data = line[5:].strip()
        if data == "[DONE]":
            finished = True
            break
        try:
            chunk = json.loads(data)
        except ValueError:
            raise ProviderError("the model server sent a malformed stream chunk") from None
        if not isinstance(chunk, dict):
            raise ProviderError("the model server sent a malformed stream chunk")
        if isinstance(chunk.get("error"), dict | str):
            message = _server_message(data.encode()) or "no reason given"
            raise ProviderError(f"the model server stopped with an error: {message}")
        if chunk.get("usage"):
            usage = _usage(chunk)
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices:
            continue  # the usage chunk has no choices
        choice = choices[0] if isinstance(choices[0], dict) else {}
        delta = choice.get("delta")
        text = _text_of(delta.get("content")) if isinstance(delta, dict) else None
        if text:
            size += len(text)
            if size > MAX_TEXT:
                raise ProviderError(f"the model's answer is longer than {MAX_TEXT} characters")
            pieces.append(text)
            yield Delta(text)
        if choice.get("finish_reason"):
            finished = True
    if not finished:
        raise ProviderError("the model server's stream ended before the answer was complete")
    yield Completion("".join(pieces), *usage)
