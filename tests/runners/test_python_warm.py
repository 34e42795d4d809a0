"""Warm hosts: one host per interpreter, a fresh child per execution, nothing leaking between
executions, a fallback to cold processes, and the latency they save."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from packhorse.runners.base import NullEvents, RunStatus
from packhorse.runners.pyhost import WarmHost
from packhorse.runners.python import PythonRunner
from tests.runners.conftest import make_request

RUNS = 15


def test_one_host_a_fresh_child_each_time_and_no_state_leaks() -> None:
    async def scenario() -> dict[str, Any]:
        runner = PythonRunner()
        try:
            states = [await runner.run(make_request("state"), NullEvents()) for _ in range(4)]
            leak = await runner.run(make_request("leak_check"), NullEvents())
            return {"states": states, "leak": leak, "hosts": runner.hosts.host_pids()}
        finally:
            await runner.aclose()

    seen = asyncio.run(scenario())
    results = [state.result["result"] for state in seen["states"]]
    (host_pid,) = seen["hosts"].values()
    assert {result["ppid"] for result in results} == {host_pid}
    assert len({result["pid"] for result in results}) == len(results)
    assert host_pid not in {result["pid"] for result in results}
    # Each run imports the module afresh: the global counter starts from zero every time.
    assert [result["calls"] for result in results] == [1, 1, 1, 1]
    assert seen["leak"].result["result"] == {"env": None, "state_loaded": False}


def test_a_dead_host_is_replaced() -> None:
    async def scenario() -> tuple[int, int, Any]:
        runner = PythonRunner()
        try:
            await runner.run(make_request("constant"), NullEvents())
            (first,) = runner.hosts.host_pids().values()
            os.kill(first, signal.SIGKILL)
            while runner.hosts.host_pids():
                await asyncio.sleep(0.01)
            outcome = await runner.run(make_request("state"), NullEvents())
            (second,) = runner.hosts.host_pids().values()
            return first, second, outcome
        finally:
            await runner.aclose()

    first, second, outcome = asyncio.run(scenario())
    assert first != second
    assert outcome.status is RunStatus.SUCCEEDED
    assert outcome.result["result"]["ppid"] == second


def test_falls_back_to_a_cold_process_when_no_host_can_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def no_host(python: str, env: Any) -> Any:
        raise OSError("no host today")

    monkeypatch.setattr(WarmHost, "start", no_host)

    async def scenario() -> Any:
        runner = PythonRunner()
        try:
            return await runner.run(make_request("state"), NullEvents())
        finally:
            await runner.aclose()

    outcome = asyncio.run(scenario())
    assert outcome.status is RunStatus.SUCCEEDED
    assert outcome.result["result"]["ppid"] == os.getpid()


def test_the_host_dies_with_the_engine() -> None:
    engine = textwrap.dedent(
        """
        import asyncio, os
        from packhorse.runners.base import NullEvents
        from packhorse.runners.python import PythonRunner
        from tests.runners.conftest import make_request

        async def main():
            runner = PythonRunner()
            await runner.run(make_request("constant"), NullEvents())
            (host,) = runner.hosts._hosts.values()
            print(host.pid, host.folder, flush=True)
            os._exit(0)  # the engine dies without stopping anything

        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", engine], capture_output=True, text=True, timeout=60, check=True
    )
    pid, folder = done.stdout.split()
    host_pid = int(pid)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (_running(host_pid) or os.path.exists(folder)):
        time.sleep(0.05)
    assert not _running(host_pid)
    assert not os.path.exists(folder)  # the host removed its socket on the way out


def test_aclose_stops_the_host_and_removes_its_socket() -> None:
    async def scenario() -> tuple[int, str]:
        runner = PythonRunner()
        await runner.run(make_request("constant"), NullEvents())
        (host,) = runner.hosts._hosts.values()
        await runner.aclose()
        return host.pid, host.folder

    host_pid, folder = asyncio.run(scenario())
    assert not _running(host_pid)
    assert not os.path.exists(folder)


def test_a_spare_child_killed_while_it_waits_is_replaced() -> None:
    async def scenario() -> tuple[int, list[int], Any]:
        runner = PythonRunner()
        try:
            await runner.run(make_request("constant"), NullEvents())
            (host_pid,) = runner.hosts.host_pids().values()
            spares = await _wait_for_children(host_pid)
            for spare in spares:
                with contextlib.suppress(ProcessLookupError):  # it may have gone already
                    os.kill(spare, signal.SIGKILL)
            while any(_running(spare) for spare in spares):  # a zombie has closed its socket
                await asyncio.sleep(0.01)
            outcome = await runner.run(make_request("state"), NullEvents())
            return host_pid, spares, outcome
        finally:
            await runner.aclose()

    host_pid, spares, outcome = asyncio.run(scenario())
    assert outcome.status is RunStatus.SUCCEEDED
    assert outcome.result["result"]["ppid"] == host_pid  # still warm
    assert outcome.result["result"]["pid"] not in spares


@pytest.mark.parametrize(("mode", "code"), [("hard_exit_5", 5), ("killed", -9), ("exit_3", 3)])
def test_exit_codes_reported_or_reaped(mode: str, code: int) -> None:
    # A child reports its exit code as its last act; one that cannot (os._exit, a signal) has
    # it read when the host reaps it.
    async def scenario() -> Any:
        runner = PythonRunner()
        try:
            return [await runner.run(make_request("returns", {"mode": mode}), NullEvents())]
        finally:
            await runner.aclose()

    (outcome,) = asyncio.run(scenario())
    assert outcome.status is RunStatus.FAILED
    assert outcome.result["exit_code"] == code


async def _wait_for_children(parent: int) -> list[int]:
    """The live children of ``parent`` (the host's spare, forked once it is idle)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path("/proc", entry, "stat").read_text()
                except OSError:
                    continue
                fields = stat.rsplit(")", 1)[1].split()
                if int(fields[1]) == parent and fields[0] != "Z":
                    found.append(int(entry))
        if found:
            return found
        await asyncio.sleep(0.01)
    raise AssertionError("the host forked no spare child")


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


async def _median_latency(runner: PythonRunner) -> float:
    request = make_request("constant")
    await runner.run(request, NullEvents())  # the warm host starts on first use
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        outcome = await runner.run(request, NullEvents())
        timings.append(time.perf_counter() - started)
        assert outcome.result["result"] == 1
    return statistics.median(timings)


@pytest.mark.slow
def test_warm_latency_is_at_most_a_third_of_cold() -> None:
    async def scenario() -> tuple[float, float]:
        cold, warm = PythonRunner(warm=False), PythonRunner(warm=True)
        try:
            return await _median_latency(cold), await _median_latency(warm)
        finally:
            await warm.aclose()

    cold, warm = asyncio.run(scenario())
    print(f"python-script median latency: cold {cold * 1000:.1f} ms, warm {warm * 1000:.1f} ms")
    # The requirement: at most a third. Measured ratios are near a tenth, which leaves margin.
    assert warm <= cold / 3, (cold, warm)


def test_concurrent_executions_share_the_host() -> None:
    async def scenario() -> tuple[list[Any], dict[str, int]]:
        runner = PythonRunner()
        try:
            await runner.run(make_request("constant"), NullEvents())
            outcomes = await asyncio.gather(
                *(runner.run(make_request("state"), NullEvents()) for _ in range(6))
            )
            return list(outcomes), runner.hosts.host_pids()
        finally:
            await runner.aclose()

    outcomes, hosts = asyncio.run(scenario())
    (host_pid,) = hosts.values()
    results = [outcome.result["result"] for outcome in outcomes]
    assert all(outcome.status is RunStatus.SUCCEEDED for outcome in outcomes)
    assert {result["ppid"] for result in results} == {host_pid}
    assert len({result["pid"] for result in results}) == 6


def test_a_host_dying_mid_run_fails_the_run_and_kills_its_group(tmp_path: Any) -> None:
    pid_file = tmp_path / "pids"

    async def scenario() -> Any:
        runner = PythonRunner()
        try:
            task = asyncio.create_task(
                runner.run(make_request("sleeper", {"pid_file": str(pid_file)}), NullEvents())
            )
            while not pid_file.exists():
                await asyncio.sleep(0.01)
            (host_pid,) = runner.hosts.host_pids().values()
            os.kill(host_pid, signal.SIGKILL)
            return await asyncio.wait_for(task, 20)
        finally:
            await runner.aclose()

    outcome = asyncio.run(scenario())
    assert outcome.status is RunStatus.FAILED
    assert "the warm host died" in outcome.result["error"]
    action_pid, grandchild_pid = map(int, pid_file.read_text().split())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (_running(action_pid) or _running(grandchild_pid)):
        time.sleep(0.02)
    assert not _running(action_pid)
    assert not _running(grandchild_pid)


def test_an_interpreter_whose_host_never_works_runs_cold_for_a_while(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from packhorse.runners import pyhost

    monkeypatch.setattr(pyhost, "HOST_MODULE", "_packhorse_pack.no_such_host")
    starts = []
    original = pyhost.WarmHost.start

    async def counted(python: str, env: Any) -> Any:
        starts.append(python)
        return await original(python, env)

    monkeypatch.setattr(pyhost.WarmHost, "start", counted)

    async def scenario() -> list[Any]:
        runner = PythonRunner()
        try:
            return [await runner.run(make_request("state"), NullEvents()) for _ in range(3)]
        finally:
            await runner.aclose()

    outcomes = asyncio.run(scenario())
    assert all(outcome.status is RunStatus.SUCCEEDED for outcome in outcomes)
    assert {outcome.result["result"]["ppid"] for outcome in outcomes} == {os.getpid()}
    assert len(starts) == 1  # one failed host, then cold processes without retrying
