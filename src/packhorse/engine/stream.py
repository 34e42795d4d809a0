"""The event stream behind ``/stream/v1/stream``: what happened to executions, as StackStorm's
stream service announces it, fanned out to every connected client.

One :class:`Broadcaster` per process reads the execution log and the stored output after its
cursor (:mod:`packhorse.storage.feed`), turns the rows into events in StackStorm's names and
shapes, and offers each event to every :class:`Subscription` that wants it. It reads when a
write commits in this process (woken through :func:`~packhorse.storage.database.listen_to_writes`)
and every ``interval`` seconds, which is how it sees what other processes wrote (a
``packhorse run`` in another shell, other workers on PostgreSQL).

A subscription holds at most ``limit`` events (5,000; the events are shared, so that is
references, not copies): a client that falls that far behind is ended
(:attr:`Ending.OVERFLOW`) rather than slowing the others or growing without bound.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fnmatch
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from packhorse.engine.waiting import nap, set_from_any_thread
from packhorse.errors import PackhorseError
from packhorse.model.events import TriggerInstance, instance_record
from packhorse.model.execution import COMPLETED, Execution, Status
from packhorse.storage.feed import (
    INSTANCE_LAG,
    Batch,
    OutputRow,
    Position,
    SqlFeed,
    StatusRow,
    earlier,
)

log = logging.getLogger(__name__)


class EventName(StrEnum):
    """StackStorm's event names: the message bus exchange, two underscores, the routing key."""

    EXECUTION_CREATE = "st2.execution__create"
    EXECUTION_UPDATE = "st2.execution__update"
    LIVEACTION_CREATE = "st2.liveaction__create"
    LIVEACTION_UPDATE = "st2.liveaction__update"
    OUTPUT_CREATE = "st2.execution.output__create"
    TRIGGER_INSTANCE_CREATE = "st2.trigger_instance__create"
    """Packhorse's: StackStorm's stream has no trigger events. Sent only when asked for."""


DEFAULT_EVENTS: tuple[str, ...] = (
    "st2.announcement__*",
    "st2.execution__create",
    "st2.execution__update",
    "st2.execution__delete",
    "st2.liveaction__create",
    "st2.liveaction__update",
    "st2.liveaction__delete",
)
"""What a client that names no ``events`` gets (StackStorm's default list: output only when
asked for)."""

_COMPLETED_VALUES = frozenset(status.value for status in COMPLETED)


@dataclass(frozen=True, slots=True)
class StreamEvent:
    name: EventName
    body: Mapping[str, Any]
    """The document, in StackStorm's shape for ``name`` (ready for JSON)."""
    execution_id: str | None
    """What the ``execution_ids`` filter compares (None for liveaction events, as in
    StackStorm)."""
    action_ref: str | None
    status: str | None = None
    data: str = ""
    """``body`` as JSON, encoded once for every client."""


def event(
    name: EventName,
    body: Mapping[str, Any],
    execution_id: str | None,
    action_ref: str | None,
    status: str | None = None,
) -> StreamEvent:
    return StreamEvent(name, body, execution_id, action_ref, status, json.dumps(body, default=str))


@dataclass(frozen=True, slots=True)
class Interest:
    """What a client asked for: event name patterns (``fnmatch`` globs), action refs and
    execution ids (empty: any), and the event that ends its stream: ``end_event`` for
    ``end_execution_id`` with one of ``end_statuses`` (the final ones unless told)."""

    events: tuple[str, ...] = DEFAULT_EVENTS
    action_refs: frozenset[str] = frozenset()
    execution_ids: frozenset[str] = frozenset()
    end_execution_id: str | None = None
    end_event: str | None = None
    end_statuses: frozenset[str] = _COMPLETED_VALUES

    def wants(self, happened: StreamEvent) -> bool:
        if not any(fnmatch.fnmatchcase(happened.name, pattern) for pattern in self.events):
            return False
        if self.action_refs and happened.action_ref not in self.action_refs:
            return False
        return not self.execution_ids or happened.execution_id in self.execution_ids

    def ends_with(self, happened: StreamEvent) -> bool:
        return (
            self.end_execution_id is not None
            and happened.name == self.end_event
            and happened.body.get("id") == self.end_execution_id
            and happened.status in self.end_statuses
        )


class Ending(StrEnum):
    """Why a subscription ended."""

    END_EVENT = "end_event"
    """The event the client named with ``end_event`` and ``end_execution_id`` was sent."""
    OVERFLOW = "overflow"
    """The client read too slowly; its pending events were dropped."""
    SHUTDOWN = "shutdown"
    """The server is stopping."""
    DISCONNECTED = "disconnected"
    """The client went away."""


class Subscription:
    """One client's pending events. Used from the event loop's thread only."""

    def __init__(self, interest: Interest, *, limit: int) -> None:
        self.interest = interest
        self._limit = limit
        self._pending: collections.deque[StreamEvent] = collections.deque()
        self._ready = asyncio.Event()
        self.ending: Ending | None = None

    def offer(self, happened: StreamEvent) -> None:
        if self.ending is not None or not self.interest.wants(happened):
            if self.ending is None and self.interest.ends_with(happened):
                self.end(Ending.END_EVENT)  # ends even when filtered out, as StackStorm does
            return
        if len(self._pending) >= self._limit:
            self._pending.clear()
            self.end(Ending.OVERFLOW)
            return
        self._pending.append(happened)
        self._ready.set()
        if self.interest.ends_with(happened):
            self.end(Ending.END_EVENT)

    def end(self, why: Ending) -> None:
        if self.ending is None:
            self.ending = why
        self._ready.set()

    async def take(self, timeout: float) -> list[StreamEvent]:
        """The events pending now, waiting up to ``timeout`` seconds for one; empty when none
        came (time for a keep-alive) or the subscription has ended and all were taken."""
        if not self._pending and self.ending is None:
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                return []
        self._ready.clear()
        taken = list(self._pending)
        self._pending.clear()
        return taken

    @property
    def finished(self) -> bool:
        """Ended, and nothing left to send."""
        return self.ending is not None and not self._pending


Describe = Callable[[Execution], dict[str, Any]]
"""An execution as StackStorm's ``ActionExecutionAPI`` (secret parameters masked)."""


class Broadcaster:
    """The stream of one process: reads the feed, offers events to the subscriptions.

    Its methods run on the event loop's thread, except :meth:`wake`. ``interval`` is the
    poll (for other processes' writes) while someone listens, ``idle_interval`` while nobody
    does (only the position is kept near the end then), ``batch`` the rows read at most per
    table and read, ``limit`` the events a subscription may hold."""

    def __init__(
        self,
        feed: SqlFeed,
        describe: Describe,
        *,
        interval: float = 0.2,
        idle_interval: float = 2.0,
        limit: int = 5000,
        batch: int = 500,
    ) -> None:
        # One read offers up to 3 * batch events (two per log row, one per output chunk) before
        # any client can take them: a client must be able to hold that many.
        if limit < 3 * batch:
            raise ValueError(f"limit {limit} is below what one read gives (3 x {batch})")
        self._feed = feed
        self._describe = describe
        self._interval = interval
        self._idle_interval = idle_interval
        self._limit = limit
        self._batch = batch
        self._subscriptions: set[Subscription] = set()
        self._instances_seen: dict[str, str] = {}
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)

    def subscribe(self, interest: Interest) -> Subscription:
        subscription = Subscription(interest, limit=self._limit)
        if self._closed:
            subscription.end(Ending.SHUTDOWN)
        else:
            if not self._subscriptions:
                # The first listener: read now, not at the end of an idle poll's nap.
                set_from_any_thread(self._wake, self._loop)
            self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def wake(self) -> None:
        """Read now (callable from any thread: a write just committed). Ignored while nobody
        listens: the engine's writes then cost the stream nothing, and the idle poll keeps the
        cursor near the end (a new client may get what happened in the poll before it)."""
        if self._subscriptions and not self._wake.is_set():
            set_from_any_thread(self._wake, self._loop)

    def close(self) -> None:
        """End every stream (the server is stopping) and refuse new ones."""
        self._closed = True
        for subscription in list(self._subscriptions):
            subscription.end(Ending.SHUTDOWN)
        self._subscriptions.clear()

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        position: Position | None = None
        with contextlib.suppress(PackhorseError):
            # What happened before the stream started is history, not news. Read here, before
            # the first await, so before the server accepts a client (one quick query).
            position = self._feed.end()
        try:
            while not stop.is_set():
                self._wake.clear()
                try:
                    if position is None:
                        position = await asyncio.to_thread(self._feed.end)
                    full = True
                    while full and not stop.is_set():
                        position, full = await self.pass_once(position)
                except PackhorseError as error:
                    log.warning("event stream: %s", error.message)
                idle = not self._subscriptions
                await nap(self._idle_interval if idle else self._interval, stop, self._wake)
        finally:
            self.close()

    async def pass_once(self, position: Position) -> tuple[Position, bool]:
        """Read after ``position`` and offer what was read; the new position, and whether
        more is waiting."""
        listening = bool(self._subscriptions)
        batch = await asyncio.to_thread(self._read, position, listening)
        if not listening and self._subscriptions:
            return position, True  # a client came during a read that skipped the rows: again
        for happened in batch[1]:
            for subscription in list(self._subscriptions):
                subscription.offer(happened)
                if subscription.ending is not None:
                    self._subscriptions.discard(subscription)
        return batch[0].position, batch[0].full

    def _read(self, position: Position, listening: bool) -> tuple[Batch, list[StreamEvent]]:
        batch = self._feed.since(position, limit=self._batch, details=listening)
        if not listening:
            return batch, []
        # Trigger instances are read again for a while after they are first read (see
        # storage.feed.INSTANCE_LAG): each is announced once.
        fresh = tuple(i for i in batch.instances if i.id not in self._instances_seen)
        for instance in fresh:
            self._instances_seen[instance.id] = instance.created_at
        horizon = batch.position.instances
        if horizon:
            oldest = earlier(horizon, 2 * INSTANCE_LAG)
            for instance_id, created in list(self._instances_seen.items()):
                if created < oldest:
                    del self._instances_seen[instance_id]
        return batch, events_of(replace(batch, instances=fresh), self._describe)


def events_of(batch: Batch, describe: Describe) -> list[StreamEvent]:
    """The events for the rows of ``batch``, in the order they happened: trigger instances,
    status changes and output chunks by timestamp (output after a start and before an end at
    the same time)."""
    timeline: list[tuple[str, int, int, StatusRow | OutputRow | TriggerInstance]] = []
    for number, instance in enumerate(batch.instances):
        timeline.append((instance.created_at, -1, number, instance))
    for status in batch.statuses:
        rank = 2 if status.status in _COMPLETED_VALUES else 0
        timeline.append((status.timestamp, rank, status.id, status))
    for output in batch.outputs:
        timeline.append((output.timestamp, 1, output.id, output))
    timeline.sort(key=lambda entry: entry[:3])
    events: list[StreamEvent] = []
    for *_, row in timeline:
        if isinstance(row, TriggerInstance):
            events.append(trigger_instance_event(row))
            continue
        execution = batch.executions.get(row.execution_id)
        if execution is None:
            continue  # collected since
        if isinstance(row, StatusRow):
            then = as_of(execution, row, batch.logs.get(row.execution_id, ()))
            events.extend(status_events(describe(then), row.first))
        else:
            events.append(output_event(execution, row))
    return events


def as_of(
    execution: Execution, row: StatusRow, log_rows: Sequence[tuple[int, str, str]]
) -> Execution:
    """``execution`` as it was when it moved to ``row.status`` (it may have moved on since it
    was read): that status, the log up to then, and no result or end before it ended."""
    status = Status(row.status)
    earlier = [entry for entry in log_rows if entry[0] <= row.id]
    history = tuple({"status": s, "timestamp": at} for _, s, at in earlier)
    if status in COMPLETED:
        end = execution.end_timestamp or row.timestamp
        return replace(execution, status=status, log=history, end_timestamp=end)
    started = any(s == Status.RUNNING.value for _, s, _ in earlier)
    return replace(
        execution,
        status=status,
        log=history,
        result=None,
        end_timestamp=None,
        start_timestamp=execution.start_timestamp if started else None,
    )


def status_events(document: Mapping[str, Any], created: bool) -> list[StreamEvent]:
    """The liveaction and execution events of one status change."""
    action_ref = str(document.get("action", {}).get("ref") or "") or None
    status = str(document.get("status") or "") or None
    liveaction = dict(document.get("liveaction") or {})
    liveaction["result"] = document.get("result")
    if document.get("end_timestamp"):
        liveaction["end_timestamp"] = document["end_timestamp"]
    names = (
        (EventName.LIVEACTION_CREATE, EventName.EXECUTION_CREATE)
        if created
        else (EventName.LIVEACTION_UPDATE, EventName.EXECUTION_UPDATE)
    )
    # The liveaction first: StackStorm updates it, then the execution from it.
    return [
        event(names[0], liveaction, None, action_ref, status),
        event(names[1], document, str(document["id"]), action_ref, status),
    ]


def trigger_instance_event(instance: TriggerInstance) -> StreamEvent:
    """A stored trigger instance as StackStorm's ``TriggerInstanceAPI``."""
    body = {k: v for k, v in instance_record(instance).items() if v is not None}
    return event(EventName.TRIGGER_INSTANCE_CREATE, body, None, None, instance.status.value)


def output_event(execution: Execution, row: OutputRow) -> StreamEvent:
    """A chunk of output as StackStorm's ``ActionExecutionOutputAPI``."""
    body = {
        "id": f"{row.id:024x}",
        "execution_id": row.execution_id,
        "action_ref": execution.action_ref,
        "runner_ref": execution.runner_type,
        "timestamp": row.timestamp,
        "output_type": row.stream,
        "data": row.data,
    }
    return event(EventName.OUTPUT_CREATE, body, row.execution_id, execution.action_ref)


def parse_list(values: Iterable[str]) -> tuple[str, ...]:
    """Query values as StackStorm reads an array parameter: each one comma-separated."""
    return tuple(part.strip() for value in values for part in value.split(",") if part.strip())
