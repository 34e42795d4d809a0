"""The rules engine: pending trigger instances in, rule enforcements and executions out.

For each pending instance (oldest first): match it against the rules of its trigger (the pure
matcher of ``packhorse.rules``), then enforce each matched rule in its own transaction, which
writes the execution request and the enforcement record together; a rule whose action cannot
be requested (missing, disabled, parameters that do not render) gets an enforcement that says
why. The instance is then ``processed``. A crash anywhere leaves it ``pending``: it is
processed again at start-up and the enforcement rows (unique per instance and rule) make the
rules already enforced a no-op, so nothing is lost and nothing runs twice.

Each batch is claimed with a lease (:meth:`SqlEventStore.claim_pending`), so the rules engines
of several processes sharing one PostgreSQL database take different instances; an instance
whose engine died is taken over when its lease (``lease_seconds``) runs out.

The matcher is rebuilt when the registered rules change (checked at most every second), so
enabling a rule or registering a pack while ``packhorse up`` runs takes effect at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from packhorse.engine.clock import ISO, iso, iso_now
from packhorse.engine.events import EventService, TriggerIndex
from packhorse.engine.executions import ExecutionService
from packhorse.engine.ids import new_id
from packhorse.engine.observer import NO_OBSERVER, Observer
from packhorse.engine.waiting import nap, set_from_any_thread
from packhorse.errors import Conflict, PackhorseError
from packhorse.expr.datastore import Decrypt, Lookup
from packhorse.model import rules as rule_model
from packhorse.model.content import Kind
from packhorse.model.events import Enforcement, TriggerInstance, TriggerInstanceStatus
from packhorse.rules.enforcement import action_context
from packhorse.rules.matcher import Matcher, MatchResult
from packhorse.storage.driver import DriverTransaction
from packhorse.storage.ports import RegistryReader

log = logging.getLogger(__name__)


class RuleEngine:
    def __init__(
        self,
        events: EventService,
        executions: ExecutionService,
        registry: RegistryReader,
        *,
        lookup: Lookup,
        decrypt: Decrypt | None = None,
        system_user: str = "stanley",
        clock: Callable[[], str] = iso_now,
        monotonic: Callable[[], float] = time.monotonic,
        ttl: float = 1.0,
        batch: int = 100,
        poll_seconds: float = 0.5,
        lease_seconds: float = 30.0,
        observer: Observer = NO_OBSERVER,
    ) -> None:
        self.events = events
        self.observer = observer
        self._store = events.store
        self._executions = executions
        self._registry = registry
        self._lookup = lookup
        self._decrypt = decrypt
        self._system_user = system_user
        self._clock = clock
        self._monotonic = monotonic
        self._ttl = ttl
        self._batch = batch
        self._poll_seconds = poll_seconds
        self._lease_seconds = lease_seconds
        self.name = f"{socket.gethostname()}:{os.getpid()}:rules-{uuid.uuid4().hex[:8]}"
        """Who holds the instances this engine claimed."""
        self._matcher: _MatcherEntry | None = None
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fresh: set[str] = set()
        """Instances stored by this process since it started and not tried yet."""

    # -- the loop -----------------------------------------------------------------------------

    def wake(self, instance: TriggerInstance | None = None) -> None:
        """Process soon (safe to call from any thread: the API's handlers run in threads)."""
        if instance is not None:
            self._fresh.add(instance.id)
        set_from_any_thread(self._wake, self._loop)

    async def run(self, stop: asyncio.Event) -> None:
        """Process pending instances until ``stop``; wakes on :meth:`wake` and polls (another
        process may have stored instances: ``packhorse trigger-instance re-emit``)."""
        self._loop = asyncio.get_running_loop()
        try:
            await asyncio.to_thread(self.release_dead_claims)
        except PackhorseError as error:
            log.warning("rules engine: %s", error.message)
        while not stop.is_set():
            self._wake.clear()
            try:
                while await asyncio.to_thread(self.process_pending) == self._batch:
                    if stop.is_set():
                        return
            except PackhorseError as error:
                log.warning("rules engine: %s (retrying)", error.message)
            await nap(self._poll_seconds, stop, self._wake)

    def release_dead_claims(self) -> int:
        """Give back what rules engines of this host that are gone (a previous run killed
        before it finished) had claimed, so that it is processed now rather than when their
        leases run out; those of other hosts wait for their leases. Returns how many."""
        host = socket.gethostname()
        released = 0
        for holder in self._store.claim_holders():
            holder_host, _, rest = holder.partition(":")
            pid = rest.partition(":")[0]
            if holder_host == host and pid.isdigit() and not _alive(int(pid)):
                released += self._store.release_claims(holder)
        return released

    def process_pending(self) -> int:
        """Claim and process one batch of pending instances; returns how many there were."""
        now = self._clock()
        lease_until = iso(_moment(now) + dt.timedelta(seconds=self._lease_seconds))
        pending = self._store.claim_pending(
            self.name, now=now, lease_until=lease_until, limit=self._batch
        )
        for instance in pending:
            fresh = instance.id in self._fresh
            self._fresh.discard(instance.id)
            self.process(instance, fresh=fresh)
        return len(pending)

    # -- one instance -------------------------------------------------------------------------

    def reload(self) -> None:
        self._matcher = None
        self.events.reload()

    def matcher(self, *, since: str | None = None) -> Matcher:
        """The matcher over the registered rules, rebuilt when they change. The rules are
        checked at most every ``ttl`` seconds, and always when ``since`` (a trigger instance's
        creation time) is later than the last check: an instance stored after a rule was
        enabled (or after its webhook started answering) is matched against that rule."""
        now = self._monotonic()
        cached = self._matcher
        if (
            cached is not None
            and now - cached.checked < self._ttl
            and (since is None or since < cached.checked_at)
        ):
            return cached.matcher
        checked_at = self._clock()
        versions = self._store.rule_versions()
        if cached is not None and cached.versions == versions:
            matcher = cached.matcher
        else:
            matcher = Matcher.from_resources(self._registry.list_resources(Kind.RULE))
        self._matcher = _MatcherEntry(matcher, versions, now, checked_at)
        return matcher

    def match(self, instance: TriggerInstance, index: TriggerIndex | None = None) -> MatchResult:
        """Which rules ``instance`` fires and why the others of its trigger do not."""
        index = index or self.events.index()
        if index.resolve(instance.trigger) is None:
            # A trigger newer than this process's index (its rule was registered a moment
            # ago, and another process stored the instance).
            self.events.reload()
            index = self.events.index()
        return self.matcher(since=instance.created_at).match(
            self.occurrence(instance, index),
            _moment(self._clock()),
            self._lookup,
            decrypt=self._decrypt,
        )

    @staticmethod
    def occurrence(instance: TriggerInstance, index: TriggerIndex) -> rule_model.TriggerInstance:
        bound = index.resolve(instance.trigger)
        return rule_model.TriggerInstance(
            id=instance.id,
            trigger_type=instance.trigger_type,
            payload=instance.payload,
            trigger_parameters=dict(bound.parameters) if bound is not None else {},
            occurrence_time=instance.occurrence_time,
        )

    def process(self, instance: TriggerInstance, *, fresh: bool = False) -> list[Enforcement]:
        """Enforce every rule ``instance`` matches that is not enforced yet and mark it
        processed (with the last enforcement, in its transaction); returns the enforcements
        written now. ``fresh``: this process stored it and has not tried it before, so no
        enforcement can exist yet (the unique row still guards a wrong guess)."""
        try:
            result = self.match(instance)
        except PackhorseError as error:  # the datastore or the registry failed: try again later
            log.warning("trigger instance %s: %s", instance.id, error.message)
            return []
        done = set() if fresh or not result.matched else self._store.enforced_rules(instance.id)
        todo = [rule for rule in result.matched if rule.ref not in done]
        processed = self._store.status_writer(instance.id, TriggerInstanceStatus.PROCESSED)
        written = []
        for rule in todo:
            self.observer.rule_matched(rule.ref)
        for position, rule in enumerate(todo):
            last = position == len(todo) - 1
            enforcement = self.enforce(rule, instance, along=processed if last else None)
            if enforcement is not None:
                written.append(enforcement)
            elif last:  # enforced before: the status still has to be written
                self._store.set_status(instance.id, TriggerInstanceStatus.PROCESSED)
        if not todo:
            self._store.set_status(instance.id, TriggerInstanceStatus.PROCESSED)
        return written

    def enforce(
        self,
        rule: rule_model.Rule,
        instance: TriggerInstance,
        *,
        along: Callable[[DriverTransaction], None] | None = None,
    ) -> Enforcement | None:
        """Request the rule's action with the enforcement record (and what ``along`` writes)
        in one transaction; None when the rule was already enforced for ``instance``."""
        occurrence = rule_model.TriggerInstance(
            id=instance.id,
            trigger_type=instance.trigger_type,
            payload=instance.payload,
            occurrence_time=instance.occurrence_time,
        )
        context: dict[str, Any] = action_context(rule, occurrence, user=self._system_user)
        # The payload goes with the execution: its parameters render over it when it runs.
        context["trigger_instance"] = {
            **context["trigger_instance"],
            "trigger": instance.trigger,
            "payload": instance.payload,
        }
        execution_id = new_id()
        enforcement = Enforcement(
            id=new_id(),
            rule=rule.ref,
            trigger_instance_id=instance.id,
            execution_id=execution_id,
            failure_reason=None,
            enforced_at=self._clock(),
        )
        write = self._store.enforcement_writer(enforcement)
        try:
            self._executions.request(
                rule.action_ref,
                dict(rule.action_parameters),
                user=self._system_user,
                context=context,
                execution_id=execution_id,
                along=write if along is None else _both(write, along),
            )
        except Conflict:
            return None  # enforced before a crash: the execution exists already
        except PackhorseError as error:
            failed = Enforcement(
                id=enforcement.id,
                rule=rule.ref,
                trigger_instance_id=instance.id,
                execution_id=None,
                failure_reason=error.message,
                enforced_at=enforcement.enforced_at,
            )
            log.warning("rule %s on trigger instance %s: %s", rule.ref, instance.id, error.message)
            if not self._store.record_enforcement(failed, along=along):
                return None
            self.observer.rule_enforced(rule.ref, failed=True)
            return failed
        self.observer.rule_enforced(rule.ref, failed=False)
        return enforcement


@dataclass(frozen=True)
class _MatcherEntry:
    matcher: Matcher
    versions: tuple[tuple[str, str, bool], ...]
    checked: float
    """Monotonic time of the check."""
    checked_at: str
    """Wall-clock time of the check (compared with instances' creation times)."""


def _both(
    first: Callable[[DriverTransaction], None], second: Callable[[DriverTransaction], None]
) -> Callable[[DriverTransaction], None]:
    def write(driver: DriverTransaction) -> None:
        first(driver)
        second(driver)

    return write


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _moment(timestamp: str) -> dt.datetime:
    return dt.datetime.strptime(timestamp, ISO).replace(tzinfo=dt.UTC)
