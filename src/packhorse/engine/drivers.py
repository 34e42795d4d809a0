"""Workflow drivers: the workflow languages behind the workflow shell.

Each adapts a pure core from ``packhorse.workflow`` to :class:`~packhorse.model.workflow.
WorkflowSession`: it turns child execution events and requests into the core's steps, and the
core's answers into the shell's commands (start an action, signal children, finish).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from packhorse.engine.clock import iso, utc_now
from packhorse.errors import ConfigurationError, Conflict
from packhorse.model.workflow import Command, Finish, SignalChildren, StartAction
from packhorse.workflow import actionchain as chains

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
