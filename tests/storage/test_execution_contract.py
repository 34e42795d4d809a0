"""The execution queue contract on SQLite and PostgreSQL: claims, leases, idempotent results,
the status log, filters, and recovery after a dead worker."""

from __future__ import annotations

import os

import sqlalchemy as sa

from packhorse.engine.worker import recover
from packhorse.model.execution import Execution, Status
from packhorse.storage.executions import ExecutionFilter, SqlExecutionStore


def at(second: int) -> str:
    return f"2026-01-01T00:00:{second:02d}.000000Z"


def queued(
    store: SqlExecutionStore, execution_id: str, *, created: int = 0, **fields: object
) -> None:
    execution = Execution(
        id=execution_id,
        action_ref=str(fields.pop("action_ref", "core.noop")),
        runner_type="noop",
        status=Status.REQUESTED,
        parameters={"x": 1},
        context={"user": "u"},
        created_at=at(created),
        **fields,  # type: ignore[arg-type]
    )
    store.create(execution)
    assert store.transition(execution_id, Status.SCHEDULED, now=at(created))


def test_claim_takes_due_work_in_order_and_leases_it(engine: sa.Engine) -> None:
    store = SqlExecutionStore(engine)
    for index in range(3):
        queued(store, f"e{index}", created=index)
    queued(store, "later", created=3, run_after=at(30))
    first = store.claim("w1", now=at(5), lease_until=at(15), limit=2)
    assert [e.id for e in first] == ["e0", "e1"]
    assert all(e.claimed_by == "w1" and e.lease_expires_at == at(15) for e in first)
    second = store.claim("w2", now=at(6), lease_until=at(16), limit=5)
    assert [e.id for e in second] == ["e2"]  # leased ones and not-yet-due ones are skipped
    # an expired lease on a scheduled execution makes it claimable again
    third = store.claim("w3", now=at(15), lease_until=at(25), limit=5)
    assert [e.id for e in third] == ["e0", "e1"]
    store.heartbeat("w3", ["e0"], lease_until=at(40))
    assert [e.id for e in store.claim("w4", now=at(26), lease_until=at(36), limit=9)] == [
        "e1",
        "e2",
    ]


def test_results_are_recorded_once_per_attempt(engine: sa.Engine) -> None:
    store = SqlExecutionStore(engine)
    queued(store, "e")
    assert store.transition("e", Status.RUNNING, now=at(1), attempt=1, start_timestamp=at(1))
    assert not store.transition("e", Status.SUCCEEDED, now=at(2), attempt=2, result={"x": 0})
    assert store.transition("e", Status.SUCCEEDED, now=at(2), attempt=1, result={"ok": True})
    assert not store.transition("e", Status.FAILED, now=at(3), attempt=1, result={"ok": False})
    done = store.get("e")
    assert done is not None and done.status is Status.SUCCEEDED
    assert done.result == {"ok": True} and done.end_timestamp == at(2)
    assert done.claimed_by is None
    assert [entry["status"] for entry in done.log] == [
        "requested",
        "scheduled",
        "running",
        "succeeded",
    ]


def test_top_level_moves_are_recorded_once_with_their_log_row(engine: sa.Engine) -> None:
    """``top_level`` (one statement in autocommit mode on PostgreSQL) keeps every rule."""
    store = SqlExecutionStore(engine)
    queued(store, "e")
    queued(store, "child", parent_id="e")
    started = {"now": at(1), "attempt": 1, "expected": (Status.SCHEDULED,), "top_level": True}
    assert store.transition("e", Status.RUNNING, **started, start_timestamp=at(1), pids=[7])
    assert not store.transition("e", Status.RUNNING, **started, start_timestamp=at(1))
    finished = {"now": at(2), "top_level": True, "expected": (Status.RUNNING,)}
    assert not store.transition("e", Status.SUCCEEDED, attempt=2, **finished, result={"x": 0})
    assert store.transition("e", Status.SUCCEEDED, attempt=1, **finished, result={"ok": True})
    assert not store.transition("e", Status.FAILED, attempt=1, **finished, result={"ok": 0})
    done = store.get("e")
    assert done is not None and done.status is Status.SUCCEEDED and done.pids == (7,)
    assert done.result == {"ok": True} and done.end_timestamp == at(2)
    assert done.start_timestamp == at(1) and done.claimed_by is None
    assert [entry["status"] for entry in done.log] == [
        "requested",
        "scheduled",
        "running",
        "succeeded",
    ]
    if engine.dialect.name == "postgresql":
        # The one-statement move leaves a workflow's child alone (its parent needs an event).
        assert not store.transition("child", Status.RUNNING, **started)
        child = store.get("child")
        assert child is not None and child.status is Status.SCHEDULED and len(child.log) == 2


def test_illegal_transitions_change_nothing(engine: sa.Engine) -> None:
    store = SqlExecutionStore(engine)
    queued(store, "e")
    assert not store.transition("e", Status.SUCCEEDED, now=at(1))  # scheduled -> succeeded
    assert not store.transition("missing", Status.RUNNING, now=at(1))
    assert not store.transition("e", Status.RUNNING, now=at(1), expected=(Status.REQUESTED,))
    execution = store.get("e")
    assert execution is not None and execution.status is Status.SCHEDULED


def test_find_filters_and_pages_newest_first(engine: sa.Engine) -> None:
    store = SqlExecutionStore(engine)
    for index in range(5):
        queued(store, f"a{index}", created=index, action_ref="p.a")
    queued(store, "b0", created=9, action_ref="p.b", parent_id="a0")
    queued(store, "c0", action_ref="p_q.c")  # "_" is no wildcard in a pack name
    store.transition("a1", Status.CANCELED, now=at(10))
    assert [e.id for e in store.find(ExecutionFilter(limit=3))] == ["b0", "a4", "a3"]
    assert [e.id for e in store.find(ExecutionFilter(action_ref="p.a", offset=3))] == ["a1", "a0"]
    canceled = store.find(ExecutionFilter(statuses=(Status.CANCELED,)))
    assert [e.id for e in canceled] == ["a1"]
    assert [e.id for e in store.find(ExecutionFilter(parent_id="a0"))] == ["b0"]
    assert [e.id for e in store.find(ExecutionFilter(pack="p", limit=2))] == ["b0", "a4"]
    assert store.count(ExecutionFilter(pack="p")) == 6
    assert [e.id for e in store.find(ExecutionFilter(pack="p_q"))] == ["c0"]
    assert store.find(ExecutionFilter(pack="p_")) == []


def test_child_ids_of_a_page_of_workflows_come_oldest_first(engine: sa.Engine) -> None:
    store = SqlExecutionStore(engine)
    for parent in ("w1", "w2", "lone"):
        queued(store, parent, created=0, action_ref="p.flow")
    queued(store, "t3", created=3, parent_id="w1")
    queued(store, "t1", created=1, parent_id="w1")
    queued(store, "t2", created=2, parent_id="w2")
    queued(store, "other", created=4, parent_id="elsewhere")
    found = store.child_ids(["w1", "w2", "lone"])
    assert found == {"w1": ["t1", "t3"], "w2": ["t2"], "lone": []}
    assert store.child_ids([]) == {}


def test_recover_abandons_started_work_and_releases_unstarted(engine: sa.Engine) -> None:
    store = SqlExecutionStore(engine)
    queued(store, "started")
    queued(store, "claimed")
    queued(store, "alive")
    dead = f"thishost:{2**22 + 7}:x"  # a pid that cannot exist (beyond pid_max defaults)
    store.claim_one("started", dead, now=at(1), lease_until=at(50))
    store.claim_one("claimed", dead, now=at(1), lease_until=at(50))
    store.claim_one("alive", f"thishost:{os.getpid()}:y", now=at(1), lease_until=at(50))
    store.transition("started", Status.RUNNING, now=at(2), attempt=1)
    store.transition("alive", Status.RUNNING, now=at(2), attempt=1)

    abandoned = recover(store, now=at(3), host="thishost")
    assert [e.id for e in abandoned] == ["started"]
    assert store.get("started").status is Status.ABANDONED  # type: ignore[union-attr]
    released = store.get("claimed")
    assert released is not None and released.claimed_by is None
    assert [e.id for e in store.claim("w", now=at(4), lease_until=at(9), limit=5)] == ["claimed"]
    assert store.get("alive").status is Status.RUNNING  # type: ignore[union-attr]
    # the live worker's lease expires: now it is abandoned too
    assert [e.id for e in recover(store, now=at(51), host="thishost")] == ["alive"]


def test_recover_kills_the_processes_of_its_own_host_only(engine: sa.Engine) -> None:
    """A dead worker of another host (its lease ran out) is abandoned, but the pids it
    recorded are that host's: a process here with the same pid is left alone."""
    import subprocess

    store = SqlExecutionStore(engine)
    queued(store, "there")
    queued(store, "here")
    bystander = subprocess.Popen(["sleep", "30"], start_new_session=True)  # a group leader
    victim = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        store.claim_one("there", "otherhost:1234:x", now=at(1), lease_until=at(10))
        store.claim_one("here", f"thishost:{2**22 + 7}:x", now=at(1), lease_until=at(10))
        for execution_id, process in (("there", bystander), ("here", victim)):
            store.transition(execution_id, Status.RUNNING, now=at(2), attempt=1)
            store.add_pid(execution_id, process.pid)
        abandoned = recover(store, now=at(11), host="thishost")
        assert sorted(e.id for e in abandoned) == ["here", "there"]
        assert victim.wait(timeout=5) == -9
        assert bystander.poll() is None
    finally:
        for process in (bystander, victim):
            process.kill()
            process.wait()


def test_status_counts_and_the_oldest_of_some_statuses(engine: sa.Engine) -> None:
    """What the metrics read at each scrape."""
    store = SqlExecutionStore(engine)
    assert store.status_counts() == {}
    assert store.oldest_created([Status.SCHEDULED]) is None
    for index in range(3):
        queued(store, f"e{index}", created=index + 1)
    assert store.transition("e0", Status.RUNNING, now=at(5), start_timestamp=at(5))
    assert store.status_counts() == {Status.SCHEDULED: 2, Status.RUNNING: 1}
    assert store.oldest_created([Status.REQUESTED, Status.SCHEDULED]) == at(2)
    assert store.oldest_created([Status.RUNNING]) == at(1)
    assert store.oldest_created([Status.FAILED]) is None
