"""End-to-end execution overhead and throughput, submitted through the service layer
in-process on SQLite (WAL, synchronous=NORMAL).

Targets (issue 4): ``core.local cmd=true`` median overhead over a bare ``sh -c true`` spawn
of at most 3 ms; at least 300 executions/s of ``core.noop``.
Floors measured in the same run: an asyncio ``sh -c true`` spawn and one bare SQLite commit.
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import print_table

from packhorse.engine.instance import init_instance
from packhorse.engine.runtime import build_runtime

RUNS = 60
THROUGHPUT = 600


async def spawn_true() -> None:
    process = await asyncio.create_subprocess_shell(
        "true", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    await process.communicate()


async def measure(home: Path) -> dict[str, float]:
    from packhorse.settings import load_settings

    runtime = build_runtime(load_settings(home), slots=8)
    service = runtime.executions

    async def one(ref: str, parameters: dict[str, str]) -> float:
        started = time.perf_counter()
        execution = service.request(ref, parameters, user="bench")
        done = await runtime.run_one(execution.id)
        assert done.status.value == "succeeded", done.result
        return time.perf_counter() - started

    for _ in range(5):  # warm caches
        await one("core.local", {"cmd": "true"})
    local = [await one("core.local", {"cmd": "true"}) for _ in range(RUNS)]
    noop_latency = [await one("core.noop", {}) for _ in range(RUNS)]
    spawn = []
    for _ in range(RUNS):
        started = time.perf_counter()
        await spawn_true()
        spawn.append(time.perf_counter() - started)

    # Throughput: queue THROUGHPUT noops, then let a worker with 8 slots drain them. The
    # harness checks progress with one count query every 50 ms, so that it does not compete
    # with the worker for the event loop.
    already = runtime.store.count_completed(before="9999")
    for _ in range(THROUGHPUT):
        service.request("core.noop", {}, user="bench")
    stop = asyncio.Event()
    started = time.perf_counter()
    worker = asyncio.create_task(runtime.worker.run(stop))
    while runtime.store.count_completed(before="9999") - already < THROUGHPUT:
        await asyncio.sleep(0.05)
    drained = time.perf_counter() - started
    stop.set()
    await worker
    return {
        "local": statistics.median(local),
        "noop": statistics.median(noop_latency),
        "spawn": statistics.median(spawn),
        "throughput": THROUGHPUT / drained,
    }


def bare_commit(folder: Path) -> float:
    connection = sqlite3.connect(folder / "bare.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
    samples = []
    for index in range(RUNS):
        started = time.perf_counter()
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("INSERT INTO t VALUES (?, ?)", (index, "x" * 200))
        connection.execute("COMMIT")
        samples.append(time.perf_counter() - started)
    connection.close()
    return statistics.median(samples)


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        init_instance(home)
        figures = asyncio.run(measure(home))
        commit = bare_commit(Path(scratch))
    overhead = figures["local"] - figures["spawn"]
    print_table(
        f"Executions end to end through the service layer, median of {RUNS}",
        [
            (
                "core.local cmd=true, request to recorded result",
                figures["local"],
                figures["spawn"],
                "",
            ),
            ("  overhead over the bare spawn", overhead, None, "<= 3 ms"),
            ("core.noop, request to recorded result", figures["noop"], commit, ""),
            ("floor: asyncio sh -c true spawn", figures["spawn"], None, ""),
            ("floor: one bare SQLite commit (WAL, NORMAL)", commit, None, ""),
        ],
    )
    print(
        f"\ncore.noop throughput, {THROUGHPUT} queued, 8 slots: {figures['throughput']:.0f}/s"
        "  (target >= 300/s)"
    )


if __name__ == "__main__":
    main()
