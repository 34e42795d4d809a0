"""The intake store (storage/intake.py) on SQLite and PostgreSQL: the intake row and its
generations, acknowledgements, and handover queries that store nothing twice."""

from __future__ import annotations

import sqlalchemy as sa

from packhorse.model.events import TriggerInstance, TriggerInstanceStatus
from packhorse.model.execution import Execution, Status
from packhorse.model.intake import INITIAL, IntakeStatus, is_handed_over
from packhorse.storage.events import SqlEventStore
from packhorse.storage.executions import SqlExecutionStore
from packhorse.storage.intake import SqlIntakeStore

NOW = "2030-01-01T00:00:00.000000Z"


def _instance(id_: str, status: TriggerInstanceStatus) -> TriggerInstance:
    return TriggerInstance(id_, "core.st2.webhook", "core.st2.webhook", {"id": id_}, NOW, status)


def _execution(id_: str, *, parent_id: str | None = None) -> Execution:
    return Execution(
        id_,
        "core.noop",
        "noop",
        Status.REQUESTED,
        {"n": 1},
        {"user": "u"},
        NOW,
        parent_id=parent_id,
    )


def _scheduled(_execution: Execution) -> Status:
    return Status.SCHEDULED


def test_each_change_bumps_the_generation_and_processes_acknowledge(engine: sa.Engine) -> None:
    store = SqlIntakeStore(engine)
    assert store.read() == INITIAL
    draining = store.change(IntakeStatus.DRAINING, successor="http://b", reason="r", now=NOW)
    assert store.read() == draining and draining.generation == 1
    closed = store.change(IntakeStatus.CLOSED, successor="http://b", reason=None, now=NOW)
    assert closed.generation == 2 and not store.read().open
    store.acknowledge("n1", 1, now=NOW)
    store.acknowledge("n1", 2, now=NOW)
    store.acknowledge("n2", 2, now=NOW)
    assert [(a.node, a.generation) for a in store.acknowledgements()] == [("n1", 2), ("n2", 2)]
    store.forget("n1")
    assert [a.node for a in store.acknowledgements()] == ["n2"]


def test_held_and_queued_work_moves_once_and_comes_back_once(engine: sa.Engine) -> None:
    sender, receiver = SqlIntakeStore(engine), SqlIntakeStore(engine)
    events, executions = SqlEventStore(engine), SqlExecutionStore(engine)
    for instance in (
        _instance("t1", TriggerInstanceStatus.HELD),
        _instance("t2", TriggerInstanceStatus.PENDING),
    ):
        events.record(instance)
    executions.create(_execution("e1"), then=Status.SCHEDULED)
    executions.create(_execution("c1", parent_id="w1"), then=Status.SCHEDULED)  # a task
    assert [i.id for i in sender.held()] == ["t1"]
    assert [e.id for e in sender.queued(now=NOW)] == ["e1"]
    assert sender.in_flight(now=NOW).running == ("c1",)

    # One database stands for both sides here: what is known is skipped, idempotently.
    assert receiver.receive(sender.held(), sender.queued(now=NOW), then=_scheduled) == ([], [])
    assert sender.hand_over(["t1"], ["e1"], successor="http://b", now=NOW) == (1, 1)
    assert sender.hand_over(["t1"], ["e1"], successor="http://b", now=NOW) == (0, 0)
    assert events.get("t1").status is TriggerInstanceStatus.HANDED_OVER  # type: ignore[union-attr]
    gone = executions.get("e1")
    assert gone is not None and gone.status is Status.CANCELED and is_handed_over(gone.result)
    assert sender.held() == [] and sender.queued(now=NOW) == []

    # Handed back (a rollback): the execution is queued again under its id, once.
    assert receiver.receive([], [_execution("e1")], then=_scheduled) == ([], ["e1"])
    assert receiver.receive([], [_execution("e1")], then=_scheduled) == ([], [])
    back = executions.get("e1")
    assert back is not None and back.status is Status.SCHEDULED and back.result is None
    assert [entry["status"] for entry in back.log][-2:] == ["requested", "scheduled"]


def test_a_fresh_receiver_stores_under_the_original_ids(engine: sa.Engine) -> None:
    receiver = SqlIntakeStore(engine)
    instance = _instance("t9", TriggerInstanceStatus.HELD)
    stored = receiver.receive([instance], [_execution("e9")], then=_scheduled)
    assert stored == (["t9"], ["e9"])
    got = SqlEventStore(engine).get("t9")
    assert got is not None and got.status is TriggerInstanceStatus.PENDING
    assert got.payload == {"id": "t9"}
    execution = SqlExecutionStore(engine).get("e9")
    assert execution is not None and execution.status is Status.SCHEDULED
    assert execution.parameters == {"n": 1}


def test_release_gives_held_instances_to_the_rules_here(engine: sa.Engine) -> None:
    events = SqlEventStore(engine)
    events.record(_instance("t1", TriggerInstanceStatus.HELD))
    assert SqlIntakeStore(engine).release() == 1
    assert events.get("t1").status is TriggerInstanceStatus.PENDING  # type: ignore[union-attr]
    assert SqlIntakeStore(engine).release() == 0
