"""Scale-out throughput: ``core.noop`` executions per second with 1, 2 and 4
``packhorse up --role worker`` processes (``--workers 4`` each) sharing one PostgreSQL
database (a private one on the server at 127.0.0.1:5432, dropped afterwards).

Each run starts the workers, waits until they are ready, then requests EXECUTIONS executions
from this process (four threads) and times until the last one has succeeded. Floor: the same
requests with no worker running (what storing them costs; no run can be faster).
One run per row (the "median" column is that run's time). The machine has two cores shared
with the database and the requesting process: past two nodes there is no core left to add.
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
from packhorse.engine.runtime import build_runtime
from packhorse.model.execution import COMPLETED
from packhorse.settings import load_settings
from packhorse.storage import migrate
from packhorse.storage.database import create_engine
from packhorse.storage.executions import ExecutionFilter, SqlExecutionStore

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
EXECUTIONS = 1000
NODES = (1, 2, 4)


def reset(home: Path, url: str) -> SqlExecutionStore:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    migrate.upgrade(engine)
    settings = load_settings(home).with_overrides(database_url=url)
    assert bootstrap.register_instance_packs(settings, all_packs=True).ok
    return SqlExecutionStore(engine)


def request_all(home: Path, url: str) -> float:
    """Request EXECUTIONS ``core.noop`` from four threads; the seconds it took."""
    runtime = build_runtime(load_settings(home).with_overrides(database_url=url), warm_python=False)
    started = time.perf_counter()
    try:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(
                pool.map(
                    lambda _: runtime.executions.request("core.noop", {}, user="stanley"),
                    range(EXECUTIONS),
                )
            )
    finally:
        asyncio.run(runtime.aclose())
    return time.perf_counter() - started


def drain(store: SqlExecutionStore, started: float) -> float:
    done = ExecutionFilter(statuses=tuple(COMPLETED))
    while store.count(done) < EXECUTIONS:
        assert time.perf_counter() - started < 600, "executions left unfinished"
        time.sleep(0.05)
    return time.perf_counter() - started


def main() -> None:
    import psycopg

    name = f"packhorse_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    rows = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            home = Path(folder) / "home"
            packhorse(home, "init")
            reset(home, url).engine.dispose()
            floor = request_all(home, url)
            for nodes in NODES:
                store = reset(home, url)
                ports = [free_port() for _ in range(nodes)]
                with contextlib.ExitStack() as stack:
                    for port in ports:
                        stack.enter_context(
                            running_up(
                                home,
                                port,
                                "--role",
                                "worker",
                                "--database",
                                url,
                                "--listen",
                                f"127.0.0.1:{port}",
                            )
                        )
                    started = time.perf_counter()
                    request_all(home, url)
                    seconds = drain(store, started)
                store.engine.dispose()
                rows.append(
                    (
                        f"{EXECUTIONS} core.noop, {nodes} worker node(s)"
                        f" ({EXECUTIONS / seconds:.0f}/s)",
                        seconds,
                        floor,
                        "more nodes: not slower",
                    )
                )
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print_table("Scale-out on PostgreSQL: request -> all succeeded", rows)


if __name__ == "__main__":
    main()
