"""Helpers of the runner tests: requests for the test pack, events that record."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from packhorse.runners.base import RunnerResult, RunRequest
from packhorse.runners.datastore_channel import DatastoreChannel, InMemoryDatastoreChannel
from packhorse.runners.python import PythonRunner

PACK = Path(__file__).parent / "packs" / "pyrunner"
T = TypeVar("T")


def make_request(
    action: str,
    parameters: Mapping[str, Any] | None = None,
    *,
    config: Mapping[str, Any] | None = None,
    timeout: float | None = 30,
    runner_parameters: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    context: Mapping[str, Any] | None = None,
    pack_path: Path = PACK,
) -> RunRequest:
    return RunRequest(
        execution_id=f"ex-{action}",
        action_ref=f"pyrunner.{action}",
        pack="pyrunner",
        runner_type="python-script",
        pack_path=str(pack_path),
        entry_point=str(pack_path / "actions" / f"{action}.py"),
        runner_parameters=dict(runner_parameters or {}),
        action_parameters=dict(parameters or {}),
        parameter_schema={},
        config=dict(config or {}),
        context=dict(context or {"user": "stanley"}),
        env=dict(env or {}),
        timeout=timeout,
    )


@dataclass
class RecordingEvents:
    pids: list[int] = field(default_factory=list)
    chunks: list[tuple[str, str]] = field(default_factory=list)

    def started(self, pid: int) -> None:
        self.pids.append(pid)

    def output(self, stream: str, text: str) -> None:
        self.chunks.append((stream, text))


def run_once(
    request: RunRequest, *, warm: bool, datastore: DatastoreChannel | None = None
) -> tuple[RunnerResult, RecordingEvents]:
    """One execution on a runner of its own (stopped afterwards)."""

    async def scenario() -> tuple[RunnerResult, RecordingEvents]:
        runner = PythonRunner(datastore, warm=warm)
        events = RecordingEvents()
        try:
            return await runner.run(request, events), events
        finally:
            await runner.aclose()

    return asyncio.run(scenario())


class EngineLoop:
    """An event loop on a thread of its own that lives for the whole session, as the
    engine's does: runners (and their warm hosts) are shared by the tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class Runners:
    engine: EngineLoop
    datastore: InMemoryDatastoreChannel
    by_warmth: dict[bool, PythonRunner]


@pytest.fixture(scope="session")
def runners() -> Iterator[Runners]:
    engine = EngineLoop()
    datastore = InMemoryDatastoreChannel()
    shared = Runners(
        engine,
        datastore,
        {False: PythonRunner(datastore, warm=False), True: PythonRunner(datastore, warm=True)},
    )
    yield shared
    for runner in shared.by_warmth.values():
        engine.call(runner.aclose())
    engine.close()


Execute = Callable[[RunRequest], tuple[RunnerResult, RecordingEvents]]


@pytest.fixture(params=[False, True], ids=["cold", "warm"])
def warm(request: pytest.FixtureRequest) -> bool:
    """Run the test once on a cold process and once through a warm host."""
    return bool(request.param)


@pytest.fixture
def execute(runners: Runners, warm: bool) -> Execute:
    """Run one request on the session's cold or warm runner."""
    runner = runners.by_warmth[warm]

    def run(request: RunRequest) -> tuple[RunnerResult, RecordingEvents]:
        events = RecordingEvents()
        return runners.engine.call(runner.run(request, events)), events

    return run
