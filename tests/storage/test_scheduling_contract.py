"""The scheduling transaction, retry follow-ups and retention on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from packhorse.engine.policies import (
    ACTIVE,
    ConcurrencyPolicy,
    OverLimit,
    plan_schedule,
)
from packhorse.model.execution import Execution, Status
from packhorse.storage.executions import Decide, SqlExecutionStore


def at(second: int) -> str:
    return f"2026-01-01T00:{second // 60:02d}:{second % 60:02d}.000000Z"


def requested(
    store: SqlExecutionStore,
    execution_id: str,
    *,
    created: int = 0,
    action_ref: str = "p.a",
    parameters: dict[str, object] | None = None,
    run_after: str | None = None,
) -> None:
    store.create(
        Execution(
            id=execution_id,
            action_ref=action_ref,
            runner_type="noop",
            status=Status.REQUESTED,
            parameters=parameters or {},
            context={"user": "u"},
            created_at=at(created),
            run_after=run_after,
        )
    )


def decide(policy: ConcurrencyPolicy | None) -> Decide:
    return lambda waiting, active: plan_schedule(policy, waiting, active)


def statuses(store: SqlExecutionStore, *ids: str) -> list[Status]:
    found = [store.get(i) for i in ids]
    return [e.status for e in found if e is not None]


def test_a_pass_schedules_delays_and_frees_slots_in_fifo_order(engine: sa.Engine) -> None:
    store = SqlExecutionStore(engine)
    policy = ConcurrencyPolicy("p.c", threshold=1)
    for index, name in enumerate(["a", "b", "c"]):
        requested(store, name, created=index)
    requested(store, "other", action_ref="p.other")
    moves = store.schedule("p.a", decide(policy), holding=ACTIVE, now=at(5))
    assert moves == [("a", Status.SCHEDULED), ("b", Status.DELAYED), ("c", Status.DELAYED)]
    assert store.schedule("p.a", decide(policy), holding=ACTIVE, now=at(6)) == []
    assert store.waiting_actions(now=at(6)) == ["p.a", "p.other"]
    # the slot frees: the oldest delayed one goes next
    assert store.transition("a", Status.RUNNING, now=at(7))
    assert store.schedule("p.a", decide(policy), holding=ACTIVE, now=at(8)) == []
    assert store.transition("a", Status.SUCCEEDED, now=at(9))
    assert store.schedule("p.a", decide(policy), holding=ACTIVE, now=at(10)) == [
        ("b", Status.SCHEDULED)
    ]
    assert statuses(store, "a", "b", "c") == [Status.SUCCEEDED, Status.SCHEDULED, Status.DELAYED]
    b = store.get("b")
    assert b is not None
    assert [entry["status"] for entry in b.log] == ["requested", "delayed", "scheduled"]


def test_cancel_mode_records_the_reason_and_ends_it(engine: sa.Engine) -> None:
    store = SqlExecutionStore(engine)
    policy = ConcurrencyPolicy("p.c", threshold=1, over_limit=OverLimit.CANCEL)
    requested(store, "a")
    requested(store, "b", created=1)
    store.schedule("p.a", decide(policy), holding=ACTIVE, now=at(2))
    canceled = store.get("b")
    assert canceled is not None and canceled.status is Status.CANCELED
    assert canceled.end_timestamp == at(2)
    assert "p.c" in canceled.result["message"]


def test_attr_counts_per_attribute_values(engine: sa.Engine) -> None:
    store = SqlExecutionStore(engine)
    policy = ConcurrencyPolicy("p.c", threshold=1, attributes=("host",))
    requested(store, "x1", parameters={"host": "x"})
    requested(store, "y1", created=1, parameters={"host": "y"})
    requested(store, "x2", created=2, parameters={"host": "x"})
    store.schedule("p.a", decide(policy), holding=ACTIVE, now=at(3))
    assert statuses(store, "x1", "y1", "x2") == [
        Status.SCHEDULED,
        Status.SCHEDULED,
        Status.DELAYED,
    ]


def test_not_yet_due_executions_wait(engine: sa.Engine) -> None:
    store = SqlExecutionStore(engine)
    requested(store, "later", run_after=at(30))
    assert store.waiting_actions(now=at(10)) == []
    assert store.schedule("p.a", decide(None), holding=ACTIVE, now=at(10)) == []
    assert store.schedule("p.a", decide(None), holding=ACTIVE, now=at(30)) == [
        ("later", Status.SCHEDULED)
    ]


def test_concurrent_schedulers_never_exceed_the_threshold(engine: sa.Engine) -> None:
    """Threads request and schedule at once: each pass counts and moves in one transaction."""
    store = SqlExecutionStore(engine)
    policy = ConcurrencyPolicy("p.c", threshold=3)
    threads, per_thread = 6, 5
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def slow(waiting: Sequence[Execution], active: Sequence[Mapping[str, Any]]) -> Any:
        # Widen the window between counting and writing: without the per-action lock,
        # concurrent passes would all see the same free slots here.
        time.sleep(0.02)
        return plan_schedule(policy, waiting, active)

    def hammer(worker: int) -> None:
        try:
            barrier.wait()
            for index in range(per_thread):
                # newer requests sort first, so that concurrent passes pick different rows
                created = 1000 - (index * threads + worker)
                requested(store, f"w{worker}-{index}", created=created)
                store.schedule("p.a", slow, holding=ACTIVE, now=at(2000))
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    pool = [threading.Thread(target=hammer, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert errors == []
    scheduled = store.by_status([Status.SCHEDULED])
    delayed = store.by_status([Status.DELAYED, Status.REQUESTED])
    assert len(scheduled) == 3, [e.id for e in scheduled]
    assert len(delayed) == threads * per_thread - 3


def test_a_follow_up_is_stored_with_the_result_once(engine: sa.Engine) -> None:
    store = SqlExecutionStore(engine)
    requested(store, "a")
    assert store.transition("a", Status.SCHEDULED, now=at(1))
    assert store.transition("a", Status.RUNNING, now=at(2), attempt=1)
    original = store.get("a")
    assert original is not None
    retry = replace(original, id="retry-a", status=Status.REQUESTED, log=(), created_at=at(3))
    assert store.transition(
        "a", Status.FAILED, now=at(3), attempt=1, follow_up=(retry, None), result={"x": 1}
    )
    # recording the same result again changes nothing and adds no second retry
    assert not store.transition("a", Status.FAILED, now=at(4), attempt=1, follow_up=(retry, None))
    stored = store.get("retry-a")
    assert stored is not None and stored.status is Status.REQUESTED
    assert [e.id for e in store.by_status([Status.REQUESTED])] == ["retry-a"]
    # a retry whose id exists already (recorded before a crash) is not inserted twice
    requested(store, "b")
    assert store.transition("b", Status.CANCELED, now=at(5), follow_up=(retry, None))
    assert len(store.by_status([Status.REQUESTED])) == 1


def test_retention_deletes_old_completed_executions_in_batches(engine: sa.Engine) -> None:
    store = SqlExecutionStore(engine)
    for index in range(5):
        requested(store, f"old{index}", created=index)
        store.append_output(f"old{index}", [("stdout", "text", at(index))])
        assert store.transition(f"old{index}", Status.CANCELED, now=at(10))
    requested(store, "recent", created=1)
    assert store.transition("recent", Status.CANCELED, now=at(50))
    requested(store, "running", created=0)
    assert store.transition("running", Status.SCHEDULED, now=at(1))
    assert store.transition("running", Status.RUNNING, now=at(1))
    assert store.count_completed(before=at(20)) == 5
    assert store.delete_completed(before=at(20), batch=2) == 2
    assert store.delete_completed(before=at(20), batch=2) == 2
    assert store.delete_completed(before=at(20), batch=2) == 1
    assert store.delete_completed(before=at(20), batch=2) == 0
    left = {e.id for e in store.by_status(list(Status))}
    assert left == {"recent", "running"}
    with engine.connect() as connection:
        for table in ("execution_log", "execution_output"):
            orphans = connection.execute(
                sa.text(f"SELECT count(*) FROM {table} WHERE execution_id LIKE 'old%'")
            ).scalar_one()
            assert orphans == 0, table


def test_collect_rests_between_full_batches_for_as_long_as_each_took(engine: sa.Engine) -> None:
    from packhorse.engine.retention import collect

    store = SqlExecutionStore(engine)
    for index in range(5):
        requested(store, f"old{index}", created=index)
        assert store.transition(f"old{index}", Status.CANCELED, now=at(10))
    rests: list[float] = []
    report = collect(
        store,
        now=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
        executions_days=1,
        batch=2,
        between_batches=rests.append,
    )
    assert report.executions == 5
    assert len(rests) == 2 and all(spent > 0 for spent in rests)  # after each full batch
