"""``mistral-v2``: Mistral workflows, which StackStorm dropped (3.3) for orquesta.

Detection and report only, for now: every Mistral v2 workflow file and every action whose
runner is ``mistral-v2``, and in each workflow the task features that have no mechanical
orquesta form (``with-items``, ``join``, ``retry``, waits, sub-workflows...), each at its line.
Conversion of the mechanical subset is not written yet.
"""

from __future__ import annotations

import yaml

from packhorse.migrate.transforms.base import Finding, PackFiles, Transform
from packhorse.migrate.transforms.yamltext import compose, is_mistral, is_yaml, value, where

ID = "mistral-v2"
#: Task keys an orquesta conversion would have to redesign by hand.
MANUAL_KEYS = (
    "with-items",
    "join",
    "retry",
    "wait-before",
    "wait-after",
    "pause-before",
    "timeout",
    "concurrency",
    "workflow",
    "keep-result",
    "safe-rerun",
    "target",
)
_TOP_KEYS = frozenset({"version", "name", "description", "tags", "workflows", "actions"})


def _workflows(root: yaml.MappingNode) -> list[tuple[yaml.ScalarNode, yaml.Node]]:
    nested = value(root, "workflows")
    pairs = nested.value if isinstance(nested, yaml.MappingNode) else root.value
    return [
        (key, body)
        for key, body in pairs
        if isinstance(key, yaml.ScalarNode)
        and key.value not in _TOP_KEYS
        and isinstance(value(body, "tasks"), yaml.MappingNode)
    ]


def _workflow_findings(path: str, root: yaml.MappingNode) -> list[Finding]:
    findings = []
    for key, body in _workflows(root):
        line, col = where(key)
        kind = value(body, "type")
        kind_text = kind.value if isinstance(kind, yaml.ScalarNode) else "direct"
        findings.append(
            Finding(
                ID,
                path,
                line,
                col,
                f"Mistral v2 workflow {key.value!r} ({kind_text}): StackStorm runs orquesta "
                "only; convert it (runner_type: orquesta, version: 1.0)",
                fixable=False,
            )
        )
        tasks = value(body, "tasks")
        assert isinstance(tasks, yaml.MappingNode)
        for task_key, task in tasks.value:
            if not isinstance(task, yaml.MappingNode):
                continue
            for feature_key, _ in task.value:
                if isinstance(feature_key, yaml.ScalarNode) and feature_key.value in MANUAL_KEYS:
                    line, col = where(feature_key)
                    findings.append(
                        Finding(
                            ID,
                            path,
                            line,
                            col,
                            f"task {task_key.value!r}: {feature_key.value} has no mechanical "
                            "orquesta form; rewrite it by hand",
                            fixable=False,
                        )
                    )
    return findings


def detect(files: PackFiles) -> list[Finding]:
    findings = []
    for path, text in sorted(files.items()):
        if not is_yaml(path) or ("2.0" not in text and "mistral" not in text):
            continue
        root = compose(text)
        if not isinstance(root, yaml.MappingNode):
            continue
        if is_mistral(root):
            findings.extend(_workflow_findings(path, root))
        runner = value(root, "runner_type")
        if isinstance(runner, yaml.ScalarNode) and runner.value.startswith("mistral"):
            line, col = where(runner)
            findings.append(
                Finding(
                    ID,
                    path,
                    line,
                    col,
                    f"runner_type {runner.value} was removed (StackStorm 3.3): convert the "
                    "workflow to orquesta",
                    fixable=False,
                )
            )
    return findings


TRANSFORM = Transform(
    id=ID,
    description="Mistral v2 workflows and mistral-v2 actions (reported; conversion not yet)",
    since="3.3.0",
    detect=detect,
)
