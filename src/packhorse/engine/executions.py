"""Executions as a use case: request, inspect, cancel and re-run.

A request is validated before anything is stored (unknown or disabled action, parameters that
do not render), then stored as ``requested`` and scheduled in the same call (or, for an action
with a concurrency policy, by a scheduler pass); workers take it from the queue. Secret
parameters are stored encrypted and shown masked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from packhorse.crypto.cipher import is_encrypted_token
from packhorse.engine.cache import ActionSchema
from packhorse.engine.clock import iso_now, parse_iso, utc_now
from packhorse.engine.ids import new_id
from packhorse.engine.observer import NO_OBSERVER, Observer
from packhorse.engine.scheduling import Scheduler
from packhorse.errors import Conflict, NotFound, PackhorseError
from packhorse.model.content import Kind, Resource
from packhorse.model.execution import COMPLETED, Execution, Status
from packhorse.model.runner_types import RUNNER_TYPES
from packhorse.params import schema_for_action
from packhorse.params.masking import MASK
from packhorse.storage.driver import DriverTransaction
from packhorse.storage.executions import ExecutionFilter, SqlExecutionStore
from packhorse.storage.ports import RegistryReader


class ActionUnavailable(PackhorseError):
    """The action cannot be run: unknown, disabled, or its runner is missing."""


class ExecutionService:
    def __init__(
        self,
        store: SqlExecutionStore,
        registry: RegistryReader,
        *,
        encrypt: Callable[[str], str],
        validate: Callable[[Resource, Mapping[str, Any], Mapping[str, Any]], None] | None = None,
        clock: Callable[[], str] = iso_now,
        on_created: Callable[[str], None] | None = None,
        scheduler: Scheduler | None = None,
        schema_for: Callable[[Resource], ActionSchema] | None = None,
    ) -> None:
        """``schema_for`` gives an action's effective schema (default: built on each call;
        the runtime passes the cache its renderer uses)."""
        self._store = store
        self._registry = registry
        self._encrypt = encrypt
        self._validate = validate
        self._clock = clock
        self.on_created = on_created
        self.observer: Observer = NO_OBSERVER
        """Told when a cancel ends an execution at once."""
        self._scheduler = scheduler
        self._schema_for = schema_for or (lambda action: schema_for_action(action.body))
        self.workflow_request: Callable[[str, str], None] | None = None
        """Queues a pause, resume or cancel for a workflow (set by the composition root)."""

    def action(self, ref: str) -> Resource:
        action = self._registry.get_resource(Kind.ACTION, ref)
        if action is None:
            raise ActionUnavailable(
                f"action {ref!r} is not registered",
                hint="see 'packhorse action list', or register its pack",
            )
        if not action.enabled:
            raise ActionUnavailable(f"action {ref!r} is disabled")
        return action

    def request(
        self,
        action_ref: str,
        parameters: Mapping[str, Any],
        *,
        user: str,
        context: Mapping[str, Any] | None = None,
        parent_id: str | None = None,
        execution_id: str | None = None,
        along: Callable[[DriverTransaction], None] | None = None,
        sealed: Mapping[str, Any] | None = None,
    ) -> Execution:
        """Validate and queue one execution; returns it as stored: ``scheduled``, or, when a
        concurrency policy holds it back, ``delayed`` or ``canceled``. ``along`` writes what
        goes with it in the same transaction (a rule enforcement naming ``execution_id``).
        ``sealed``: secret parameters already encrypted (a re-run's, from storage), stored as
        they are rather than encrypted a second time."""
        action = self.action(action_ref)
        full_context = {"user": user, "pack": action.pack, **(context or {})}
        if self._validate is not None:
            self._validate(action, {**parameters, **(sealed or {})}, full_context)
        now = self._clock()
        execution = Execution(
            id=execution_id or new_id(),
            action_ref=action.ref,
            runner_type=str(action.body.get("runner_type", "")),
            status=Status.REQUESTED,
            parameters={**self.protect(action, parameters), **(sealed or {})},
            context=full_context,
            created_at=now,
            parent_id=parent_id,
        )
        if self._scheduler is not None and self._scheduler.holds_back(action.ref):
            # A concurrency policy decides: stored requested, then one scheduler pass.
            self._store.create(execution, along=along)
            self._scheduler.schedule_action(action.ref, now=self._clock())
            if self.on_created is not None:
                self.on_created(execution.id)
            return self.get(execution.id)
        # No scheduling policy holds it back: requested and scheduled in one write.
        self._store.create(execution, then=Status.SCHEDULED, along=along)
        if self.on_created is not None:
            self.on_created(execution.id)
        return replace(
            execution,
            status=Status.SCHEDULED,
            log=(
                {"status": Status.REQUESTED.value, "timestamp": now},
                {"status": Status.SCHEDULED.value, "timestamp": now},
            ),
        )

    def protect(self, action: Resource, parameters: Mapping[str, Any]) -> dict[str, Any]:
        """Secret parameters (the action's and its runner's) are stored encrypted."""
        schema, _ = self._schema_for(action)
        protected = dict(parameters)
        for name, value in parameters.items():
            spec = schema.get(name)
            if isinstance(spec, Mapping) and spec.get("secret") and isinstance(value, str):
                protected[name] = self._encrypt(value)
        return protected

    def get(self, execution_id: str) -> Execution:
        execution = self._store.get(execution_id)
        if execution is None:
            raise NotFound("execution", execution_id)
        return execution

    def list(self, query: ExecutionFilter) -> list[Execution]:
        return self._store.find(query)

    def child_ids(self, parent_ids: Sequence[str]) -> Mapping[str, Sequence[str]]:
        """The ids of the executions each of ``parent_ids`` started (a workflow's tasks)."""
        return self._store.child_ids(parent_ids)

    def count(self, query: ExecutionFilter) -> int:
        """How many executions ``query`` matches, paging aside."""
        return self._store.count(query)

    def cancel(self, execution_id: str) -> Execution:
        """Cancel: at once when not started; a running one goes ``canceling`` and its worker
        kills it (a running workflow cancels its running tasks, then ends ``canceled``)."""
        execution = self.get(execution_id)
        if execution.status in COMPLETED:
            raise Conflict(
                f"execution {execution_id} is already {execution.status.value}; nothing to cancel"
            )
        now = self._clock()
        if self._store.transition(
            execution_id,
            Status.CANCELED,
            now=now,
            expected=(Status.REQUESTED, Status.SCHEDULED, Status.DELAYED),
        ):
            self._canceled(execution, started=False)
            return self.get(execution_id)
        if self._is_workflow(execution):
            self._workflow_request(execution_id, "cancel")
        elif self._store.transition(
            execution_id, Status.CANCELED, now=now, expected=(Status.PAUSED, Status.PENDING)
        ):
            self._canceled(execution, started=True)
        else:
            self._store.transition(execution_id, Status.CANCELING, now=now)
        return self.get(execution_id)

    def _canceled(self, execution: Execution, *, started: bool) -> None:
        seconds = None
        if started and execution.start_timestamp:
            seconds = (utc_now() - parse_iso(execution.start_timestamp)).total_seconds()
        self.observer.execution_finished(
            execution.runner_type,
            Status.CANCELED,
            seconds,
            workflow_task=execution.parent_id is not None,
        )

    def pause(self, execution_id: str) -> Execution:
        """Pause a running workflow: ``pausing`` until its running tasks end, then ``paused``."""
        return self._workflow_only(execution_id, "pause", (Status.RUNNING, Status.RESUMING))

    def resume(self, execution_id: str) -> Execution:
        """Resume a paused (or pausing) workflow where it stopped."""
        return self._workflow_only(execution_id, "resume", (Status.PAUSED, Status.PAUSING))

    def _workflow_only(
        self, execution_id: str, request: str, allowed: tuple[Status, ...]
    ) -> Execution:
        execution = self.get(execution_id)
        if not self._is_workflow(execution):
            raise Conflict(
                f"execution {execution_id} runs {execution.runner_type!r}, which cannot {request}",
                hint="only workflow executions (orquesta, action-chain) pause and resume",
            )
        if execution.status not in allowed:
            raise Conflict(
                f"execution {execution_id} is {execution.status.value}; "
                f"only a {' or '.join(s.value for s in allowed)} workflow can {request}"
            )
        self._workflow_request(execution_id, request)
        return self.get(execution_id)

    def _is_workflow(self, execution: Execution) -> bool:
        runner = RUNNER_TYPES.get(execution.runner_type)
        return runner is not None and runner.workflow and self.workflow_request is not None

    def _workflow_request(self, execution_id: str, request: str) -> None:
        assert self.workflow_request is not None
        self.workflow_request(execution_id, request)

    def re_run(
        self,
        execution_id: str,
        *,
        user: str,
        overrides: Mapping[str, Any],
        tasks: Sequence[str] = (),
        no_reset: Sequence[str] = (),
    ) -> Execution:
        """A new execution of the same action with the same parameters (plus overrides).

        For a workflow, ``tasks`` reruns it from those tasks instead of from the start: the new
        execution carries on from the original's state (StackStorm's ``re-run --tasks``);
        with-items tasks rerun every item unless named in ``no_reset`` (then only failed ones).
        """
        original = self.get(execution_id)
        re_run: dict[str, Any] = {"ref": execution_id}
        if tasks or no_reset:
            runner = RUNNER_TYPES.get(original.runner_type)
            if runner is None or not runner.workflow:
                raise Conflict(
                    f"execution {execution_id} is not a workflow; --tasks reruns workflow tasks"
                )
            if not original.completed:
                raise Conflict(
                    f"workflow {execution_id} is still {original.status.value}; "
                    "only a completed workflow can rerun tasks"
                )
            unknown = sorted(set(no_reset) - set(tasks))
            if unknown:
                raise Conflict(f"--no-reset names tasks not rerun: {', '.join(unknown)}")
            re_run["tasks"] = list(tasks)
            re_run["reset"] = [t for t in tasks if t not in set(no_reset)]
        # The original's secrets are stored encrypted: kept so, unless overridden.
        sealed = {
            name: value
            for name, value in original.parameters.items()
            if name not in overrides and is_encrypted_token(value)
        }
        parameters = {
            name: value
            for name, value in {**original.parameters, **overrides}.items()
            if name not in sealed
        }
        return self.request(
            original.action_ref,
            parameters,
            user=user,
            context={"re-run": re_run},
            sealed=sealed,
        )


def display_parameters(execution: Execution) -> dict[str, Any]:
    """Parameters for showing: encrypted (secret) values as the mask."""
    return {k: MASK if is_encrypted_token(v) else v for k, v in execution.parameters.items()}


def for_display(execution: Execution) -> Execution:
    return replace(execution, parameters=display_parameters(execution))
