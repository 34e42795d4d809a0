"""The intake of an instance made of several processes on one PostgreSQL database (scale-out):
a drain reaches every process through the database, each acknowledges it (at once: the
change is notified), queued work waits until the intake opens again, and a process that
stops is no longer waited for."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from packhorse import intake_wiring
from packhorse.engine.runtime import build_runtime
from packhorse.model.execution import Status
from packhorse.model.intake import IntakeStatus
from packhorse.settings import load_settings
from tests.conftest import Prepare
from tests.test_scale_out import worker
from tests.test_up import free_port, wait_for

pytestmark = pytest.mark.slow


def _until(condition: object, timeout: float = 20) -> float:
    """Seconds until ``condition()`` holds."""
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        assert time.monotonic() - started < timeout, "condition not met in time"
        time.sleep(0.005)
    return time.monotonic() - started


def test_every_process_of_a_scaled_out_instance_applies_a_drain(
    instance_home: Path, postgres_url: str, prepared: Prepare
) -> None:
    store = prepared(instance_home, postgres_url)
    settings = load_settings(instance_home).with_overrides(database_url=postgres_url)
    service = intake_wiring.handover_service(settings)
    ports = [free_port(), free_port()]
    processes = [worker(instance_home, postgres_url, port) for port in ports]
    try:
        for port, process in zip(ports, processes, strict=True):
            wait_for(f"http://127.0.0.1:{port}/ready", process)
        _until(lambda: len(service.acknowledgements()) == 2)

        state = service.set_intake(IntakeStatus.DRAINING, successor="http://next")
        seconds = _until(lambda: not service.waiting_for(state.generation))
        print(f"\nboth processes applied the drain in {seconds * 1000:.0f} ms")
        assert seconds < 0.25  # notified: sooner than the 0.25 s poll
        assert [a.generation for a in service.acknowledgements()] == [state.generation] * 2

        runtime = build_runtime(settings, warm_python=False)
        try:
            queued = runtime.executions.request("core.noop", {}, user="stanley").id
        finally:
            asyncio.run(runtime.aclose())
        time.sleep(1.0)  # workers wake on the request within milliseconds: none may start it
        waiting = store.get(queued)
        assert waiting is not None and waiting.status is Status.SCHEDULED
        assert [e.id for e in service.outgoing().executions] == [queued]

        service.set_intake(IntakeStatus.OPEN)
        _until(lambda: (found := store.get(queued)) is not None and found.completed)

        processes[0].send_signal(signal.SIGTERM)
        assert processes[0].wait(30) == 0
        _until(lambda: len(service.acknowledgements()) == 1)  # it left: not waited for
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(30)
