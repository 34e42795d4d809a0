"""The scheduler: applies action policies (``engine/policies.py``) to stored executions.

Executions of an action with a concurrency policy are stored ``requested``; a scheduler pass
moves them on (``scheduled``, ``delayed`` or ``canceled``) in one write transaction per action
(see :meth:`SqlExecutionStore.schedule`). Passes run right after a request, when a worker ends an
execution of such an action (its slot is free), and periodically (for delays) in the worker
loop of the one process of the site that holds the ``scheduler`` singleton. No coordination
service is needed: the database is the lock. Retries are follow-ups written with the result
of the execution they retry.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import replace

from packhorse.engine.observer import NO_OBSERVER, Observer
from packhorse.engine.policies import (
    ACTIVE,
    NO_POLICIES,
    ActionPolicies,
    plan_retry,
    plan_schedule,
    policies_by_action,
)
from packhorse.errors import PackhorseError
from packhorse.model.content import Kind
from packhorse.model.execution import Execution, Status
from packhorse.storage.executions import SqlExecutionStore
from packhorse.storage.ports import RegistryReader

log = logging.getLogger(__name__)

_ISO = "%Y-%m-%dT%H:%M:%S.%fZ"

FollowUp = tuple[Execution, Status | None]
RetryFor = Callable[[Execution, Status, str], FollowUp | None]
"""``(execution, final status, now) -> the retry to store with the result``, or None."""


class PolicyBook:
    """Enabled policies per action ref, read from the registry and kept ``ttl`` seconds
    (a policy registered while ``up`` runs applies within that time)."""

    def __init__(
        self,
        registry: RegistryReader,
        *,
        ttl: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._registry = registry
        self._ttl = ttl
        self._clock = clock
        self._loaded_at: float | None = None
        self._policies: dict[str, ActionPolicies] = {}

    def for_action(self, action_ref: str) -> ActionPolicies:
        now = self._clock()
        if self._loaded_at is None or now - self._loaded_at >= self._ttl:
            self._policies = policies_by_action(self._registry.list_resources(Kind.POLICY))
            self._loaded_at = now
        return self._policies.get(action_ref, NO_POLICIES)


class Scheduler:
    def __init__(self, store: SqlExecutionStore, book: PolicyBook) -> None:
        self._store = store
        self.book = book
        self.observer: Observer = NO_OBSERVER
        """Told of the executions a concurrency policy cancels."""

    def holds_back(self, action_ref: str) -> bool:
        """True when requests of this action must wait for a scheduler pass."""
        return self.book.for_action(action_ref).concurrency is not None

    def schedule_action(self, action_ref: str, *, now: str) -> list[tuple[str, Status]]:
        policy = self.book.for_action(action_ref).concurrency
        moves = self._store.schedule(
            action_ref,
            lambda waiting, active: plan_schedule(policy, waiting, active),
            holding=ACTIVE,
            now=now,
        )
        canceled = [execution_id for execution_id, status in moves if status is Status.CANCELED]
        if canceled:
            for execution in self._store.get_many(canceled).values():
                self.observer.execution_finished(
                    execution.runner_type,
                    Status.CANCELED,
                    None,  # it never started
                    workflow_task=execution.parent_id is not None,
                )
        return moves

    def run_pass(self, *, now: str) -> list[tuple[str, Status]]:
        """Schedule what waits, action by action. A failing action is logged and skipped."""
        moves: list[tuple[str, Status]] = []
        for action_ref in self._store.waiting_actions(now=now):
            try:
                moves.extend(self.schedule_action(action_ref, now=now))
            except PackhorseError:
                log.exception("scheduling %s failed; will retry", action_ref)
        return moves

    def retry_for(self, execution: Execution, status: Status, now: str) -> FollowUp | None:
        retry = plan_retry(self.book.for_action(execution.action_ref).retry, execution, status)
        if retry is None:
            return None
        moment = dt.datetime.strptime(now, _ISO).replace(tzinfo=dt.UTC)
        run_after = (moment + dt.timedelta(seconds=retry.delay)).strftime(_ISO)
        new = replace(retry.execution, created_at=now, run_after=run_after)
        return new, None
