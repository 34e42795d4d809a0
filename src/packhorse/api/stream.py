"""StackStorm's event stream, ``GET /stream/v1/stream``: server-sent events, as
``st2 execution tail``, ChatOps and the web UI read them.

Each event is ``event: <name>`` and ``data: <JSON document>`` lines and a blank line; a blank
line alone is sent when the stream opens and every ``heartbeat`` seconds without events (what
StackStorm sends to keep proxies from closing it). Query parameters, as StackStorm reads them:
``events`` (comma-separated names or globs: ``st2.execution__*``), ``action_refs``,
``execution_ids``, and ``end_execution_id`` with ``end_event``, which end the stream after
that event of that execution with a final status. Any valid caller may read it (viewer);
browsers' ``EventSource`` cannot set headers, so the token or API key may come in the query
(``x-auth-token``, ``st2-api-key``), and the web console's session cookie is accepted here.

``GET /stream/v1/executions/{id}/output`` (``output_type``: ``all``, ``stdout``, ``stderr``)
streams one execution's output, as the web UI reads it: what is stored, each new chunk, then
an ``EOF`` event once the execution has ended (or is pausing or resuming).

Open streams are ended when the server stops: uvicorn waits for every open response before it
runs the app's shutdown, so :class:`Server` ends them first.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any

import uvicorn
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from packhorse import bootstrap
from packhorse.api.errors import fault
from packhorse.api.security import Principal, require
from packhorse.engine.shapes import execution_document
from packhorse.engine.stream import (
    DEFAULT_EVENTS,
    Broadcaster,
    Describe,
    Ending,
    EventName,
    Interest,
    StreamEvent,
    Subscription,
    output_event,
    parse_list,
)
from packhorse.model.content import Kind
from packhorse.model.execution import COMPLETED, Execution, Status
from packhorse.model.runner_types import RUNNER_TYPES
from packhorse.storage.executions import ExecutionFilter
from packhorse.storage.feed import SqlFeed

if TYPE_CHECKING:
    from packhorse.engine.runtime import Runtime
    from packhorse.settings import Settings

HEARTBEAT_SECONDS = 25.0
"""StackStorm's default ``[stream] heartbeat``."""

_MAX_CHILDREN = 10_000

router = APIRouter(tags=["stream"])

StreamViewer = Annotated[Principal, Depends(require("viewer", session=True))]
"""Any valid caller; the web console's session cookie counts (its pages read the stream)."""


def broadcaster(settings: Settings, runtime: Runtime) -> Broadcaster:
    """The stream of ``packhorse up``: one per app, run in its lifespan."""
    return Broadcaster(SqlFeed(runtime.store.engine), describer(settings, runtime))


def describer(settings: Settings, runtime: Runtime) -> Describe:
    """Executions as ``GET /api/v1/executions/ID`` shows them (the action as registered, a
    workflow's children), secret parameters masked."""
    registry = bootstrap.cached_registry(settings)

    def describe(execution: Execution) -> dict[str, Any]:
        action = registry.get_resource(Kind.ACTION, execution.action_ref)
        runner = RUNNER_TYPES.get(execution.runner_type)
        children: list[str] = []
        if runner is not None and runner.workflow:
            query = ExecutionFilter(parent_id=execution.id, limit=_MAX_CHILDREN, oldest_first=True)
            children = [child.id for child in runtime.executions.list(query)]
        return execution_document(execution, action=action, children=children)

    return describe


def _broadcaster(app: Any) -> Broadcaster | None:
    found = getattr(getattr(app, "state", None), "stream", None)
    return found if isinstance(found, Broadcaster) else None


def end_streams(app: Any) -> None:
    """End every open stream of ``app`` (the server is stopping)."""
    stream = _broadcaster(app)
    if stream is not None:
        stream.close()


class Server(uvicorn.Server):
    """uvicorn's server, which ends the open event streams before it waits for responses
    to finish (else it would wait for ever)."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        end_streams(self.config.app)
        await super().shutdown(sockets)


def _interest(request: Request) -> Interest:
    query = request.query_params
    events = parse_list(query.getlist("events"))
    return Interest(
        events=events or DEFAULT_EVENTS,
        action_refs=frozenset(parse_list(query.getlist("action_refs"))),
        execution_ids=frozenset(parse_list(query.getlist("execution_ids"))),
        end_execution_id=query.get("end_execution_id") or None,
        end_event=query.get("end_event") or None,
    )


async def stream(request: Request, *, principal: StreamViewer) -> Response:
    """Server-sent events: executions created and changed (``st2.execution__create``,
    ``st2.execution__update``, ``st2.liveaction__*``) and their output
    (``st2.execution.output__create``, when asked for)."""
    hub: Broadcaster = request.app.state.stream
    heartbeat = float(getattr(request.app.state, "stream_heartbeat", HEARTBEAT_SECONDS))
    return EventStream(hub, hub.subscribe(_interest(request)), heartbeat=heartbeat)


#: In the OpenAPI document: StackStorm's mark for an endpoint that answers with a stream that
#: does not end by itself (what a fuzzer or a generated client must know).
_STREAMING: dict[str, Any] = {
    "openapi_extra": {"x-is-streaming-endpoint": True},
    "responses": {200: {"content": {"text/event-stream": {}}}},
}
router.add_api_route(
    "/stream/v1/stream", stream, methods=["GET"], response_model=None, **_STREAMING
)
router.add_api_route(
    "/stream/v1/stream/", stream, methods=["GET"], response_model=None, include_in_schema=False
)


def _latest(runtime: Runtime) -> Execution | None:
    found = runtime.executions.list(ExecutionFilter(limit=1))
    return found[0] if found else None


async def output_stream(
    request: Request, *, execution_id: str, output_type: str | None = None, principal: StreamViewer
) -> Response:
    """One execution's output as events: what is stored so far, then each new chunk, then an
    ``EOF`` event once it has ended, paused or resumed (``last``: the newest execution)."""
    runtime: Runtime = request.app.state.runtime
    hub: Broadcaster = request.app.state.stream
    if output_type not in (None, "", "all", "stdout", "stderr"):
        return fault(400, f"output_type must be all, stdout or stderr, not {output_type!r}")
    wanted = output_type if output_type in ("stdout", "stderr") else None
    if execution_id == "last":
        execution = await run_in_threadpool(_latest, runtime)
        if execution is None:
            return fault(400, "No executions found in the database")
    else:
        execution = await run_in_threadpool(runtime.store.get, execution_id)
        if execution is None:
            return fault(404, f"Execution with id {execution_id} not found.")
    # Subscribed before the stored output is read: a chunk stored in between comes both ways
    # and is sent once (by its id).
    subscription = hub.subscribe(
        Interest(
            events=(EventName.OUTPUT_CREATE,),
            execution_ids=frozenset({execution.id}),
            end_execution_id=execution.id,
            end_event=EventName.EXECUTION_UPDATE,
            end_statuses=_OUTPUT_CLOSING,
        )
    )
    try:
        stored = await run_in_threadpool(SqlFeed(runtime.store.engine).output_of, execution.id)
        latest = await run_in_threadpool(runtime.store.get, execution.id)
    except BaseException:
        hub.unsubscribe(subscription)
        raise
    if latest is None or latest.status.value in _OUTPUT_CLOSING:
        subscription.end(Ending.END_EVENT)
    seen = stored[-1].id if stored else 0
    opening = b"".join(
        _frame(output_event(execution, row))
        for row in stored
        if wanted is None or row.stream == wanted
    )

    def keep(happened: StreamEvent) -> bool:
        if wanted is not None and happened.body.get("output_type") != wanted:
            return False
        return int(str(happened.body.get("id") or "0"), 16) > seen

    heartbeat = float(getattr(request.app.state, "stream_heartbeat", HEARTBEAT_SECONDS))
    return EventStream(
        hub,
        subscription,
        heartbeat=heartbeat,
        opening=opening,
        keep=keep,
        goodbyes={**_GOODBYE, Ending.END_EVENT: _NO_MORE_DATA},
    )


def _frame(happened: StreamEvent) -> bytes:
    return f"event: {happened.name}\ndata: {happened.data}\n\n".encode()


router.add_api_route(
    "/stream/v1/executions/{execution_id}/output",
    output_stream,
    methods=["GET"],
    response_model=None,
    **_STREAMING,
)

_NO_MORE_DATA = b"event: EOF\ndata: ''\n\n"
"""StackStorm's last event of an execution's output stream."""
_OUTPUT_CLOSING = frozenset(
    {*(status.value for status in COMPLETED), Status.PAUSING.value, Status.RESUMING.value}
)

_GOODBYE = {
    Ending.OVERFLOW: b": the client fell too far behind and was dropped; reconnect\n\n",
    Ending.SHUTDOWN: b": the server is stopping\n\n",
}


class EventStream(Response):
    """A ``text/event-stream`` response fed by one subscription, until it ends or the client
    goes away (watched for while waiting, so a silent stream notices at once). It starts with
    ``opening``, sends the events ``keep`` keeps, and ends with what ``goodbyes`` has for
    the reason it ended."""

    media_type = "text/event-stream"

    def __init__(
        self,
        hub: Broadcaster,
        subscription: Subscription,
        *,
        heartbeat: float,
        opening: bytes = b"\n",
        keep: Callable[[StreamEvent], bool] | None = None,
        goodbyes: Mapping[Ending, bytes] = _GOODBYE,
    ) -> None:
        self.status_code = 200
        self.background = None
        self._hub = hub
        self._subscription = subscription
        self._heartbeat = heartbeat
        self._opening = opening
        self._keep = keep
        self._goodbyes = goodbyes
        self.init_headers({"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        subscription = self._subscription

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            subscription.end(Ending.DISCONNECTED)

        watcher = asyncio.ensure_future(watch())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            await self._body(send, self._opening)
            while not subscription.finished:
                taken = await subscription.take(self._heartbeat)
                if not taken and subscription.ending is None:
                    await self._body(send, b"\n")
                    continue
                frames = b"".join(
                    _frame(happened)
                    for happened in taken
                    if self._keep is None or self._keep(happened)
                )
                if frames and subscription.ending is not Ending.DISCONNECTED:
                    await self._body(send, frames)
            if subscription.ending is not Ending.DISCONNECTED:
                goodbye = self._goodbyes.get(subscription.ending or Ending.END_EVENT, b"")
                await send({"type": "http.response.body", "body": goodbye, "more_body": False})
        except OSError:
            pass  # the client went away mid-write
        finally:
            self._hub.unsubscribe(subscription)
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    @staticmethod
    async def _body(send: Send, chunk: bytes) -> None:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
