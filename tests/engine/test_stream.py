"""The event stream's core without HTTP: which events a client's interest takes and ends
with, a subscription that falls behind, executions as they were at each status change, and
the order of a batch's events. tests/api/test_stream.py runs it over HTTP."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import pytest

from packhorse.engine.shapes import execution_document
from packhorse.engine.stream import (
    DEFAULT_EVENTS,
    Broadcaster,
    Ending,
    EventName,
    Interest,
    StreamEvent,
    Subscription,
    as_of,
    event,
    events_of,
    parse_list,
)
from packhorse.model.events import TriggerInstance, TriggerInstanceStatus
from packhorse.model.execution import Execution, Status
from packhorse.storage.feed import Batch, OutputRow, Position, StatusRow

T0, T1, T2, T3 = (f"2026-11-28T10:00:0{i}.000000Z" for i in range(4))


def _execution(**changes: Any) -> Execution:
    values: dict[str, Any] = {
        "id": "e1",
        "action_ref": "core.local",
        "runner_type": "local-shell-cmd",
        "status": Status.SUCCEEDED,
        "parameters": {"cmd": "echo hi"},
        "context": {"user": "admin"},
        "created_at": T0,
        "result": {"stdout": "hi"},
        "start_timestamp": T1,
        "end_timestamp": T3,
    }
    values.update(changes)
    return Execution(**values)


def _update(execution_id: str = "e1", status: str = "succeeded", ref: str = "a.b") -> StreamEvent:
    return event(EventName.EXECUTION_UPDATE, {"id": execution_id}, execution_id, ref, status)


LOG = ((1, "requested", T0), (2, "scheduled", T0), (3, "running", T1), (4, "succeeded", T3))


@pytest.mark.parametrize(
    ("interest", "wanted"),
    [
        (Interest(), True),
        (Interest(events=("st2.execution__create",)), False),
        (Interest(events=("st2.execution__*",)), True),
        (Interest(events=("st2.liveaction__*",)), False),
        (Interest(action_refs=frozenset({"a.b"})), True),
        (Interest(action_refs=frozenset({"x.y"})), False),
        (Interest(execution_ids=frozenset({"e1", "e2"})), True),
        (Interest(execution_ids=frozenset({"e2"})), False),
    ],
)
def test_interest_filters_by_event_glob_action_ref_and_execution_id(
    interest: Interest, wanted: bool
) -> None:
    assert interest.wants(_update()) is wanted


def test_output_is_not_in_the_default_events_as_in_stackstorm() -> None:
    output = event(EventName.OUTPUT_CREATE, {"id": "o"}, "e1", "a.b")
    assert not Interest().wants(output)
    assert Interest(events=(*DEFAULT_EVENTS, EventName.OUTPUT_CREATE)).wants(output)


def test_query_lists_are_comma_separated_and_may_repeat() -> None:
    assert parse_list(["a,b", " c ", ""]) == ("a", "b", "c")


def test_a_subscription_ends_after_its_end_event_with_a_final_status() -> None:
    interest = Interest(end_execution_id="e1", end_event=EventName.EXECUTION_UPDATE)
    subscription = Subscription(interest, limit=10)
    subscription.offer(_update(status="running"))
    subscription.offer(_update("e2", "succeeded"))
    assert subscription.ending is None
    subscription.offer(_update(status="succeeded"))
    subscription.offer(_update("e3", "running"))  # after the end: not taken
    assert subscription.ending is Ending.END_EVENT
    taken = asyncio.run(subscription.take(0.01))
    assert [(e.body["id"], e.status) for e in taken] == [
        ("e1", "running"),
        ("e2", "succeeded"),
        ("e1", "succeeded"),
    ]
    assert subscription.finished


def test_the_end_event_ends_a_stream_even_when_its_filter_leaves_it_out() -> None:
    interest = Interest(
        events=(EventName.OUTPUT_CREATE,),
        end_execution_id="e1",
        end_event=EventName.EXECUTION_UPDATE,
    )
    subscription = Subscription(interest, limit=10)
    subscription.offer(_update())
    assert subscription.ending is Ending.END_EVENT and subscription.finished


def test_a_subscription_that_falls_behind_is_dropped_not_grown() -> None:
    subscription = Subscription(Interest(), limit=3)
    for _ in range(3):
        subscription.offer(_update(status="running"))
    assert subscription.ending is None
    subscription.offer(_update(status="running"))
    assert subscription.ending is Ending.OVERFLOW
    assert asyncio.run(subscription.take(0.01)) == []
    assert subscription.finished


def test_take_waits_for_an_event_or_gives_nothing_for_a_keep_alive() -> None:
    async def scenario() -> tuple[list[StreamEvent], list[StreamEvent]]:
        subscription = Subscription(Interest(), limit=3)
        idle = await subscription.take(0.01)
        asyncio.get_running_loop().call_later(0.01, subscription.offer, _update())
        return idle, await subscription.take(5)

    idle, woken = asyncio.run(scenario())
    assert idle == [] and len(woken) == 1


def test_as_of_shows_an_execution_as_it_was_at_each_status() -> None:
    now = _execution()
    rows = [StatusRow(i, "e1", status, at, i == 1) for i, status, at in LOG]
    requested, _, running, succeeded = (as_of(now, row, LOG) for row in rows)
    assert requested.status is Status.REQUESTED
    assert requested.result is None and requested.start_timestamp is None
    assert requested.end_timestamp is None
    assert [entry["status"] for entry in requested.log] == ["requested"]
    assert running.status is Status.RUNNING and running.start_timestamp == T1
    assert running.result is None and running.end_timestamp is None
    assert succeeded == replace(now, log=succeeded.log) and len(succeeded.log) == 4


def test_a_batch_gives_liveaction_then_execution_events_with_output_between_start_and_end() -> None:
    statuses = tuple(StatusRow(i, "e1", status, at, i == 1) for i, status, at in LOG)
    outputs = (
        OutputRow(7, "e1", "stdout", "hi\n", T2),
        OutputRow(8, "e1", "stderr", "late\n", T3),  # same time as the end: before it
    )
    batch = Batch(statuses, outputs, executions={"e1": _execution()}, logs={"e1": LOG})
    events = events_of(batch, lambda execution: execution_document(execution))
    assert [(e.name.value, e.status) for e in events] == [
        ("st2.liveaction__create", "requested"),
        ("st2.execution__create", "requested"),
        ("st2.liveaction__update", "scheduled"),
        ("st2.execution__update", "scheduled"),
        ("st2.liveaction__update", "running"),
        ("st2.execution__update", "running"),
        ("st2.execution.output__create", None),
        ("st2.execution.output__create", None),
        ("st2.liveaction__update", "succeeded"),
        ("st2.execution__update", "succeeded"),
    ]
    liveaction = events[0]
    assert liveaction.execution_id is None and liveaction.action_ref == "core.local"
    assert events[6].body["data"] == "hi\n" and events[7].body["output_type"] == "stderr"


def test_rows_of_an_execution_collected_since_give_no_event() -> None:
    batch = Batch((StatusRow(1, "gone", "requested", T0, True),), ())
    assert events_of(batch, lambda execution: execution_document(execution)) == []


def test_a_closed_broadcaster_ends_new_and_open_subscriptions() -> None:
    hub = Broadcaster(feed=None, describe=execution_document)  # type: ignore[arg-type]
    subscription = hub.subscribe(Interest())
    assert hub.subscribers == 1
    hub.close()
    assert subscription.ending is Ending.SHUTDOWN and hub.subscribers == 0
    assert hub.subscribe(Interest()).ending is Ending.SHUTDOWN


class _Feed:
    """A feed whose ``since`` lets a client subscribe while it reads."""

    def __init__(self, during_read: Any) -> None:
        self.during_read = during_read
        self.calls: list[tuple[Position, bool]] = []

    def since(self, after: Position, *, limit: int, details: bool) -> Batch:
        self.calls.append((after, details))
        if len(self.calls) == 1:
            self.during_read()
        return Batch((), (), position=Position(after.log + 10, 0))


def test_a_client_that_subscribes_during_a_read_without_details_misses_nothing() -> None:
    hub: Broadcaster

    def subscribe() -> None:
        hub.subscribe(Interest())

    feed = _Feed(subscribe)
    hub = Broadcaster(feed, describe=execution_document)  # type: ignore[arg-type]
    start = Position(5, 0)
    position, again = asyncio.run(hub.pass_once(start))
    assert (position, again) == (start, True)  # the skipped rows are read again
    position, again = asyncio.run(hub.pass_once(position))
    assert feed.calls == [(start, False), (start, True)]
    assert position == Position(15, 0) and not again


class _FullFeed:
    """One full read: 500 status changes and 500 output chunks."""

    def since(self, after: Position, *, limit: int, details: bool) -> Batch:
        executions = {f"e{i}": _execution(id=f"e{i}") for i in range(limit)}
        statuses = tuple(StatusRow(i, f"e{i}", "running", T1, False) for i in range(limit))
        outputs = tuple(OutputRow(i, f"e{i}", "stdout", "x", T2) for i in range(limit))
        logs = {f"e{i}": ((i, "running", T1),) for i in range(limit)}
        return Batch(
            statuses, outputs, executions=executions, logs=logs, position=Position(limit, limit)
        )


def test_a_client_that_keeps_up_holds_everything_one_read_gives() -> None:
    hub = Broadcaster(_FullFeed(), describe=execution_document)  # type: ignore[arg-type]
    everything = hub.subscribe(Interest(events=("*",)))
    asyncio.run(hub.pass_once(Position()))
    assert everything.ending is None
    assert len(asyncio.run(everything.take(0.01))) == 1500


def test_a_limit_below_one_read_is_refused() -> None:
    with pytest.raises(ValueError, match="below what one read gives"):
        Broadcaster(_FullFeed(), describe=execution_document, limit=100)  # type: ignore[arg-type]


class _InstanceFeed:
    """Each read gives every trigger instance stored since the lag window, as the real feed
    does: the ones read before come again."""

    def __init__(self) -> None:
        self.stored: list[TriggerInstance] = []

    def since(self, after: Position, *, limit: int, details: bool) -> Batch:
        newest = max([after.instances, *(i.created_at for i in self.stored)])
        return Batch((), (), position=Position(0, 0, newest), instances=tuple(self.stored))


def _instance(instance_id: str, created: str) -> TriggerInstance:
    return TriggerInstance(
        id=instance_id,
        trigger="core.st2.webhook",
        trigger_type="core.st2.webhook",
        payload={"body": {"n": instance_id}},
        occurrence_time=created,
        status=TriggerInstanceStatus.PENDING,
        source="webhook",
        trace_tag=None,
        created_at=created,
    )


def test_trigger_instances_are_announced_once_and_only_when_asked_for() -> None:
    feed = _InstanceFeed()
    hub = Broadcaster(feed, describe=execution_document)  # type: ignore[arg-type]
    asked = hub.subscribe(Interest(events=("st2.trigger_instance__create",)))
    default = hub.subscribe(Interest())
    feed.stored.append(_instance("t1", T1))
    position, _ = asyncio.run(hub.pass_once(Position()))
    feed.stored.append(_instance("t0", T0))  # stamped earlier, committed later
    asyncio.run(hub.pass_once(position))
    taken = asyncio.run(asked.take(0.01))
    assert [(e.name, e.body["id"]) for e in taken] == [
        (EventName.TRIGGER_INSTANCE_CREATE, "t1"),
        (EventName.TRIGGER_INSTANCE_CREATE, "t0"),
    ]
    assert taken[0].body["payload"] == {"body": {"n": "t1"}}
    assert asyncio.run(default.take(0.01)) == []


class _CountingFeed:
    """Counts the reads, with the time of each."""

    def __init__(self) -> None:
        self.reads: list[tuple[float, bool]] = []

    def end(self) -> Position:
        return Position()

    def since(self, after: Position, *, limit: int, details: bool) -> Batch:
        self.reads.append((time.monotonic(), details))
        return Batch((), (), position=after)


def test_nobody_listening_reads_at_the_idle_pace_and_a_first_client_reads_at_once() -> None:
    """Every process runs a stream: with no client its reads only keep the position near the
    end, every ``idle_interval``, not every ``interval`` (a query for nothing, five times a
    second, in each process). The first client does not wait for the idle nap to end."""
    feed = _CountingFeed()
    hub = Broadcaster(
        feed,  # type: ignore[arg-type]
        describe=execution_document,
        interval=0.02,
        idle_interval=5.0,
    )

    async def scenario() -> float:
        stop = asyncio.Event()
        task = asyncio.create_task(hub.run(stop))
        await asyncio.sleep(0.3)  # fifteen reads at the listening pace
        assert [details for _, details in feed.reads] == [False]
        subscribed = time.monotonic()
        hub.subscribe(Interest())
        await asyncio.sleep(0.1)
        stop.set()
        await task
        return subscribed

    subscribed = asyncio.run(scenario())
    listening = [at for at, details in feed.reads if details]
    assert listening and listening[0] - subscribed < 0.05
    assert len(listening) >= 3  # then at the listening pace
