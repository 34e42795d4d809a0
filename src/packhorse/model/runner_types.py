"""The runner catalogue: every runner type a StackStorm action may name.

Parameter names, types, defaults and the ``immutable``/``secret``/``required`` flags match the
runner types StackStorm ships, because packs depend on them: an action may redeclare a runner
parameter and only change its default, description, enum, immutable or required flag. The
descriptions are our own.

Runner types StackStorm has removed are listed in :data:`REMOVED_RUNNER_TYPES` with their
replacement, so that validation can say what to use instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from packhorse.model.runner_parameters import RUNNER_PARAMETERS


@dataclass(frozen=True, slots=True)
class RunnerType:
    """One runner type: what it needs from an action and which parameters it declares."""

    name: str
    description: str
    parameters: Mapping[str, Mapping[str, Any]]
    """Runner parameter schemas (the action parameter dialect), by parameter name."""
    output_key: str
    """Key of the result that holds the main output ("" when the runner has none)."""
    entry_point_required: bool
    """The action must name a file in ``entry_point``."""
    entry_point_forbidden: bool
    """The action must leave ``entry_point`` empty (the command comes from ``cmd``)."""
    implemented: bool
    """Packhorse can run actions of this type today."""
    workflow: bool
    """The entry point is a workflow definition that must parse as a YAML mapping."""


#: Runner types StackStorm no longer has: old name -> what to use instead ("" when nothing).
REMOVED_RUNNER_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "mistral-v2": "orquesta (Mistral workflows must be rewritten as Orquesta workflows)",
        "mistral-v1": "orquesta (Mistral workflows must be rewritten as Orquesta workflows)",
        "run-local": "local-shell-cmd",
        "run-local-script": "local-shell-script",
        "run-remote": "remote-shell-cmd",
        "run-remote-script": "remote-shell-script",
        "run-python": "python-script",
        "windows-cmd": "winrm-cmd",
        "windows-script": "winrm-ps-script",
        "cloudslang": "",
    }
)

_DESCRIPTIONS = {
    "action-chain": "Runs a linear chain of actions defined in a YAML file (legacy workflows).",
    "announcement": "Publishes a message on the event stream.",
    "http-request": "Sends an HTTP request.",
    "inquirer": "Pauses a workflow until a person answers an inquiry.",
    "local-shell-cmd": "Runs a shell command on the Packhorse host.",
    "local-shell-script": "Runs a script from the pack on the Packhorse host.",
    "noop": "Does nothing and succeeds.",
    "orquesta": "Runs an Orquesta workflow.",
    "python-script": "Runs the run() method of a Python Action class from the pack.",
    "remote-shell-cmd": "Runs a shell command on remote hosts over SSH.",
    "remote-shell-script": "Copies a script from the pack to remote hosts and runs it over SSH.",
    "winrm-cmd": "Runs a Command Prompt command on a Windows host over WinRM.",
    "winrm-ps-cmd": "Runs a PowerShell command on a Windows host over WinRM.",
    "winrm-ps-script": "Runs a PowerShell script from the pack on a Windows host over WinRM.",
}

_ENTRY_POINT_REQUIRED = frozenset(
    {
        "action-chain",
        "local-shell-script",
        "orquesta",
        "python-script",
        "remote-shell-script",
        "winrm-ps-script",
    }
)
_ENTRY_POINT_FORBIDDEN = frozenset({"local-shell-cmd", "remote-shell-cmd"})
_NOT_IMPLEMENTED = frozenset({"announcement", "winrm-cmd", "winrm-ps-cmd", "winrm-ps-script"})
_WORKFLOWS = frozenset({"orquesta", "action-chain"})


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({key: _freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(item) for item in value)
    return value


def _build() -> Mapping[str, RunnerType]:
    runners = {}
    for name, entry in sorted(RUNNER_PARAMETERS.items()):
        runners[name] = RunnerType(
            name=name,
            description=_DESCRIPTIONS[name],
            parameters=_freeze(entry["parameters"]),
            output_key=entry["output_key"],
            entry_point_required=name in _ENTRY_POINT_REQUIRED,
            entry_point_forbidden=name in _ENTRY_POINT_FORBIDDEN,
            implemented=name not in _NOT_IMPLEMENTED,
            workflow=name in _WORKFLOWS,
        )
    return MappingProxyType(runners)


#: Every runner type, by name.
RUNNER_TYPES: Mapping[str, RunnerType] = _build()


def thaw(value: Any) -> Any:
    """A plain (mutable, JSON-ready) copy of a frozen catalogue value."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [thaw(item) for item in value]
    return value
