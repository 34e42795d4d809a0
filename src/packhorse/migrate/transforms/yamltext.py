"""YAML nodes with positions in the text, for transforms that edit text in place.

PyYAML's composer keeps, for every node, where it starts and ends in the stream (character
offset, line, column). Transforms find what to change in the node tree and edit the text at
those offsets. Parsing never raises: text that is not YAML gives ``None``.
"""

from __future__ import annotations

import yaml

Node = yaml.Node
ScalarNode = yaml.ScalarNode
MappingNode = yaml.MappingNode
SequenceNode = yaml.SequenceNode


def compose(text: str) -> yaml.Node | None:
    """The node tree of a one-document YAML text (None when it is not YAML)."""
    try:
        # The pure-Python loader: its marks count characters of the str we give it.
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None


def get(node: yaml.Node | None, key: str) -> tuple[yaml.ScalarNode, yaml.Node] | None:
    """The (key node, value node) pair of ``key`` in a mapping node."""
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return key_node, value_node
    return None


def value(node: yaml.Node | None, key: str) -> yaml.Node | None:
    pair = get(node, key)
    return pair[1] if pair else None


def where(node: yaml.Node) -> tuple[int, int]:
    """1-based line and column of a node."""
    return node.start_mark.line + 1, node.start_mark.column + 1


def scalar_text(node: yaml.ScalarNode, new_value: str) -> str:
    """``new_value`` written the way ``node`` was (same quotes), for a simple value."""
    if node.style == "'":
        return "'" + new_value.replace("'", "''") + "'"
    if node.style == '"':
        return '"' + new_value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return new_value


def is_orquesta(root: yaml.Node | None) -> bool:
    """An orquesta workflow: ``version: 1.0`` and ``tasks`` at the top."""
    version = value(root, "version")
    return (
        isinstance(version, yaml.ScalarNode)
        and version.value in ("1.0", "1")
        and isinstance(value(root, "tasks"), yaml.MappingNode)
    )


def is_mistral(root: yaml.Node | None) -> bool:
    """A Mistral v2 workflow file: ``version: '2.0'`` at the top."""
    version = value(root, "version")
    return isinstance(version, yaml.ScalarNode) and version.value in ("2.0", "2")


def is_yaml(path: str) -> bool:
    return path.endswith((".yaml", ".yml"))
