"""YAML documents with positions.

PyYAML's C composer gives nodes with marks; we construct plain data from them and keep a map
from each field's path to its line and column, so that every diagnostic can point at the line
that holds the problem. Parsing never raises: malformed, recursive or explosive YAML comes
back as a diagnostic.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from packhorse.model.diagnostics import Diagnostic, Severity

try:  # the C loader is several times faster; fall back where libyaml is missing
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_MERGE = "tag:yaml.org,2002:merge"
_RESOLVED: dict[tuple[str, tuple[bool, bool]], str] = {}
_RESOLVED_MAX = 50_000
#: Deeper documents take the slow, stack-safe path.
_FAST_DEPTH = 200


class _Loader(_BaseLoader):
    """The safe loader, with implicit tag resolution memoised (pack files repeat scalars)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is not yaml.ScalarNode or not implicit[0]:
            return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
        key = (value, implicit)
        tag = _RESOLVED.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
            if len(_RESOLVED) >= _RESOLVED_MAX:
                _RESOLVED.clear()
            _RESOLVED[key] = tag
        return tag


Path = tuple[str | int, ...]

#: Upper bound on nodes visited through aliases (a "billion laughs" document stops here).
MAX_NODES = 200_000


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """Parsed data plus where each field sits in the file."""

    path: str
    data: Any
    positions: Mapping[Path, tuple[int, int]] = field(default_factory=dict)

    def where(self, at: Path) -> tuple[int, int]:
        """Line and column of the field at ``at``, or of its nearest located ancestor."""
        probe = tuple(at)
        while probe:
            found = self.positions.get(probe)
            if found:
                return found
            probe = probe[:-1]
        return self.positions.get((), (1, 1))


class _Explosive(Exception):
    pass


class _Recursive(Exception):
    pass


def _plain(value: Any) -> Any:
    """Turn YAML-native values (dates, binary, sets, odd keys) into JSON-ready data."""
    if isinstance(value, dict):
        return {(k if isinstance(k, str) else _key_text(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return sorted((_plain(v) for v in value), key=repr)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _key_text(key: Any) -> str:
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(_plain(key))


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _positions(root: yaml.Node) -> tuple[dict[Path, tuple[int, int]], list[tuple[Path, int]]]:
    """Walk the node graph: positions of every path, duplicate keys; refuse cycles and bombs."""
    positions: dict[Path, tuple[int, int]] = {(): _mark(root)}
    duplicates: list[tuple[Path, int]] = []
    visited = 0
    # An explicit stack: deep documents must not hit Python's recursion limit.
    stack: list[tuple[yaml.Node, Path, frozenset[int]]] = [(root, (), frozenset())]
    while stack:
        node, path, ancestors = stack.pop()
        visited += 1
        if visited > MAX_NODES:
            raise _Explosive
        if id(node) in ancestors:
            raise _Recursive
        if isinstance(node, yaml.MappingNode):
            inner = ancestors | {id(node)}
            seen: set[str] = set()
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    key = "<complex key>"
                else:
                    key = key_node.value
                if key == "<<":  # merge keys: positions come from the merged mapping
                    stack.append((value_node, path, inner))
                    continue
                if key in seen:
                    duplicates.append(((*path, key), key_node.start_mark.line + 1))
                seen.add(key)
                positions[(*path, key)] = _mark(key_node)
                stack.append((value_node, (*path, key), inner))
        elif isinstance(node, yaml.SequenceNode):
            inner = ancestors | {id(node)}
            for index, item in enumerate(node.value):
                positions.setdefault((*path, index), _mark(item))
                stack.append((item, (*path, index), inner))
    return positions, duplicates


class _Fallback(Exception):
    """The document uses something the fast builder leaves to PyYAML (aliases, merges, tags)."""


class _Builder:
    """Data and positions in one walk over the node tree, for plain documents.

    PyYAML's Python constructor plus a second walk for positions cost twice as much; documents
    with aliases, merge keys, unusual tags or great depth fall back to that path.
    """

    __slots__ = ("duplicates", "loader", "positions", "seen")

    def __init__(self, loader: _Loader) -> None:
        self.loader = loader
        self.positions: dict[Path, tuple[int, int]] = {}
        self.duplicates: list[tuple[Path, int]] = []
        self.seen: set[int] = set()

    def scalar(self, node: yaml.Node) -> Any:
        if node.tag == _STR:
            return node.value
        constructor = self.loader.yaml_constructors.get(node.tag)
        if constructor is None:
            raise _Fallback
        return _plain(constructor(self.loader, node))

    def build(self, node: yaml.Node, path: Path, depth: int) -> Any:
        if depth > _FAST_DEPTH or id(node) in self.seen:
            raise _Fallback
        self.seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                raise _Fallback
            items = []
            for index, item in enumerate(node.value):
                here = (*path, index)
                self.positions[here] = (item.start_mark.line + 1, item.start_mark.column + 1)
                items.append(self.build(item, here, depth + 1))
            return items
        if not isinstance(node, yaml.MappingNode) or node.tag != _MAP:
            raise _Fallback
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE:
                raise _Fallback
            if id(key_node) in self.seen:
                raise _Fallback
            self.seen.add(id(key_node))
            key = self.scalar(key_node)
            if not isinstance(key, str):
                key = _key_text(key)
            here = (*path, key)
            mark = key_node.start_mark
            if key in mapping:
                self.duplicates.append((here, mark.line + 1))
            self.positions[here] = (mark.line + 1, mark.column + 1)
            mapping[key] = self.build(value_node, here, depth + 1)
        return mapping


def _build_fast(
    loader: _Loader, root: yaml.Node
) -> tuple[Any, dict[Path, tuple[int, int]], list[tuple[Path, int]]]:
    builder = _Builder(loader)
    builder.positions[()] = _mark(root)
    data = builder.build(root, (), 0)
    return data, builder.positions, builder.duplicates


def parse_yaml(text: str | bytes, path: str) -> tuple[YamlDocument | None, list[Diagnostic]]:
    """Parse one YAML document. Returns ``(None, [error])`` when it cannot be read at all.

    An empty document parses to ``data=None``; callers decide whether that is allowed.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            return None, [_error("PH001", f"file is not UTF-8 text ({error.reason})", path)]
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return YamlDocument(path, None, {}), []
        try:
            data, positions, duplicates = _build_fast(loader, root)
        except _Fallback:
            try:
                positions, duplicates = _positions(root)
            except _Recursive:
                return None, [_error("PH002", "recursive YAML alias", path, *_mark(root))]
            except _Explosive:
                message = f"YAML expands to more than {MAX_NODES} nodes through aliases"
                return None, [_error("PH002", message, path, *_mark(root))]
            data = _plain(loader.construct_document(root))
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = error.problem or error.context or "invalid YAML"
        return None, [_error("PH002", f"invalid YAML: {problem}", path, line, col)]
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as error:
        return None, [_error("PH002", f"invalid YAML: {error}", path)]
    finally:
        loader.dispose()
    diagnostics = [
        Diagnostic(
            code="PH003",
            severity=Severity.WARNING,
            message=f"duplicate key {dup_path[-1]!r}: the last value wins",
            path=path,
            line=line,
            col=1,
            field=".".join(str(p) for p in dup_path),
        )
        for dup_path, line in duplicates
    ]
    return YamlDocument(path, data, positions), diagnostics


def _error(code: str, message: str, path: str, line: int = 0, col: int = 0) -> Diagnostic:
    return Diagnostic(code, Severity.ERROR, message, path, line, col)
