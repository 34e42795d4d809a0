"""The runner plugin interface: one small protocol every runner type implements.

A runner gets a fully rendered :class:`RunRequest` (parameters already merged, rendered,
cast and checked by ``packhorse.params``) and returns a :class:`RunnerResult` whose
``result`` has StackStorm's shape for that runner type. Runners are async: the engine runs
many executions concurrently on one event loop. A runner must:

* never raise for an action-level failure: a failing command, HTTP error or exception in pack
  code is a ``failed`` result (raise only for bugs);
* honour ``request.timeout``: kill what it started (the whole process group) and return
  ``timeout``;
* honour cancellation: when its task is cancelled, kill what it started and re-raise
  ``asyncio.CancelledError`` (the engine records ``canceled``);
* report the PIDs it starts through ``events.started`` (so that a restarted engine can reap
  them) and its output through ``events.output`` (for ``execution tail``).

A runner whose runs start local processes sets ``starts_processes = True``: the engine then
marks the execution ``running`` at the first ``events.started`` (so work whose process never
started runs again after a crash); for other runners it is marked ``running`` before ``run``.

Runners register through the ``packhorse.runners`` entry-point group (name -> class), built-in
runners the same way; :class:`RunnerRegistry` loads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class RunStatus(StrEnum):
    """How a run ended (a subset of StackStorm's execution statuses)."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELED = "canceled"
    ABANDONED = "abandoned"
    PENDING = "pending"
    """The action waits for something outside (an inquiry); the engine parks it."""


@dataclass(frozen=True, slots=True)
class RunRequest:
    """Everything a runner needs; nothing it must look up."""

    execution_id: str
    action_ref: str
    pack: str
    runner_type: str
    pack_path: str
    """Absolute folder of the pack."""
    entry_point: str
    """Absolute path of the entry point, or "" when the runner has none."""
    runner_parameters: Mapping[str, Any]
    """Rendered and cast values of the runner's parameters (``cmd``, ``timeout``, ...)."""
    action_parameters: Mapping[str, Any]
    """Rendered and cast action parameters; every declared one present (None when unset)."""
    parameter_schema: Mapping[str, Any]
    """The action's effective parameter schema (runner and action merged): types, positions."""
    config: Mapping[str, Any] = field(default_factory=dict)
    """The pack's resolved config, secrets decrypted (python-script actions get it)."""
    context: Mapping[str, Any] = field(default_factory=dict)
    """StackStorm's action context: user, pack, parent, api_url, auth_token..."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Environment the engine adds (``ST2_ACTION_*``); it wins over the ``env`` parameter,
    as in StackStorm."""
    timeout: float | None = None
    """Seconds before the run is killed and ends as ``timeout``; None for no limit."""
    venv_path: str = ""
    """The pack's virtualenv (python-script, sensors); "" means Packhorse's own interpreter."""
    system_user: str = ""
    """The user actions run as (StackStorm's ``stanley``); "" means the engine's own user."""


@dataclass(frozen=True, slots=True)
class RunnerResult:
    status: RunStatus
    result: Any
    """StackStorm's result document for this runner type (JSON-ready)."""
    error: str | None = None
    """A one-line reason for failures the result shape does not carry."""


class RunEvents(Protocol):
    """Callbacks a runner makes while it runs."""

    def started(self, pid: int) -> None:
        """A process was started (recorded so that a restarted engine can reap it)."""
        ...

    def output(self, stream: str, text: str) -> None:
        """A chunk of ``stdout`` or ``stderr`` output (for ``execution tail``)."""
        ...


class Runner(Protocol):
    """One runner type."""

    name: str

    async def run(self, request: RunRequest, events: RunEvents) -> RunnerResult: ...


class NullEvents:
    """Events that go nowhere (tests, shadow runs)."""

    def started(self, pid: int) -> None:
        pass

    def output(self, stream: str, text: str) -> None:
        pass
