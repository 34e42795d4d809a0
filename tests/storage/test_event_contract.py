"""The event store on SQLite and PostgreSQL: trigger instances, enforcements written with
their execution in one transaction, fire-once timers and sensor status."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from packhorse.errors import Conflict
from packhorse.model.events import (
    Enforcement,
    SensorStatus,
    TriggerInstance,
    TriggerInstanceStatus,
    trigger_ref,
)
from packhorse.model.execution import Execution, Status
from packhorse.storage.events import EnforcementFilter, InstanceFilter, SqlEventStore
from packhorse.storage.executions import SqlExecutionStore

T0 = "2026-01-01T00:00:00.000000Z"
T1 = "2026-01-01T00:01:00.000000Z"
T2 = "2026-01-01T00:02:00.000000Z"


def instance(
    instance_id: str, *, at: str = T0, trigger: str = "core.st2.webhook"
) -> TriggerInstance:
    return TriggerInstance(
        id=instance_id,
        trigger=trigger,
        trigger_type="core.st2.webhook",
        payload={"body": {"n": instance_id}, "headers": {}},
        occurrence_time=at,
        source="webhook",
        created_at=at,
    )


def execution(execution_id: str) -> Execution:
    return Execution(
        id=execution_id,
        action_ref="core.noop",
        runner_type="noop",
        status=Status.REQUESTED,
        parameters={},
        context={},
        created_at=T0,
    )


def test_instances_are_stored_pending_and_listed_newest_first(engine: sa.Engine) -> None:
    store = SqlEventStore(engine)
    store.record(instance("a", at=T0))
    store.record(instance("b", at=T1, trigger="core.other"))
    assert [i.id for i in store.pending()] == ["a", "b"]
    assert store.get("a") == instance("a", at=T0)
    store.set_status("a", TriggerInstanceStatus.PROCESSED)
    assert [i.id for i in store.pending()] == ["b"]
    assert [i.id for i in store.find(InstanceFilter())] == ["b", "a"]
    assert [i.id for i in store.find(InstanceFilter(trigger="core.other"))] == ["b"]
    processed = store.find(InstanceFilter(statuses=(TriggerInstanceStatus.PROCESSED,)))
    assert [i.id for i in processed] == ["a"]
    assert store.get("missing") is None


def test_an_enforcement_is_written_with_its_execution_once(engine: sa.Engine) -> None:
    events, executions = SqlEventStore(engine), SqlExecutionStore(engine)
    events.record(instance("ti"))
    first = Enforcement("e1", "p.rule", "ti", "x1", None, T0)
    executions.create(
        execution("x1"), then=Status.SCHEDULED, along=events.enforcement_writer(first)
    )
    again = Enforcement("e2", "p.rule", "ti", "x2", None, T1)
    with pytest.raises(Conflict):
        executions.create(
            execution("x2"), then=Status.SCHEDULED, along=events.enforcement_writer(again)
        )
    # The second execution was rolled back with its enforcement.
    assert executions.get("x2") is None
    assert executions.get("x1") is not None
    assert events.enforcements(EnforcementFilter(trigger_instance_id="ti")) == [first]
    assert events.enforced_rules("ti") == {"p.rule"}
    failed = Enforcement("e3", "p.other", "ti", None, "action 'p.x' is not registered", T2)
    assert events.record_enforcement(failed)
    assert not events.record_enforcement(Enforcement("e4", "p.other", "ti", None, "again", T2))
    assert events.get_enforcement("e3") == failed
    assert [e.id for e in events.enforcements(EnforcementFilter(rule="p.other"))] == ["e3"]


def test_a_timer_fires_once_per_due_time(engine: sa.Engine) -> None:
    store = SqlEventStore(engine)
    assert store.last_fire("t") is None
    assert store.fire("t", T1, instance("f1", at=T1, trigger="t"), now=T1)
    assert not store.fire("t", T1, instance("f2", at=T1, trigger="t"), now=T1)
    assert not store.fire("t", T0, instance("f3", at=T0, trigger="t"), now=T1)
    assert store.fire("t", T2, instance("f4", at=T2, trigger="t"), now=T2)
    assert store.last_fire("t") == T2
    assert sorted(i.id for i in store.find(InstanceFilter(trigger="t"))) == ["f1", "f4"]


def test_retention_keeps_pending_instances(engine: sa.Engine) -> None:
    store = SqlEventStore(engine)
    store.record(instance("old", at=T0))
    store.record(instance("old-pending", at=T0))
    store.record(instance("new", at=T2))
    store.set_status("old", TriggerInstanceStatus.PROCESSED)
    store.set_status("new", TriggerInstanceStatus.PROCESSED)
    store.record_enforcement(Enforcement("e", "p.r", "old", None, "x", T0))
    assert store.delete_before(T1) == 1
    assert store.get("old") is None
    assert store.get_enforcement("e") is None
    assert store.get("old-pending") is not None
    assert store.get("new") is not None


def test_sensor_status_is_upserted(engine: sa.Engine) -> None:
    store = SqlEventStore(engine)
    store.put_sensor_status(SensorStatus("p.S", "running", pid=10, started_at=T0, updated_at=T0))
    store.put_sensor_status(
        SensorStatus("p.S", "backoff", restarts=1, last_error="boom", updated_at=T1)
    )
    assert store.sensor_statuses() == [
        SensorStatus("p.S", "backoff", restarts=1, last_error="boom", updated_at=T1)
    ]


def test_trigger_refs_are_stable_and_depend_on_parameters() -> None:
    assert trigger_ref("core.st2.webhook", {}) == "core.st2.webhook"
    one = trigger_ref("core.st2.webhook", {"url": "a"})
    assert one == trigger_ref("core.st2.webhook", {"url": "a"})
    assert one != trigger_ref("core.st2.webhook", {"url": "b"})
    assert one.startswith("core.") and len(one) == len("core.") + 36
