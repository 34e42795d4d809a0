"""End-to-end execution overhead and throughput, submitted through the service layer
in-process on SQLite (WAL, synchronous=NORMAL).

Targets (issue 4): ``core.local cmd=true`` median overhead over a bare ``sh -c true`` spawn
of at most 3 ms; at least 300 executions/s of ``core.noop``.
Floors measured in the same run: one bare SQLite commit, and two bare ``sh -c true`` spawns
with both pipes read to the end: asyncio's (whose Python 3.11 child watcher starts a thread
per child) and the runner's own way (``subprocess.Popen``, exit heard through a pidfd). The
overhead is taken over the faster of the two, so a cheaper spawn cannot hide engine cost.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import statistics
import subprocess
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
OVERHEAD_TARGET = 0.003
THROUGHPUT_TARGET = 300


async def spawn_true() -> None:
    process = await asyncio.create_subprocess_shell(
        "true", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    await process.communicate()


class _Drain(asyncio.Protocol):
    def __init__(self) -> None:
        self.closed = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set_result(None)


async def spawn_true_pidfd() -> None:
    """``sh -c true`` as the local runner starts it, with nothing else of the runner."""
    loop = asyncio.get_running_loop()
    popen = subprocess.Popen(
        "true",
        shell=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )
    exited = loop.create_future()
    pidfd = os.pidfd_open(popen.pid)

    def reap() -> None:
        loop.remove_reader(pidfd)
        os.close(pidfd)
        exited.set_result(popen.wait())

    loop.add_reader(pidfd, reap)
    assert popen.stdout is not None and popen.stderr is not None
    _, out = await loop.connect_read_pipe(_Drain, popen.stdout)
    _, err = await loop.connect_read_pipe(_Drain, popen.stderr)
    await asyncio.gather(exited, out.closed, err.closed)


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
    spawn, spawn_pidfd = [], []
    for _ in range(RUNS):  # interleaved: both floors see the same machine load
        started = time.perf_counter()
        await spawn_true()
        spawn.append(time.perf_counter() - started)
        started = time.perf_counter()
        await spawn_true_pidfd()
        spawn_pidfd.append(time.perf_counter() - started)

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
        "spawn_pidfd": statistics.median(spawn_pidfd),
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
    spawn = min(figures["spawn"], figures["spawn_pidfd"])
    overhead = figures["local"] - spawn
    print_table(
        f"Executions end to end through the service layer, median of {RUNS}",
        [
            ("core.local cmd=true, request to recorded result", figures["local"], spawn, ""),
            ("  overhead over the faster bare spawn", overhead, None, "<= 3 ms"),
            ("core.noop, request to recorded result", figures["noop"], commit, ""),
            ("floor: asyncio sh -c true spawn", figures["spawn"], None, ""),
            ("floor: Popen + pidfd sh -c true spawn", figures["spawn_pidfd"], None, ""),
            ("floor: one bare SQLite commit (WAL, NORMAL)", commit, None, ""),
        ],
    )
    print(
        f"\ncore.noop throughput, {THROUGHPUT} queued, 8 slots: {figures['throughput']:.0f}/s"
        "  (target >= 300/s)"
    )
    if overhead > OVERHEAD_TARGET or figures["throughput"] < THROUGHPUT_TARGET:
        sys.exit(1)


if __name__ == "__main__":
    main()
