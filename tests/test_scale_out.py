"""Scale-out fault test: three ``packhorse up --role worker`` processes share one PostgreSQL
database and run 2,000 executions while one of them is SIGKILLed. Every execution ends exactly
once: the survivors run what the dead one had claimed but not started, and settle (abandon)
what it had started, per the crash rules."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from packhorse.engine.runtime import build_runtime
from packhorse.model.execution import COMPLETED, Status
from packhorse.settings import load_settings
from packhorse.storage.executions import ExecutionFilter
from tests.conftest import Prepare
from tests.test_up import free_port, wait_for

pytestmark = pytest.mark.slow

NOOPS, LOCALS = 1700, 300


def requested(instance_home: Path, url: str) -> list[str]:
    settings = load_settings(instance_home).with_overrides(database_url=url)
    runtime = build_runtime(settings, warm_python=False)
    ids, locals_ = [], 0
    try:
        for index in range(NOOPS + LOCALS):
            if index % 8 in (0, 3, 6) and locals_ < LOCALS:
                locals_ += 1
                execution = runtime.executions.request(
                    "core.local", {"cmd": "sleep 0.2"}, user="stanley"
                )
            else:
                execution = runtime.executions.request("core.noop", {}, user="stanley")
            ids.append(execution.id)
    finally:
        asyncio.run(runtime.aclose())
    return ids


def worker(instance_home: Path, url: str, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "packhorse",
            "--home",
            str(instance_home),
            "up",
            "--role",
            "worker",
            "--database",
            url,
            "--listen",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_three_workers_on_postgresql_survive_one_killed(
    instance_home: Path, postgres_url: str, prepared: Prepare
) -> None:
    store = prepared(instance_home, postgres_url)
    ports = [free_port() for _ in range(3)]
    processes = [worker(instance_home, postgres_url, port) for port in ports]
    try:
        for process, port in zip(processes, ports, strict=True):
            wait_for(f"http://127.0.0.1:{port}/health", process)
        started = time.monotonic()
        ids = requested(instance_home, postgres_url)
        assert len(ids) == NOOPS + LOCALS == 2000
        # Kill one worker mid-run, once some of the work is done.
        while store.count(ExecutionFilter(statuses=tuple(COMPLETED))) < len(ids) // 4:
            assert time.monotonic() - started < 60
            time.sleep(0.02)
        victim = processes[0]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        killed_at = time.monotonic()
        deadline = killed_at + 90
        while store.count(ExecutionFilter(statuses=tuple(COMPLETED))) < len(ids):
            assert time.monotonic() < deadline, "executions left unfinished"
            time.sleep(0.1)
        finished = time.monotonic()
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)
    executions = [store.get(execution_id) for execution_id in ids]
    statuses: dict[str, int] = {}
    for execution in executions:
        assert execution is not None
        ended = [row for row in execution.log if Status(row["status"]) in COMPLETED]
        assert len(ended) == 1, (execution.id, execution.log)  # ended exactly once
        statuses[execution.status.value] = statuses.get(execution.status.value, 0) + 1
    assert set(statuses) <= {"succeeded", "abandoned"}
    print(
        f"{len(ids)} executions on 3 workers, one killed: {statuses},"
        f" all ended {finished - started:.1f} s after start,"
        f" {finished - killed_at:.1f} s after the kill"
    )
    store.engine.dispose()


def test_a_worker_process_wakes_when_another_process_requests(
    instance_home: Path, postgres_url: str, prepared: Prepare
) -> None:
    """NOTIFY on commit: an execution requested in this process is run by the worker of a
    ``packhorse up --role worker`` process well before its 0.5 s poll would have found it."""
    store = prepared(instance_home, postgres_url)
    port = free_port()
    process = worker(instance_home, postgres_url, port)
    settings = load_settings(instance_home).with_overrides(database_url=postgres_url)
    runtime = build_runtime(settings, warm_python=False)
    latencies = []
    try:
        wait_for(f"http://127.0.0.1:{port}/health", process)
        time.sleep(1.0)  # the worker's listener is in place
        for _ in range(15):
            asked = time.monotonic()
            execution = runtime.executions.request("core.noop", {}, user="stanley")
            while True:
                done = store.get(execution.id)
                assert done is not None
                if done.status in COMPLETED:
                    break
                assert time.monotonic() - asked < 5
                time.sleep(0.002)
            latencies.append(time.monotonic() - asked)
            time.sleep(0.05)
    finally:
        asyncio.run(runtime.aclose())
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        store.engine.dispose()
    latencies.sort()
    median = latencies[len(latencies) // 2]
    print(
        f"request -> succeeded across processes: median {median * 1000:.0f} ms,"
        f" max {latencies[-1] * 1000:.0f} ms"
    )
    assert median < 0.15  # polling alone: 0.25 s on average
