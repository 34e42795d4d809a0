"""``flat-output-schema``: an action's ``output_schema`` written the pre-3.5 way.

Before StackStorm 3.5 ``output_schema`` listed the properties at its top level; it is now a
whole JSON schema. The properties move under ``properties``, beside ``type: object`` and
``additionalProperties: true`` (a flat schema never forbade other keys). The block is indented
in place, so comments inside it stay.
"""

from __future__ import annotations

import yaml

from packhorse.migrate.transforms.base import Edit, Finding, PackFiles, Transform, apply_edits
from packhorse.migrate.transforms.yamltext import compose, get, is_yaml, value, where

ID = "flat-output-schema"
#: Keys that only a whole schema has at its top.
_SCHEMA_KEYS = frozenset(
    {"type", "properties", "$schema", "additionalProperties", "items", "anyOf", "oneOf", "allOf"}
    | {"patternProperties", "required", "$ref", "enum"}
)


def _flat_schema(text: str) -> tuple[yaml.ScalarNode, yaml.MappingNode] | None:
    root = compose(text)
    if value(root, "runner_type") is None:
        return None
    pair = get(root, "output_schema")
    if pair is None or not isinstance(pair[1], yaml.MappingNode) or not pair[1].value:
        return None
    keys = {k.value for k, _ in pair[1].value if isinstance(k, yaml.ScalarNode)}
    if keys & _SCHEMA_KEYS:
        return None
    return pair[0], pair[1]


def detect(files: PackFiles) -> list[Finding]:
    findings = []
    for path, text in sorted(files.items()):
        found = _flat_schema(text) if is_yaml(path) and "output_schema" in text else None
        if found is None:
            continue
        line, col = where(found[0])
        findings.append(
            Finding(
                ID,
                path,
                line,
                col,
                "output_schema lists properties at its top (before StackStorm 3.5): move them "
                "under 'properties' of a 'type: object' schema",
                fixable=True,
            )
        )
    return findings


def apply(path: str, text: str) -> str:
    found = _flat_schema(text) if is_yaml(path) and "output_schema" in text else None
    if found is None:
        return text
    _, schema = found
    if schema.flow_style:
        body = text[schema.start_mark.index : schema.end_mark.index]
        replacement = f"{{type: object, properties: {body}, additionalProperties: true}}"
        return apply_edits(
            text, [Edit(schema.start_mark.index, schema.end_mark.index, replacement)]
        )
    lines = text.splitlines(keepends=True)
    first = schema.start_mark.line
    last_node = schema.value[-1][1]
    last = last_node.end_mark.line - (1 if last_node.end_mark.column == 0 else 0)
    indent = " " * schema.start_mark.column
    newline = "\n" if lines[first].endswith("\n") else "\r\n"
    block = ["  " + line if line.strip() else line for line in lines[first : last + 1]]
    if not block[-1].endswith("\n"):
        block[-1] += newline
    head = [f"{indent}type: object{newline}", f"{indent}properties:{newline}"]
    tail = [f"{indent}additionalProperties: true{newline}"]
    return "".join(lines[:first] + head + block + tail + lines[last + 1 :])


TRANSFORM = Transform(
    id=ID,
    description="flat output_schema (pre-3.5) made a whole schema: type object, properties",
    since="3.5.0",
    detect=detect,
    apply=apply,
)
