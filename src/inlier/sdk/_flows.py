"""The SDK without I/O: requests described as data, endpoints written once as generators.

An endpoint is a generator (a *flow*) that yields a ``Call`` and receives the ``httpx.Response``
back, or has the failure (an ``InlierError`` or an ``httpx.TransportError``) thrown in at that
point; what it returns is the method's result. A *feed* may also yield ``Emit(value)``: one
item of an iterator. ``Client`` and ``AsyncClient`` only drive flows; the ``operation`` and
``iterator`` descriptors turn each flow into a method of both, sync on one and async on the other.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, Self, TypeVar, overload
from urllib.parse import quote

import httpx

if TYPE_CHECKING:
    from inlier.sdk._client import AsyncClient, Client

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
Y = TypeVar("Y")

JSON = dict[str, Any]


@dataclass(frozen=True)
class Call:
    """One HTTP request, relative to ``/api/v1``.

    ``lines=True`` marks a streamed JSON-lines answer: the transport yields each decoded line
    to the caller of the feed instead of sending the response back into it; ``chunks=True``
    likewise yields the raw bytes of the body as they arrive (binary exports).
    """

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    lines: bool = False
    chunks: bool = False

    @property
    def streamed(self) -> bool:
        return self.lines or self.chunks

    def with_params(self, **params: Any) -> Call:
        """The same call with more query parameters (``None`` values are left out)."""
        merged = {**(self.params or {}), **params}
        return replace(self, params={k: v for k, v in merged.items() if v is not None})

    def request_args(self, token: str | None) -> dict[str, Any]:
        """Keyword arguments for ``httpx.Client.build_request`` (the async one takes the same)."""
        headers = dict(self.headers)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return {
            "method": self.method,
            "url": self.path,
            "params": self.params,
            "json": self.json,
            "content": self.content,
            "headers": headers,
        }


@dataclass(frozen=True)
class Emit(Generic[T]):
    """One item a feed hands to the caller of its iterator."""

    value: T


@dataclass(frozen=True)
class Done(Generic[R]):
    """A flow has returned ``value``."""

    value: R


#: The reply a flow receives at a ``yield``: ``None`` after an ``Emit`` or a streamed call.
Reply = httpx.Response | None
Flow = Generator[Call, Reply, R]
Feed = Generator[Call | Emit[T], Reply, None]


def advance(flow: Generator[Y, Reply, R], sent: Reply | BaseException) -> Y | Done[R]:
    """Resume ``flow`` with a response, or raise a failure at its ``yield``; its next step."""
    try:
        if isinstance(sent, BaseException):
            return flow.throw(sent)
        return flow.send(sent)
    except StopIteration as stop:
        return Done(stop.value)


def segment(value: object) -> str:
    """An id as one path segment: quoted, so no id can reach another route."""
    text = quote(str(value), safe="")
    return text.replace(".", "%2E") if text in (".", "..") else text


def json_body(reply: Reply) -> JSON:
    """The JSON object a successful call answered with."""
    if reply is None:  # only a feed that yielded a streamed call sees None here
        raise TypeError("this call has no response body")
    data = reply.json()
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    return data


def decode_line(line: str) -> Any:
    """One JSON-lines record, or ``None`` for a blank line."""
    return json.loads(line) if line.strip() else None


def request(call: Call) -> Flow[JSON]:
    """The simplest flow: one call, its JSON object."""
    return json_body((yield call))


def pages(call: Call, page_size: int | None) -> Feed[JSON]:
    """Every row of a ``{data, next_cursor}`` list, following cursors until the last page."""
    cursor: str | None = None
    while True:
        page = json_body((yield call.with_params(limit=page_size, cursor=cursor)))
        for row in page["data"]:
            yield Emit(row)
        cursor = page.get("next_cursor")
        if not cursor:
            return


def _method_like(fn: Callable[..., Any], obj: object, run: Callable[..., Any]) -> Any:
    """A bound method for ``fn`` that hands its flow to ``run`` (the transport's driver)."""

    def bound(*args: Any, **kwargs: Any) -> Any:
        return run(fn(obj, *args, **kwargs))

    for name in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(bound, name, getattr(fn, name))
    sig = inspect.signature(fn)
    bound.__signature__ = sig.replace(parameters=list(sig.parameters.values())[1:])  # type: ignore[attr-defined]
    return bound


class operation(Generic[P, R]):
    """An endpoint returning one result: ``R`` on ``Client``, ``await``-able on ``AsyncClient``."""

    def __init__(self, fn: Callable[Concatenate[Any, P], Flow[R]]) -> None:
        self.fn = fn
        self.__doc__ = fn.__doc__

    @overload
    def __get__(self, obj: None, owner: type) -> Self: ...
    @overload
    def __get__(self, obj: Client, owner: type) -> Callable[P, R]: ...
    @overload
    def __get__(self, obj: AsyncClient, owner: type) -> Callable[P, Coroutine[Any, Any, R]]: ...
    def __get__(self, obj: Any, owner: type) -> Any:
        return self if obj is None else _method_like(self.fn, obj, obj._run)


class iterator(Generic[P, T]):
    """An endpoint returning many items: an iterator on ``Client``, an async one on ``AsyncClient``.

    Nothing is requested until iteration starts; later pages are fetched as they are reached.
    """

    def __init__(self, fn: Callable[Concatenate[Any, P], Feed[T]]) -> None:
        self.fn = fn
        self.__doc__ = fn.__doc__

    @overload
    def __get__(self, obj: None, owner: type) -> Self: ...
    @overload
    def __get__(self, obj: Client, owner: type) -> Callable[P, Iterator[T]]: ...
    @overload
    def __get__(self, obj: AsyncClient, owner: type) -> Callable[P, AsyncIterator[T]]: ...
    def __get__(self, obj: Any, owner: type) -> Any:
        return self if obj is None else _method_like(self.fn, obj, obj._iter)
