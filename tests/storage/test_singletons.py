"""Singletons on SQLite and PostgreSQL: on PostgreSQL one process holds each (a session-level
advisory lock), another takes it over when the holder dies; on SQLite every process does."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from packhorse.engine.singleton import run_as_singleton
from packhorse.storage.singletons import LockSet, Singleton, lock_key

HOLDER = """
import sys, time, psycopg
connection = psycopg.connect(sys.argv[1], autocommit=True)
connection.execute("SELECT pg_advisory_lock(%s)", (int(sys.argv[2]),))
print("held", flush=True)
time.sleep(60)
"""


def test_one_holder_at_a_time_on_postgresql(engine: sa.Engine) -> None:
    first, second = Singleton(engine, "timers"), Singleton(engine, "timers")
    other = Singleton(engine, "retention")
    try:
        assert first.held() and first.held()
        assert other.held()
        if engine.dialect.name == "postgresql":
            assert not second.held()
            first.release()
            assert second.held() and not first.held()
        else:  # process-local: every process runs them, as before
            assert second.held()
    finally:
        for singleton in (first, second, other):
            singleton.release()


def test_a_dead_holder_lets_another_process_take_over(engine: sa.Engine) -> None:
    if engine.dialect.name != "postgresql":
        return  # nothing is shared on SQLite
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, str(lock_key("sensors"))],
        stdout=subprocess.PIPE,
        text=True,
    )
    singleton = Singleton(engine, "sensors")
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        assert not singleton.held()
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        started = time.monotonic()
        while not singleton.held():  # the server notices the dead session at once
            assert time.monotonic() - started < 5
            time.sleep(0.05)
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()
        singleton.release()


def test_a_singleton_loop_runs_in_one_place_and_moves_on_release(engine: sa.Engine) -> None:
    async def scenario() -> list[str]:
        ran: list[str] = []

        def loop(name: str):  # type: ignore[no-untyped-def]
            async def run(stop: asyncio.Event) -> None:
                ran.append(name)
                await stop.wait()

            return run

        stop_a, stop_b = asyncio.Event(), asyncio.Event()
        a = asyncio.create_task(
            run_as_singleton(Singleton(engine, "timers"), loop("a"), stop_a, check_seconds=0.1)
        )
        await asyncio.sleep(0.3)
        b = asyncio.create_task(
            run_as_singleton(Singleton(engine, "timers"), loop("b"), stop_b, check_seconds=0.1)
        )
        await asyncio.sleep(0.3)
        stop_a.set()
        await a
        await asyncio.sleep(0.5)
        stop_b.set()
        await b
        return ran

    ran = asyncio.run(scenario())
    # PostgreSQL: b waits until a lets go, then takes over; SQLite: both run at once.
    assert ran == ["a", "b"]


def test_a_lock_set_gives_each_name_to_one_holder(engine: sa.Engine) -> None:
    first, second = LockSet(engine, "sensor:"), LockSet(engine, "sensor:")
    try:
        assert first.hold(["a", "b"]) == {"a", "b"}
        if engine.dialect.name != "postgresql":
            assert second.hold(["a", "b", "c"]) == {"a", "b", "c"}  # every process runs all
            return
        assert second.hold(["a", "b", "c"]) == {"c"}
        assert first.hold(["b"]) == {"b"}  # no longer wanted: let go
        assert second.hold(["a", "b", "c"]) == {"a", "c"}
        first.release()  # the process died: its session, and every lock in it, ends
        assert second.hold(["a", "b", "c"]) == {"a", "b", "c"}
    finally:
        first.release()
        second.release()


def test_a_holder_that_lost_its_session_says_so_then_takes_it_again(engine: sa.Engine) -> None:
    if engine.dialect.name != "postgresql":
        return  # nothing is shared on SQLite
    singleton = Singleton(engine, "housekeeping")
    try:
        assert singleton.held()
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_locks"
                f" WHERE locktype = 'advisory' AND objid = {lock_key('housekeeping') & 0xFFFFFFFF}"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        assert not singleton.held()  # the lock went with the session
        assert singleton.held()  # free: taken again on a new session
    finally:
        singleton.release()


def test_the_singletons_of_a_process_share_one_session_and_all_say_when_it_is_lost(
    engine: sa.Engine,
) -> None:
    """One connection for every singleton of a process (not one each, in every process of the
    site). When that session dies, each singleton it held says so once, even if another one's
    call reconnected first: its loop stops before the lock is taken again."""
    if engine.dialect.name != "postgresql":
        pytest.skip("advisory locks: PostgreSQL only (on SQLite every process holds them)")
    from packhorse.storage.singletons import SessionLocks

    locks = SessionLocks(engine)
    timers, retention = Singleton(engine, "timers", locks), Singleton(engine, "retention", locks)
    elsewhere = Singleton(engine, "timers")
    try:
        assert timers.held() and retention.held() and not elsewhere.held()
        with engine.connect() as connection:
            holders = connection.execute(
                sa.text(
                    "SELECT count(DISTINCT pid) FROM pg_locks WHERE locktype = 'advisory'"
                    " AND database = (SELECT oid FROM pg_database"
                    " WHERE datname = current_database())"
                )
            ).scalar_one()
            assert holders == 1  # both on one session
            connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                    " AND database = (SELECT oid FROM pg_database"
                    " WHERE datname = current_database())"
                )
            )
            connection.commit()
        assert not timers.held()  # the session is gone: said so
        assert not retention.held()  # said so too, though timers' call found it gone first
        assert timers.held() and retention.held()  # then taken again on a new session
    finally:
        for singleton in (timers, retention, elsewhere):
            singleton.release()
