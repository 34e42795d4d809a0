"""Mistral v2 -> orquesta, for the mechanical subset.

A workflow file converts when it holds one ``direct`` workflow whose tasks use only
``action``, ``input``, ``publish``, ``on-success``, ``on-error`` and ``on-complete`` (lists of
task names, or ``fail``), and whose YAQL expressions read only ``$.name`` (which becomes
``ctx().name``) and, in a task's own ``publish``, ``task(name).result`` (which becomes
``result()``). Anything else is a :class:`Obstacle` with its line, and the file is left alone.

Mistral publishes on success only, so ``publish`` goes on the ``succeeded()`` transition. The
converted file is written anew (comments of the old one are not carried over).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from packhorse.migrate.transforms.yamltext import compose, is_mistral, value, where

MECHANICAL_TASK_KEYS = frozenset(
    {"action", "input", "publish", "on-success", "on-error", "on-complete", "description"}
)
MECHANICAL_WORKFLOW_KEYS = frozenset({"type", "input", "output", "tasks", "description"})
_TOP_KEYS = frozenset({"version", "name", "description", "tags"})
_TRANSITIONS = (
    ("on-success", "<% succeeded() %>"),
    ("on-error", "<% failed() %>"),
    ("on-complete", None),
)
_EXPRESSION = re.compile(r"<%(.*?)%>", re.DOTALL)
_CONTEXT = re.compile(r"\$\.([A-Za-z_]\w*)")
_TASK_RESULT = re.compile(r"task\(\s*(?:(['\"]?)([\w-]+)\1)?\s*\)\.result\b")
_UNKNOWN = re.compile(r"\$|\b(?:task|execution|env|global)\s*\(")


@dataclass(frozen=True, slots=True)
class Obstacle:
    """Why a workflow file does not convert mechanically, and where."""

    line: int
    col: int
    reason: str


def convert_expression(text: str, task: str = "", publishing: bool = False) -> str | None:
    """``text`` with Mistral's YAQL rewritten for orquesta (None: not mechanical)."""
    if "{{" in text or "{%" in text:
        return None

    def one(found: re.Match[str]) -> str:
        body = found.group(1)

        def result(call: re.Match[str]) -> str:
            name = call.group(2)
            if publishing and (name is None or name == task):
                return "result()"
            return call.group(0)  # left for _UNKNOWN to refuse

        body = _CONTEXT.sub(r"ctx().\1", _TASK_RESULT.sub(result, body))
        if _UNKNOWN.search(body):
            raise _NotMechanical
        return f"<%{body}%>"

    try:
        return _EXPRESSION.sub(one, text)
    except _NotMechanical:
        return None


class _NotMechanical(Exception):
    pass


def _convert_value(data: Any, task: str = "", publishing: bool = False) -> Any:
    if isinstance(data, str):
        converted = convert_expression(data, task, publishing)
        if converted is None:
            raise _NotMechanical
        return converted
    if isinstance(data, list):
        return [_convert_value(item, task, publishing) for item in data]
    if isinstance(data, dict):
        return {key: _convert_value(item, task, publishing) for key, item in data.items()}
    return data


def _workflow(root: yaml.MappingNode) -> tuple[yaml.ScalarNode, yaml.MappingNode] | list[Obstacle]:
    found = [
        (key, body)
        for key, body in root.value
        if isinstance(key, yaml.ScalarNode) and key.value not in _TOP_KEYS
    ]
    if len(found) != 1 or not isinstance(found[0][1], yaml.MappingNode):
        return [Obstacle(1, 1, "the file holds more than one workflow (a workbook)")]
    key, body = found[0]
    assert isinstance(key, yaml.ScalarNode) and isinstance(body, yaml.MappingNode)
    return key, body


def obstacles(text: str) -> list[Obstacle]:
    """What keeps a Mistral workflow file from converting (empty: it converts)."""
    root = compose(text)
    if not isinstance(root, yaml.MappingNode) or not is_mistral(root):
        return [Obstacle(1, 1, "not a Mistral v2 workflow")]
    found = _workflow(root)
    if isinstance(found, list):
        return found
    _, body = found
    problems: list[Obstacle] = []
    kind = value(body, "type")
    if isinstance(kind, yaml.ScalarNode) and kind.value != "direct":
        problems.append(Obstacle(*where(kind), f"a {kind.value} workflow"))
    for key, item in body.value:
        if key.value not in MECHANICAL_WORKFLOW_KEYS:
            problems.append(Obstacle(*where(key), f"workflow key {key.value!r}"))
        elif key.value in ("input", "output"):
            problems.extend(_expression_problems(item, "", False))
    tasks = value(body, "tasks")
    for task_key, task in tasks.value if isinstance(tasks, yaml.MappingNode) else []:
        if not isinstance(task, yaml.MappingNode):
            problems.append(Obstacle(*where(task_key), "a task that is not a mapping"))
            continue
        for key, item in task.value:
            if key.value not in MECHANICAL_TASK_KEYS:
                problems.append(Obstacle(*where(key), f"task {task_key.value!r}: {key.value}"))
            elif key.value.startswith("on-"):
                problems.extend(_transition_problems(task_key.value, key.value, item))
            elif key.value != "description":
                publishing = key.value == "publish"
                problems.extend(_expression_problems(item, task_key.value, publishing))
    return problems


def _transition_problems(task: str, key: str, node: yaml.Node) -> list[Obstacle]:
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    return [
        Obstacle(*where(item), f"task {task!r}: {key} entry that is not a task name")
        for item in items
        if not isinstance(item, yaml.ScalarNode) or item.value in ("succeed", "pause")
    ]


def _expression_problems(node: yaml.Node, task: str, publishing: bool) -> list[Obstacle]:
    if isinstance(node, yaml.ScalarNode):
        if isinstance(node.value, str) and convert_expression(node.value, task, publishing) is None:
            where_task = f"task {task!r}: " if task else ""
            return [Obstacle(*where(node), f"{where_task}expression {node.value!r}")]
        return []
    children: list[yaml.Node] = []
    if isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    elif isinstance(node, yaml.MappingNode):
        children = [item for _, item in node.value]
    return [p for child in children for p in _expression_problems(child, task, publishing)]


def _names(entries: Any) -> list[str]:
    return [str(e) for e in (entries if isinstance(entries, list) else [entries])]


def convert(text: str) -> str | None:
    """The orquesta text of a Mistral workflow file (None when it is not mechanical)."""
    if obstacles(text):
        return None
    data = yaml.safe_load(text)
    [name] = [key for key in data if key not in _TOP_KEYS]
    workflow = data[name]
    out: dict[str, Any] = {"version": 1.0}
    description = workflow.get("description") or data.get("description")
    if description:
        out["description"] = description
    if "input" in workflow:
        out["input"] = _convert_value(workflow["input"])
    tasks: dict[str, Any] = {}
    for task_name, task in (workflow.get("tasks") or {}).items():
        converted: dict[str, Any] = {}
        if "action" in task:
            converted["action"] = _convert_value(task["action"], task_name)
        if "input" in task:
            converted["input"] = _convert_value(task["input"], task_name)
        transitions = []
        for key, when in _TRANSITIONS:
            publish = task.get("publish") if key == "on-success" else None
            if key not in task and not publish:
                continue
            transition: dict[str, Any] = {}
            if when:
                transition["when"] = when
            if publish:
                transition["publish"] = [
                    {k: _convert_value(v, task_name, True)} for k, v in publish.items()
                ]
            if key in task:
                transition["do"] = _names(task[key])
            transitions.append(transition)
        if transitions:
            converted["next"] = transitions
        tasks[task_name] = converted
    out["tasks"] = tasks
    if "output" in workflow:
        output = _convert_value(workflow["output"])
        out["output"] = [{k: v} for k, v in output.items()] if isinstance(output, dict) else output
    header = (
        f"# Converted from the Mistral v2 workflow {name} by 'packhorse upgrade check --fix'.\n"
    )
    body = yaml.safe_dump(out, sort_keys=False, default_flow_style=False, width=100)
    return header + body
