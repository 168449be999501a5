"""A small, real OpenAI-protocol server on loopback, for testing the providers end to end.

It answers ``POST /v1/chat/completions`` as OpenAI does, in one piece or streamed as SSE
(``data: {chunk}`` lines, then ``data: [DONE]``), remembers every request it got (headers and
body), and can be told to misbehave: fail with a 500, send garbage, go quiet, or cut a stream.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

ANSWER = (
    "Let me work through this.\n\n"
    "Step 1: The patient has chest pain radiating to the left arm.\n"
    "Step 2: The ECG shows ST elevation in II, III and aVF.\n"
    "Step 3: This is an inferior STEMI; activate the cath lab."
)

# How the server behaves: "ok", or one of the failures below.
MODES = ("ok", "error_500", "garbage", "no_choices", "slow", "cut_stream", "empty")


@dataclass
class Seen:
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeOpenAI:
    url: str = ""
    mode: str = "ok"
    answer: str = ANSWER
    slow_seconds: float = 3.0
    usage: tuple[int, int] = (42, 17)
    requests: list[Seen] = field(default_factory=list)

    def reset(self) -> None:
        self.mode, self.answer, self.requests = "ok", ANSWER, []

    # ---- the protocol ----------------------------------------------------------------------

    async def completions(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(Seen(dict(request.headers), body))
        if self.mode == "slow":
            await asyncio.sleep(self.slow_seconds)
        if self.mode == "error_500":
            error = {"error": {"message": "the model is overloaded", "type": "server_error"}}
            return JSONResponse(error, status_code=500)
        if self.mode == "garbage":
            return Response(b"<html>502 Bad Gateway</html>", media_type="application/json")
        if self.mode == "no_choices":
            return JSONResponse({"id": "x", "object": "chat.completion", "choices": []})
        text = "" if self.mode == "empty" else self.answer
        if body.get("stream"):
            return StreamingResponse(self._chunks(body, text), media_type="text/event-stream")
        prompt, completion = self.usage
        return JSONResponse(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
            }
        )

    async def _chunks(self, body: dict[str, Any], text: str) -> AsyncIterator[bytes]:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            payload = {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "model": body.get("model"),
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(payload)}\n\n".encode()

        yield b": keep-alive\n\n"
        yield chunk({"role": "assistant", "content": ""})
        pieces = [text[i : i + 16] for i in range(0, len(text), 16)]
        for n, piece in enumerate(pieces):
            if self.mode == "cut_stream" and n == len(pieces) // 2:
                return  # the connection ends mid-answer, with no finish_reason and no [DONE]
            yield chunk({"content": piece})
            await asyncio.sleep(0)
        yield chunk({}, "stop")
        if (body.get("stream_options") or {}).get("include_usage"):
            prompt, completion = self.usage
            usage = {"prompt_tokens": prompt, "completion_tokens": completion}
            yield f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n".encode()
        yield b"data: [DONE]\n\n"

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/chat/completions", self.completions, methods=["POST"])])


@contextmanager
def running() -> Iterator[FakeOpenAI]:
    """The server in a daemon thread on 127.0.0.1 and a free port, stopped on exit."""
    fake = FakeOpenAI()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(fake.app(), log_level="warning", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the fake did not start"
        time.sleep(0.01)
    host, port = sock.getsockname()
    fake.url = f"http://{host}:{port}"
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()


def closed_port() -> int:
    """A port nothing listens on: connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
