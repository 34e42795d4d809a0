"""The order of ``packhorse cutover`` and ``rollback`` (migrate/cutover.py), over fakes of its
two ports: an instance that keeps its intake and its work in memory, and a front."""

from __future__ import annotations

from dataclasses import replace

import pytest

from packhorse.errors import FlipRefused, PackhorseError
from packhorse.migrate import cutover as steps
from packhorse.model.events import TriggerInstance
from packhorse.model.execution import Execution, Status
from packhorse.model.intake import INITIAL, IntakeState, IntakeStatus, Moved, Parcel


class Journal(list[str]):
    """What the fakes were asked, in order, across both instances and the front."""


class FakeInstance:
    def __init__(self, name: str, journal: Journal, *, ready: str | None = None) -> None:
        self.name = name
        self.url = f"http://{name}"
        self.journal = journal
        self.problem = ready
        self.unhealthy: str | None = None
        self.state = INITIAL
        self.held: dict[str, TriggerInstance] = {}
        self.queued: dict[str, Execution] = {}
        self.stored: list[str] = []
        """Every id this instance stored as received, repeats included (there must be none)."""
        self.running: tuple[str, ...] = ()
        self.lagging = 0
        """How many reads of the intake still show a process that has not applied it."""
        self.crash_on_mark = False
        self.older = False
        """A version without recipient keys (it cannot take sealed secrets)."""
        self.sealed_for: list[str | None] = []
        """The recipient key each parcel was asked for with."""

    def ready(self) -> str | None:
        return self.problem

    def health(self) -> str | None:
        self.journal.append(f"{self.name}: health")
        return self.unhealthy

    def intake(self) -> steps.IntakeView:
        waiting: tuple[str, ...] = ()
        if self.lagging:
            self.lagging -= 1
            waiting = ("node-2",)
        return steps.IntakeView(self.state, waiting, self.running)

    def set_intake(
        self, status: IntakeStatus, *, successor: str | None, reason: str | None
    ) -> IntakeState:
        self.journal.append(f"{self.name}: {status.value}")
        self.state = IntakeState(status, self.state.generation + 1, successor, reason)
        return self.state

    def recipient_key(self) -> str | None:
        return None if self.older else f"phr1:{self.name}"

    def outgoing(self, *, recipient: str | None = None) -> Parcel:
        self.sealed_for.append(recipient)
        return Parcel(tuple(self.held.values()), tuple(self.queued.values()))

    def receive(self, parcel: Parcel) -> Moved:
        self.journal.append(f"{self.name}: receive")
        fresh = [i for i in parcel.instances if i.id not in self.stored]
        fresh_executions = [e for e in parcel.executions if e.id not in self.stored]
        self.stored += [i.id for i in fresh] + [e.id for e in fresh_executions]
        return Moved(len(fresh), len(fresh_executions))

    def release(self) -> int:
        self.journal.append(f"{self.name}: release")
        released = len(self.held)
        self.held.clear()
        return released

    def hand_over(
        self, instance_ids: list[str], execution_ids: list[str], *, successor: str
    ) -> Moved:
        if self.crash_on_mark:
            self.crash_on_mark = False
            raise PackhorseError("connection reset")
        self.journal.append(f"{self.name}: marked for {successor}")
        for id_ in instance_ids:
            self.held.pop(id_)
        for id_ in execution_ids:
            self.queued.pop(id_)
        return Moved(len(instance_ids), len(execution_ids))


class FakeFront:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.active = "http://old"
        self.previous: str | None = None
        self.refuse: str | None = None

    def flip(self, to: str) -> float:
        if self.refuse:
            raise FlipRefused(self.refuse)
        self.journal.append(f"front: {to}")
        self.active, self.previous = to, self.active
        return 3.0

    def rollback(self) -> float:
        assert self.previous is not None
        return self.flip(self.previous)

    def reaches(self, instance: FakeInstance) -> str | None:
        return None if self.active == instance.url else f"the front sends to {self.active}"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _instance(id_: str) -> TriggerInstance:
    return TriggerInstance(id_, "core.st2.webhook", "core.st2.webhook", {"n": id_}, "t0")


def _execution(id_: str) -> Execution:
    return Execution(id_, "core.noop", "noop", Status.SCHEDULED, {}, {}, "t0")


@pytest.fixture
def site() -> tuple[FakeInstance, FakeInstance, FakeFront, Journal, steps.Clocks]:
    journal = Journal()
    old, new = FakeInstance("old", journal), FakeInstance("new", journal)
    old.held = {"t1": _instance("t1"), "t2": _instance("t2")}
    old.queued = {"e1": _execution("e1")}
    clock = Clock()
    return old, new, FakeFront(journal), journal, steps.Clocks(clock.monotonic, clock.sleep)


Site = tuple[FakeInstance, FakeInstance, FakeFront, Journal, steps.Clocks]


def test_a_cutover_checks_drains_flips_then_hands_over(site: Site) -> None:
    old, new, front, journal, clocks = site
    old.lagging = 3  # a process applies the drain after three looks
    report = steps.cutover(old, new, front, timeout=10, clocks=clocks)
    assert report.ok, report.reason
    assert journal == [
        "new: health",
        "old: draining",
        "new: open",
        "new: release",
        "front: http://new",
        "old: closed",
        "new: receive",
        "old: marked for http://new",
    ]
    assert [s.name for s in report.steps] == [
        "check",
        "drain",
        "open",
        "finish",
        "flip",
        "handover",
        "verify",
    ]
    assert report.handed_over == Moved(2, 1)
    assert new.stored == ["t1", "t2", "e1"]
    # Every parcel is sealed for the receiver's recipient key (secrets never go in clear).
    assert old.sealed_for and set(old.sealed_for) == {"phr1:new"}
    assert report.drain_to_flip_seconds == pytest.approx(3 * steps.POLL_SECONDS)
    assert report.flip_ms == 3.0
    assert old.state.successor == "http://new"


def test_a_receiver_without_a_recipient_key_is_asked_for_parcels_without_one(site: Site) -> None:
    old, new, _front, _journal, _clocks = site
    new.older = True
    assert steps.hand_over(old, new) == Moved(2, 1)
    assert old.sealed_for and set(old.sealed_for) == {None}


def test_a_failing_health_gate_changes_nothing_and_says_why(site: Site) -> None:
    old, new, front, journal, clocks = site
    new.unhealthy = "core.local exited 1"
    report = steps.cutover(old, new, front, timeout=10, clocks=clocks)
    assert not report.ok
    assert report.reason == "new failed its health gate, nothing changed: core.local exited 1"
    assert journal == ["new: health"]
    assert old.state == INITIAL and front.active == "http://old"
    new.unhealthy, new.problem = None, "/ready answered 503: database schema is behind"
    report = steps.cutover(old, new, front, timeout=10, clocks=clocks)
    assert report.reason is not None and "database schema is behind" in report.reason
    assert journal == ["new: health"]  # not ready: its gate is not even run


def test_processes_that_never_apply_the_drain_leave_the_old_instance_open(site: Site) -> None:
    old, new, front, _journal, clocks = site
    old.lagging = 10_000
    report = steps.cutover(old, new, front, timeout=2, clocks=clocks)
    assert not report.ok
    assert report.reason is not None and "node-2" in report.reason
    assert old.state.status is IntakeStatus.OPEN
    assert front.active == "http://old"


def test_a_refused_flip_reopens_the_old_instance(site: Site) -> None:
    old, new, front, journal, clocks = site
    front.refuse = "not flipped: http://new/ready answered 503"
    report = steps.cutover(old, new, front, timeout=2, clocks=clocks)
    assert not report.ok and report.reason is not None and "503" in report.reason
    assert journal[-5:] == [
        "old: draining",
        "new: open",
        "new: release",
        "old: open",
        "new: closed",
    ]
    assert new.stored == [] and len(old.held) == 2
    assert new.state.status is IntakeStatus.CLOSED  # waits for the next cutover


def test_a_new_instance_whose_processes_do_not_open_leaves_the_old_one_open(site: Site) -> None:
    old, new, front, journal, clocks = site
    new.state = IntakeState(IntakeStatus.CLOSED, 1, None, "standby")
    real = new.intake
    calls = {"n": 0}

    def lagging_once_open() -> steps.IntakeView:
        view = real()
        if view.state.status is IntakeStatus.OPEN:
            calls["n"] += 1
            return steps.IntakeView(view.state, ("node-7",), view.running)
        return view

    new.intake = lagging_once_open  # type: ignore[method-assign]
    report = steps.cutover(old, new, front, timeout=1, clocks=clocks)
    assert not report.ok and report.reason is not None and "node-7" in report.reason
    assert old.state.status is IntakeStatus.OPEN and front.active == "http://old"
    assert new.state.status is IntakeStatus.CLOSED
    assert "front: http://new" not in journal


def test_a_new_instance_in_standby_is_gated_once_open_and_put_back_if_it_fails(
    site: Site,
) -> None:
    old, new, front, journal, clocks = site
    new.state = IntakeState(IntakeStatus.CLOSED, 1, None, "standby")
    new.unhealthy = "ops.smoke failed"
    report = steps.cutover(old, new, front, timeout=10, clocks=clocks)
    assert not report.ok and report.reason is not None
    assert report.reason.startswith("new failed its health gate: ops.smoke failed; the front")
    assert journal == [
        "old: draining",
        "new: open",
        "new: release",
        "new: health",
        "old: open",
        "new: closed",
    ]
    assert front.active == "http://old" and new.state.status is IntakeStatus.CLOSED

    journal.clear()
    new.unhealthy = None
    report = steps.cutover(old, new, front, timeout=10, clocks=clocks)
    assert report.ok, report.reason
    assert [s.name for s in report.steps][:4] == ["check", "drain", "open", "gate"]
    assert journal[:5] == ["old: draining", "new: open", "new: release", "new: health",
                           "front: http://new"]  # fmt: skip


def test_what_still_runs_after_the_timeout_stays_on_the_old_instance(site: Site) -> None:
    old, new, front, _journal, clocks = site
    old.running = ("e9",)
    report = steps.cutover(old, new, front, timeout=1, clocks=clocks)
    assert report.ok
    assert report.still_running == ("e9",)
    finish = next(s for s in report.steps if s.name == "finish")
    assert finish.seconds == pytest.approx(1, abs=steps.POLL_SECONDS)


def test_a_crash_between_storing_and_marking_hands_over_nothing_twice(site: Site) -> None:
    old, new, front, _journal, clocks = site
    old.crash_on_mark = True
    report = steps.cutover(old, new, front, timeout=10, clocks=clocks)
    assert not report.ok
    assert report.reason is not None and "--handover-only" in report.reason
    assert new.stored == ["t1", "t2", "e1"] and len(old.held) == 2  # stored, not marked
    moved = steps.hand_over(old, new)  # the repeat: the receiver already has them all
    assert moved == Moved(2, 1)
    assert new.stored == ["t1", "t2", "e1"]
    assert old.outgoing().empty


def test_a_new_instance_not_ready_after_the_flip_is_rolled_back(site: Site) -> None:
    old, new, front, _journal, clocks = site

    real_flip = front.flip

    def flip_then_fail(to: str) -> float:
        outcome = real_flip(to)
        if to == new.url:
            new.problem = "database unreachable"
        return outcome

    front.flip = flip_then_fail  # type: ignore[method-assign]
    report = steps.cutover(old, new, front, timeout=10, clocks=clocks)
    assert not report.ok and report.rolled_back
    assert report.reason is not None and "database unreachable" in report.reason
    assert front.active == "http://old"
    assert old.state.status is IntakeStatus.OPEN
    assert new.state.status is IntakeStatus.CLOSED


def test_a_rollback_reopens_flips_back_then_drains_and_hands_over(site: Site) -> None:
    old, new, front, journal, clocks = site
    assert steps.cutover(old, new, front, timeout=10, clocks=clocks).ok
    journal.clear()
    new.held = {"t3": _instance("t3")}
    old.held = {"t4": _instance("t4")}  # reached the old instance after its handover
    new.queued = {"e1": replace(_execution("e1"), status=Status.REQUESTED)}  # came from old
    report = steps.rollback(old, new, front, timeout=10, clocks=clocks)
    assert report.ok, report.reason
    assert journal == [
        "old: open",
        "old: release",
        "front: http://old",
        "new: draining",
        "new: closed",
        "old: receive",
        "new: marked for http://old",
    ]
    assert report.handed_over == Moved(1, 1)
    assert report.released == 1
    assert report.flip_ms == 3.0
