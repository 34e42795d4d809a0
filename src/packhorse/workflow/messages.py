"""What goes in and out of the conductor: next tasks, rerun requests, events and commands.

All frozen dataclasses; ``packhorse.workflow.conductor`` re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class NextItem:
    """One item of a with-items task to start now."""

    index: int
    action: str | None
    input: Any


@dataclass(frozen=True, slots=True)
class NextTask:
    """A task to dispatch, its action and input rendered."""

    task_id: str
    route: int
    action: str | None
    """None for a task without an action, and for a with-items task (see ``items``)."""
    input: Any
    delay: int = 0
    """Seconds to wait before starting: the task delay, or the retry delay of a retried task."""
    items_count: int | None = None
    """None unless with-items: the number of items (0 for an empty list)."""
    concurrency: int | None = None
    """With-items concurrency as rendered (at least 1), None when unlimited."""
    items: tuple[NextItem, ...] = ()
    """With-items: the items to start now."""


@dataclass(frozen=True, slots=True)
class RerunTask:
    """A task to rerun (``st2 execution re-run --tasks``); ``reset_items`` reruns every item of
    a with-items task, not only the failed ones."""

    task_id: str
    route: int = 0
    reset_items: bool = False


@dataclass(frozen=True, slots=True)
class Request:
    """A request about the whole workflow: ``run``, ``pause``, ``resume``, ``cancel``,
    ``paused``, ``canceled``, ``fail`` or ``rerun`` (with ``tasks``)."""

    status: str
    tasks: tuple[RerunTask, ...] | None = None


@dataclass(frozen=True, slots=True)
class TaskEvent:
    """A status change of a task's action execution (of one item when ``item`` is set)."""

    task_id: str
    route: int
    status: str
    result: Any = None
    item: int | None = None


Event = Request | TaskEvent

TaskKey = tuple[str, int, int | None]
"""(task id, route, item index or None)."""


@dataclass(frozen=True, slots=True)
class RunTask:
    """Start one action execution (one item's, for with-items)."""

    task_id: str
    route: int
    action: str
    input: Any
    delay: int = 0
    item: int | None = None
    items_count: int | None = None


@dataclass(frozen=True, slots=True)
class CancelTasks:
    """Cancel these active executions (the workflow is canceling)."""

    tasks: tuple[TaskKey, ...]


@dataclass(frozen=True, slots=True)
class PauseTasks:
    """Pause these active executions (the workflow is pausing)."""

    tasks: tuple[TaskKey, ...]


@dataclass(frozen=True, slots=True)
class ResumeTasks:
    """Resume these paused executions (the workflow is resuming)."""

    tasks: tuple[TaskKey, ...]


@dataclass(frozen=True, slots=True)
class Finished:
    """The workflow completed: its status, rendered output and errors. StackStorm's result is
    ``{"output": output}``, plus ``"errors"`` when the status is failed."""

    status: str
    output: dict[str, Any] | None
    errors: tuple[dict[str, Any], ...]


Command = RunTask | CancelTasks | PauseTasks | ResumeTasks | Finished
