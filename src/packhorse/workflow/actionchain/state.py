"""The state of one chain execution: plain, versioned data that round-trips through JSON.

The status machine is a table (:data:`TRANSITIONS`); :func:`moved` refuses any other move.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Final

from packhorse.errors import Conflict

STATE_VERSION: Final = 1


class ChainStatus(StrEnum):
    """The chain execution's status, with StackStorm's names."""

    RUNNING = "running"
    PAUSING = "pausing"
    """Pause asked while a node runs: the chain pauses when that node's result comes in."""
    PAUSED = "paused"
    CANCELING = "canceling"
    """Cancel asked while a node runs: the chain ends when that node's result comes in."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timeout"
    CANCELED = "canceled"


FINISHED: Final = frozenset(
    {ChainStatus.SUCCEEDED, ChainStatus.FAILED, ChainStatus.TIMED_OUT, ChainStatus.CANCELED}
)

TRANSITIONS: Final[Mapping[ChainStatus, frozenset[ChainStatus]]] = {
    ChainStatus.RUNNING: frozenset(
        {ChainStatus.RUNNING, ChainStatus.PAUSING, ChainStatus.PAUSED, ChainStatus.CANCELING}
        | FINISHED
    ),
    ChainStatus.PAUSING: frozenset(
        {ChainStatus.RUNNING, ChainStatus.PAUSED, ChainStatus.CANCELING} | FINISHED
    ),
    ChainStatus.PAUSED: frozenset(
        {ChainStatus.RUNNING, ChainStatus.PAUSED, ChainStatus.CANCELING} | FINISHED
    ),
    ChainStatus.CANCELING: frozenset({ChainStatus.CANCELED, ChainStatus.FAILED}),
    ChainStatus.SUCCEEDED: frozenset(),
    ChainStatus.FAILED: frozenset(),
    ChainStatus.TIMED_OUT: frozenset(),
    ChainStatus.CANCELED: frozenset(),
}
"""Allowed moves of :class:`ChainStatus`. A paused chain ends at once when it has nothing left
to run or fails to render its next node; a chain canceled while a node runs (or is paused or
pending) waits in ``canceling`` for that node, and fails instead if that node's action turns
out not to exist."""


@dataclass(frozen=True, slots=True)
class RunningNode:
    """The node whose action was handed to the host and has not finished yet."""

    name: str
    created_at: str
    """When the chain started it (the task entry's ``created_at``)."""
    waiting: str | None = None
    """``"paused"`` or ``"pending"`` once the action reported so; its task entry is recorded."""


@dataclass(frozen=True, slots=True)
class ChainState:
    """Everything the chain needs between two steps. Treat it as immutable: every step returns
    a new one. Only :meth:`to_json` output should be stored."""

    status: ChainStatus
    parameters: Mapping[str, Any]
    """The chain execution's action parameters."""
    parent: Mapping[str, Any]
    """``action_context.parent``: the chain's execution id and its execution context."""
    config: Mapping[str, Any]
    """``config_context``: the config of the chain's pack."""
    display_published: bool
    skip_notify: tuple[str, ...]
    notify: Mapping[str, Any] | None
    """The chain execution's own notify settings, inherited by nodes without one."""
    variables: Mapping[str, Any]
    """Rendered vars, updated by every publish."""
    published: Mapping[str, Any]
    """What publish gave, shown in the result when ``display_published``."""
    results: Mapping[str, Any]
    """The result of each node run so far by node name (StackStorm's ``context_result``)."""
    tasks: tuple[Mapping[str, Any], ...]
    """The task entries of the result, in run order."""
    running: RunningNode | None = None
    outcome: ChainStatus = ChainStatus.FAILED
    """The status the chain ends with if nothing else runs: the last node's (the runner
    starts from failed)."""
    next_node: str | None = None
    """While paused between nodes: the node to start on resume."""
    error: Mapping[str, str] | None = None
    """The top-level ``error`` and ``traceback`` of a failed chain."""

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data, with a version for later upgrades."""
        running = self.running
        return {
            "version": STATE_VERSION,
            "status": self.status.value,
            "parameters": dict(self.parameters),
            "parent": dict(self.parent),
            "config": dict(self.config),
            "display_published": self.display_published,
            "skip_notify": list(self.skip_notify),
            "notify": None if self.notify is None else dict(self.notify),
            "vars": dict(self.variables),
            "published": dict(self.published),
            "results": dict(self.results),
            "tasks": [dict(task) for task in self.tasks],
            "running": None
            if running is None
            else {
                "node": running.name,
                "created_at": running.created_at,
                "waiting": running.waiting,
            },
            "outcome": self.outcome.value,
            "next_node": self.next_node,
            "error": None if self.error is None else dict(self.error),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChainState:
        """The state :meth:`to_json` gave; refuses a version this code does not know."""
        if data.get("version") != STATE_VERSION:
            raise Conflict(f"action-chain state version {data.get('version')!r} is not supported")
        running = data["running"]
        return cls(
            status=ChainStatus(data["status"]),
            parameters=data["parameters"],
            parent=data["parent"],
            config=data["config"],
            display_published=data["display_published"],
            skip_notify=tuple(data["skip_notify"]),
            notify=data["notify"],
            variables=data["vars"],
            published=data["published"],
            results=data["results"],
            tasks=tuple(data["tasks"]),
            running=None
            if running is None
            else RunningNode(running["node"], running["created_at"], running["waiting"]),
            outcome=ChainStatus(data["outcome"]),
            next_node=data["next_node"],
            error=data["error"],
        )

    def result(self, *, with_error: bool = True) -> dict[str, Any]:
        """The chain execution's result: ``tasks``, ``published`` (when displayed), and the
        top-level ``error`` and ``traceback`` when there is one."""
        result: dict[str, Any] = {"tasks": [dict(task) for task in self.tasks]}
        if self.display_published:
            result["published"] = dict(self.published)
        if with_error and self.error:
            result.update(self.error)
        return result


def moved(state: ChainState, status: ChainStatus, **changes: Any) -> ChainState:
    """``state`` with a new status (and other fields); refuses a move :data:`TRANSITIONS` does
    not allow with :class:`~packhorse.errors.Conflict`."""
    if status not in TRANSITIONS[state.status]:
        raise Conflict(f"an action chain cannot go from {state.status} to {status}")
    return replace(state, status=status, **changes)
