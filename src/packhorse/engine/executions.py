"""Executions as a use case: request, inspect, cancel and re-run.

A request is validated before anything is stored (unknown or disabled action, parameters that
do not render), then stored as ``requested`` and scheduled in the same call (or, for an action
with a concurrency policy, by a scheduler pass); workers take it from the queue. Secret
parameters are stored encrypted and shown masked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from packhorse.crypto.cipher import is_encrypted_token
from packhorse.engine.cache import ActionSchema
from packhorse.engine.clock import iso_now
from packhorse.engine.ids import new_id
from packhorse.engine.scheduling import Scheduler
from packhorse.errors import Conflict, NotFound, PackhorseError
from packhorse.model.content import Kind, Resource
from packhorse.model.execution import COMPLETED, Execution, Status
from packhorse.params import schema_for_action
from packhorse.params.masking import MASK
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
        self._on_created = on_created
        self._scheduler = scheduler
        self._schema_for = schema_for or (lambda action: schema_for_action(action.body))

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
    ) -> Execution:
        """Validate and queue one execution; returns it as stored: ``scheduled``, or, when a
        concurrency policy holds it back, ``delayed`` or ``canceled``."""
        action = self.action(action_ref)
        full_context = {"user": user, "pack": action.pack, **(context or {})}
        if self._validate is not None:
            self._validate(action, parameters, full_context)
        now = self._clock()
        execution = Execution(
            id=new_id(),
            action_ref=action.ref,
            runner_type=str(action.body.get("runner_type", "")),
            status=Status.REQUESTED,
            parameters=self._protect(action, parameters),
            context=full_context,
            created_at=now,
            parent_id=parent_id,
        )
        if self._scheduler is not None and self._scheduler.holds_back(action.ref):
            # A concurrency policy decides: stored requested, then one scheduler pass.
            self._store.create(execution)
            self._scheduler.schedule_action(action.ref, now=self._clock())
            if self._on_created is not None:
                self._on_created(execution.id)
            return self.get(execution.id)
        # No scheduling policy holds it back: requested and scheduled in one write.
        self._store.create(execution, then=Status.SCHEDULED)
        if self._on_created is not None:
            self._on_created(execution.id)
        return replace(
            execution,
            status=Status.SCHEDULED,
            log=(
                {"status": Status.REQUESTED.value, "timestamp": now},
                {"status": Status.SCHEDULED.value, "timestamp": now},
            ),
        )

    def _protect(self, action: Resource, parameters: Mapping[str, Any]) -> dict[str, Any]:
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

    def cancel(self, execution_id: str) -> Execution:
        """Cancel: at once when not started; a running one goes ``canceling`` and its worker
        kills it."""
        execution = self.get(execution_id)
        if execution.status in COMPLETED:
            raise Conflict(
                f"execution {execution_id} is already {execution.status.value}; nothing to cancel"
            )
        now = self._clock()
        if not self._store.transition(
            execution_id,
            Status.CANCELED,
            now=now,
            expected=(Status.REQUESTED, Status.SCHEDULED, Status.DELAYED, Status.PAUSED),
        ):
            self._store.transition(execution_id, Status.CANCELING, now=now)
        return self.get(execution_id)

    def re_run(self, execution_id: str, *, user: str, overrides: Mapping[str, Any]) -> Execution:
        """A new execution of the same action with the same parameters (plus overrides)."""
        original = self.get(execution_id)
        parameters = {**original.parameters, **overrides}
        return self.request(
            original.action_ref,
            parameters,
            user=user,
            context={"re-run": {"ref": execution_id}},
        )


def display_parameters(execution: Execution) -> dict[str, Any]:
    """Parameters for showing: encrypted (secret) values as the mask."""
    return {k: MASK if is_encrypted_token(v) else v for k, v in execution.parameters.items()}


def for_display(execution: Execution) -> Execution:
    return replace(execution, parameters=display_parameters(execution))
