"""Action policies end to end: ``packhorse run --async`` through the real entry point, a real
worker (in-process) on the instance's SQLite queue, real shell processes. ``packhorse gc``."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from packhorse.engine.observer import NoObserver
from packhorse.engine.runtime import Runtime, build_runtime
from packhorse.model.execution import Execution, Status
from packhorse.settings import load_settings
from packhorse.storage.executions import ExecutionFilter
from tests.conftest import CliResult

Cli = Callable[..., CliResult]
FIXTURE = Path(__file__).parents[1] / "fixtures" / "engine_packs" / "policed"
ISO = "%Y-%m-%dT%H:%M:%S.%fZ"


@pytest.fixture
def home(instance_home: Path, cli: Cli) -> Path:
    shutil.copytree(FIXTURE, instance_home / "packs" / "policed")
    registered = cli("--home", instance_home, "pack", "register", "policed")
    assert registered.code == 0, registered.err
    return instance_home


def request(cli: Cli, home: Path, action: str, *parameters: str) -> dict[str, object]:
    result = cli("--home", home, "run", f"policed.{action}", *parameters, "--async", "--json")
    assert result.code == 0, result.err
    document: dict[str, object] = json.loads(result.out)
    return document


@asynccontextmanager
async def worker(home: Path, *, periodic_passes: bool = True) -> AsyncIterator[Runtime]:
    """A worker claiming from the instance's queue while the block runs."""
    runtime = build_runtime(load_settings(home), slots=4)
    runtime.worker.settings.poll_seconds = 0.05
    runtime.worker.periodic_passes = periodic_passes
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.worker.run(stop))
    try:
        yield runtime
    finally:
        stop.set()
        await task
        await runtime.aclose()


async def until(
    runtime: Runtime, condition: Callable[[list[Execution]], bool], what: str
) -> list[Execution]:
    """Poll the database (every execution, oldest first) until ``condition`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while loop.time() < deadline:
        executions = list(reversed(runtime.store.find(ExecutionFilter(limit=1000))))
        if condition(executions):
            return executions
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def status_of(executions: list[Execution], execution_id: object) -> Status:
    return next(e.status for e in executions if e.id == execution_id)


def moment(text: str | None) -> dt.datetime:
    assert text is not None
    return dt.datetime.strptime(text, ISO)


def test_concurrency_delay_runs_the_second_when_the_first_finishes(
    home: Path, cli: Cli, tmp_path: Path
) -> None:
    first = request(cli, home, "gate_delay", f"release={tmp_path / 'one'}", "tag=one")
    second = request(cli, home, "gate_delay", f"release={tmp_path / 'two'}", "tag=two")
    assert (first["status"], second["status"]) == ("scheduled", "delayed")

    async def scenario() -> None:
        async with worker(home) as runtime:
            await until(
                runtime, lambda ex: status_of(ex, first["id"]) is Status.RUNNING, "first runs"
            )
            # a few scheduler passes while the first holds the only slot
            for _ in range(3):
                runtime.worker._schedule()
            executions = await until(runtime, lambda ex: True, "a read")
            assert status_of(executions, second["id"]) is Status.DELAYED
            (tmp_path / "two").touch()  # the second could finish at once, were it started
            (tmp_path / "one").touch()
            await until(
                runtime,
                lambda ex: status_of(ex, second["id"]) is Status.SUCCEEDED,
                "the second to run",
            )

    asyncio.run(scenario())
    one, two = (
        json.loads(cli("--home", home, "execution", "get", str(e["id"]), "--json").out)
        for e in (first, second)
    )
    assert [entry["status"] for entry in two["log"]] == [
        "requested",
        "delayed",
        "scheduled",
        "running",
        "succeeded",
    ]
    assert one["end_timestamp"] <= two["start_timestamp"]
    assert two["result"]["stdout"] == "two"


def test_a_worker_without_periodic_passes_schedules_the_slot_it_freed(
    home: Path, cli: Cli, tmp_path: Path
) -> None:
    """Only the process holding the ``scheduler`` singleton runs periodic passes; the worker
    that ends an execution of a policed action schedules the next one itself, at once."""
    first = request(cli, home, "gate_delay", f"release={tmp_path / 'one'}", "tag=one")
    second = request(cli, home, "gate_delay", f"release={tmp_path / 'two'}", "tag=two")
    assert (first["status"], second["status"]) == ("scheduled", "delayed")

    async def scenario() -> None:
        async with worker(home, periodic_passes=False) as runtime:
            await until(
                runtime, lambda ex: status_of(ex, first["id"]) is Status.RUNNING, "first runs"
            )
            (tmp_path / "two").touch()
            scheduled = []
            runtime.store.schedule = (  # type: ignore[method-assign]
                lambda *a, _schedule=runtime.store.schedule, **k: (
                    scheduled.append(a[0]) or _schedule(*a, **k)
                )
            )
            runtime.worker._schedule()  # no periodic pass here
            assert scheduled == []
            (tmp_path / "one").touch()
            await until(
                runtime,
                lambda ex: status_of(ex, second["id"]) is Status.SUCCEEDED,
                "the second to run",
            )
            # The finishing worker's own passes, one per execution that ended (its slot).
            assert scheduled == ["policed.gate_delay"] * 2

    asyncio.run(scenario())


def test_concurrency_cancel_cancels_over_the_threshold(
    home: Path, cli: Cli, tmp_path: Path
) -> None:
    first = request(cli, home, "gate_cancel", f"release={tmp_path / 'go'}")
    second = request(cli, home, "gate_cancel", f"release={tmp_path / 'go'}")
    assert first["status"] == "scheduled"
    assert second["status"] == "canceled"
    assert second["result"] == {
        "message": (
            "Canceled by policy policed.gate_cancel: the concurrency threshold of 1 is reached."
        )
    }
    assert [entry["status"] for entry in second["log"]] == ["requested", "canceled"]  # type: ignore[attr-defined]


def test_a_cancel_by_policy_is_told_to_the_observer(home: Path, tmp_path: Path) -> None:
    runtime = build_runtime(load_settings(home), slots=1)
    ended: list[tuple[str, Status, float | None]] = []

    class Recorder(NoObserver):
        def execution_finished(
            self, runner: str, status: Status, seconds: float | None, *, workflow_task: bool
        ) -> None:
            ended.append((runner, status, seconds))

    assert runtime.worker.scheduler is not None
    runtime.worker.scheduler.observer = Recorder()
    parameters = {"release": str(tmp_path / "go")}
    first = runtime.executions.request("policed.gate_cancel", parameters, user="admin")
    second = runtime.executions.request("policed.gate_cancel", parameters, user="admin")
    assert runtime.executions.get(second.id).status is Status.CANCELED
    assert runtime.executions.get(first.id).status is Status.SCHEDULED
    assert ended == [(second.runner_type, Status.CANCELED, None)]


def test_concurrency_by_attribute_counts_per_host(home: Path, cli: Cli, tmp_path: Path) -> None:
    a1 = request(cli, home, "gate_attr", f"release={tmp_path / 'a1'}", "host=a")
    b1 = request(cli, home, "gate_attr", f"release={tmp_path / 'b1'}", "host=b")
    a2 = request(cli, home, "gate_attr", f"release={tmp_path / 'a2'}", "host=a")
    assert [a1["status"], b1["status"], a2["status"]] == ["scheduled", "scheduled", "delayed"]
    for name in ("a1", "b1", "a2"):
        (tmp_path / name).touch()

    async def scenario() -> None:
        async with worker(home) as runtime:
            await until(
                runtime,
                lambda ex: all(
                    e.status is Status.SUCCEEDED for e in ex if e.action_ref.endswith("gate_attr")
                ),
                "all three to succeed",
            )

    asyncio.run(scenario())


def test_retry_on_failure_makes_exactly_max_retry_count_retries_after_the_delay(
    home: Path, cli: Cli
) -> None:
    original = request(cli, home, "flaky")

    async def scenario() -> list[Execution]:
        async with worker(home) as runtime:
            executions = await until(
                runtime,
                lambda ex: len(ex) >= 3 and all(e.status is Status.FAILED for e in ex),
                "the original and two retries to fail",
            )
            runtime.worker._schedule()  # one more pass: nothing new is scheduled
            return executions

    executions = asyncio.run(scenario())
    settled = cli("--home", home, "execution", "list", "--json")
    assert len(json.loads(settled.out)) == 3
    first, retry1, retry2 = executions
    assert first.id == original["id"]
    for previous, retry, count in ((first, retry1, 1), (retry1, retry2, 2)):
        assert retry.parameters == previous.parameters
        assert retry.context["user"] == "admin"
        assert retry.context["policies"] == {
            "retry": {
                "applied_policy": "policed.flaky_retry",
                "retry_count": count,
                "retried_liveaction_id": previous.id,
            }
        }
        assert retry.run_after == (
            moment(previous.end_timestamp) + dt.timedelta(seconds=1)
        ).strftime(ISO)
        assert moment(retry.start_timestamp) >= moment(previous.end_timestamp) + dt.timedelta(
            seconds=1
        )


def dead_worker_name() -> str:
    """A worker name of this host whose process is gone."""
    process = subprocess.Popen(["true"])
    process.wait()
    return f"{socket.gethostname()}:{process.pid}:deadbeef"


def test_an_abandoned_execution_is_retried_when_the_policy_retries_failures(
    home: Path, cli: Cli
) -> None:
    original = request(cli, home, "sturdy")

    async def scenario() -> list[Execution]:
        runtime = build_runtime(load_settings(home), slots=1)
        # a worker claimed and started it, then died
        now = runtime.worker._now()
        claimed = runtime.store.claim_one(
            str(original["id"]), dead_worker_name(), now=now, lease_until=now
        )
        assert claimed is not None
        assert runtime.store.transition(claimed.id, Status.RUNNING, now=now, attempt=1)
        assert [e.id for e in runtime.recover()] == [original["id"]]
        await runtime.aclose()
        async with worker(home) as running:
            return await until(
                running,
                lambda ex: len(ex) == 2 and ex[1].status is Status.SUCCEEDED,
                "the retry to succeed",
            )

    abandoned, retry = asyncio.run(scenario())
    assert abandoned.status is Status.ABANDONED
    assert retry.context["policies"]["retry"]["retried_liveaction_id"] == abandoned.id
    assert retry.result["stdout"] == "fine"


def test_gc_deletes_only_old_completed_executions(home: Path, cli: Cli) -> None:
    runtime = build_runtime(load_settings(home), slots=1)
    store = runtime.store
    old = "2020-01-01T00:00:00.000000Z"
    for name, final in (("old-done", Status.SUCCEEDED), ("old-running", Status.RUNNING)):
        store.create(
            Execution(
                id=name,
                action_ref="core.noop",
                runner_type="noop",
                status=Status.REQUESTED,
                parameters={},
                context={},
                created_at=old,
            ),
            then=Status.SCHEDULED,
        )
        assert store.transition(name, Status.RUNNING, now=old)
        if final is not Status.RUNNING:
            assert store.transition(name, final, now=old)
    recent = request(cli, home, "flaky")
    store.transition(str(recent["id"]), Status.CANCELED, now=runtime.worker._now())

    dry = json.loads(cli("--home", home, "gc", "--dry-run", "--json").out)
    assert dry["executions"] == 1 and dry["dry_run"] is True
    assert store.get("old-done") is not None
    result = cli("--home", home, "gc")
    assert result.code == 0 and "Deleted 1 executions" in result.out
    assert store.get("old-done") is None
    assert store.get("old-running") is not None
    assert store.get(str(recent["id"])) is not None


def test_up_collects_garbage_in_the_background(home: Path) -> None:
    from packhorse.bootstrap import collect_periodically

    settings = load_settings(home)
    runtime = build_runtime(settings, slots=1)
    old = "2020-01-01T00:00:00.000000Z"
    runtime.store.create(
        Execution(
            id="ancient",
            action_ref="core.noop",
            runner_type="noop",
            status=Status.REQUESTED,
            parameters={},
            context={},
            created_at=old,
        ),
        then=Status.SCHEDULED,
    )
    assert runtime.store.transition("ancient", Status.CANCELED, now=old)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(collect_periodically(settings, stop, interval=60))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while runtime.store.get("ancient") is not None and loop.time() < deadline:
            await asyncio.sleep(0.02)
        stop.set()
        await task  # stops at once, not after the interval
        await runtime.aclose()

    asyncio.run(scenario())
    assert runtime.store.get("ancient") is None
