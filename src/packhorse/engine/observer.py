"""What the engine tells whoever watches it: an execution ended, a rule matched, a sensor
restarted. The engine calls an :class:`Observer`; it never knows what is behind it (the
Prometheus metrics of ``packhorse up``, a test's recorder, or nothing at all).

The runtime's parts that end executions each tell it: the worker (runners), the workflow
shell (workflows), the execution service (a cancel that ends one at once), the scheduler (a
concurrency policy's cancel) and the inquiry service (an answer or a timeout). Not told:
executions settled by ``recover`` at start-up, and a workflow's delayed or pending tasks that
its cancel cancels in the same step.

An observer is called on the engine's hot path, from the event loop and from worker threads
alike: it must be quick, thread-safe and must not raise.
"""

from __future__ import annotations

from typing import Protocol

from packhorse.model.execution import Status


class Observer(Protocol):
    """Engine events worth counting. Every method returns at once and never raises."""

    def execution_finished(
        self, runner: str, status: Status, seconds: float | None, *, workflow_task: bool
    ) -> None:
        """An execution of ``runner`` reached the final ``status`` after running for
        ``seconds`` (None when it never started); ``workflow_task``: a task of a workflow."""

    def rule_matched(self, rule: str) -> None:
        """The rule ``rule`` (a ref) matched a trigger instance."""

    def rule_enforced(self, rule: str, *, failed: bool) -> None:
        """An enforcement of ``rule`` was written; ``failed``: its action could not be
        requested (the enforcement says why)."""

    def sensor_restarted(self, sensor: str) -> None:
        """The sensor ``sensor`` (a ref) is started again after it failed."""


class NoObserver:
    """The default: nobody is watching."""

    def execution_finished(
        self, runner: str, status: Status, seconds: float | None, *, workflow_task: bool
    ) -> None:
        pass

    def rule_matched(self, rule: str) -> None:
        pass

    def rule_enforced(self, rule: str, *, failed: bool) -> None:
        pass

    def sensor_restarted(self, sensor: str) -> None:
        pass


NO_OBSERVER: Observer = NoObserver()
