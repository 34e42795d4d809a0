"""What the workflow shell and a workflow driver say to each other.

A driver (Orquesta, action-chain) owns a workflow's state and its language; the shell owns
storage and child executions. The driver turns events into :data:`Command` values; the shell
writes them, with the driver's state, in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class StartAction:
    """Start one action execution as a child of the workflow."""

    key: Mapping[str, Any]
    """Where its events go back to: Orquesta ``{task_id, route, item}``, chain ``{node}``.
    Stored in the child's context."""
    action_ref: str
    parameters: Mapping[str, Any]
    delay: int = 0
    """Seconds to wait before it may run."""
    context: Mapping[str, Any] = field(default_factory=dict)
    """Extra context for the child (StackStorm's ``orquesta`` / ``chain`` keys)."""


@dataclass(frozen=True, slots=True)
class SignalChildren:
    """Tell running children to ``cancel``, ``pause`` or ``resume``."""

    keys: Sequence[Mapping[str, Any]]
    """The children, by the key they were started with; empty means every active child."""
    request: str


@dataclass(frozen=True, slots=True)
class Finish:
    """The workflow has ended: its final status and StackStorm's result document."""

    status: str
    result: Mapping[str, Any]


Command = StartAction | SignalChildren | Finish


class WorkflowSession(Protocol):
    """One workflow's live state, driven by the shell."""

    @property
    def status(self) -> str | None:
        """The workflow's status in StackStorm's words (running, pausing, paused...)."""
        ...

    def begin(self) -> list[Command]:
        """Start the workflow (inputs rendered, first tasks asked for)."""
        ...

    def child_event(
        self, key: Mapping[str, Any], status: str, result: Any, execution_id: str
    ) -> list[Command]:
        """A child execution changed status (it ended, paused, waits for an answer...)."""
        ...

    def request(self, status: str, options: Mapping[str, Any] | None = None) -> list[Command]:
        """A person (or a parent workflow) asks to pause, resume, cancel or rerun."""
        ...

    def take_changes(self) -> tuple[dict[str, Any], set[str]]:
        """State parts written and deleted since the last call."""
        ...

    def tree(self) -> list[Mapping[str, Any]]:
        """The tasks run so far, in order: ``{task_id, route, status, items?}``."""
        ...


class WorkflowDriver(Protocol):
    """One workflow language."""

    kind: str

    def start(
        self, definition: str, parameters: Mapping[str, Any], context: Mapping[str, Any]
    ) -> WorkflowSession:
        """A new workflow (nothing stored yet; :meth:`WorkflowSession.begin` starts it)."""
        ...

    def load(self, definition: str, parts: Mapping[str, Any]) -> WorkflowSession:
        """A stored workflow, as its parts rebuild it."""
        ...
