"""The intake of an instance, as its processes apply it, and the handover of its work.

:class:`IntakeWatch` runs in every ``packhorse up`` process: it reads the intake row every
``poll_seconds`` (0.25 s; 1 s on PostgreSQL, where a ``NOTIFY`` wakes it at once), switches
the process's loops (webhooks held, sensors and timers stopped, queued top-level executions
left alone) and acknowledges the generation it applied.
:class:`HandoverService` is what the API routes and a local ``packhorse cutover`` use: set the
intake, see who acknowledged, what still runs, and move held and queued work between
instances (``model/intake.py`` says what each state means).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Sequence

from packhorse.crypto.transport import format_recipient
from packhorse.engine.clock import iso, utc_now
from packhorse.engine.handover_secrets import (
    HandoverKeys,
    open_execution,
    parse_recipient,
    seal_execution,
)
from packhorse.engine.scheduling import Scheduler
from packhorse.errors import ConfigurationError
from packhorse.model.execution import Execution, Status
from packhorse.model.intake import (
    INITIAL,
    Acknowledgement,
    IntakeState,
    IntakeStatus,
    IntakeView,
    Moved,
    Parcel,
)
from packhorse.storage.intake import InFlight, SqlIntakeStore

log = logging.getLogger(__name__)

LIVE_SECONDS = 15.0
"""A process that has not looked at the intake for this long is taken as gone."""


class IntakeWatch:
    """This process's view of the intake. ``listeners`` are called (on the event loop) after
    a change is applied and before it is acknowledged."""

    def __init__(
        self,
        store: SqlIntakeStore,
        *,
        node: str,
        clock: Callable[[], dt.datetime] = utc_now,
        poll_seconds: float = 0.25,
        heartbeat_seconds: float = 5.0,
    ) -> None:
        self._store = store
        self.node = node
        self._clock = clock
        self._poll = poll_seconds
        self._heartbeat = dt.timedelta(seconds=heartbeat_seconds)
        self.state = INITIAL
        self.listeners: list[Callable[[IntakeState], None]] = []
        self.settlers: list[Callable[[], object]] = []
        """Blocking calls (run in a thread) that return once what started under the previous
        state is done: the acknowledgement waits for them (webhooks being stored)."""
        self._acked: tuple[int, dt.datetime] | None = None
        self._wake = asyncio.Event()

    def open(self) -> bool:
        return self.state.open

    def apply(self, state: IntakeState) -> bool:
        """Take ``state`` as read; True when it changed what this process does."""
        if state.generation == self.state.generation and self._acked is not None:
            return False
        changed = state.status is not self.state.status
        self.state = state
        if changed:
            log.info("intake %s (generation %d)", state.status.value, state.generation)
        for listener in self.listeners:
            listener(state)
        return changed

    def acknowledge_due(self) -> bool:
        if self._acked is None or self._acked[0] != self.state.generation:
            return True
        return self._clock() - self._acked[1] >= self._heartbeat

    def acknowledge(self) -> None:
        now = self._clock()
        self._store.acknowledge(self.node, self.state.generation, now=iso(now))
        self._acked = (self.state.generation, now)

    def refresh(self) -> IntakeState:
        """Read, apply and acknowledge at once (at start-up, before the loops run)."""
        if self.apply(self._store.read()) and not self.state.open:
            for settle in self.settlers:
                settle()
        if self.acknowledge_due():
            self.acknowledge()
        return self.state

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the intake until ``stop`` is set; then this process is no longer waited
        for."""
        try:
            while not stop.is_set():
                state = await asyncio.to_thread(self._store.read)
                if self.apply(state) and not state.open:
                    for settle in self.settlers:
                        await asyncio.to_thread(settle)
                if self.acknowledge_due():
                    await asyncio.to_thread(self.acknowledge)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_first(stop, self._wake), self._poll)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._store.forget, self.node)


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


class HandoverService:
    """Intake and handover over one instance's database (no process of it needed)."""

    def __init__(
        self,
        store: SqlIntakeStore,
        *,
        scheduler: Scheduler | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
        on_received: Callable[[], None] | None = None,
        keys: HandoverKeys | None = None,
    ) -> None:
        """Without ``keys`` no secret parameter is handed over either way (refused)."""
        self._store = store
        self._keys = keys
        self._scheduler = scheduler
        self._clock = clock
        self.on_received = on_received
        """Wakes this process's rules engine and worker (set by the composition root)."""

    def _now(self) -> str:
        return iso(self._clock())

    def intake(self) -> IntakeState:
        return self._store.read()

    def view(self) -> IntakeView:
        """The intake, who has not applied it yet and what is in flight (a cutover's view)."""
        state = self._store.read()
        in_flight = self.in_flight()
        return IntakeView(
            state,
            tuple(self.waiting_for(state.generation)),
            in_flight.running,
            in_flight.parked,
            in_flight.pending_instances,
        )

    def set_intake(
        self, status: IntakeStatus, *, successor: str | None = None, reason: str | None = None
    ) -> IntakeState:
        return self._store.change(status, successor=successor, reason=reason, now=self._now())

    def acknowledgements(self) -> list[Acknowledgement]:
        return self._store.acknowledgements()

    def waiting_for(self, generation: int) -> list[str]:
        """The live processes that have not applied ``generation`` yet."""
        horizon = self._clock() - dt.timedelta(seconds=LIVE_SECONDS)
        return [
            ack.node
            for ack in self._store.acknowledgements()
            if ack.generation < generation and dt.datetime.fromisoformat(ack.seen_at) >= horizon
        ]

    def in_flight(self) -> InFlight:
        return self._store.in_flight(now=self._now())

    def recipient_key(self) -> str:
        """This instance's recipient public key (``phr1:...``), created first if missing:
        what a sender seals the secrets of a handover for."""
        if self._keys is None:
            raise ConfigurationError("this handover service has no keys to receive secrets with")
        return format_recipient(self._keys.recipient_public())

    def outgoing(self, *, limit: int = 1000, recipient: str | None = None) -> Parcel:
        """Held trigger instances and queued top-level executions, not handed over yet.

        Secret parameters are sealed for ``recipient`` (the receiver's ``phr1:`` key);
        without one, a parcel holding a secret is refused (:class:`HandoverRefused`): it
        never carries a secret in clear or under this instance's datastore key."""
        public = None if recipient is None else parse_recipient(recipient)
        executions = self._store.queued(now=self._now(), limit=limit)
        return Parcel(
            tuple(self._store.held(limit=limit)),
            tuple(seal_execution(self._keys, execution, public) for execution in executions),
        )

    def receive(self, parcel: Parcel) -> Moved:
        """Store what a predecessor hands over; what is here already is skipped (a handover
        repeated after a crash). Returns how many were new. Sealed secret parameters are
        opened and encrypted under this instance's key first; one that does not open
        refuses the whole parcel (:class:`HandoverRefused`), storing nothing."""
        opened = tuple(open_execution(self._keys, execution) for execution in parcel.executions)
        instances, executions = self._store.receive(parcel.instances, opened, then=self._then)
        if (instances or executions) and self.on_received is not None:
            self.on_received()
        return Moved(len(instances), len(executions))

    def release(self) -> int:
        """Process the held trigger instances here (see :meth:`SqlIntakeStore.release`)."""
        released = self._store.release()
        if released and self.on_received is not None:
            self.on_received()
        return released

    def hand_over(
        self, instance_ids: Sequence[str], execution_ids: Sequence[str], *, successor: str
    ) -> Moved:
        """Mark what ``successor`` stored as given to it; returns how many were marked (what
        was marked before counts no more: idempotent)."""
        instances, executions = self._store.hand_over(
            instance_ids, execution_ids, successor=successor, now=self._now()
        )
        return Moved(instances, executions)

    def _then(self, execution: Execution) -> Status | None:
        if self._scheduler is not None and self._scheduler.holds_back(execution.action_ref):
            return None  # its concurrency policy decides, at the next scheduler pass
        return Status.SCHEDULED
