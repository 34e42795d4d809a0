"""The timer service on a real SQLite instance with the ``timed`` test pack: each due time
fires once (shared by the rules with the same timer), a restart or a second service on the same
database fires nothing twice, missed fires are skipped or caught up once, and enabling or
disabling a rule while the service runs takes effect within two seconds. Time is fake (the
services sleep on it), except in one real-time test."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from collections.abc import Awaitable, Callable, Collection, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from packhorse import bootstrap
from packhorse.engine.clock import iso
from packhorse.engine.events import EventService
from packhorse.engine.timers import TimerService
from packhorse.model.content import Kind, RegisteredPack, RegistryState, Resource
from packhorse.model.events import Trigger, TriggerInstance
from packhorse.rules.timers import CRON_TIMER, DATE_TIMER, INTERVAL_TIMER, MissedFires
from packhorse.settings import Settings, load_settings
from packhorse.storage.database import create_engine
from packhorse.storage.events import InstanceFilter, SqlEventStore
from packhorse.storage.registry import SqlContentRegistry

TIMED = Path(__file__).parents[1] / "fixtures" / "engine_packs" / "timed"

EVERY_MINUTE = Trigger(INTERVAL_TIMER, {"unit": "minutes", "delta": 1})
QUARTER_HOUR = Trigger(CRON_TIMER, {"minute": "*/15"})
NEW_YEAR = Trigger(DATE_TIMER, {"date": "2031-01-01 00:00:00"})
LONG_AGO = Trigger(DATE_TIMER, {"date": "2014-12-31 23:59:59"})
EVERY_SECOND = Trigger(INTERVAL_TIMER, {"unit": "seconds", "delta": 1})

START = dt.datetime(2030, 12, 31, 23, 50, 30, tzinfo=dt.UTC)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def stamp(text: str) -> str:
    """``executed_at`` of a fire at ``text``: StackStorm's ``str()`` of the time."""
    return str(at(text))


def minutes(first: str, last: str) -> list[str]:
    """``executed_at`` of fires at every whole minute from ``first`` to ``last``."""
    moment, end, found = at(first), at(last), []
    while moment <= end:
        found.append(str(moment))
        moment += dt.timedelta(minutes=1)
    return found


class FakeTime:
    """A clock that moves only when the test moves it; services sleep on it."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start
        self._sleepers: list[tuple[dt.datetime, asyncio.Future[None]]] = []

    def clock(self) -> dt.datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        entry = (
            self.now + dt.timedelta(seconds=seconds),
            asyncio.get_running_loop().create_future(),
        )
        self._sleepers.append(entry)
        try:
            await entry[1]
        finally:
            self._sleepers.remove(entry)

    async def advance(self, until: dt.datetime) -> None:
        """Move to ``until``, waking each sleeper at its time and letting the services run
        (they do no real I/O between sleeps, so a few loop turns let them all settle)."""
        for _ in range(100_000):
            await _settle()
            waiting = [wake for wake, woken in self._sleepers if not woken.done()]
            nearest = min(waiting, default=None)
            if nearest is None or nearest > until:
                self.now = max(self.now, until)
                await _settle()
                return
            self.now = max(self.now, nearest)
            for wake, woken in self._sleepers:
                if wake <= self.now and not woken.done():
                    woken.set_result(None)
        raise AssertionError("the services never went to sleep")


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


class Timed:
    """An instance with the ``timed`` pack; builds services as separate processes would
    (each its own database engine)."""

    def __init__(self, home: Path) -> None:
        shutil.copytree(TIMED, home / "packs" / "timed")
        self.settings: Settings = load_settings(home)
        self.register()
        self._engines: list[sa.Engine] = []
        self.store = SqlEventStore(self.engine())

    def register(self) -> None:
        outcome = bootstrap.register_instance_packs(self.settings, refs=["timed"])
        assert outcome.ok, [d.format() for d in outcome.diagnostics]

    def set_enabled(self, rule: str, enabled: bool, *, by: str = "file") -> None:
        """Switch a rule by editing its file and registering the pack again, or ``by``
        ``command`` (``packhorse rule enable|disable``)."""
        if by == "command":
            registry = bootstrap.content_registry(self.settings)
            assert registry.set_enabled(Kind.RULE, f"timed.{rule}", enabled)
            return
        file = self.settings.packs_dir / "timed" / "rules" / f"{rule}.yaml"
        text = file.read_text()
        file.write_text(
            text.replace(f"enabled: {not enabled}".lower(), f"enabled: {enabled}".lower())
        )
        self.register()

    def engine(self) -> sa.Engine:
        engine = create_engine(self.settings.database)
        self._engines.append(engine)
        return engine

    def service(
        self,
        *,
        clock: Callable[[], dt.datetime],
        sleep: Callable[[float], Awaitable[None]] | None = None,
        missed: MissedFires = MissedFires.SKIP,
    ) -> TimerService:
        engine = self.engine()
        registry = SqlContentRegistry(engine)
        events = EventService(SqlEventStore(engine), registry, clock=lambda: iso(clock()))
        if sleep is None:
            return TimerService(events, registry, clock=clock, missed=missed)
        return TimerService(events, registry, clock=clock, sleep=sleep, missed=missed)

    def fired(self, trigger: Trigger) -> list[TriggerInstance]:
        """The instances of ``trigger``, oldest first."""
        found = self.store.find(InstanceFilter(trigger=trigger.ref, limit=10_000))
        return sorted(found, key=lambda instance: instance.occurrence_time)

    def executed_at(self, trigger: Trigger) -> list[str]:
        return [instance.payload["executed_at"] for instance in self.fired(trigger)]

    def close(self) -> None:
        for engine in self._engines:
            engine.dispose()


@pytest.fixture
def timed(instance_home: Path) -> Iterator[Timed]:
    instance = Timed(instance_home)
    yield instance
    instance.close()


async def run(
    time: FakeTime,
    services: list[TimerService],
    steps: list[tuple[dt.datetime, Callable[[], object]]],
) -> None:
    """Run ``services`` on fake time; at each moment, in order, do its step."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(service.run(stop)) for service in services]
    try:
        for moment, step in steps:
            await time.advance(moment)
            step()
    finally:
        stop.set()
        await asyncio.gather(*tasks)


def nothing() -> None:
    return None


def test_each_due_time_fires_once_and_rules_with_the_same_timer_share_it(timed: Timed) -> None:
    time = FakeTime(START)
    service = timed.service(clock=time.clock, sleep=time.sleep)
    asyncio.run(run(time, [service], [(at("2031-01-01 00:16:20"), nothing)]))

    # 23:50:00 was due 30 s before the start: missed, skipped.
    assert timed.executed_at(EVERY_MINUTE) == minutes("2030-12-31 23:51", "2031-01-01 00:16")
    assert timed.executed_at(QUARTER_HOUR) == [stamp("2031-01-01 00:00"), stamp("2031-01-01 00:15")]
    assert timed.executed_at(NEW_YEAR) == [stamp("2031-01-01 00:00")]
    assert timed.fired(LONG_AGO) == []  # due before its pack was registered
    assert timed.fired(EVERY_SECOND) == []  # its rule is disabled
    first = timed.fired(EVERY_MINUTE)[0]
    assert (first.trigger, first.trigger_type, first.source) == (
        EVERY_MINUTE.ref,
        INTERVAL_TIMER,
        "timer",
    )
    assert first.payload == {
        "executed_at": "2030-12-31 23:51:00+00:00",
        "schedule": {"unit": "minutes", "delta": 1},
    }
    assert timed.store.last_fire(EVERY_MINUTE.ref) == iso(at("2031-01-01 00:16"))
    assert service.scheduled[NEW_YEAR.ref] is None  # done


def test_reload_schedules_one_timer_per_distinct_enabled_trigger(timed: Timed) -> None:
    service = timed.service(clock=lambda: START)
    service.reload()
    assert set(service.scheduled) == {
        EVERY_MINUTE.ref,
        QUARTER_HOUR.ref,
        NEW_YEAR.ref,
        LONG_AGO.ref,
    }
    timed.set_enabled("every_second", True)
    service.reload()
    assert EVERY_SECOND.ref in service.scheduled


class Rules:
    """A registry holding only rules (what the timer service reads)."""

    def __init__(self, *rules: Resource) -> None:
        self.rules = list(rules)

    def list_packs(self) -> list[RegisteredPack]:
        return []

    def get_pack(self, ref: str) -> RegisteredPack | None:
        return None

    def list_resources(self, kind: Kind, pack: str | None = None) -> list[Resource]:
        return self.rules if kind is Kind.RULE else []

    def get_resource(self, kind: Kind, ref: str) -> Resource | None:
        return None

    def state(self, packs: Collection[str] | None = None) -> RegistryState:
        return RegistryState({}, {(Kind.RULE, r.ref): (r.pack, r.digest) for r in self.rules})


def rule(name: str, trigger: Trigger, *, enabled: bool = True) -> Resource:
    body = {"trigger": {"type": trigger.type, "parameters": dict(trigger.parameters)}}
    return Resource(Kind.RULE, f"p.{name}", "p", name, f"rules/{name}.yaml", body, enabled)


def test_a_timer_with_bad_parameters_is_left_out_and_the_others_run(
    timed: Timed, caplog: pytest.LogCaptureFixture
) -> None:
    bad = Trigger(CRON_TIMER, {"hour": 25})
    registry = Rules(
        rule("bad", bad),
        rule("good", EVERY_MINUTE),
        rule("off", QUARTER_HOUR, enabled=False),
        rule("hook", Trigger("core.st2.webhook", {"url": "x"})),
    )
    service = TimerService(EventService(timed.store, registry), registry, clock=lambda: START)
    service.reload()
    assert list(service.scheduled) == [EVERY_MINUTE.ref]
    assert f"timer {bad.ref} is not scheduled: invalid core.st2.CronTimer parameters: hour:" in (
        caplog.text
    )


@pytest.mark.parametrize("restart_at", ["2030-12-31 23:55:00", "2030-12-31 23:55:10"])
def test_a_restarted_service_fires_nothing_twice(timed: Timed, restart_at: str) -> None:
    time = FakeTime(START)
    first = timed.service(clock=time.clock, sleep=time.sleep)
    asyncio.run(run(time, [first], [(at(restart_at), nothing)]))
    assert timed.executed_at(EVERY_MINUTE)[-1] == stamp("2030-12-31 23:55")

    second = timed.service(clock=time.clock, sleep=time.sleep)
    asyncio.run(run(time, [second], [(at("2030-12-31 23:57:30"), nothing)]))
    assert timed.executed_at(EVERY_MINUTE) == minutes("2030-12-31 23:51", "2030-12-31 23:57")


def test_two_services_on_one_database_fire_each_due_time_once_in_total(timed: Timed) -> None:
    time = FakeTime(START)
    services = [timed.service(clock=time.clock, sleep=time.sleep) for _ in range(2)]
    asyncio.run(run(time, services, [(at("2031-01-01 00:05:30"), nothing)]))
    assert timed.executed_at(EVERY_MINUTE) == minutes("2030-12-31 23:51", "2031-01-01 00:05")
    assert timed.executed_at(QUARTER_HOUR) == [stamp("2031-01-01 00:00")]
    assert timed.executed_at(NEW_YEAR) == [stamp("2031-01-01 00:00")]


@pytest.mark.parametrize("missed", list(MissedFires))
def test_fires_missed_while_down_are_skipped_or_caught_up_once(
    timed: Timed, missed: MissedFires
) -> None:
    time = FakeTime(START)
    before = timed.service(clock=time.clock, sleep=time.sleep)
    asyncio.run(run(time, [before], [(at("2030-12-31 23:52:30"), nothing)]))
    time.now = at("2031-01-01 00:10:30")  # down for 18 minutes
    after = timed.service(clock=time.clock, sleep=time.sleep, missed=missed)
    asyncio.run(run(time, [after], [(at("2031-01-01 00:11:30"), nothing)]))

    back = stamp("2031-01-01 00:10:30")
    caught_up = [back] if missed is MissedFires.ONCE else []
    assert timed.executed_at(EVERY_MINUTE) == [
        *minutes("2030-12-31 23:51", "2030-12-31 23:52"),
        *caught_up,
        stamp("2031-01-01 00:11"),
    ]
    assert timed.executed_at(QUARTER_HOUR) == caught_up
    assert timed.executed_at(NEW_YEAR) == caught_up
    assert timed.fired(LONG_AGO) == []
    if missed is MissedFires.ONCE:  # each catch-up is recorded for the latest due time missed
        assert timed.store.last_fire(QUARTER_HOUR.ref) == iso(at("2031-01-01 00:00"))
        assert timed.store.last_fire(NEW_YEAR.ref) == iso(at("2031-01-01 00:00"))


@pytest.mark.parametrize("by", ["file", "command"])
def test_enabling_and_disabling_a_rule_takes_effect_within_two_seconds(
    timed: Timed, by: str
) -> None:
    time = FakeTime(START)
    service = timed.service(clock=time.clock, sleep=time.sleep)
    enabled_at = START + dt.timedelta(seconds=5.3)
    disabled_at = enabled_at + dt.timedelta(seconds=10)
    asyncio.run(
        run(
            time,
            [service],
            [
                (enabled_at, lambda: timed.set_enabled("every_second", True, by=by)),
                (enabled_at + dt.timedelta(seconds=2), nothing),
                (disabled_at, lambda: timed.set_enabled("every_second", False, by=by)),
                (disabled_at + dt.timedelta(seconds=5), nothing),
            ],
        )
    )
    fired = [dt.datetime.fromisoformat(moment) for moment in timed.executed_at(EVERY_SECOND)]
    assert fired[0] <= enabled_at + dt.timedelta(seconds=2)
    assert fired[-1] <= disabled_at + dt.timedelta(seconds=1)
    assert len(fired) >= 9
    assert EVERY_SECOND.ref not in service.scheduled


@pytest.mark.slow
def test_a_one_second_timer_fires_in_real_time(timed: Timed) -> None:
    timed.set_enabled("every_second", True)
    service = timed.service(clock=lambda: dt.datetime.now(dt.UTC))

    async def run_for(seconds: float) -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(service.run(stop))
        await asyncio.sleep(seconds)
        stop.set()
        await task

    asyncio.run(run_for(2.5))
    ended = dt.datetime.now(dt.UTC)
    assert 2 <= len(timed.fired(EVERY_SECOND)) <= 4  # each whole second once (+ one just due)
    last = timed.store.last_fire(EVERY_SECOND.ref)
    assert last is not None and last.endswith(".000000Z")  # whole seconds: the grid
    assert ended - dt.datetime.fromisoformat(last) < dt.timedelta(seconds=1.5)
