"""Task contexts: published deltas, the chains of deltas tasks see, and their deep merge.

orquesta gives each task execution a list of context indexes: index 0 (inputs and vars), then
one delta per publishing transition on the way to it (reference/orquesta.md §1.10). A task's
variables are the left-to-right deep merge of those deltas. Lists grow along a path, and a join
appends each arrival's list (minus its leading 0), so joins apply the branches' deltas in
arrival order, duplicates included.

Storing the lists themselves would make a chain of N publishing tasks hold N²/2 indexes. Here
a list is a *chain node*: the root ``[0]``, a node extending another by one delta, or a node
appending another node's list (minus its leading 0). Nodes are immutable, so the merged
variables of a node can be cached and a new node is merged from its base in one step.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

ROOT: Final = 0
"""The chain node of the initial context, the list ``[0]``."""


@dataclass(frozen=True, slots=True)
class ChainNode:
    """A list of context indexes: ``base``'s list, then ``delta``, or then ``joined``'s list
    without its first index. The root has no base and ``delta`` 0."""

    base: int | None
    delta: int | None = None
    joined: int | None = None

    def to_json(self) -> list[int | None]:
        return [self.base, self.delta, self.joined]

    @classmethod
    def from_json(cls, data: list[int | None]) -> ChainNode:
        return cls(data[0], data[1], data[2])


def merge(left: Mapping[str, Any], right: Mapping[str, Any]) -> dict[str, Any]:
    """orquesta's ``merge_dicts(left, right, overwrite=True)`` without changing either side:
    nested dicts are merged key by key, anything else in ``right`` replaces what ``left`` has.
    Only the dicts along merged paths are copied."""
    merged = dict(left)
    for key, value in right.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged[key] = merge(current, value)
        else:
            merged[key] = value
    return merged


def indexes(chains: list[ChainNode], node: int) -> list[int]:
    """The context indexes of ``node``, in order (orquesta's ``ctxs.in`` list)."""
    found: list[int] = []
    for delta in _deltas(chains, node):
        found.append(delta)
    return found


def _deltas(chains: list[ChainNode], node: int) -> Iterator[int]:
    # Walk iteratively: chains of thousands of tasks would exhaust Python's recursion.
    bases: list[int] = []
    current: int | None = node
    while current is not None:
        bases.append(current)
        current = chains[current].base
    for position in reversed(bases):
        chain = chains[position]
        if chain.delta is not None:
            yield chain.delta
        if chain.joined is not None:
            joined = _deltas(chains, chain.joined)
            next(joined)  # the leading 0
            yield from joined


class MergedCache:
    """The merged variables of recently used chain nodes (an LRU: a sequential chain only ever
    needs the node before the newest)."""

    def __init__(self, size: int = 2048) -> None:
        self._size = size
        self._values: dict[int, dict[str, Any]] = {}

    def get(self, node: int) -> dict[str, Any] | None:
        value = self._values.pop(node, None)
        if value is not None:
            self._values[node] = value  # most recently used last
        return value

    def put(self, node: int, value: dict[str, Any]) -> None:
        self._values[node] = value
        if len(self._values) > self._size:
            del self._values[next(iter(self._values))]

    def clear(self) -> None:
        self._values.clear()


def merged(
    chains: list[ChainNode],
    contexts: list[dict[str, Any]],
    node: int,
    cache: MergedCache,
) -> dict[str, Any]:
    """The variables of ``node``: its deltas deep-merged in order. The result is shared and
    must not be changed."""
    cached = cache.get(node)
    if cached is not None:
        return cached
    path: list[int] = []
    current: int | None = node
    value: dict[str, Any] | None = None
    while current is not None:
        value = cache.get(current)
        if value is not None:
            break
        path.append(current)
        current = chains[current].base
    result: dict[str, Any] = value if value is not None else {}
    for position in reversed(path):
        chain = chains[position]
        if chain.delta is not None:
            result = merge(result, contexts[chain.delta]) if result else dict(contexts[chain.delta])
        if chain.joined is not None:
            for delta in indexes(chains, chain.joined)[1:]:
                result = merge(result, contexts[delta])
    cache.put(node, result)
    return result
