"""YAML documents with positions.

PyYAML's C composer gives nodes with marks; we construct plain data from them and keep a map
from each field's path to its line and column, so that every diagnostic can point at the line
that holds the problem. Parsing never raises: malformed, recursive or explosive YAML comes
back as a diagnostic.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from packhorse.collector import collection_paused
from packhorse.model.diagnostics import Diagnostic, Severity

try:  # the C loader is several times faster; fall back where libyaml is missing
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_MERGE = "tag:yaml.org,2002:merge"
_ScalarNode = yaml.ScalarNode
_SequenceNode = yaml.SequenceNode
_MappingNode = yaml.MappingNode
_RESOLVED: dict[tuple[str, tuple[bool, bool]], str] = {}
_RESOLVED_MAX = 50_000
#: Deeper documents take the slow, stack-safe path.
_FAST_DEPTH = 200


class _Loader(_BaseLoader):
    """The safe loader, with tag resolution shortened and memoised.

    The safe loader has no path resolvers, so collections always get the default tags; plain
    scalars repeat across pack files (``type: string``...), so their resolution is cached.
    """

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is not yaml.ScalarNode:
            return _SEQ if kind is yaml.SequenceNode else _MAP
        if not implicit[0]:
            return _STR
        key = (value, implicit)
        tag = _RESOLVED.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
            if len(_RESOLVED) >= _RESOLVED_MAX:
                _RESOLVED.clear()
            _RESOLVED[key] = tag
        return tag

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None  # no path resolvers: nothing to track

    def ascend_resolver(self) -> None:
        return None


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
    # ``merged``: reached through a merge key, so the mapping's own keys keep their positions.
    stack: list[tuple[yaml.Node, Path, frozenset[int], bool]] = [(root, (), frozenset(), False)]
    while stack:
        node, path, ancestors, merged = stack.pop()
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
                    stack.append((value_node, path, inner, True))
                    continue
                if key in seen:
                    duplicates.append(((*path, key), key_node.start_mark.line + 1))
                seen.add(key)
                if merged:
                    positions.setdefault((*path, key), _mark(key_node))
                else:
                    positions[(*path, key)] = _mark(key_node)
                stack.append((value_node, (*path, key), inner, merged))
        elif isinstance(node, yaml.SequenceNode):
            inner = ancestors | {id(node)}
            for index, item in enumerate(node.value):
                positions.setdefault((*path, index), _mark(item))
                stack.append((item, (*path, index), inner, merged))
    return positions, duplicates


class _Fallback(Exception):
    """The document uses something the fast builder leaves to PyYAML (aliases, merges, tags)."""


class _Builder:
    """Plain data from the node tree, without PyYAML's slower Python constructor.

    Documents with aliases, merge keys, unusual tags or great depth fall back to PyYAML.
    Positions are not collected here: most files produce no diagnostic, so they are worked
    out from the nodes only when asked for (:class:`_LazyPositions`).
    """

    __slots__ = ("duplicated", "loader", "seen")

    def __init__(self, loader: _Loader) -> None:
        self.loader = loader
        self.duplicated = False
        self.seen: set[int] = set()

    def scalar(self, node: yaml.Node) -> Any:
        if node.tag == _STR:
            return node.value
        constructor = self.loader.yaml_constructors.get(node.tag)
        if constructor is None:
            raise _Fallback
        return _plain(constructor(self.loader, node))

    def build(self, node: yaml.Node, depth: int) -> Any:
        kind = node.__class__
        if kind is _ScalarNode:
            return node.value if node.tag == _STR else self.scalar(node)
        # A collection seen twice is an alias: cycles and bombs are the slow path's business.
        if depth > _FAST_DEPTH or id(node) in self.seen:
            raise _Fallback
        self.seen.add(id(node))
        if kind is _SequenceNode and node.tag == _SEQ:
            return [self.build(item, depth + 1) for item in node.value]
        if kind is not _MappingNode or node.tag != _MAP:
            raise _Fallback
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.__class__ is not _ScalarNode or key_node.tag == _MERGE:
                raise _Fallback
            key = key_node.value if key_node.tag == _STR else self.scalar(key_node)
            if not isinstance(key, str):
                key = _key_text(key)
            if key in mapping:
                self.duplicated = True
            if value_node.__class__ is _ScalarNode:  # most values: no call for them
                tag = value_node.tag
                mapping[key] = value_node.value if tag == _STR else self.scalar(value_node)
            else:
                mapping[key] = self.build(value_node, depth + 1)
        return mapping


class _LazyPositions(Mapping[Path, tuple[int, int]]):
    """Positions of a document's fields, worked out on first use by composing the text again.

    Keeping the text rather than the node tree keeps thousands of nodes per file out of the
    garbage collector's way; files without diagnostics never pay for positions.
    """

    __slots__ = ("_found", "_text")

    def __init__(self, text: str) -> None:
        self._text: str | None = text
        self._found: dict[Path, tuple[int, int]] = {}

    def _load(self) -> dict[Path, tuple[int, int]]:
        if self._text is not None:
            loader = _Loader(self._text)
            self._text = None
            try:
                root = loader.get_single_node()
                if root is not None:
                    self._found, _ = _positions(root)
            except (yaml.YAMLError, _Recursive, _Explosive):  # pragma: no cover - parsed before
                pass
            finally:
                loader.dispose()
        return self._found

    def __getitem__(self, key: Path) -> tuple[int, int]:
        return self._load()[key]

    def __iter__(self) -> Iterator[Path]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


def _build_fast(
    loader: _Loader, root: yaml.Node, text: str
) -> tuple[Any, Mapping[Path, tuple[int, int]], list[tuple[Path, int]]]:
    builder = _Builder(loader)
    data = builder.build(root, 0)
    if builder.duplicated:  # rare: walk now, for the duplicate keys' lines
        positions, duplicates = _positions(root)
        return data, positions, duplicates
    return data, _LazyPositions(text), []


def parse_yaml(text: str | bytes, path: str) -> tuple[YamlDocument | None, list[Diagnostic]]:
    """Parse one YAML document. Returns ``(None, [error])`` when it cannot be read at all.

    An empty document parses to ``data=None``; callers decide whether that is allowed.
    """
    # Reading builds a node tree (a node and its two marks per scalar: about 30 objects per
    # task of a workflow) that lives until the data is built from it: a 10,000-task file
    # brought on four or five full passes of the collector over the growing tree, which took
    # three times as long as the reading itself (a 1,000-task file brings on none). The tree
    # makes no cycles (a recursive alias is refused) and is freed when _parse returns.
    with collection_paused():
        return _parse(text, path)


def _parse(text: str | bytes, path: str) -> tuple[YamlDocument | None, list[Diagnostic]]:
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
            data, positions, duplicates = _build_fast(loader, root, text)
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
