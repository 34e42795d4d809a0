"""``packhorse cutover`` and ``packhorse rollback``: the order of their steps, over two
narrow ports (an instance's intake and handover, and the front). No I/O of its own: the
clock and the sleep come in, so the tests drive it with fakes.

Cutover from OLD to NEW:

1. *check*: NEW answers ready and passes its health gate; otherwise nothing changes (a NEW
   in standby, its intake closed, runs no action yet: its gate runs after *open*, and a
   failure there reopens OLD and puts NEW back in standby, the front not flipped);
2. *drain*: OLD's intake ``draining``, and every live process of OLD acknowledges it (this
   is what replaces a fixed sleep: a drain of idle processes takes one poll, 0.25 s);
3. *open*: NEW's intake ``open`` (a new instance waits ``closed`` until its cutover, so that
   its sensors and timers never run beside OLD's), every process of NEW applies it, and what
   NEW held meanwhile (webhooks sent to it directly) is released to its rules;
4. *finish*: executions running on OLD end, and its rules process the trigger instances
   stored before the drain, up to the timeout; what still runs stays on OLD, which is kept
   up and finishes it (reported);
5. *flip*: the front sends new requests to NEW;
6. *handover*: OLD's intake ``closed``; its held trigger instances and queued top-level
   executions go to NEW under their own ids (NEW stores, then OLD marks: exactly once, and a
   repeat after a crash between the two stores nothing twice);
7. *verify*: NEW still answers ready, and requests through the front reach it; if not, the
   front flips back, OLD reopens and NEW's held and queued work is handed back (a rollback),
   and the cutover fails saying why.

Rollback is the same the other way: reopen the previous instance (what it held since the
cutover, webhooks that reached it late, is released to its own rules), flip the front back,
drain the current one and hand its held and queued work over.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from packhorse.errors import PackhorseError
from packhorse.model.intake import IntakeState, IntakeStatus, IntakeView, Moved, Parcel

POLL_SECONDS = 0.05


__all__ = ["Clocks", "Front", "Instance", "IntakeView", "Report", "Step", "cutover", "rollback"]


class Instance(Protocol):
    """One instance, on this machine (its database) or over its API."""

    @property
    def name(self) -> str:
        """For messages: its folder or URL."""
        ...

    @property
    def url(self) -> str:
        """Where the front sends requests when this instance is active."""
        ...

    def ready(self) -> str | None:
        """None when it answers ``/ready`` with 200; else why not."""
        ...

    def health(self) -> str | None:
        """None when its health gate passes (an action or workflow that must succeed, or
        readiness and the registry answering); else why not."""
        ...

    def intake(self) -> IntakeView: ...

    def set_intake(
        self, status: IntakeStatus, *, successor: str | None, reason: str | None
    ) -> IntakeState: ...

    def recipient_key(self) -> str | None:
        """Its recipient public key (``phr1:...``): what a sender seals secrets for. None
        when it cannot take sealed secrets (an older version): the sender then refuses a
        parcel that holds one."""
        ...

    def outgoing(self, *, recipient: str | None = None) -> Parcel:
        """Held trigger instances and queued top-level executions not handed over, secret
        parameters sealed for ``recipient`` (refused without it when there is one)."""
        ...

    def receive(self, parcel: Parcel) -> Moved:
        """Store them under their ids; known ids are skipped. Returns how many were new."""
        ...

    def hand_over(
        self, instance_ids: list[str], execution_ids: list[str], *, successor: str
    ) -> Moved:
        """Mark them given to ``successor``."""
        ...

    def release(self) -> int:
        """Its held trigger instances are processed there after all; returns how many."""
        ...


class Front(Protocol):
    """The stable address (``packhorse.front.control``, or the site's hook)."""

    def flip(self, to: str) -> float | None:
        """Send new requests to ``to``; returns how long the switch took (ms). Raises
        :class:`~packhorse.errors.PackhorseError` (``FlipRefused``), changing nothing."""
        ...

    def rollback(self) -> float | None:
        """Flip back to the previous instance; returns the switch's ms."""
        ...

    def reaches(self, instance: Instance) -> str | None:
        """None when requests through the front reach ``instance``; else why not."""
        ...


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    seconds: float
    detail: str


@dataclass
class Report:
    """What a cutover or rollback did."""

    action: str
    source: str
    target: str
    ok: bool = False
    reason: str | None = None
    steps: list[Step] = field(default_factory=list)
    handed_over: Moved = field(default_factory=Moved)
    still_running: tuple[str, ...] = ()
    """Executions left running on the source (it finishes them)."""
    parked: tuple[str, ...] = ()
    drain_to_flip_seconds: float | None = None
    flip_ms: float | None = None
    released: int = 0
    """Trigger instances the reopened instance held since the cutover, processed there."""
    flipped: bool = False
    """The front was flipped (whatever happened after)."""
    rolled_back: bool = False

    def fields(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "from": self.source,
            "to": self.target,
            "ok": self.ok,
            "reason": self.reason,
            "steps": [
                {"step": s.name, "seconds": round(s.seconds, 3), "detail": s.detail}
                for s in self.steps
            ],
            "handed_over": self.handed_over.fields(),
            "still_running": list(self.still_running),
            "parked": list(self.parked),
            "drain_to_flip_seconds": (
                None if self.drain_to_flip_seconds is None else round(self.drain_to_flip_seconds, 3)
            ),
            "flip_ms": self.flip_ms,
            "flipped": self.flipped,
            "released": self.released,
            "rolled_back": self.rolled_back,
        }


class _Failed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Clocks:
    """Time for the orchestration (``time.monotonic`` and ``time.sleep`` in the CLI)."""

    monotonic: Callable[[], float]
    sleep: Callable[[float], None]


class _Run:
    def __init__(
        self, report: Report, clocks: Clocks, progress: Callable[[Step], None] | None
    ) -> None:
        self.report = report
        self.clocks = clocks
        self.progress = progress

    def step(self, name: str, started: float, detail: str) -> None:
        step = Step(name, self.clocks.monotonic() - started, detail)
        self.report.steps.append(step)
        if self.progress is not None:
            self.progress(step)

    def wait(self, condition: Callable[[], bool], timeout: float) -> bool:
        deadline = self.clocks.monotonic() + timeout
        while not condition():
            if self.clocks.monotonic() >= deadline:
                return False
            self.clocks.sleep(POLL_SECONDS)
        return True


def _set_and_acknowledge(
    run: _Run,
    instance: Instance,
    status: IntakeStatus,
    *,
    successor: str | None,
    reason: str,
    timeout: float,
) -> IntakeView:
    """Set ``instance``'s intake and wait for every live process to apply it."""
    state = instance.set_intake(status, successor=successor, reason=reason)
    seen: list[IntakeView] = []

    def applied() -> bool:
        view = instance.intake()
        seen.append(view)
        return view.state.generation >= state.generation and not view.waiting_for

    if not run.wait(applied, timeout):
        waiting = ", ".join(seen[-1].waiting_for) if seen else "?"
        raise _Failed(
            f"{instance.name}: processes did not apply intake {status.value} in {timeout:g} s:"
            f" {waiting}"
        )
    return seen[-1]


def hand_over(sender: Instance, receiver: Instance, *, batches: int = 1000) -> Moved:
    """Move ``sender``'s held and queued work to ``receiver``, batch by batch until none is
    left: the receiver stores (idempotent on ids), then the sender marks. Returns what the
    sender marked. Secret parameters travel sealed for the receiver's recipient key (each
    instance keeps its own datastore key)."""
    recipient = receiver.recipient_key()
    total = Moved()
    for _ in range(batches):
        parcel = sender.outgoing(recipient=recipient)
        if parcel.empty:
            return total
        receiver.receive(parcel)
        total += sender.hand_over(
            [i.id for i in parcel.instances],
            [e.id for e in parcel.executions],
            successor=receiver.url,
        )
    raise PackhorseError(f"{sender.name} still has work to hand over after {batches} batches")


def _finish(run: _Run, instance: Instance, timeout: float) -> IntakeView:
    """Wait for what runs on ``instance`` to end, and for its rules to process what arrived
    before the drain (their executions are handed over), up to ``timeout``."""
    last: list[IntakeView] = []

    def finished() -> bool:
        view = instance.intake()
        last[:] = [view]
        return not view.running and not view.pending

    run.wait(finished, timeout)
    return last[0]


def cutover(
    old: Instance,
    new: Instance,
    front: Front,
    *,
    timeout: float,
    clocks: Clocks,
    progress: Callable[[Step], None] | None = None,
) -> Report:
    """Move the site from ``old`` to ``new`` (see the module docstring)."""
    report = Report("cutover", old.name, new.name)
    run = _Run(report, clocks, progress)
    started = clocks.monotonic()
    problem = new.ready()
    # A new instance in standby (intake closed) runs no action before it opens: its gate
    # runs once it is open, before the flip.
    standby = problem is None and new.intake().state.status is not IntakeStatus.OPEN
    if problem is None and not standby:
        problem = new.health()
    if problem is not None:
        report.reason = f"{new.name} failed its health gate, nothing changed: {problem}"
        return report
    run.step(
        "check",
        started,
        f"{new.name} is ready" + (" (in standby)" if standby else " and healthy"),
    )

    drain_started = clocks.monotonic()
    reason = f"cutover to {new.url}"
    try:
        view = _set_and_acknowledge(
            run, old, IntakeStatus.DRAINING, successor=new.url, reason=reason, timeout=timeout
        )
    except (_Failed, PackhorseError) as error:
        _reopen(old)
        report.reason = f"{_why(error)}; {old.name} is open again"
        return report
    run.step("drain", drain_started, f"{old.name} draining: every process applied it")

    open_started = clocks.monotonic()
    try:
        _set_and_acknowledge(
            run,
            new,
            IntakeStatus.OPEN,
            successor=None,
            reason=f"cutover from {old.url}",
            timeout=timeout,
        )
        released = new.release()
    except (_Failed, PackhorseError) as error:
        _back_to_old(old, new)
        report.reason = f"{_why(error)}; {old.name} is open again"
        return report
    run.step(
        "open",
        open_started,
        f"{new.name} takes work in ({released} held trigger instances released)",
    )
    if standby:
        gate_started = clocks.monotonic()
        problem = new.health()
        if problem is not None:
            _back_to_old(old, new)
            report.reason = (
                f"{new.name} failed its health gate: {problem}; the front was not flipped,"
                f" {old.name} is open again and {new.name} waits in standby"
            )
            return report
        run.step("gate", gate_started, f"{new.name} passed its health gate")

    finish_started = clocks.monotonic()
    view = _finish(run, old, timeout)
    report.still_running, report.parked = view.running, view.parked
    run.step(
        "finish",
        finish_started,
        f"{len(view.running)} still running on {old.name}, {len(view.parked)} paused or pending",
    )

    flip_started = clocks.monotonic()
    try:
        report.flip_ms = front.flip(new.url)
    except PackhorseError as error:
        _back_to_old(old, new)
        report.reason = f"the front did not flip: {error.message}; {old.name} is open again"
        return report
    report.flipped = True
    report.drain_to_flip_seconds = clocks.monotonic() - drain_started
    run.step("flip", flip_started, f"the front sends requests to {new.url}")

    handover_started = clocks.monotonic()
    try:
        old.set_intake(IntakeStatus.CLOSED, successor=new.url, reason=reason)
        report.handed_over = hand_over(old, new)
    except PackhorseError as error:
        report.reason = (
            f"the front is flipped but the handover failed: {error.message};"
            " run 'packhorse cutover --handover-only' again"
        )
        return report
    run.step(
        "handover",
        handover_started,
        f"{report.handed_over.instances} trigger instances and"
        f" {report.handed_over.executions} queued executions to {new.name}",
    )

    verify_started = clocks.monotonic()
    problem = new.ready() or front.reaches(new)
    if problem is not None:
        back = rollback(old, new, front, timeout=timeout, clocks=clocks, progress=progress)
        report.rolled_back = back.ok
        report.reason = f"{new.name} failed the check after the flip: {problem}; " + (
            "rolled back" if back.ok else f"rolling back failed too: {back.reason}"
        )
        return report
    run.step("verify", verify_started, f"{new.name} is ready, and reached through the front")
    report.ok = True
    return report


def rollback(
    previous: Instance,
    current: Instance,
    front: Front,
    *,
    timeout: float,
    clocks: Clocks,
    progress: Callable[[Step], None] | None = None,
) -> Report:
    """Go back from ``current`` to ``previous``: reopen it, flip the front back, drain
    ``current`` and hand its held and queued work to ``previous``."""
    report = Report("rollback", current.name, previous.name)
    run = _Run(report, clocks, progress)
    started = clocks.monotonic()
    problem = previous.ready()
    if problem is not None:
        report.reason = f"{previous.name} is not ready, nothing changed: {problem}"
        return report
    try:
        _set_and_acknowledge(
            run, previous, IntakeStatus.OPEN, successor=None, reason="rollback", timeout=timeout
        )
    except (_Failed, PackhorseError) as error:
        report.reason = _why(error)
        return report
    try:
        released = previous.release()
    except PackhorseError as error:
        report.reason = (
            f"{previous.name} reopened, but releasing what it held failed: {_why(error)}"
        )
        return report
    report.released = released
    run.step(
        "reopen",
        started,
        f"{previous.name} takes work in again ({released} held trigger instances released)",
    )

    flip_started = clocks.monotonic()
    try:
        report.flip_ms = front.rollback()
    except PackhorseError as error:
        report.reason = f"the front did not flip back: {error.message}"
        return report
    report.flipped = True
    run.step("flip", flip_started, f"the front sends requests to {previous.url}")

    drain_started = clocks.monotonic()
    reason = f"rolled back to {previous.url}"
    try:
        _set_and_acknowledge(
            run,
            current,
            IntakeStatus.DRAINING,
            successor=previous.url,
            reason=reason,
            timeout=timeout,
        )
        view = _finish(run, current, timeout)
        report.still_running, report.parked = view.running, view.parked
        run.step(
            "drain",
            drain_started,
            f"{current.name} drained; {len(view.running)} still running there",
        )
        handover_started = clocks.monotonic()
        current.set_intake(IntakeStatus.CLOSED, successor=previous.url, reason=reason)
        report.handed_over = hand_over(current, previous)
    except (_Failed, PackhorseError) as error:
        report.reason = (
            f"flipped back, but draining {current.name} failed: {_why(error)};"
            " run 'packhorse rollback --handover-only' again"
        )
        return report
    run.step(
        "handover",
        handover_started,
        f"{report.handed_over.instances} trigger instances and"
        f" {report.handed_over.executions} queued executions to {previous.name}",
    )
    report.ok = True
    return report


def _reopen(instance: Instance) -> None:
    # The report says the cutover failed; the intake, if this fails too, says the rest.
    with contextlib.suppress(PackhorseError):
        instance.set_intake(IntakeStatus.OPEN, successor=None, reason="cutover abandoned")


def _back_to_old(old: Instance, new: Instance) -> None:
    """Undo a cutover that opened ``new`` but did not flip: ``old`` takes work in again,
    ``new`` waits closed, and what it queued or held meanwhile goes to ``old``."""
    _reopen(old)
    with contextlib.suppress(PackhorseError):
        new.set_intake(IntakeStatus.CLOSED, successor=old.url, reason="cutover abandoned")
        hand_over(new, old)


def _why(error: Exception) -> str:
    if isinstance(error, _Failed):
        return error.reason
    if isinstance(error, PackhorseError):
        return error.message
    return str(error)
