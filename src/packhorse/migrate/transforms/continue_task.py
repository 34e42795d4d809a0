"""``continue-task-name``: an orquesta task named ``continue``.

``continue`` became a reserved word of orquesta transitions (StackStorm 3.3), so a task of that
name must be renamed: the task key, and every ``do`` that names it (a list, or a string of
names separated by commas or spaces).
"""

from __future__ import annotations

import re

import yaml

from packhorse.migrate.transforms.base import Edit, Finding, PackFiles, Transform, apply_edits
from packhorse.migrate.transforms.yamltext import compose, get, is_orquesta, is_yaml, value, where

ID = "continue-task-name"
RESERVED = "continue"
_WORD = re.compile(r"(?<![\w.])continue(?![\w(])")


def new_name(tasks: yaml.MappingNode) -> str:
    """``continue_``, or ``continue_2``... when a task has that name already."""
    taken = {key.value for key, _ in tasks.value if isinstance(key, yaml.ScalarNode)}
    candidate, n = "continue_", 1
    while candidate in taken:
        n += 1
        candidate = f"continue_{n}"
    return candidate


def _tasks(text: str) -> yaml.MappingNode | None:
    root = compose(text)
    if not is_orquesta(root):
        return None
    tasks = value(root, "tasks")
    return tasks if isinstance(tasks, yaml.MappingNode) else None


def detect(files: PackFiles) -> list[Finding]:
    findings = []
    for path, text in sorted(files.items()):
        tasks = _tasks(text) if is_yaml(path) else None
        pair = get(tasks, RESERVED) if tasks is not None else None
        if pair is None or tasks is None:
            continue
        line, col = where(pair[0])
        findings.append(
            Finding(
                ID,
                path,
                line,
                col,
                f"task name 'continue' is reserved since StackStorm 3.3: rename to "
                f"{new_name(tasks)!r}",
                fixable=True,
            )
        )
    return findings


def _do_edits(node: yaml.Node, name: str) -> list[Edit]:
    if isinstance(node, yaml.ScalarNode) and node.style is None:
        if _WORD.search(node.value):
            return [Edit(node.start_mark.index, node.end_mark.index, _WORD.sub(name, node.value))]
        return []
    if isinstance(node, yaml.ScalarNode):  # quoted: only a whole single name is rewritten
        if node.value.strip() == RESERVED:
            quote = node.style or ""
            return [Edit(node.start_mark.index, node.end_mark.index, f"{quote}{name}{quote}")]
        return []
    if isinstance(node, yaml.SequenceNode):
        return [edit for item in node.value for edit in _do_edits(item, name)]
    return []


def apply(path: str, text: str) -> str:
    tasks = _tasks(text) if is_yaml(path) else None
    pair = get(tasks, RESERVED) if tasks is not None else None
    if tasks is None or pair is None:
        return text
    name = new_name(tasks)
    key = pair[0]
    edits = [Edit(key.start_mark.index, key.end_mark.index, name)]
    for _, task in tasks.value:
        transitions = value(task, "next")
        if not isinstance(transitions, yaml.SequenceNode):
            continue
        for transition in transitions.value:
            do = value(transition, "do")
            if do is not None:
                edits.extend(_do_edits(do, name))
    return apply_edits(text, edits)


TRANSFORM = Transform(
    id=ID,
    description="orquesta task named 'continue' (reserved): renamed, with every 'do' naming it",
    since="3.3.0",
    detect=detect,
    apply=apply,
)
