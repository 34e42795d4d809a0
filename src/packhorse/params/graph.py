"""Which parameter templates refer to which names, and the order to render them in.

A parameter whose value is a Jinja template (a string holding ``{{`` or ``{%`` that parses, or
a dict or list holding such strings) depends on every name its templates read without
defining. Names that are other parameters are rendered first; the rest must be context
variables (``st2kv``, ``action_context``, ``config_context``, ``trigger``) or Jinja globals.
A name that is neither is an error when rendering is strict, as are cycles.

StackStorm builds the same graph with networkx; its cycle message lists the first name of each
cycle ("Cyclic dependency found in the following variables: a, b"), ours spells each cycle out.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping, Set
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import TemplateSyntaxError, meta

from packhorse.errors import ParameterError
from packhorse.expr import environment

__all__ = ["Node", "node", "render_order"]


@dataclass(frozen=True, slots=True)
class Node:
    """One parameter in the graph: its value, and what it reads if it is a template."""

    name: str
    value: Any
    template: bool
    """The value holds a Jinja template that parses, so it is rendered."""
    references: frozenset[str]
    """Names the templates read without defining them (empty for plain values)."""


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


@lru_cache(maxsize=4096)
def _template_references(text: str) -> frozenset[str] | None:
    """The names ``text`` reads without defining them, or None when it is not a template.

    Cached: parsing and walking the template is most of the cost of rendering parameters,
    and the same defaults are rendered for every execution of an action.
    """
    if "{{" not in text and "{%" not in text:
        return None
    try:
        tree = environment().parse(text)
    except TemplateSyntaxError:
        return None  # not Jinja after all (e.g. docker's --format '{{.Names}}'): a literal
    return frozenset(meta.find_undeclared_variables(tree))


def node(name: str, value: Any) -> Node:
    """The graph node of parameter ``name`` holding ``value`` (a live value or a default)."""
    template = False
    references: set[str] = set()
    for text in _strings(value):
        try:
            found = _template_references(text)
        except Exception as error:
            raise ParameterError(
                f'Failed to render parameter "{name}": {type(error).__name__}: {error}',
                parameter=name,
            ) from error
        if found is not None:
            template = True
            references |= found
    return Node(name, value, template, frozenset(references))


def _unknown_references(nodes: Mapping[str, Node], known: Set[str]) -> list[tuple[str, str]]:
    globals_ = environment().globals
    return [
        (item.name, reference)
        for item in nodes.values()
        for reference in sorted(item.references)
        if reference not in nodes and reference not in known and reference not in globals_
    ]


def _cycles(nodes: Mapping[str, Node], left: list[str]) -> list[list[str]]:
    """Cycles among ``left`` (the names that could not be ordered): one per back edge of a
    depth-first walk, so every cyclic group is reported, in linear time."""
    remaining = set(left)
    done: set[str] = set()
    cycles: list[list[str]] = []

    def walk(path: list[str], on_path: set[str]) -> None:
        for reference in sorted(nodes[path[-1]].references & remaining):
            if reference in on_path:
                cycles.append([*path[path.index(reference) :], reference])
            elif reference not in done:
                path.append(reference)
                on_path.add(reference)
                walk(path, on_path)
                on_path.discard(path.pop())
                done.add(reference)

    for name in left:
        if name not in done:
            walk([name], {name})
            done.add(name)
    return cycles


def render_order(nodes: Mapping[str, Node], known: Set[str], *, strict: bool) -> list[str]:
    """The names of ``nodes`` in an order that renders every reference before its reader.

    ``known`` holds the names the render context defines besides the parameters. Ties keep
    the order of ``nodes``. Raises :class:`~packhorse.errors.ParameterError` for a reference
    to an unknown name (when ``strict``) and for cycles.
    """
    if strict and (unknown := _unknown_references(nodes, known)):
        declared = list(nodes)
        at_fault = sorted({reader for reader, _ in unknown}, key=declared.index)
        described = "; ".join(
            f'Dependency unsatisfied in variable "{reference}": parameter "{reader}" refers to '
            "it, but there is no parameter or context variable of that name"
            for reader, reference in unknown
        )
        raise ParameterError(described, parameters=at_fault)

    position = {name: index for index, name in enumerate(nodes)}
    readers: dict[str, list[str]] = {name: [] for name in nodes}
    waiting: dict[str, int] = {}
    for item in nodes.values():
        dependencies = item.references & nodes.keys()
        waiting[item.name] = len(dependencies)
        for dependency in dependencies:
            readers[dependency].append(item.name)

    ready = [(position[name], name) for name, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, name = heapq.heappop(ready)
        order.append(name)
        for reader in readers[name]:
            waiting[reader] -= 1
            if waiting[reader] == 0:
                heapq.heappush(ready, (position[reader], reader))

    if len(order) < len(nodes):
        left = [name for name in nodes if name not in set(order)]
        cycles = _cycles(nodes, left)
        described = "; ".join(" -> ".join(cycle) for cycle in cycles)
        involved = sorted({name for cycle in cycles for name in cycle}, key=position.__getitem__)
        raise ParameterError(
            f"Cyclic dependency found in parameters: {described}",
            parameters=involved,
            hint="a parameter's default must not refer, directly or through others, to itself",
        )
    return order
