"""Workflow drivers: the workflow languages behind the workflow shell.

Each adapts a pure core from ``packhorse.workflow`` to :class:`~packhorse.model.workflow.
WorkflowSession`: it turns child execution events and requests into the core's steps, and the
core's answers into the shell's commands (start an action, signal children, finish).
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from packhorse.engine.clock import iso, utc_now
from packhorse.errors import ConfigurationError, Conflict, WorkflowInspectionFailed
from packhorse.model.datastore import Scope
from packhorse.model.workflow import Command, Finish, SignalChildren, StartAction
from packhorse.workflow import actionchain as chains
from packhorse.workflow import conductor as orquesta
from packhorse.workflow.inspection import (
    ActionParameters,
    InspectionError,
    check_actions,
    inspect_definition,
    ordered,
)
from packhorse.workflow.state import WorkflowState

Functions = Mapping[str, Any]
"""Names a driver adds to expressions (``st2kv``...), per workflow user."""


class ChainSession:
    """One action-chain execution: the chain (parsed once per definition) and its state."""

    PART = "chain"

    def __init__(
        self,
        chain: chains.ChainSpec,
        state: chains.ChainState | None,
        *,
        clock: Callable[[], dt.datetime],
        functions: Functions,
        execution_id: str = "",
        start: Callable[[], tuple[chains.ChainState, chains.Step]] | None = None,
    ) -> None:
        self._chain = chain
        self._state = state
        self._clock = clock
        self._functions = functions
        self._execution_id = execution_id
        self._start = start
        self._dirty = False

    @property
    def status(self) -> str | None:
        if self._state is None:
            return None
        return self._state.status.value

    def _now(self) -> str:
        return iso(self._clock())

    def _step(self, outcome: tuple[chains.ChainState, chains.Step | None]) -> list[Command]:
        self._state, step = outcome
        self._dirty = True
        if isinstance(step, chains.RunNode):
            return [
                StartAction(
                    {"node": step.node},
                    step.action_ref,
                    step.parameters,
                    context=step.context,
                )
            ]
        if isinstance(step, chains.ChainFinished):
            return [Finish(step.status.value, step.result)]
        return []  # paused, or waiting for the running node

    def begin(self) -> list[Command]:
        assert self._start is not None
        return self._step(self._start())

    def child_event(
        self, key: Mapping[str, Any], status: str, result: Any, execution_id: str
    ) -> list[Command]:
        assert self._state is not None
        node = str(key.get("node", ""))
        if not execution_id and isinstance(result, Mapping) and "error" in result:
            # The shell could not start the action at all.
            if "is not registered" in str(result["error"]):
                return self._step(chains.action_missing(self._chain, self._state, node))
            return self._step(
                chains.start_failed(
                    self._chain,
                    self._state,
                    node,
                    str(result["error"]),
                    now=self._now(),
                    functions=self._functions,
                )
            )
        if status in ("resuming", "running"):
            return []
        return self._step(
            chains.on_result(
                self._chain,
                self._state,
                node,
                status,
                result,
                execution_id=execution_id,
                now=self._now(),
                functions=self._functions,
            )
        )

    def request(self, status: str, options: Mapping[str, Any] | None = None) -> list[Command]:
        assert self._state is not None
        if status == "pause":
            commands = self._step(chains.pause(self._state))
            return [*commands, SignalChildren([], "pause")]
        if status == "resume":
            commands = self._step(
                chains.resume(self._chain, self._state, now=self._now(), functions=self._functions)
            )
            return [*commands, SignalChildren([], "resume")]
        if status == "cancel":
            commands = self._step(chains.cancel(self._state))
            return [*commands, SignalChildren([], "cancel")]
        raise Conflict(f"an action chain cannot {status}")

    def take_changes(self) -> tuple[dict[str, Any], set[str]]:
        if not self._dirty or self._state is None:
            return {}, set()
        self._dirty = False
        return {self.PART: self._state.to_json()}, set()

    def tree(self) -> list[Mapping[str, Any]]:
        if self._state is None:
            return []
        tree: list[Mapping[str, Any]] = [
            {"node": task.get("name"), "status": task.get("state")} for task in self._state.tasks
        ]
        running = self._state.running
        if running is not None and running.waiting is None:
            tree.append({"node": running.name, "status": "running"})
        return tree


@lru_cache(maxsize=64)
def _parse_chain(definition: str) -> chains.ChainSpec:
    chain, diagnostics = chains.parse_chain(definition, "chain.yaml")
    if chain is None:
        problems = "; ".join(d.message for d in diagnostics if d.severity.value == "error")
        raise ConfigurationError(f"the action chain is not valid: {problems}")
    return chain


class ChainDriver:
    """Action chains (runner type ``action-chain``)."""

    kind = "action-chain"

    def __init__(
        self,
        *,
        functions_for: Callable[[str], Functions] = lambda user: {},
        config_for: Callable[[str], Mapping[str, Any]] = lambda pack: {},
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self._functions_for = functions_for
        self._config_for = config_for
        self._clock = clock

    def _functions(self, user: str, pack: str) -> dict[str, Any]:
        """Host names for templates; the pack config is resolved here, per session, so that
        its decrypted secrets never reach the stored state."""
        return {**self._functions_for(user), "config_context": _LazyConfig(self._config_for, pack)}

    def start(
        self, definition: str, parameters: Mapping[str, Any], context: Mapping[str, Any]
    ) -> ChainSession:
        chain = _parse_chain(definition)
        st2 = context.get("st2") or {}
        execution_id = str(st2.get("action_execution_id") or "")
        user = str(context.get("user") or "")
        functions = self._functions(user, str(context.get("pack") or ""))
        own_context = {k: v for k, v in context.items() if k not in {"st2", "re-run"}}
        runner = context.get("runner_parameters") or {}

        def first() -> tuple[chains.ChainState, chains.Step]:
            return chains.start(
                chain,
                parameters,
                own_context,
                execution_id=execution_id,
                now=iso(self._clock()),
                display_published=bool(runner.get("display_published", True)),
                skip_notify=tuple(runner.get("skip_notify") or ()),
                functions=functions,
            )

        return ChainSession(
            chain,
            None,
            clock=self._clock,
            functions=functions,
            execution_id=execution_id,
            start=first,
        )

    def load(self, definition: str, parts: Mapping[str, Any]) -> ChainSession:
        state = chains.ChainState.from_json(parts[ChainSession.PART])
        user = str(state.parent.get("user") or "")
        pack = str(state.parent.get("pack") or "")
        return ChainSession(
            _parse_chain(definition),
            state,
            clock=self._clock,
            functions=self._functions(user, pack),
        )


class _LazyConfig(Mapping[str, Any]):
    """A pack's config, resolved on first use (most chains never read ``config_context``)."""

    def __init__(self, config_for: Callable[[str], Mapping[str, Any]], pack: str) -> None:
        self._config_for = config_for
        self._pack = pack
        self._values: Mapping[str, Any] | None = None

    def _resolved(self) -> Mapping[str, Any]:
        if self._values is None:
            self._values = self._config_for(self._pack) if self._pack else {}
        return self._values

    def __getitem__(self, key: str) -> Any:
        return self._resolved()[key]

    def __iter__(self) -> Any:
        return iter(self._resolved())

    def __len__(self) -> int:
        return len(self._resolved())


# -- Orquesta -----------------------------------------------------------------------------

#: Failed statuses for which StackStorm's workflow result carries ``errors``.
_ERRORED = frozenset({"failed", "timeout", "abandoned"})

#: Orquesta's engine commands: entries of the task sequence that ran nothing.
_ENGINE_COMMANDS = frozenset({"continue", "noop", "fail"})

#: Keys of an execution's context that only Packhorse's host uses (not in ``ctx().parent``).
_HOST_CONTEXT = frozenset({"st2", "runner_parameters", "workflow_key"})

#: The requests a person (or a parent workflow) may make; the conductor's names are the same.
_REQUESTS = frozenset({"pause", "resume", "cancel", "rerun"})


class ExpressionEvaluationException(Exception):
    """Raised by StackStorm's expression functions (the name shows in workflow errors)."""


def st2kv_function(
    read: Callable[[Scope, str, str], tuple[str, bool] | None],
    decrypt: Callable[[str], str],
    user: str,
) -> Callable[..., Any]:
    """Orquesta's ``st2kv(key, decrypt=False, default=...)``: ``system.<name>`` reads the system
    scope, ``user.<name>`` or a bare name the workflow user's scope. ``read(scope, user, name)``
    gives ``(value, secret)`` or None."""

    def st2kv(key: Any, decrypt_value: bool = False, **options: Any) -> Any:
        if not isinstance(key, str):
            raise TypeError("Given key is not typeof string.")
        decrypt_value = bool(options.pop("decrypt", decrypt_value))
        scope_name, _, name = key.partition(".")
        if scope_name == "system" and name:
            found, stored_as = read(Scope.SYSTEM, "", name), name
        elif scope_name == "user" and name:
            found, stored_as = read(Scope.USER, user, name), f"{user}:{name}"
        else:
            found, stored_as = read(Scope.USER, user, key), f"{user}:{key}"
        if found is None:
            if "default" in options:
                return options["default"]
            # StackStorm names the key as stored: without "system.", with "<user>:".
            raise ExpressionEvaluationException(
                f'The key "{stored_as}" does not exist in the StackStorm datastore.'
            )
        value, secret = found
        return decrypt(value) if secret and decrypt_value else value

    return st2kv


class OrquestaSession:
    """One Orquesta workflow: its conductor (shared per definition) and its state."""

    def __init__(self, conductor: orquesta.Conductor, state: WorkflowState) -> None:
        self._conductor = conductor
        self._state = state

    @property
    def status(self) -> str | None:
        status = self._state.status
        return None if status is None else str(status)

    def begin(self) -> list[Command]:
        return self._commands(self._conductor.apply(self._state, orquesta.Request("run")))

    def child_event(
        self, key: Mapping[str, Any], status: str, result: Any, execution_id: str
    ) -> list[Command]:
        if status == "resuming":
            # A paused child carries on: as StackStorm's engine does when a task's execution
            # resumes, the task runs again (which resumes a paused workflow, and so on up).
            status = "running"
        event = orquesta.TaskEvent(
            str(key["task_id"]),
            int(key.get("route", 0)),
            status,
            result,
            item=key.get("item"),
        )
        return self._commands(self._conductor.apply(self._state, event))

    def request(self, status: str, options: Mapping[str, Any] | None = None) -> list[Command]:
        name = status
        if name not in _REQUESTS:
            raise ValueError(f"unknown workflow request {status!r}")
        tasks = None
        if name == "rerun" and options and options.get("tasks"):
            tasks = [
                orquesta.RerunTask(
                    str(t["task_id"]), int(t.get("route", 0)), bool(t.get("reset_items", False))
                )
                for t in options["tasks"]
            ]
        request = orquesta.Request(name, None if tasks is None else tuple(tasks))
        return self._commands(self._conductor.apply(self._state, request))

    def take_changes(self) -> tuple[dict[str, Any], set[str]]:
        return self._state.take_changes()

    def tree(self) -> list[Mapping[str, Any]]:
        return [
            {"task_id": task_id, "route": route, "status": status}
            for task_id, route, status in self._state.task_sequence()
            if task_id not in _ENGINE_COMMANDS
        ]

    def _commands(self, produced: list[Any]) -> list[Command]:
        commands: list[Command] = []
        for command in produced:
            if isinstance(command, orquesta.RunTask):
                key = {"task_id": command.task_id, "route": command.route}
                if command.item is not None:
                    key["item"] = command.item
                commands.append(
                    StartAction(
                        key,
                        str(command.action),
                        dict(command.input or {}),
                        delay=int(command.delay or 0),
                        context={
                            "orquesta": {
                                "task_id": command.task_id,
                                "task_name": command.task_id,
                                "task_route": command.route,
                                **({"item_id": command.item} if command.item is not None else {}),
                            }
                        },
                    )
                )
            elif isinstance(command, orquesta.CancelTasks):
                commands.append(SignalChildren(_keys(command), "cancel"))
            elif isinstance(command, orquesta.PauseTasks):
                commands.append(SignalChildren(_keys(command), "pause"))
            elif isinstance(command, orquesta.ResumeTasks):
                commands.append(SignalChildren(_keys(command), "resume"))
            elif isinstance(command, orquesta.Finished):
                result: dict[str, Any] = {"output": command.output}
                if command.status in _ERRORED:
                    result["errors"] = list(command.errors)
                commands.append(Finish(command.status, result))
        return commands


def _keys(command: Any) -> list[Mapping[str, Any]]:
    keys: list[Mapping[str, Any]] = []
    for task_id, route, item in command.tasks:
        key: dict[str, Any] = {"task_id": task_id, "route": route}
        if item is not None:
            key["item"] = item
        keys.append(key)
    return keys


_inspected = lru_cache(maxsize=64)(inspect_definition)
"""The text-only part of the inspection, per definition."""


class OrquestaDriver:
    """Orquesta workflows; conductors (parsed spec and graph) cached per definition.

    A workflow is inspected when it starts, as StackStorm inspects it: any problem (the
    definition's, or a task naming an unknown action or wrong inputs, looked up with
    ``action_parameters``) fails it with :class:`WorkflowInspectionFailed`, before its inputs
    are rendered."""

    kind = "orquesta"

    def __init__(
        self,
        functions_for: Callable[[Mapping[str, Any]], Functions] | None = None,
        *,
        action_parameters: ActionParameters | None = None,
        cache_size: int = 64,
    ) -> None:
        self._functions_for = functions_for
        self._action_parameters = action_parameters
        self._conductors: OrderedDict[tuple[str, str], orquesta.Conductor] = OrderedDict()
        self._cache_size = cache_size

    def inspect(self, definition: str) -> list[InspectionError]:
        """StackStorm's inspection of ``definition`` (see the class docstring)."""
        inspected = _inspected(definition)
        found = list(inspected.problems)
        if self._action_parameters is not None:
            found.extend(check_actions(inspected.actions, self._action_parameters))
        return ordered(found)

    def _conductor(self, definition: str, user: str) -> orquesta.Conductor:
        key = (definition, user)
        conductor = self._conductors.get(key)
        if conductor is None:
            functions = self._functions_for({"user": user}) if self._functions_for else None
            conductor = orquesta.Conductor(definition, functions=functions)
            self._conductors[key] = conductor
            if len(self._conductors) > self._cache_size:
                self._conductors.popitem(last=False)
        else:
            self._conductors.move_to_end(key)
        return conductor

    def start(
        self, definition: str, parameters: Mapping[str, Any], context: Mapping[str, Any]
    ) -> OrquestaSession:
        problems = self.inspect(definition)
        if problems:
            raise WorkflowInspectionFailed([problem.to_dict() for problem in problems])
        user = str(context.get("user") or "")
        conductor = self._conductor(definition, user)
        initial: dict[str, Any] = {"st2": context.get("st2", {})}
        # As StackStorm: ``ctx().parent`` is the execution's own context (user, pack, and for
        # a subworkflow its parent and orquesta task), less what only the host uses.
        own = {k: v for k, v in context.items() if k not in _HOST_CONTEXT}
        if own:
            initial["parent"] = own
        return OrquestaSession(conductor, conductor.create(parameters, initial))

    def load(self, definition: str, parts: Mapping[str, Any]) -> OrquestaSession:
        state = WorkflowState.from_parts(dict(parts))
        user = str((state.context.get("st2") or {}).get("user") or "")
        return OrquestaSession(self._conductor(definition, user), state)
