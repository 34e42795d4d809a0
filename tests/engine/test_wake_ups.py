"""What each role of ``packhorse up`` listens to on PostgreSQL: only the kinds of work its
loops run. A worker node is not woken by every status change and output chunk of the site
(``log``), which only the event stream and execution triggers of a node serving clients use."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.conftest import Prepare

from packhorse.api import stream
from packhorse.engine.runtime import build_runtime
from packhorse.settings import load_settings
from packhorse.storage import notifications as kind
from packhorse.wake_ups import wake_ups


def test_each_role_listens_only_to_the_work_its_loops_run(
    instance_home: Path, postgres_url: str, prepared: Prepare
) -> None:
    prepared(instance_home, postgres_url)
    settings = load_settings(instance_home).with_overrides(database_url=postgres_url)
    runtime = build_runtime(settings, warm_python=False)
    events = stream.broadcaster(settings, runtime)
    loop = asyncio.new_event_loop()
    heard: dict[str, frozenset[str]] = {}
    try:
        for roles in ("all", "api", "worker", "sensors", "timers"):
            listener = wake_ups(runtime, events, loop, roles=frozenset({roles}))
            assert listener is not None
            listener.stop()
            heard[roles] = listener.kinds
    finally:
        loop.close()
        asyncio.run(runtime.aclose())
    work = {kind.EXECUTIONS, kind.TRIGGER_INSTANCES, kind.WORKFLOW_EVENTS}
    assert heard == {
        "all": {*work, kind.LOG},
        "api": {kind.TRIGGER_INSTANCES, kind.LOG},
        "worker": work,
        "sensors": frozenset(),
        "timers": frozenset(),
    }
