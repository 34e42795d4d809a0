"""The forwarding app: a raw ASGI app (no framework: every request pays for it) that sends
each request to the active target through httpx's transport, streaming both bodies.

The target is read once when a request starts. A flip replaces :attr:`Proxy.state`, one
assignment on the event loop, so requests in flight finish on the old target and the next
request goes to the new one: no request sees half a flip, and none fails because of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

import httpx

from packhorse.front.state import FrontState

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: Headers that belong to one connection, never forwarded (RFC 9110, section 7.6.1), plus
#: ``host``, which the upstream request sets to the target.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)

#: No read timeout: an event stream may stay quiet between events for as long as it likes.
TIMEOUTS = {"connect": 5.0, "read": None, "write": 60.0, "pool": 30.0}


def _connection_named(headers: list[tuple[bytes, bytes]]) -> set[bytes]:
    """Header names listed in ``Connection`` (hop-by-hop too)."""
    named: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            named.update(part.strip().lower() for part in value.split(b","))
    return named


def forwarded_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The request's headers as the target gets them: hop-by-hop ones dropped,
    ``X-Forwarded-For`` extended, ``X-Forwarded-Proto`` and ``X-Forwarded-Host`` set."""
    incoming: list[tuple[bytes, bytes]] = list(scope["headers"])
    dropped = HOP_BY_HOP | _connection_named(incoming) | {b"host"}
    headers: list[tuple[bytes, bytes]] = []
    forwarded_for = b""
    host = b""
    for name, value in incoming:
        lower = name.lower()
        if lower == b"host":
            host = value
        if lower == b"x-forwarded-for":
            forwarded_for = value
        elif lower in (b"x-forwarded-host", b"x-forwarded-proto"):
            continue  # the front is the edge: what a client claims here is not kept
        elif lower not in dropped:
            headers.append((lower, value))
    client = scope.get("client")
    address = str(client[0]).encode() if client else b"unknown"
    headers.append(
        (b"x-forwarded-for", forwarded_for + b", " + address if forwarded_for else address)
    )
    headers.append((b"x-forwarded-proto", str(scope.get("scheme", "http")).encode()))
    if host:
        headers.append((b"x-forwarded-host", host))
    return headers


def _response_headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    dropped = HOP_BY_HOP | _connection_named(raw)
    return [(name.lower(), value) for name, value in raw if name.lower() not in dropped]


def _has_body(scope: Scope) -> bool:
    return any(name in (b"content-length", b"transfer-encoding") for name, _ in scope["headers"])


async def fault(send: Send, status: int, message: str) -> None:
    """Answer with StackStorm's error body."""
    body = json.dumps({"faultstring": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Proxy:
    """The ASGI app of the public address."""

    def __init__(
        self,
        state: FrontState,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: ssl.SSLContext | bool = True,
    ):
        self.state = state
        """What new requests are forwarded to; replaced whole by a flip."""
        self.transport = transport or httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200),
            verify=verify,
        )
        self.stopping = asyncio.Event()
        """Set when the server stops: open streamed responses end instead of holding it up."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._forward(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.transport.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = self.state.active  # read once: the flip point of this request
        method = scope["method"]
        if not target:
            await fault(
                send,
                502,
                "The front has no active instance yet: "
                "run 'packhorse front flip --to URL' to give it one.",
            )
            return
        path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        url = target.encode() + path + (b"?" + query if query else b"")
        body_done = asyncio.Event()

        async def body() -> AsyncIterator[bytes]:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ConnectionAbortedError("the client went away")
                chunk = message.get("body", b"")
                if chunk:
                    yield chunk
                if not message.get("more_body", False):
                    body_done.set()
                    return

        has_body = _has_body(scope)
        if not has_body:
            body_done.set()
        request = httpx.Request(
            method,
            url.decode("latin-1"),
            headers=forwarded_headers(scope),
            content=body() if has_body else None,
            extensions={"timeout": TIMEOUTS},
        )
        try:
            response = await self.transport.handle_async_request(request)
        except (httpx.TransportError, ConnectionAbortedError) as error:
            await fault(send, 502, _down_message(target, method, scope["path"], error))
            return
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": _response_headers(response.headers.raw),
                }
            )
            stream = response.stream
            assert isinstance(stream, httpx.AsyncByteStream)
            if "content-length" in response.headers or not body_done.is_set():
                await _pump(stream, send)
            else:
                # A body of unknown length (an event stream): end it when the client goes
                # away or the server stops, else it would be read for ever.
                pump = asyncio.ensure_future(_pump(stream, send))
                await _until_first(pump, _disconnected(receive), self.stopping.wait())
                if pump.cancelled() or pump.exception() is not None:
                    with contextlib.suppress(Exception):
                        await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()


async def _pump(stream: httpx.AsyncByteStream, send: Send) -> None:
    try:
        async for chunk in stream:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    except httpx.TransportError:
        return  # the target failed mid-body: the headers are sent, so the answer just ends
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _until_first(*awaitables: Awaitable[object]) -> None:
    tasks = [asyncio.ensure_future(awaitable) for awaitable in awaitables]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _down_message(target: str, method: str, path: str, error: Exception) -> str:
    reason = str(error) or type(error).__name__
    return (
        f"The active instance {target} is down or unreachable ({reason}); "
        f"the front could not forward {method} {path}."
    )
