"""Scale-out throughput (issue 11): ``core.noop`` and a 10 ms ``sleep`` action
(``core.local cmd="sleep 0.01"``) with 1, 2 and 4 ``packhorse up --role worker`` processes,
each running one action at a time (``--workers 1``), sharing one PostgreSQL database (a private
one on the server at 127.0.0.1:5432, dropped afterwards); beside them, one process on SQLite.

Each run starts the workers and waits until they are ready. "requested meanwhile": then
requests the executions from this process (four threads) and times until the last one has
succeeded; the requesting shares the two cores with the workers and PostgreSQL. "queued":
the instance's intake is closed while the executions are requested (the workers claim none:
see ``model/intake.py``), then opened, which wakes every worker at once; the time runs from
the opening, so it is the workers' own throughput, as when requests come from API nodes on
other machines. Floor: the same requests with no worker running (what storing them costs).
One run per row. The machine has two cores shared with the database and the requesting
process.

Target: 4 workers give at least 3 times the single-worker throughput for the sleep action.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import free_port, packhorse, print_table, running_up

from packhorse import bootstrap
from packhorse.engine.clock import iso_now
from packhorse.engine.runtime import build_runtime
from packhorse.model.execution import COMPLETED
from packhorse.model.intake import IntakeStatus
from packhorse.settings import load_settings
from packhorse.storage import migrate
from packhorse.storage.database import create_engine
from packhorse.storage.executions import ExecutionFilter, SqlExecutionStore
from packhorse.storage.intake import SqlIntakeStore

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
NODES = (1, 2, 4)
ACTIONS = {
    # name shown: (action, parameters, how many)
    "core.noop": ("core.noop", {}, 600),
    "sleep 10 ms": ("core.local", {"cmd": "sleep 0.01"}, 400),
}


def reset(home: Path, url: str) -> SqlExecutionStore:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    migrate.upgrade(engine)
    settings = load_settings(home).with_overrides(database_url=url)
    assert bootstrap.register_instance_packs(settings, all_packs=True).ok
    return SqlExecutionStore(engine)


def request_all(
    home: Path, url: str, action: str, parameters: dict[str, object], count: int
) -> float:
    """Request ``count`` executions from four threads; the seconds it took."""
    settings = load_settings(home).with_overrides(database_url=url)
    runtime = build_runtime(settings, warm_python=False)
    started = time.perf_counter()
    try:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(
                pool.map(
                    lambda _: runtime.executions.request(action, parameters, user="stanley"),
                    range(count),
                )
            )
    finally:
        asyncio.run(runtime.aclose())
    return time.perf_counter() - started


def drain(store: SqlExecutionStore, started: float, count: int) -> float:
    done = ExecutionFilter(statuses=tuple(COMPLETED))
    while store.count(done) < count:
        assert time.perf_counter() - started < 600, "executions left unfinished"
        time.sleep(0.01)
    return time.perf_counter() - started


def set_intake(store: SqlExecutionStore, status: IntakeStatus) -> None:
    SqlIntakeStore(store.engine).change(status, successor=None, reason="bench", now=iso_now())


def timed(
    store: SqlExecutionStore,
    home: Path,
    url: str,
    job: tuple[str, dict[str, object], int],
    *,
    queued: bool,
) -> float:
    """Seconds until ``count`` executions of ``action`` have ended, requested meanwhile or
    queued first (the intake closed, then opened when the clock starts)."""
    action, parameters, count = job
    if queued:
        set_intake(store, IntakeStatus.CLOSED)
        time.sleep(1.5)  # every worker has applied it (a NOTIFY; polled every 1 s)
        request_all(home, url, action, parameters, count)
        started = time.perf_counter()
        set_intake(store, IntakeStatus.OPEN)
        return drain(store, started, count)
    started = time.perf_counter()
    request_all(home, url, action, parameters, count)
    return drain(store, started, count)


def sqlite_run(action: str, parameters: dict[str, object], count: int) -> float:
    """One ``packhorse up`` (one action at a time) on its SQLite file."""
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        port = free_port()
        packhorse(home, "init", "--listen", f"127.0.0.1:{port}")
        store = SqlExecutionStore(create_engine(f"sqlite:///{home / 'state.db'}"))
        with running_up(home, port, "--workers", "1"):
            started = time.perf_counter()
            request_all(home, "", action, parameters, count)
            seconds = drain(store, started, count)
        store.engine.dispose()
    return seconds


def main() -> None:
    import psycopg

    name = f"packhorse_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    rows = []
    ratios: dict[str, dict[int, float]] = {}
    try:
        with tempfile.TemporaryDirectory() as folder:
            home = Path(folder) / "home"
            packhorse(home, "init")
            for shown, (action, parameters, count) in ACTIONS.items():
                reset(home, url).engine.dispose()
                floor = request_all(home, url, action, parameters, count)
                single = sqlite_run(action, parameters, count)
                rows.append(
                    (
                        f"{count} {shown}, SQLite, 1 process ({count / single:.0f}/s)",
                        single,
                        floor,
                        "",
                    )
                )
                for nodes, queued in [(n, False) for n in NODES] + [(n, True) for n in NODES]:
                    store = reset(home, url)
                    ports = [free_port() for _ in range(nodes)]
                    mode = "queued" if queued else "requested meanwhile"
                    with contextlib.ExitStack() as stack:
                        for port in ports:
                            stack.enter_context(
                                running_up(
                                    home,
                                    port,
                                    "--role",
                                    "worker",
                                    "--workers",
                                    "1",
                                    "--database",
                                    url,
                                    "--listen",
                                    f"127.0.0.1:{port}",
                                )
                            )
                        seconds = timed(
                            store, home, url, (action, parameters, count), queued=queued
                        )
                    store.engine.dispose()
                    ratios.setdefault(f"{shown}, {mode}", {})[nodes] = count / seconds
                    target = "4 workers >= 3x 1 worker" if shown.startswith("sleep") else ""
                    rows.append(
                        (
                            f"{count} {shown}, {mode}, {nodes} worker(s) ({count / seconds:.0f}/s)",
                            seconds,
                            floor,
                            target,
                        )
                    )
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print_table("Scale-out on PostgreSQL: request -> all succeeded", rows)
    for shown, by_nodes in ratios.items():
        curve = ", ".join(f"{n}: {by_nodes[n] / by_nodes[1]:.1f}x" for n in NODES)
        print(f"{shown}: throughput against 1 worker: {curve}")


if __name__ == "__main__":
    main()
