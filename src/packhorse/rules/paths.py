"""Criteria keys: JSONPath over ``{"trigger": payload, "system": <datastore>}``, parsed once.

StackStorm evaluates each key with jsonpath_rw on every trigger instance (parsing it again each
time). We parse a key once, when the rule is loaded, with jsonpath-ng (the maintained fork,
same grammar), and evaluate the common shape, a chain of names and indexes
(``trigger.body.tags[0]``, ``trigger.headers['X-Source']``), with a plain walk; other shapes
(``[*]``, ``..``, slices) go through jsonpath-ng's ``find``.

* Everything from the first ``#`` on is not part of the path: ``trigger.tags#1`` and
  ``trigger.tags#2`` are two criteria on one field.
* One match gives that value; several give the first one, as StackStorm does (its comment
  says "else an array match", its code takes ``matches[0]``); none gives None. A field that
  holds null is indistinguishable from a missing one, as in StackStorm.
* An index applies to lists only and may be negative (``[-1]`` is the last item).
* ``system.<key>`` reads the datastore key ``<key>`` (dots included: ``system.a.b`` is the key
  ``a.b``): its string value, or None when the key does not exist. In StackStorm such a key
  gives a lookup object that no operator compares usefully (``equals`` is always false).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from jsonpath_ng.jsonpath import Child, Fields, Index, JSONPath, Root
from jsonpath_ng.parser import parse

__all__ = ["DATASTORE_ROOT", "KeyPath", "compile_key", "strip_suffix"]

DATASTORE_ROOT: Final = "system"

_MISSING: Final = object()

# A step of a plain walk: (True, name) for a field, (False, index) for a list index.
_Step = tuple[bool, Any]


def strip_suffix(key: str) -> str:
    """The path part of a criteria key: everything before the first ``#``."""
    return key.split("#", 1)[0]


@dataclass(frozen=True, slots=True)
class KeyPath:
    """A parsed criteria key. ``root`` is its first name (``trigger``, ``item`` inside a
    ``search``, ``system`` for the datastore); ``steps`` the plain walk after it, when the path
    is one; ``expression`` the jsonpath-ng expression otherwise."""

    text: str
    root: str | None
    steps: tuple[_Step, ...] | None
    expression: JSONPath

    def find(self, roots: Mapping[str, Any], datastore: Callable[[str], str | None]) -> Any:
        """The value the key designates in ``roots`` (``{"trigger": payload}``, or ``{"item":
        item}``), or None. ``datastore(name)`` gives a system key's value or None."""
        if self.steps is not None:
            if self.root == DATASTORE_ROOT:
                return self._datastore_value(datastore)
            value = roots.get(self.root, _MISSING) if self.root is not None else _MISSING
            for is_field, name in self.steps:
                if value is _MISSING:
                    return None
                value = _field(value, name) if is_field else _index(value, name)
            return None if value is _MISSING else value
        matches = self.expression.find(roots)
        return matches[0].value if matches else None

    def _datastore_value(self, datastore: Callable[[str], str | None]) -> str | None:
        assert self.steps is not None
        if not self.steps or not all(is_field for is_field, _ in self.steps):
            return None
        return datastore(".".join(name for _, name in self.steps))


def _field(value: Any, name: str) -> Any:
    # jsonpath-ng reads a field with .get(): dicts only, in effect.
    if type(value) is dict or isinstance(value, Mapping):
        return value.get(name, _MISSING)
    return _MISSING


def _index(value: Any, index: int) -> Any:
    if isinstance(value, list | tuple) and -len(value) <= index < len(value):
        return value[index]
    return _MISSING


def _walk(expression: JSONPath) -> tuple[str, tuple[_Step, ...]] | None:
    """(root name, steps) when ``expression`` is a chain of single names and indexes."""
    steps: list[_Step] = []
    node = expression
    while isinstance(node, Child):
        step = _step(node.right)
        if step is None:
            return None
        steps.append(step)
        node = node.left
    first = _step(node)
    if first is None or not first[0]:
        return None
    steps.reverse()
    return str(first[1]), tuple(steps)


def _step(node: JSONPath) -> _Step | None:
    if isinstance(node, Fields) and len(node.fields) == 1 and node.fields[0] != "*":
        return (True, node.fields[0])
    if isinstance(node, Index) and len(node.indices) == 1:
        return (False, node.indices[0])
    return None


@lru_cache(maxsize=4096)
def compile_key(key: str) -> KeyPath:
    """Parse a criteria key (its ``#suffix`` stripped). Raises ValueError when the path does not
    parse, with jsonpath-ng's message."""
    text = strip_suffix(key)
    try:
        expression = parse(text)
    except Exception as error:
        # jsonpath-ng raises its own errors and, for some inputs, bare Exceptions from its lexer.
        raise ValueError(f"{type(error).__name__}: {error}") from error
    walk = _walk(_without_root(expression))
    if walk is None:
        return KeyPath(text, None, None, expression)
    root, steps = walk
    return KeyPath(text, root, steps, expression)


def _without_root(expression: JSONPath) -> JSONPath:
    """``$.trigger.x`` walks like ``trigger.x``."""
    if isinstance(expression, Child):
        if isinstance(expression.left, Root):
            return expression.right
        rest = _without_root(expression.left)
        if rest is not expression.left:
            return Child(rest, expression.right)
    return expression
