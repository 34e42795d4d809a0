"""Packhorse's records in the shapes of StackStorm's v1 API (``ActionExecutionAPI``,
``ActionAPI``, ``RunnerTypeAPI``, ``PackAPI``): one place, used by the REST API and by the
CLI's ``--json`` output. Secret parameters are shown masked; timestamps are StackStorm's
(UTC, microseconds, ``Z``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from packhorse.engine.clock import ISO
from packhorse.engine.executions import display_parameters
from packhorse.model.content import Kind, RegisteredPack, Resource
from packhorse.model.execution import Execution
from packhorse.model.runner_types import RUNNER_TYPES

#: Action fields StackStorm's ActionAPI has, copied from the registered document.
_ACTION_FIELDS = (
    "description",
    "runner_type",
    "entry_point",
    "parameters",
    "tags",
    "notify",
    "output_schema",
)
_PACK_FIELDS = (
    "name",
    "description",
    "keywords",
    "version",
    "stackstorm_version",
    "python_versions",
    "author",
    "email",
    "contributors",
    "dependencies",
    "system",
)


_SCALARS = frozenset({str, int, float, bool, type(None)})


def plain(value: Any) -> Any:
    """``value`` with every mapping a dict and every sequence a list (ready for JSON)."""
    kind = type(value)
    if kind in _SCALARS:  # most values: no abstract-class check (lists page 50 documents)
        return value
    if kind is dict or isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if kind is list or isinstance(value, tuple | list):
        return [plain(item) for item in value]
    return value


def object_id(kind: str, ref: str) -> str:
    """A stable 24-hex id (the length of StackStorm's object ids) for a registered resource."""
    return hashlib.sha256(f"{kind}:{ref}".encode()).hexdigest()[:24]


def action_document(action: Resource) -> dict[str, Any]:
    """A registered action as StackStorm's ``ActionAPI``."""
    body = action.body
    document: dict[str, Any] = {
        "id": object_id(Kind.ACTION.value, action.ref),
        "ref": action.ref,
        "uid": f"action:{action.pack}:{action.name}",
        "name": action.name,
        "pack": action.pack,
        "enabled": action.enabled,
        "metadata_file": action.metadata_file,
    }
    for name in _ACTION_FIELDS:
        if body.get(name) is not None:
            document[name] = body[name]
    document.setdefault("description", "")
    document.setdefault("entry_point", "")
    document.setdefault("parameters", {})
    document.setdefault("tags", [])
    return dict(plain(document))


def runner_document(name: str) -> dict[str, Any]:
    """A runner type as StackStorm's ``RunnerTypeAPI``."""
    runner = RUNNER_TYPES.get(name)
    document: dict[str, Any] = {
        "id": object_id("runner_type", name),
        "uid": f"runner_type:{name}",
        "name": name,
        "enabled": runner is not None and runner.implemented,
        "description": runner.description if runner else "",
        "runner_parameters": {k: dict(v) for k, v in runner.parameters.items()} if runner else {},
    }
    if runner is not None and runner.output_key:
        document["output_key"] = runner.output_key
    return dict(plain(document))


def pack_document(pack: RegisteredPack) -> dict[str, Any]:
    """A registered pack as StackStorm's ``PackAPI``."""
    document: dict[str, Any] = {
        "id": object_id("pack", pack.ref),
        "ref": pack.ref,
        "uid": f"pack:{pack.ref}",
        "name": pack.ref,
        "path": pack.path,
        "files": list(pack.files),
    }
    for name in _PACK_FIELDS:
        if pack.metadata.get(name) is not None:
            document[name] = pack.metadata[name]
    document["version"] = pack.version
    document.setdefault("description", "")
    return dict(plain(document))


def elapsed_seconds(start: str | None, end: str | None) -> float | None:
    """Seconds between two StackStorm timestamps (None unless both are known)."""
    if not start or not end:
        return None
    try:
        delta = dt.datetime.strptime(end, ISO) - dt.datetime.strptime(start, ISO)
    except ValueError:
        return None
    return round(delta.total_seconds(), 6)


def execution_document(
    execution: Execution,
    *,
    action: Resource | None = None,
    children: Sequence[str] | None = None,
) -> dict[str, Any]:
    """An execution as StackStorm's ``ActionExecutionAPI`` (and ``st2 execution get -j``).

    ``action`` (as registered) fills the embedded action document; without it (the CLI, or an
    action since removed) the action is described from its ref. ``children`` are the ids of the
    executions it started (a workflow's tasks)."""
    parameters = display_parameters(execution)
    start = execution.start_timestamp or execution.created_at
    pack, _, name = execution.action_ref.partition(".")
    action_part: dict[str, Any] = (
        action_document(action)
        if action is not None
        else {"ref": execution.action_ref, "pack": pack, "name": name}
    )
    action_part["runner_type"] = execution.runner_type
    document: dict[str, Any] = {
        "id": execution.id,
        "action": action_part,
        "runner": runner_document(execution.runner_type),
        "liveaction": {
            "id": execution.id,
            "action": execution.action_ref,
            "status": execution.status.value,
            "parameters": parameters,
            "context": dict(execution.context),
            "start_timestamp": start,
        },
        "status": execution.status.value,
        "parameters": parameters,
        "context": dict(execution.context),
        "result": execution.result,
        "start_timestamp": start,
        "end_timestamp": execution.end_timestamp,
        "log": [dict(entry) for entry in execution.log],
    }
    elapsed = elapsed_seconds(start, execution.end_timestamp)
    if elapsed is not None:
        document["elapsed_seconds"] = elapsed
    if execution.end_timestamp:
        document["liveaction"]["end_timestamp"] = execution.end_timestamp
    if execution.parent_id:
        document["parent"] = execution.parent_id
    if children:
        document["children"] = list(children)
    return dict(plain(document))


def project(
    document: Mapping[str, Any],
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> dict[str, Any]:
    """StackStorm's ``include_attributes`` / ``exclude_attributes``: fields by name, dotted for
    nested ones (``action.ref``); ``id`` is always kept."""
    if include:
        kept: dict[str, Any] = {"id": document["id"]} if "id" in document else {}
        for path in include:
            _copy(document, kept, path.split("."))
        return kept
    projected = dict(document)
    for path in exclude:
        _drop(projected, path.split("."))
    return projected


def _copy(source: Mapping[str, Any], target: dict[str, Any], path: list[str]) -> None:
    head, rest = path[0], path[1:]
    if head not in source:
        return
    if not rest or not isinstance(source[head], Mapping):
        target[head] = source[head]
        return
    inner = target.setdefault(head, {})
    if isinstance(inner, dict):
        _copy(source[head], inner, rest)


def _drop(document: dict[str, Any], path: list[str]) -> None:
    head, rest = path[0], path[1:]
    if head not in document:
        return
    if not rest:
        del document[head]
    elif isinstance(document[head], Mapping):
        document[head] = dict(document[head])
        _drop(document[head], rest)
