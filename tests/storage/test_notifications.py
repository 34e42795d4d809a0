"""Wake-ups across processes on PostgreSQL: a transaction that stores work in one process
wakes the listener of another when it commits (and not before, nor when it rolls back)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa

from packhorse.storage import notifications
from packhorse.storage.notifications import Listener

#: What the other process runs: one transaction that stores a scheduled log row, committed
#: after printing the time just before the commit.
WRITER = """
import sys, time, psycopg
with psycopg.connect(sys.argv[1]) as connection:
    connection.execute(
        "INSERT INTO execution_log (execution_id, status, timestamp)"
        " VALUES ('e', 'running', 't')"
    )
    connection.rollback()  # rolled back: no wake-up
    connection.execute(
        "INSERT INTO execution_log (execution_id, status, timestamp)"
        " VALUES ('e', 'scheduled', 't')"
    )
    time.sleep(0.3)  # not before the commit either
    print(time.time(), flush=True)
    connection.commit()
"""


@pytest.fixture
def postgres(engine: sa.Engine) -> sa.Engine:
    if not notifications.listens(engine):
        pytest.skip("LISTEN/NOTIFY: PostgreSQL only (SQLite processes poll the file)")
    return engine


def test_a_commit_in_another_process_wakes_the_listener_at_once(postgres: sa.Engine) -> None:
    woken: list[tuple[str, float]] = []
    heard = threading.Event()

    def on(payload: str) -> None:
        woken.append((payload, time.time()))
        heard.set()

    listener = Listener(
        postgres,
        {
            notifications.EXECUTIONS: [lambda: on(notifications.EXECUTIONS)],
            notifications.LOG: [lambda: on(notifications.LOG)],
        },
        check_seconds=1.0,  # longer than the wake-up may take
    )
    listener.start()
    try:
        assert listener.listening.wait(10)
        time.sleep(0.05)
        heard.clear()
        woken.clear()  # the wake-up every (re)connection makes
        url = postgres.url.set(drivername="postgresql").render_as_string(hide_password=False)
        writer = subprocess.run(
            [sys.executable, "-c", WRITER, url], capture_output=True, text=True, check=True
        )
        committed = float(writer.stdout)
        assert heard.wait(5)
        time.sleep(0.05)  # the second payload of the same commit
    finally:
        listener.stop()
    assert {payload for payload, _ in woken} == {notifications.EXECUTIONS, notifications.LOG}
    latency = min(at for _, at in woken) - committed
    print(f"wake-up latency across processes: {latency * 1000:.1f} ms")
    assert 0 <= latency < 0.25  # the worker and the rules engine poll every 0.5 s


def test_the_listener_reconnects_when_its_connection_is_lost(postgres: sa.Engine) -> None:
    heard = threading.Event()
    listener = Listener(
        postgres,
        {notifications.TRIGGER_INSTANCES: [heard.set]},
        check_seconds=0.2,
        retry_seconds=0.1,
    )
    listener.start()
    try:
        assert listener.listening.wait(10)
        with postgres.begin() as connection:  # the server ends the listening session
            ended = connection.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE query = 'LISTEN packhorse_trigger_instances'"
                " AND pid <> pg_backend_pid()"
                " AND datname = current_database()"
            ).all()
        assert ended == [(True,)]
        deadline = time.monotonic() + 10
        while True:  # notify until the listener, back, hears it
            heard.clear()
            with postgres.begin() as connection:
                connection.exec_driver_sql("NOTIFY packhorse_trigger_instances")
            if heard.wait(0.5):
                break
            assert time.monotonic() < deadline, "the listener did not come back"
    finally:
        listener.stop()


def test_a_change_of_the_intake_wakes_the_listener(postgres: sa.Engine) -> None:
    from packhorse.model.intake import IntakeStatus
    from packhorse.storage.intake import SqlIntakeStore

    heard = threading.Event()
    listener = Listener(postgres, {notifications.INTAKE: [heard.set]}, check_seconds=5.0)
    listener.start()
    try:
        assert listener.listening.wait(10)
        time.sleep(0.05)
        heard.clear()  # the wake-up every (re)connection makes
        SqlIntakeStore(postgres).change(
            IntakeStatus.DRAINING, successor=None, reason=None, now="2030-01-01T00:00:00Z"
        )
        assert heard.wait(2)  # well before the listener's own check (5 s)
    finally:
        listener.stop()
