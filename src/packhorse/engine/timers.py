"""The timer service: fires the interval, cron and date timers that enabled rules listen to.

There is one schedule per distinct trigger (timer type and parameters): rules with the same
timer share its trigger, which fires once for all of them. Each fire goes through
:meth:`EventService.fire_timer`, which stores the due time and the trigger instance in one
transaction and refuses a due time already fired. Due times come from the schedule alone (see
:mod:`packhorse.rules.timers`), so every process computes the same ones: a restart, or several
processes on one database, never fire a due time twice.

When a timer is due, the service reads when it last fired, finds the latest due time since
then (or since its rule's pack was registered, for a timer that never fired) and fires it if it
is at most ``grace`` late, or whatever its age with ``missed=ONCE``; older due times are
dropped. So a fire missed while Packhorse was down is skipped by default (as StackStorm does)
or caught up once.

Rules are read from the registry at start, on :meth:`TimerService.reload`, and whenever the
rules' versions change (digest and enabled flag, checked every ``poll_seconds`` without
reading their bodies): registering a pack, ``packhorse rule enable|disable`` or editing a rule
while the service runs takes effect within that time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from packhorse.engine.clock import iso, utc_now
from packhorse.engine.events import EventService, rule_trigger
from packhorse.errors import PackhorseError
from packhorse.model.content import Kind
from packhorse.model.events import Trigger, TriggerInstance
from packhorse.rules.timers import (
    InvalidTimer,
    MissedFires,
    Schedule,
    is_timer,
    latest_due,
    should_fire,
    timer_schedule,
)
from packhorse.storage.ports import RegistryReader

log = logging.getLogger(__name__)

RuleVersions = tuple[tuple[str, str, bool], ...]
"""``(ref, digest, enabled)`` of every rule (``SqlEventStore.rule_versions``)."""

_CLOSED_POLL_SECONDS = 0.25
"""How often a timer service whose intake is closed looks again."""
DEFAULT_GRACE = dt.timedelta(seconds=10)
"""A due time this late still fires with ``missed=SKIP``: the process was busy, not down."""


@dataclass(slots=True)
class _Timer:
    trigger: Trigger
    schedule: Schedule
    known_since: dt.datetime
    """Due times before this are not missed ones: the earliest registration time of the packs
    whose rules listen to the trigger."""
    next_look: dt.datetime | None
    """When to look at the timer again; None: never (a date timer that is done)."""


class TimerService:
    """Fires timer triggers through ``events``; see the module docstring."""

    def __init__(
        self,
        events: EventService,
        registry: RegistryReader,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        missed: MissedFires = MissedFires.SKIP,
        timezone: dt.tzinfo = dt.UTC,
        grace: dt.timedelta = DEFAULT_GRACE,
        poll_seconds: float = 1.0,
    ) -> None:
        """``clock`` returns the aware current time and ``sleep`` waits (both replaced in
        tests); ``timezone`` applies to cron and date timers that name none; ``poll_seconds``
        is how often the registry is checked for changed rules."""
        self._events = events
        self._registry = registry
        self._clock = clock
        self._sleep = sleep
        self._missed = missed
        self._timezone = timezone
        self._grace = grace
        self._poll = dt.timedelta(seconds=poll_seconds)
        self._timers: dict[str, _Timer] = {}
        self._rules: RuleVersions | None = None
        self._next_check: dt.datetime | None = None
        self.intake_open: Callable[[], bool] = lambda: True

    @property
    def scheduled(self) -> dict[str, dt.datetime | None]:
        """Trigger ref -> when the service looks at it next (None: never again)."""
        return {ref: timer.next_look for ref, timer in self._timers.items()}

    def reload(self) -> None:
        """Read the enabled rules with a timer trigger again; timers still wanted keep their
        place, new ones are looked at on the next pass, the others are dropped."""
        self._rules = self._events.store.rule_versions()
        registered: dict[str, dt.datetime] = {}
        wanted: dict[str, tuple[Trigger, dt.datetime]] = {}
        for rule in self._registry.list_resources(Kind.RULE):
            trigger = rule_trigger(rule)
            if not rule.enabled or not is_timer(trigger.type):
                continue
            if rule.pack not in registered:
                registered[rule.pack] = self._registered_at(rule.pack)
            since = registered[rule.pack]
            if trigger.ref in wanted:
                since = min(since, wanted[trigger.ref][1])
            wanted[trigger.ref] = (trigger, since)
        now = self._clock()
        timers: dict[str, _Timer] = {}
        for ref, (trigger, since) in wanted.items():
            timer = self._timers.get(ref)
            if timer is None:
                try:
                    schedule = timer_schedule(trigger, timezone=self._timezone)
                except InvalidTimer as error:
                    log.warning("timer %s is not scheduled: %s", ref, error.message)
                    continue
                timer = _Timer(trigger, schedule, since, next_look=now)
                log.info("timer %s scheduled (%s %s)", ref, trigger.type, dict(trigger.parameters))
            timer.known_since = since
            timers[ref] = timer
        for ref in self._timers.keys() - timers.keys():
            log.info("timer %s unscheduled: no enabled rule listens to it", ref)
        self._timers = timers

    def fire_due(self) -> list[TriggerInstance]:
        """Fire every timer due now (at most once each); returns the instances stored."""
        now = self._clock()
        fired = []
        for timer in self._timers.values():
            if timer.next_look is not None and timer.next_look <= now:
                instance = self._look_at(timer, now)
                if instance is not None:
                    fired.append(instance)
        return fired

    async def run(self, stop: asyncio.Event) -> None:
        """Fire timers until ``stop`` is set, following rule changes in the registry."""
        while not stop.is_set():
            if not self.intake_open():
                # A cutover drains the instance: no fires; a due time passed meanwhile is a
                # missed one when the intake opens again (``missed``).
                await self._wait(stop, _CLOSED_POLL_SECONDS)
                continue
            try:
                self._follow_registry()
                self.fire_due()
                delay = self._delay()
            except PackhorseError:
                log.exception("timer pass failed; will retry")
                delay = self._poll.total_seconds()
            await self._wait(stop, delay)

    # -- the steps ----------------------------------------------------------------------------

    def _look_at(self, timer: _Timer, now: dt.datetime) -> TriggerInstance | None:
        ref = timer.trigger.ref
        since = timer.known_since
        last = self._events.store.last_fire(ref)
        if last is not None:
            since = max(since, dt.datetime.fromisoformat(last))
        due = latest_due(timer.schedule, since=since, now=now)
        instance = None
        if due is not None and should_fire(due, now=now, missed=self._missed, grace=self._grace):
            payload = {
                # StackStorm's str() of the time, as rules may parse it (like start_timestamp).
                "executed_at": now.astimezone(dt.UTC).isoformat(" "),
                "schedule": dict(timer.trigger.parameters),
            }
            instance = self._events.fire_timer(timer.trigger, iso(due), payload)
            if instance is None:
                log.debug("timer %s already fired for %s elsewhere", ref, iso(due))
            elif now - due > self._grace:
                log.info("timer %s fired late for missed due time %s", ref, iso(due))
            else:
                log.debug("timer %s fired for %s", ref, iso(due))
        elif due is not None:
            log.info("timer %s skipped missed due time %s (missed = skip)", ref, iso(due))
        timer.next_look = timer.schedule.next_due(now)
        return instance

    def _follow_registry(self) -> None:
        now = self._clock()
        if self._next_check is not None and now < self._next_check:
            return
        self._next_check = now + self._poll
        if self._rules is None or self._events.store.rule_versions() != self._rules:
            self.reload()

    def _delay(self) -> float:
        wake = self._next_check
        for timer in self._timers.values():
            if timer.next_look is not None and (wake is None or timer.next_look < wake):
                wake = timer.next_look
        if wake is None:
            return self._poll.total_seconds()
        return max(0.0, (wake - self._clock()).total_seconds())

    async def _wait(self, stop: asyncio.Event, seconds: float) -> None:
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            stopper.cancel()

    def _registered_at(self, pack: str) -> dt.datetime:
        registered = self._registry.get_pack(pack)
        if registered is None or not registered.registered_at:
            return self._clock()
        return dt.datetime.fromisoformat(registered.registered_at)
