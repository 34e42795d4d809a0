"""The sensor container with real sensor processes (tests/fixtures/engine_packs/sensorpack) on a
real SQLite instance: dispatches stored as trigger instances, invalid ones dropped with a
warning, trigger changes sent when rules change, crashes restarted with backoff and shown by
``packhorse sensor list``, and stops that run ``cleanup()``."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from tests.conftest import CliResult

from packhorse import bootstrap
from packhorse.engine.datastore import DatastoreService
from packhorse.engine.events import EventService
from packhorse.engine.observer import NoObserver
from packhorse.engine.pack_datastore import ServiceDatastoreChannel
from packhorse.engine.sensor_plan import (
    SensorSettings,
    SensorState,
    TriggerChange,
    TriggerOp,
    plan_sensors,
    trigger_document,
)
from packhorse.engine.sensor_process import Dispatch, Ready, SensorMessage
from packhorse.engine.sensors import SensorContainer, list_statuses
from packhorse.errors import NotFound
from packhorse.model.content import Kind
from packhorse.model.events import SensorStatus, Trigger, TriggerInstance
from packhorse.settings import Settings, load_settings
from packhorse.storage.events import InstanceFilter, SqlEventStore
from packhorse.storage.ports import ContentRegistry

FIXTURE = Path(__file__).parents[1] / "fixtures" / "engine_packs" / "sensorpack"
FAST = SensorSettings(
    restart_delay=0.1,
    max_restart_delay=0.4,
    max_failures=3,
    stable_after=30.0,
    stop_grace=0.5,
    watch_interval=0.1,
)
ECHO = "sensorpack.EchoSensor"


@dataclass
class World:
    home: Path
    settings: Settings
    registry: ContentRegistry
    store: SqlEventStore
    events: EventService
    datastore: DatastoreService

    def container(
        self,
        *refs: str,
        settings: SensorSettings = FAST,
        venv: str = "",
        hold: Callable[[Collection[str]], Collection[str]] | None = None,
    ) -> SensorContainer:
        return SensorContainer(
            self.events,
            self.registry,
            self.store,
            config_for=bootstrap.config_resolver(self.settings, self.datastore),
            datastore=ServiceDatastoreChannel(self.datastore),
            home=self.home,
            system_user=self.settings.system_user,
            settings=settings,
            only=refs,
            venv_for=lambda pack: venv,
            hold=hold,
        )

    def instances(self, source: str, trigger_type: str | None = None) -> list[TriggerInstance]:
        found = self.store.find(InstanceFilter(trigger_type=trigger_type, limit=1000))
        return sorted((i for i in found if i.source == source), key=lambda i: (i.created_at, i.id))

    def status(self, ref: str) -> SensorStatus | None:
        return next((s for s in list_statuses(self.store) if s.ref == ref), None)

    def value(self, name: str) -> str | None:
        try:
            return str(self.datastore.get_value(name).value)
        except NotFound:
            return None

    def register(self) -> None:
        outcome = bootstrap.register_instance_packs(self.settings, refs=["sensorpack"])
        assert outcome.ok, [str(d) for d in outcome.diagnostics]

    def edit(self, relative: str, old: str, new: str) -> None:
        path = self.home / "packs" / "sensorpack" / relative
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new))


@pytest.fixture
def world(instance_home: Path) -> World:
    shutil.copytree(FIXTURE, instance_home / "packs" / "sensorpack")
    settings = load_settings(instance_home)
    registry = bootstrap.content_registry(settings)
    store = SqlEventStore(bootstrap.database_engine(settings))
    created = World(
        home=instance_home,
        settings=settings,
        registry=registry,
        store=store,
        events=EventService(store, registry),
        datastore=bootstrap.datastore_service(settings),
    )
    created.register()
    return created


async def until(condition: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running(container: SensorContainer) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    task = asyncio.create_task(container.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def is_running(world: World, ref: str) -> bool:
    status = world.status(ref)
    return status is not None and status.state == SensorState.RUNNING


def moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def gaps(instances: Sequence[TriggerInstance]) -> list[float]:
    times = [moment(i.created_at) for i in instances]
    return [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(times)]


def test_dispatches_are_stored_with_the_sensor_as_source_and_stop_runs_cleanup(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="packhorse.sensors")
    source = f"sensor:{ECHO}"

    async def scenario() -> int:
        async with running(world.container(ECHO)):
            await until(lambda: world.instances(source), "the start dispatch")
            await until(lambda: is_running(world, ECHO), "the running state")
            status = world.status(ECHO)
            assert status is not None and status.pid is not None
            return status.pid

    pid = asyncio.run(scenario())
    [started] = world.instances(source)
    assert started.trigger == "sensorpack.echo" and started.trigger_type == "sensorpack.echo"
    # The pack config (a schema default) and the system user reach the sensor.
    assert dict(started.payload) == {
        "phase": "start",
        "greeting": "hello from the config",
        "user": "stanley",
        "python": f"{sys.version_info[0]}.{sys.version_info[1]}",
    }
    assert started.trace_tag == "echo-start"
    # Local datastore names get StackStorm's <pack>.<Class>: prefix; cleanup() ran at the stop.
    assert world.value("sensorpack.EchoSensor:started") == "yes"
    assert world.value("sensorpack.EchoSensor:cleaned") == "yes"
    stopped = world.status(ECHO)
    assert stopped is not None and stopped.state == "stopped" and stopped.pid is None
    assert not alive(pid)
    # The sensor's logger goes to Packhorse's log under the sensor's ref.
    assert f"[{ECHO}] echo sensor set up" in caplog.messages
    # StackStorm's container triggers.
    [spawn] = world.instances("sensor-container", "core.st2.sensor.process_spawn")
    assert spawn.payload["id"] == "EchoSensor" and spawn.payload["pid"] == pid


def test_a_polling_sensor_polls_at_its_interval(world: World) -> None:
    source = "sensor:sensorpack.Poller"

    async def scenario() -> None:
        async with running(world.container("sensorpack.Poller")):
            await until(lambda: len(world.instances(source)) >= 4, "four polls")

    asyncio.run(scenario())
    ticks = world.instances(source)
    counts = [t.payload["count"] for t in ticks]
    assert counts == list(range(1, len(ticks) + 1))
    assert {t.payload["interval"] for t in ticks} == {0.1}
    polled_at = [t.payload["at"] for t in ticks]  # the sensor's clock: the parent may lag
    assert all(later - earlier >= 0.1 for earlier, later in itertools.pairwise(polled_at))
    assert int(world.value("sensorpack.Poller:count") or 0) >= len(ticks)


def test_an_invalid_payload_and_an_unknown_trigger_are_dropped_with_a_warning(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="packhorse.sensors")
    source = "sensor:sensorpack.Invalid"

    async def scenario() -> None:
        async with running(world.container("sensorpack.Invalid")):
            await until(lambda: world.instances(source), "the valid dispatch")
            assert is_running(world, "sensorpack.Invalid")  # the sensor got no exception

    asyncio.run(scenario())
    [valid] = world.instances(source)
    assert dict(valid.payload) == {"phase": "valid"}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        "[sensorpack.Invalid] dropped a dispatch of sensorpack.echo" in w and "payload_schema" in w
        for w in warnings
    ), warnings
    assert any("dropped a dispatch of sensorpack.nope" in w for w in warnings), warnings


def test_rules_being_enabled_and_disabled_reach_the_running_sensor(world: World) -> None:
    source = f"sensor:{ECHO}"
    bound = Trigger("sensorpack.echo", {"topic": "alpha"})

    def phase(name: str) -> list[TriggerInstance]:
        return [i for i in world.instances(source) if i.payload.get("phase") == name]

    async def scenario() -> tuple[float, int, int]:
        loop = asyncio.get_running_loop()
        # The default watch interval: a rule takes effect within 2 s.
        default = replace(FAST, watch_interval=SensorSettings().watch_interval)
        async with running(world.container(ECHO, settings=default)):
            await until(lambda: is_running(world, ECHO), "the running state")
            first = world.status(ECHO)
            assert first is not None and first.pid is not None
            world.edit("rules/alpha.yaml", "enabled: false", "enabled: true")
            world.register()
            enabled_at = loop.time()
            await until(lambda: phase("add"), "add_trigger", timeout=5)
            delay = loop.time() - enabled_at
            world.edit("rules/alpha.yaml", "enabled: true", "enabled: false")
            world.register()
            await until(lambda: phase("remove"), "remove_trigger", timeout=5)
            last = world.status(ECHO)
            assert last is not None and last.pid is not None
            return delay, first.pid, last.pid

    delay, first_pid, last_pid = asyncio.run(scenario())
    assert delay < 2.0
    assert first_pid == last_pid  # rule changes do not restart the sensor
    [added] = phase("add")
    # The sensor dispatched to the trigger dict it got, so the instance is for that trigger.
    assert added.trigger == bound.ref and added.trigger_type == "sensorpack.echo"
    trigger = dict(added.payload["trigger"])
    assert trigger == trigger_document(bound)
    assert set(trigger) == {"id", "uid", "ref", "name", "pack", "type", "parameters"}
    assert trigger["ref"] == f"sensorpack.{trigger['name']}"
    assert trigger["parameters"] == {"topic": "alpha"} and trigger["pack"] == "sensorpack"
    [removed] = phase("remove")
    assert removed.payload["ref"] == bound.ref


def test_a_changed_sensor_is_restarted_and_a_disabled_one_stopped(world: World) -> None:
    async def scenario() -> tuple[int, int]:
        async with running(world.container(ECHO)):
            await until(lambda: is_running(world, ECHO), "the running state")
            first = world.status(ECHO)
            assert first is not None and first.pid is not None
            world.edit("sensors/echo_sensor.yaml", "when it is cleaned up", "at its cleanup")
            world.register()

            def restarted() -> bool:
                status = world.status(ECHO)
                return is_running(world, ECHO) and status is not None and status.pid != first.pid

            await until(restarted, "the restart")
            second = world.status(ECHO)
            assert second is not None and second.pid is not None
            assert world.value("sensorpack.EchoSensor:cleaned") == "yes"  # the old one's cleanup
            world.datastore.delete_value("sensorpack.EchoSensor:cleaned")
            world.edit("sensors/echo_sensor.yaml", "class_name:", "enabled: false\nclass_name:")
            world.register()

            def stopped() -> bool:
                status = world.status(ECHO)
                return status is not None and status.state == SensorState.STOPPED

            await until(stopped, "the stop")
            assert world.value("sensorpack.EchoSensor:cleaned") == "yes"
            return first.pid, second.pid

    first_pid, second_pid = asyncio.run(scenario())
    assert not alive(first_pid) and not alive(second_pid)


def test_a_sensor_runs_where_it_is_held_and_moves_when_the_hold_does(world: World) -> None:
    """Two containers (two processes sharing a database): the one holding the sensor's lock
    runs it; when the lock moves (its holder died), the other starts it."""
    owner = {"who": "a"}

    def hold_for(name: str) -> Callable[[Collection[str]], Collection[str]]:
        return lambda refs: set(refs) if owner["who"] == name else set()

    async def scenario() -> tuple[int, int]:
        a, b = world.container(ECHO, hold=hold_for("a")), world.container(ECHO, hold=hold_for("b"))
        async with running(a), running(b):
            await until(lambda: is_running(world, ECHO), "the running state")
            first = world.status(ECHO)
            assert first is not None and first.pid is not None
            await asyncio.sleep(0.3)  # a few watch intervals: b does not start it as well
            assert world.status(ECHO) == first
            owner["who"] = ""  # a's holder died: its sensor goes with it
            await until(lambda: not alive(first.pid or 0), "the stop")
            owner["who"] = "b"  # b takes the lock

            def moved() -> bool:
                status = world.status(ECHO)
                return is_running(world, ECHO) and status is not None and status.pid != first.pid

            await until(moved, "the takeover")
            second = world.status(ECHO)
            assert second is not None and second.pid is not None
            return first.pid, second.pid

    first_pid, second_pid = asyncio.run(scenario())
    assert not alive(first_pid) and not alive(second_pid)


class Recorder(NoObserver):
    """Keeps the refs of restarted sensors."""

    def __init__(self, restarted: list[str]) -> None:
        self.restarted = restarted

    def sensor_restarted(self, sensor: str) -> None:
        self.restarted.append(sensor)


def test_a_crashing_sensor_is_restarted_with_backoff_then_left_failed_visibly(
    world: World, cli: Callable[..., CliResult]
) -> None:
    crasher = "sensorpack.Crasher"
    container = world.container(crasher)
    restarted: list[str] = []
    container.observer = Recorder(restarted)

    def failed() -> bool:
        status = world.status(crasher)
        return status is not None and status.state == SensorState.FAILED

    def spawns() -> list[TriggerInstance]:
        found = world.instances("sensor-container", "core.st2.sensor.process_spawn")
        return [i for i in found if i.payload["ref"] == crasher]

    async def scenario() -> None:
        async with running(container):
            await until(failed, "the failed state")
            status = world.status(crasher)
            assert status is not None
            assert (status.restarts, status.pid) == (2, None)
            assert restarted == [crasher, crasher]  # the metrics' sensor restarts
            assert status.last_error is not None
            assert "setup method raised an exception: boom on start" in status.last_error
            assert "RuntimeError" in status.last_error  # the traceback
            # Listed by another process, table and JSON.
            table = cli("--home", world.home, "sensor", "list")
            assert table.code == 0, table.err
            [row] = [line for line in table.out.splitlines() if line.startswith(crasher)]
            assert "failed" in row.split()
            listed = json.loads(cli("--home", world.home, "sensor", "list", "--json").out)
            [record] = [r for r in listed if r["ref"] == crasher]
            assert record["status"]["state"] == "failed"
            assert record["status"]["restarts"] == 2
            assert "boom on start" in record["status"]["last_error"]
            # No more restarts until a reload, which tries again from scratch.
            assert len(spawns()) == 3
            container.reload()
            await until(lambda: len(spawns()) > 3, "the restart after the reload")

    asyncio.run(scenario())
    first_three = spawns()[:3]
    delays = gaps(first_three)
    assert delays[0] >= 0.1 and delays[1] >= 0.2  # 0.1 s, then doubled
    exits = [
        i
        for i in world.instances("sensor-container", "core.st2.sensor.process_exit")
        if i.payload["ref"] == crasher
    ]
    assert len(exits) >= 3 and {i.payload["exit_code"] for i in exits} == {1}


def test_a_sensor_that_ignores_the_stop_is_killed_after_the_grace_period(world: World) -> None:
    ref = "sensorpack.Stubborn"

    async def scenario() -> tuple[int, float]:
        loop = asyncio.get_running_loop()
        container = world.container(ref, settings=replace(FAST, stop_grace=0.3))
        stop = asyncio.Event()
        task = asyncio.create_task(container.run(stop))
        await until(lambda: is_running(world, ref), "the running state")
        status = world.status(ref)
        assert status is not None and status.pid is not None
        started = loop.time()
        stop.set()
        await asyncio.wait_for(task, 5)
        return status.pid, loop.time() - started

    pid, took = asyncio.run(scenario())
    assert 0.3 <= took < 2.0
    assert not alive(pid)
    stopped = world.status(ref)
    assert stopped is not None and stopped.state == "stopped"


@pytest.mark.slow
def test_sensors_run_on_the_interpreter_of_their_packs_virtualenv(
    world: World, tmp_path: Path
) -> None:
    from tests.runners.test_python_interpreters import find_python

    python = find_python("3.9")
    if python is None:
        pytest.skip("python3.9 is not installed here")
    venv = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    source = f"sensor:{ECHO}"

    async def scenario() -> None:
        async with running(world.container(ECHO, "sensorpack.Poller", venv=str(venv))):
            await until(lambda: world.instances(source), "the start dispatch")
            await until(lambda: len(world.instances("sensor:sensorpack.Poller")) >= 2, "polls")

    asyncio.run(scenario())
    [started] = world.instances(source)
    assert started.payload["python"] == "3.9"
    assert world.value("sensorpack.EchoSensor:cleaned") == "yes"


def test_statuses_read_the_same_through_the_fast_reader(world: World) -> None:
    from packhorse.storage.fastread import SqliteRegistryReader

    world.store.put_sensor_status(
        SensorStatus("p.B", "failed", None, 3, "boom\ntrace", "2026-01-01T00:00:00Z", "t2")
    )
    world.store.put_sensor_status(SensorStatus("p.A", "running", 42, 0, None, "t0", "t1"))
    expected = list_statuses(world.store)
    assert [s.ref for s in expected] == ["p.A", "p.B"]
    assert SqliteRegistryReader(world.settings.state_db).sensor_statuses() == expected
    assert bootstrap.sensor_statuses(world.settings) == expected


def test_statuses_a_killed_container_left_live_are_settled_at_start(world: World) -> None:
    world.store.put_sensor_status(
        SensorStatus("sensorpack.Gone", "running", 99999, 0, None, "t0", "t1")
    )
    world.store.put_sensor_status(
        SensorStatus("other.Elsewhere", "running", 99998, 0, None, "t0", "t1")
    )

    async def scenario() -> None:
        container = world.container("sensorpack.Gone", "sensorpack.Poller")
        async with running(container):
            await until(lambda: is_running(world, "sensorpack.Poller"), "the poller")

    asyncio.run(scenario())
    gone = world.status("sensorpack.Gone")
    assert gone is not None and (gone.state, gone.pid) == ("stopped", None)
    elsewhere = world.status("other.Elsewhere")  # not this container's: left alone
    assert elsewhere is not None and (elsewhere.state, elsewhere.pid) == ("running", 99998)


ENGINE = """
import asyncio, sys
from pathlib import Path
from packhorse import bootstrap
from packhorse.engine.events import EventService
from packhorse.engine.pack_datastore import ServiceDatastoreChannel
from packhorse.engine.sensors import SensorContainer
from packhorse.settings import load_settings
from packhorse.storage.events import SqlEventStore

settings = load_settings(Path(sys.argv[1]))
registry = bootstrap.content_registry(settings)
store = SqlEventStore(bootstrap.database_engine(settings))
datastore = bootstrap.datastore_service(settings)
container = SensorContainer(
    EventService(store, registry),
    registry,
    store,
    config_for=bootstrap.config_resolver(settings, datastore),
    datastore=ServiceDatastoreChannel(datastore),
    home=settings.home,
    only=[sys.argv[2]],
)
asyncio.run(container.run(asyncio.Event()))
"""


def dead(pid: int) -> bool:
    """Gone, or a zombie nobody has reaped yet (its parent died)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.slow
def test_a_sensor_stops_when_the_engine_is_killed(world: World) -> None:
    engine = subprocess.Popen(
        [sys.executable, "-c", ENGINE, str(world.home), ECHO],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        async def started() -> int:
            started_key = "sensorpack.EchoSensor:started"
            await until(lambda: world.value(started_key), "run() to start", timeout=30)
            status = world.status(ECHO)
            assert status is not None and status.pid is not None
            return status.pid

        pid = asyncio.run(started())
        engine.kill()
        engine.wait()

        async def gone() -> None:
            await until(lambda: dead(pid), "the sensor's end")

        asyncio.run(gone())
    finally:
        engine.kill()
        engine.wait()


def test_the_control_channel_carries_each_trigger_change_to_its_callback(world: World) -> None:
    registry = world.registry
    [spec] = plan_sensors(
        registry.list_resources(Kind.SENSOR),
        [],
        {p.ref: p for p in registry.list_packs()},
        registry.state(),
        home=world.home,
        only={ECHO},
    ).values()
    container = world.container(ECHO)
    received: list[SensorMessage] = []
    beta = trigger_document(Trigger("sensorpack.echo", {"topic": "beta"}))
    never_added = trigger_document(Trigger("sensorpack.echo", {"topic": "zzz"}))

    def phases() -> list[tuple[str, str]]:
        return [
            (m.payload["phase"], m.payload.get("ref") or str(m.trigger.get("ref")))
            for m in received
            if isinstance(m, Dispatch) and m.payload["phase"] != "start"
        ]

    async def scenario() -> int:
        process = await container.spawn(spec, {}, received.append)
        await until(lambda: Ready() in received, "ready")
        process.send(TriggerChange(TriggerOp.REMOVE, never_added))  # ignored, as StackStorm
        for op in (TriggerOp.ADD, TriggerOp.UPDATE, TriggerOp.REMOVE):
            process.send(TriggerChange(op, beta))
        await until(lambda: len(phases()) == 3, "three callbacks")
        return (await process.stop(FAST.stop_grace)).code

    assert asyncio.run(scenario()) == 0
    assert phases() == [("add", beta["ref"]), ("update", beta["ref"]), ("remove", beta["ref"])]


def test_the_bundled_load_sensor_runs(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="packhorse.sensors")
    ref = "examples.LoadSensor"

    async def scenario() -> None:
        async with running(world.container(ref)):
            await until(lambda: is_running(world, ref), "the running state")

    asyncio.run(scenario())
    stopped = world.status(ref)
    assert stopped is not None and (stopped.state, stopped.last_error) == ("stopped", None)
    assert f"[{ref}] Running sensor in active mode (poll interval=30.0s)" in caplog.messages
