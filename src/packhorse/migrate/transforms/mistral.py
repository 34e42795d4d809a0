"""``mistral-v2``: Mistral workflows, which StackStorm dropped (3.3) for orquesta.

Every Mistral v2 workflow file and every action whose runner is ``mistral-v2`` is found. A
workflow in the mechanical subset (see :mod:`.mistral_convert`) is converted, and the action
that runs it gets ``runner_type: orquesta``; in the others, each thing that is not mechanical
(``with-items``, ``join``, ``retry``, Jinja, ``$`` alone...) is reported at its line.
Converting touches two files at once, so this transform works on the whole pack
(``apply_pack``) rather than file by file.
"""

from __future__ import annotations

import posixpath

import yaml

from packhorse.migrate.transforms.base import Edit, Finding, PackFiles, Transform, apply_edits
from packhorse.migrate.transforms.mistral_convert import convert, obstacles
from packhorse.migrate.transforms.yamltext import compose, is_mistral, is_yaml, value, where

ID = "mistral-v2"


def _entry_point(path: str, root: yaml.Node) -> str | None:
    """The pack-relative path of an action's workflow file."""
    entry = value(root, "entry_point")
    if not isinstance(entry, yaml.ScalarNode) or not entry.value:
        return None
    folder = path.rsplit("/", 1)[0] if "/" in path else ""
    return posixpath.normpath(posixpath.join(folder, entry.value))


def _runner(text: str) -> tuple[yaml.Node, yaml.ScalarNode] | None:
    root = compose(text)
    runner = value(root, "runner_type")
    if isinstance(runner, yaml.ScalarNode) and runner.value.startswith("mistral"):
        assert root is not None
        return root, runner
    return None


def _candidates(files: PackFiles) -> list[tuple[str, str]]:
    return [
        (path, text)
        for path, text in sorted(files.items())
        if is_yaml(path) and ("2.0" in text or "mistral" in text)
    ]


def _workflow_findings(path: str, text: str) -> list[Finding]:
    root = compose(text)
    if not isinstance(root, yaml.MappingNode) or not is_mistral(root):
        return []
    problems = obstacles(text)
    name = next(
        (k for k, _ in root.value if k.value not in ("version", "name", "description")), root
    )
    line, col = where(name)
    if not problems:
        message = "Mistral v2 workflow: StackStorm runs orquesta only; converts mechanically"
        return [Finding(ID, path, line, col, message, fixable=True)]
    findings = [
        Finding(
            ID,
            path,
            line,
            col,
            "Mistral v2 workflow: StackStorm runs orquesta only; it needs converting by hand "
            "(what is not mechanical follows)",
            fixable=False,
        )
    ]
    findings.extend(
        Finding(ID, path, p.line, p.col, f"no mechanical orquesta form: {p.reason}", False)
        for p in problems
    )
    return findings


def detect(files: PackFiles) -> list[Finding]:
    findings = []
    for path, text in _candidates(files):
        findings.extend(_workflow_findings(path, text))
        found = _runner(text)
        if found is None:
            continue
        root, runner = found
        entry = _entry_point(path, root)
        convertible = entry is not None and entry in files and not obstacles(files[entry])
        line, col = where(runner)
        findings.append(
            Finding(
                ID,
                path,
                line,
                col,
                f"runner_type {runner.value} was removed (StackStorm 3.3): "
                + ("becomes orquesta with its workflow" if convertible else "convert by hand"),
                fixable=convertible,
            )
        )
    return findings


def apply_pack(files: PackFiles) -> dict[str, str]:
    """Convert every mechanical Mistral workflow, and point its actions at orquesta."""
    changed: dict[str, str] = {}
    for path, text in _candidates(files):
        found = _runner(text)
        if found is None:
            continue
        root, runner = found
        entry = _entry_point(path, root)
        if entry is None or entry not in files:
            continue
        converted = convert(files[entry])
        if converted is None:
            continue
        changed[entry] = converted
        edit = Edit(runner.start_mark.index, runner.end_mark.index, "orquesta")
        changed[path] = apply_edits(text, [edit])
    return changed


TRANSFORM = Transform(
    id=ID,
    description="Mistral v2 workflows converted to orquesta where mechanical (the rest reported)",
    since="3.3.0",
    detect=detect,
    apply_pack=apply_pack,
)
