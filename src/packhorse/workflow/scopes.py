"""Which names each part of a workflow may read through ``ctx()`` (static, no evaluation)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from packhorse.workflow.expressions import parse_inline_params

if TYPE_CHECKING:
    from packhorse.packs.validate.yamldoc import Path
    from packhorse.workflow.spec import TaskSpec


def task_scopes(
    tasks: Mapping[str, TaskSpec], initial: frozenset[str]
) -> dict[str, frozenset[str]]:
    """Names assigned on some path from a start task to each task it reaches.

    A fixpoint over the graph: a task sees the initial names plus everything the transitions
    on any path into it publish. Tasks no start task reaches are left out (checked against
    every name the workflow defines).
    """
    targets = {name for task in tasks.values() for t in task.next for name in t.do}
    scopes = {name: initial for name in tasks if name not in targets}
    pending = list(scopes)
    while pending:
        task = tasks[pending.pop()]
        for transition in task.next:
            out = scopes[task.name] | {name for name, _ in transition.publish}
            for target in transition.do:
                if target in tasks and not out <= scopes.get(target, frozenset()):
                    scopes[target] = scopes.get(target, frozenset()) | out
                    pending.append(target)
    return scopes


def published_by(data: Any, at: Path) -> frozenset[str]:
    """Names the transition at ``at`` (``tasks.<t>.next[i]...``) publishes, from the raw data."""
    try:
        transition = data["tasks"][at[1]]["next"][at[3]]
        publish = transition.get("publish")
    except (KeyError, IndexError, TypeError, AttributeError):
        return frozenset()
    if isinstance(publish, str):
        return frozenset(name for name, _ in parse_inline_params(publish))
    if isinstance(publish, dict):
        return frozenset(k for k in publish if isinstance(k, str))
    if isinstance(publish, list):
        return frozenset(
            k for item in publish if isinstance(item, dict) for k in item if isinstance(k, str)
        )
    return frozenset()
