"""Claims on SQLite and PostgreSQL: processes that take work from one queue (executions for
workers, pending trigger instances for rules engines) never take the same row, and on
PostgreSQL a claimer skips rows another holds locked instead of waiting for them."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence

import pytest
import sqlalchemy as sa

from packhorse.model.events import TriggerInstance, TriggerInstanceStatus
from packhorse.model.execution import Execution, Status
from packhorse.storage.events import SqlEventStore
from packhorse.storage.executions import SqlExecutionStore


def at(second: int) -> str:
    return f"2026-01-01T00:00:{second:02d}.000000Z"


def scheduled(store: SqlExecutionStore, count: int) -> None:
    for index in range(count):
        execution = Execution(
            id=f"e{index:04d}",
            action_ref="core.noop",
            runner_type="noop",
            status=Status.REQUESTED,
            parameters={},
            context={},
            created_at=at(0),
        )
        store.create(execution, then=Status.SCHEDULED)


def pending(store: SqlEventStore, count: int) -> None:
    for index in range(count):
        store.record(
            TriggerInstance(
                id=f"i{index:04d}",
                trigger="core.st2.webhook",
                trigger_type="core.st2.webhook",
                payload={},
                occurrence_time=at(0),
                source="test",
                created_at=at(0),
            )
        )


def race(claim: Callable[[str], Sequence[str]], claimers: int) -> Counter[str]:
    """``claimers`` threads (each its own connection) claim in batches until none is left;
    counts how many times each id was handed out."""
    taken: Counter[str] = Counter()
    guard = threading.Lock()
    start = threading.Barrier(claimers)

    def run(name: str) -> None:
        start.wait()
        while ids := claim(name):
            with guard:
                taken.update(ids)

    threads = [threading.Thread(target=run, args=(f"c{n}",)) for n in range(claimers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return taken


def test_concurrent_execution_claims_never_share_a_row(engine: sa.Engine) -> None:
    store = SqlExecutionStore(engine)
    scheduled(store, 120)

    def claim(name: str) -> list[str]:
        claimed = store.claim(name, now=at(1), lease_until=at(50), limit=3)
        return [execution.id for execution in claimed]

    taken = race(claim, claimers=4)
    assert len(taken) == 120 and set(taken.values()) == {1}


def test_concurrent_instance_claims_never_share_a_row(engine: sa.Engine) -> None:
    store = SqlEventStore(engine)
    pending(store, 120)

    def claim(name: str) -> list[str]:
        claimed = store.claim_pending(name, now=at(1), lease_until=at(50), limit=3)
        return [instance.id for instance in claimed]

    taken = race(claim, claimers=4)
    assert len(taken) == 120 and set(taken.values()) == {1}


def test_instance_claims_lease_and_end_when_processed(engine: sa.Engine) -> None:
    store = SqlEventStore(engine)
    pending(store, 3)
    first = store.claim_pending("r1", now=at(1), lease_until=at(10), limit=2)
    assert [i.id for i in first] == ["i0000", "i0001"]
    assert [i.id for i in store.claim_pending("r2", now=at(2), lease_until=at(12))] == ["i0002"]
    store.set_status("i0000", TriggerInstanceStatus.PROCESSED)
    # r1 died holding i0001: its lease runs out and another engine takes it over
    assert store.claim_pending("r3", now=at(9), lease_until=at(19)) == []
    assert [i.id for i in store.claim_pending("r3", now=at(10), lease_until=at(20))] == ["i0001"]
    assert [i.id for i in store.pending()] == ["i0001", "i0002"]  # claimed, still pending
    assert store.get("i0001") is not None


@pytest.fixture
def postgres(engine: sa.Engine) -> sa.Engine:
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL only (SQLite has one writer at a time)")
    return engine


@pytest.mark.parametrize("table", ["executions", "trigger_instances"])
def test_a_claim_skips_rows_another_transaction_holds(postgres: sa.Engine, table: str) -> None:
    executions, events = SqlExecutionStore(postgres), SqlEventStore(postgres)
    if table == "executions":
        scheduled(executions, 2)
        first, claim = "e0000", executions.claim
    else:
        pending(events, 2)
        first, claim = "i0000", events.claim_pending
    with postgres.connect() as holder, holder.begin():
        holder.exec_driver_sql(f"SELECT id FROM {table} WHERE id = %s FOR UPDATE", (first,))
        started = time.monotonic()
        claimed = claim("other", now=at(1), lease_until=at(50), limit=5)
        waited = time.monotonic() - started
    assert [row.id for row in claimed] == [first.replace("0000", "0001")]
    assert waited < 1.0  # skipped, not waited for
    # once the holder lets go, the row is claimable again
    assert [row.id for row in claim("third", now=at(1), lease_until=at(50), limit=5)] == [first]


def test_lease_recovery_reads_only_what_it_may_settle(engine: sa.Engine) -> None:
    """Lease recovery asks the database for expired leases, this host's claims and running
    executions nobody holds (workflows aside), not for every claimed execution of the site;
    a host name's ``_`` or ``%`` is no wildcard."""
    store = SqlExecutionStore(engine)
    scheduled(store, 8)
    cases = {
        # id: (status, runner, claimed by, lease until)
        "e0000": ("running", "local-shell-cmd", "far:1:a", at(30)),  # held elsewhere
        "e0001": ("running", "local-shell-cmd", "far:1:a", at(5)),  # expired
        "e0002": ("scheduled", "noop", "my_host:42:b", at(30)),  # claimed on this host
        "e0003": ("running", "local-shell-cmd", "myXhost:42:c", at(30)),  # not this host
        "e0004": ("running", "local-shell-cmd", None, None),  # running, held by nobody
        "e0005": ("running", "orquesta", None, None),  # a workflow: its inbox carries it
        "e0006": ("scheduled", "noop", None, None),  # waiting for a claim
        "e0007": ("succeeded", "noop", "far:1:a", at(5)),  # over
    }
    with engine.begin() as connection:
        for execution_id, (status, runner, owner, lease) in cases.items():
            connection.execute(
                sa.text(
                    "UPDATE executions SET status = :status, runner_type = :runner,"
                    " claimed_by = :owner, lease_expires_at = :lease WHERE id = :id"
                ),
                {
                    "status": status,
                    "runner": runner,
                    "owner": owner,
                    "lease": lease,
                    "id": execution_id,
                },
            )
    found = store.recovery_candidates(now=at(10), host="my_host", unheld_runners=["orquesta"])
    assert sorted(e.id for e in found) == ["e0001", "e0002", "e0004"]
