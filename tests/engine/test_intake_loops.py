"""What the intake switches in a process (engine/intake.py): sensors and timers stop while it
is not open and go on when it opens again (missed fires skipped); what is emitted meanwhile is
held; every process's :class:`IntakeWatch` acknowledges each change, and a
process that stopped looking is not waited for."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from pathlib import Path

import pytest
from tests.engine.test_sensors import World, alive, is_running, running, until, world
from tests.engine.test_timers import EVERY_MINUTE, START, FakeTime, Timed, at, minutes, run

from packhorse import bootstrap
from packhorse.engine.clock import iso
from packhorse.engine.events import EventService
from packhorse.engine.intake import HandoverService, IntakeWatch
from packhorse.model.events import TriggerInstance, TriggerInstanceStatus
from packhorse.model.intake import IntakeStatus
from packhorse.storage.events import InstanceFilter, SqlEventStore
from packhorse.storage.intake import SqlIntakeStore
from packhorse.storage.registry import SqlContentRegistry

__all__ = ["world"]  # the sensor tests' fixture, used here too


@pytest.fixture
def timed(instance_home: Path) -> Timed:
    return Timed(instance_home)


def test_timers_stop_while_the_intake_is_closed_and_skip_what_they_missed(timed: Timed) -> None:
    time = FakeTime(START)
    service = timed.service(clock=time.clock, sleep=time.sleep)
    intake = {"open": True}
    service.intake_open = lambda: intake["open"]

    def close() -> None:
        intake["open"] = False

    def reopen() -> None:
        intake["open"] = True

    asyncio.run(
        run(
            time,
            [service],
            [
                (at("2030-12-31 23:53:30"), close),
                (at("2030-12-31 23:57:30"), reopen),
                (at("2030-12-31 23:59:30"), lambda: None),
            ],
        )
    )
    # Fired up to 23:53, nothing from 23:54 to 23:57 (closed; missed, skipped), then again.
    assert timed.executed_at(EVERY_MINUTE) == [
        *minutes("2030-12-31 23:51", "2030-12-31 23:53"),
        *minutes("2030-12-31 23:58", "2030-12-31 23:59"),
    ]


def test_what_is_emitted_while_the_intake_is_not_open_is_held(timed: Timed) -> None:
    engine = timed.engine()
    events = EventService(SqlEventStore(engine), SqlContentRegistry(engine))
    before = events.emit("core.st2.generic.actiontrigger", {}, source="test", validate=False)
    events.intake_open = lambda: False
    during = events.emit("core.st2.generic.actiontrigger", {}, source="test", validate=False)
    assert before.status is TriggerInstanceStatus.PENDING
    assert during.status is TriggerInstanceStatus.HELD
    stored = events.store.get(during.id)
    assert stored is not None and stored.status is TriggerInstanceStatus.HELD
    # The rules engine claims pending instances only: the held one is not among them.
    claimed = events.store.claim_pending(
        "rules-1", now=iso(dt.datetime.now(dt.UTC)), lease_until="9999", limit=10
    )
    assert [instance.id for instance in claimed] == [before.id]


def test_every_process_acknowledges_a_change_and_a_silent_one_is_not_waited_for(
    timed: Timed,
) -> None:
    now = {"at": dt.datetime(2030, 1, 1, tzinfo=dt.UTC)}
    settings = timed.settings
    store = SqlIntakeStore(bootstrap.database_engine(settings))
    service = HandoverService(store, clock=lambda: now["at"])
    watches = [
        IntakeWatch(SqlIntakeStore(timed.engine()), node=f"node-{n}", clock=lambda: now["at"])
        for n in (1, 2)
    ]
    for watch in watches:
        watch.refresh()
    state = service.set_intake(IntakeStatus.DRAINING, successor="http://new", reason="test")
    assert service.waiting_for(state.generation) == ["node-1", "node-2"]
    assert all(watch.open() for watch in watches)  # not applied until they look

    applied: list[IntakeStatus] = []
    watches[0].listeners.append(lambda changed: applied.append(changed.status))
    watches[0].refresh()
    assert not watches[0].open() and applied == [IntakeStatus.DRAINING]
    assert service.waiting_for(state.generation) == ["node-2"]

    # node-2 stopped looking (killed): after LIVE_SECONDS it is taken as gone.
    now["at"] += dt.timedelta(seconds=16)
    assert service.waiting_for(state.generation) == []
    watches[1].refresh()  # it comes back: it applies the drain at once
    assert not watches[1].open()
    assert [ack.generation for ack in service.acknowledgements()] == [state.generation] * 2


def test_sensors_stop_while_the_intake_is_not_open_and_start_again(world: World) -> None:
    sensors_world = world
    container = sensors_world.container("sensorpack.Poller")
    intake = {"open": True}
    container.intake_open = lambda: intake["open"]
    source = "sensor:sensorpack.Poller"

    async def scenario() -> None:
        async with running(container):
            await until(lambda: is_running(sensors_world, "sensorpack.Poller"), "the start")
            status = sensors_world.status("sensorpack.Poller")
            assert status is not None and status.pid is not None
            intake["open"] = False
            container.wake()
            pid = status.pid
            await until(lambda: not alive(pid), "the sensor process to end")
            stopped = sensors_world.status("sensorpack.Poller")
            assert stopped is not None and stopped.state == "stopped"
            polls = len(sensors_world.instances(source))
            await asyncio.sleep(0.4)  # it polls every 0.1 s when it runs
            assert len(sensors_world.instances(source)) == polls
            intake["open"] = True
            container.wake()
            await until(lambda: len(sensors_world.instances(source)) > polls, "polls again")

    asyncio.run(scenario())


def test_a_webhook_that_read_the_intake_open_is_stored_before_the_drain_is_acknowledged(
    timed: Timed,
) -> None:
    engine = timed.engine()
    events = EventService(SqlEventStore(engine), SqlContentRegistry(engine))
    gate, entered = threading.Event(), threading.Event()
    recorded = events.store.record

    def slow_record(instance: TriggerInstance) -> None:
        entered.set()
        gate.wait(5)  # the webhook is being stored when the drain arrives
        recorded(instance)

    events.store.record = slow_record  # type: ignore[method-assign]
    intake = {"open": True}
    events.intake_open = lambda: intake["open"]
    emitting = threading.Thread(
        target=events.emit,
        args=("core.st2.generic.actiontrigger", {}),
        kwargs={"source": "test", "validate": False},
    )
    emitting.start()
    assert entered.wait(5)
    intake["open"] = False  # the watch applied the drain
    assert not events.settle_arrivals(timeout=0.2)  # not yet: one is still being stored
    gate.set()
    assert events.settle_arrivals(timeout=5)
    emitting.join(5)
    [stored] = events.store.find(InstanceFilter())
    assert stored.status is TriggerInstanceStatus.PENDING  # processed here, before handover
