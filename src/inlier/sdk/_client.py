"""The two transports: ``Client`` drives the endpoint flows with ``httpx.Client``,
``AsyncClient`` with ``httpx.AsyncClient``. The endpoints themselves live in ``_api.Api``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from inlier.sdk._api import Api
from inlier.sdk._errors import error_from_response
from inlier.sdk._flows import Call, Done, Emit, Feed, Flow, Reply, advance, decode_line

R = TypeVar("R")
T = TypeVar("T")


class Client(Api):
    """A synchronous client for the Inlier REST API v1.

    ``Client("http://127.0.0.1:8000", token=None, timeout=30.0)``; the ``/api/v1`` prefix is
    added when missing; ``headers`` and an httpx ``transport`` may be given too. Use it as a
    context manager, or call ``close()``. Error answers raise ``InlierError`` subclasses;
    connection failures raise ``httpx.TransportError``.
    """

    _http: httpx.Client

    def _connect(self, options: dict[str, Any]) -> None:
        if isinstance(options["transport"], httpx.AsyncBaseTransport):
            raise TypeError("Client needs a sync transport (httpx.BaseTransport)")
        self._http = httpx.Client(**options)

    def close(self) -> None:
        """Close the client's connections."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _open(self, call: Call) -> httpx.Response:
        """Send ``call``; an error answer (read in full) raises ``InlierError``."""
        request = self._http.build_request(**call.request_args(self.token))
        response = self._http.send(request, stream=call.streamed)
        if response.is_error:
            response.read()
            response.close()
            raise error_from_response(response)
        return response

    def _send(self, call: Call) -> Reply | Exception:
        try:
            return self._open(call)
        except Exception as exc:  # handed to the flow, which may handle it or let it rise
            return exc

    def _run(self, flow: Flow[R]) -> R:
        step = advance(flow, None)
        while not isinstance(step, Done):
            step = advance(flow, self._send(step))
        return step.value

    def _iter(self, feed: Feed[T]) -> Iterator[T]:
        step = advance(feed, None)
        while not isinstance(step, Done):
            sent: Reply | Exception = None
            if isinstance(step, Emit):
                yield step.value
            elif step.lines:
                yield from self._lines(step)
            elif step.chunks:
                yield from self._chunks(step)
            else:
                sent = self._send(step)
            step = advance(feed, sent)

    def _lines(self, call: Call) -> Iterator[Any]:
        response = self._open(call)
        try:
            for line in response.iter_lines():
                if (row := decode_line(line)) is not None:
                    yield row
        finally:
            response.close()

    def _chunks(self, call: Call) -> Iterator[Any]:
        response = self._open(call)
        try:
            yield from response.iter_bytes()
        finally:
            response.close()


class AsyncClient(Api):
    """The same API as ``Client``, for asyncio: every method is awaited, except the list and
    export methods, which return async iterators (``async for``). Close it with
    ``await client.close()`` or ``async with``."""

    _http: httpx.AsyncClient

    def _connect(self, options: dict[str, Any]) -> None:
        if isinstance(options["transport"], httpx.BaseTransport):
            raise TypeError("AsyncClient needs an async transport (httpx.AsyncBaseTransport)")
        self._http = httpx.AsyncClient(**options)

    async def close(self) -> None:
        """Close the client's connections."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _open(self, call: Call) -> httpx.Response:
        """Send ``call``; an error answer (read in full) raises ``InlierError``."""
        request = self._http.build_request(**call.request_args(self.token))
        response = await self._http.send(request, stream=call.streamed)
        if response.is_error:
            await response.aread()
            await response.aclose()
            raise error_from_response(response)
        return response

    async def _send(self, call: Call) -> Reply | Exception:
        try:
            return await self._open(call)
        except Exception as exc:  # handed to the flow, which may handle it or let it rise
            return exc

    async def _run(self, flow: Flow[R]) -> R:
        step = advance(flow, None)
        while not isinstance(step, Done):
            step = advance(flow, await self._send(step))
        return step.value

    async def _iter(self, feed: Feed[T]) -> AsyncIterator[T]:
        step = advance(feed, None)
        while not isinstance(step, Done):
            sent: Reply | Exception = None
            if isinstance(step, Emit):
                yield step.value
            elif step.lines:
                async for row in self._lines(step):
                    yield row
            elif step.chunks:
                async for chunk in self._chunks(step):
                    yield chunk
            else:
                sent = await self._send(step)
            step = advance(feed, sent)

    async def _lines(self, call: Call) -> AsyncIterator[Any]:
        response = await self._open(call)
        try:
            async for line in response.aiter_lines():
                if (row := decode_line(line)) is not None:
                    yield row
        finally:
            await response.aclose()

    async def _chunks(self, call: Call) -> AsyncIterator[Any]:
        response = await self._open(call)
        try:
            async for chunk in response.aiter_bytes():
                yield chunk
        finally:
            await response.aclose()
