"""Trigger instances in: the one door through which webhooks, timers, sensors, the API and
finished executions emit what happened.

:meth:`EventService.emit` checks the trigger and its payload, stores the instance ``pending``
(durable when it returns) and wakes the rule dispatcher. Nothing acts on an instance before it
is stored, so a crash right after ``emit`` returns loses nothing: the dispatcher finds it pending
at start-up.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from packhorse.engine.clock import iso_now
from packhorse.engine.ids import new_id
from packhorse.errors import NotFound, PackhorseError
from packhorse.model.content import Kind, Resource
from packhorse.model.events import Trigger, TriggerInstance, TriggerInstanceStatus
from packhorse.params.documents import response_problems
from packhorse.storage.events import SqlEventStore
from packhorse.storage.ports import RegistryReader


class InvalidPayload(PackhorseError):
    """A payload does not match its trigger type's ``payload_schema``."""

    def __init__(self, trigger: str, problems: list[str]) -> None:
        super().__init__(
            f"payload for trigger {trigger!r} does not match its payload_schema: "
            + "; ".join(problems),
            hint="see the trigger type's payload_schema ('packhorse trigger get REF')",
        )
        self.problems = problems


@dataclass(frozen=True)
class TriggerIndex:
    """Trigger types and the concrete triggers rules listen to, by ref."""

    types: Mapping[str, Resource]
    triggers: Mapping[str, Trigger]
    """Every trigger a rule is bound to, plus one per parameterless type."""
    listened: frozenset[str] = frozenset()
    """The refs of the triggers enabled rules listen to."""

    def resolve(self, ref: str) -> Trigger | None:
        trigger = self.triggers.get(ref)
        if trigger is not None:
            return trigger
        if ref in self.types:
            return Trigger(ref)
        return None


def trigger_index(registry: RegistryReader) -> TriggerIndex:
    types = {resource.ref: resource for resource in registry.list_resources(Kind.TRIGGER_TYPE)}
    triggers: dict[str, Trigger] = {ref: Trigger(ref) for ref in types}
    listened: set[str] = set()
    for rule in registry.list_resources(Kind.RULE):
        trigger = rule_trigger(rule)
        triggers.setdefault(trigger.ref, trigger)
        if rule.enabled:
            listened.add(trigger.ref)
    return TriggerIndex(types=types, triggers=triggers, listened=frozenset(listened))


def rule_trigger(rule: Resource) -> Trigger:
    """The trigger a rule listens to (its type bound to its parameters)."""
    spec = rule.body.get("trigger") or {}
    return Trigger(str(spec.get("type", "")), dict(spec.get("parameters") or {}))


class EventService:
    def __init__(
        self,
        store: SqlEventStore,
        registry: RegistryReader,
        *,
        clock: Callable[[], str] = iso_now,
        on_recorded: Callable[[TriggerInstance], None] | None = None,
        ttl: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """The trigger index is rebuilt from the registry at most every ``ttl`` seconds (and
        on :meth:`reload`): a rule enabled by another process is seen within that time."""
        self.store = store
        self._registry = registry
        self._clock = clock
        self.on_recorded = on_recorded
        """Called after an instance is stored (the dispatcher sets it to wake up)."""
        self._ttl = ttl
        self._monotonic = monotonic
        self._index: tuple[float, object, TriggerIndex] | None = None
        self.intake_open: Callable[[], bool] = lambda: True
        """False while a cutover drains the instance: instances are stored ``held``."""
        self._arrivals = threading.Condition()
        self._pending_arrivals = 0

    def index(self) -> TriggerIndex:
        """Trigger types and triggers as registered. Checked at most every ``ttl`` seconds by
        their versions (a cheap query); rebuilt only when they changed."""
        now = self._monotonic()
        cached = self._index
        if cached is not None and now - cached[0] < self._ttl:
            return cached[2]
        versions = (self.store.trigger_type_versions(), self.store.rule_versions())
        if cached is not None and cached[1] == versions:
            index = cached[2]
        else:
            index = trigger_index(self._registry)
        self._index = (now, versions, index)
        return index

    def reload(self) -> None:
        self._index = None

    def emit(
        self,
        trigger: str,
        payload: Mapping[str, Any] | None,
        *,
        source: str,
        trace_tag: str | None = None,
        validate: bool = True,
        index: TriggerIndex | None = None,
    ) -> TriggerInstance:
        """Store a trigger instance for ``trigger`` (a type ref or a bound trigger's ref).

        Raises :class:`NotFound` for an unknown trigger and :class:`InvalidPayload` when
        ``validate`` and the payload does not match the type's schema."""
        index = index or self.index()
        bound = index.resolve(trigger)
        if bound is None:
            # Perhaps newer than this index (a rule registered a moment ago): look again.
            self.reload()
            index = self.index()
            bound = index.resolve(trigger)
        if bound is None:
            raise NotFound("trigger", trigger)
        body = dict(payload or {})
        if validate:
            self.check_payload(index, bound, body)
        now = self._clock()
        with self._arrival() as status:
            instance = TriggerInstance(
                id=new_id(),
                trigger=trigger,
                trigger_type=bound.type,
                payload=body,
                occurrence_time=now,
                source=source,
                trace_tag=trace_tag,
                created_at=now,
                status=status,
            )
            self.store.record(instance)
        if self.on_recorded is not None:
            self.on_recorded(instance)
        return instance

    def fire_timer(
        self, trigger: Trigger, due: str, payload: Mapping[str, Any]
    ) -> TriggerInstance | None:
        """Emit a timer's instance for the due time ``due`` unless it already fired for it
        (here before a crash, or in another process): then None."""
        now = self._clock()
        with self._arrival() as status:
            instance = TriggerInstance(
                id=new_id(),
                trigger=trigger.ref,
                trigger_type=trigger.type,
                payload=dict(payload),
                occurrence_time=now,
                source="timer",
                created_at=now,
                status=status,
            )
            fired = self.store.fire(trigger.ref, due, instance, now=now)
        if not fired:
            return None
        if self.on_recorded is not None:
            self.on_recorded(instance)
        return instance

    @contextlib.contextmanager
    def _arrival(self) -> Iterator[TriggerInstanceStatus]:
        """The status a new instance is stored with (``held`` while the intake is not open),
        while it is stored. The intake is read under the lock that counts the ``pending``
        arrivals, so :meth:`settle_arrivals` sees every one that read it open."""
        with self._arrivals:
            pending = self.intake_open()
            if pending:
                self._pending_arrivals += 1
        if not pending:
            yield TriggerInstanceStatus.HELD
            return
        try:
            yield TriggerInstanceStatus.PENDING
        finally:
            with self._arrivals:
                self._pending_arrivals -= 1
                self._arrivals.notify_all()

    def settle_arrivals(self, timeout: float = 5.0) -> bool:
        """Wait until no instance that read the intake open is still being stored (call it
        after the intake closed: a webhook that read ``open`` just before must be ``pending``
        in the database before the process says it applied the drain). False on timeout."""
        with self._arrivals:
            return self._arrivals.wait_for(lambda: self._pending_arrivals == 0, timeout)

    @staticmethod
    def check_payload(index: TriggerIndex, trigger: Trigger, payload: Mapping[str, Any]) -> None:
        trigger_type = index.types.get(trigger.type)
        schema = trigger_type.body.get("payload_schema") if trigger_type else None
        if not schema:
            return
        problems = response_problems(schema, dict(payload))
        if problems:
            raise InvalidPayload(trigger.type, problems)
