"""An execution requested from another thread (an API handler, the rules engine) wakes the
worker at once instead of waiting for its next poll."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

from packhorse.engine.runtime import build_runtime
from packhorse.settings import load_settings


def test_a_request_from_another_thread_starts_before_the_next_poll(instance_home: Path) -> None:
    runtime = build_runtime(load_settings(instance_home), slots=2)
    worker = runtime.worker
    worker.settings = replace(worker.settings, poll_seconds=30.0)  # a poll would never come

    async def scenario() -> float:
        stop = asyncio.Event()
        loop = asyncio.create_task(worker.run(stop))
        await asyncio.sleep(0.2)  # the worker has polled once and sleeps
        requested = time.monotonic()
        execution = await asyncio.to_thread(runtime.executions.request, "core.noop", {}, user="ops")
        while not runtime.executions.get(execution.id).completed:
            assert time.monotonic() - requested < 10, "the worker was not woken"
            await asyncio.sleep(0.01)
        took = time.monotonic() - requested
        stop.set()
        await loop
        return took

    assert asyncio.run(scenario()) < 5.0  # far below the 30 s poll
