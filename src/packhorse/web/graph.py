"""A workflow drawn as a graph (pure): its tasks and transitions read from the definition a
workflow execution stored, laid out in layers for an SVG the page draws.

The layout is the simplest that reads well: each task's layer is the longest path to it from
a start task (edges that close a cycle are left out of that count and drawn curving back up),
layers are rows from top to bottom, and the tasks of a row are ordered by where their
predecessors sit (one pass), then by the order the file lists them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from packhorse.workflow.actionchain.parse import parse_chain
from packhorse.workflow.graph import WorkflowGraph
from packhorse.workflow.spec import parse_workflow

NODE_WIDTH: Final = 168
NODE_HEIGHT: Final = 48
COLUMN_GAP: Final = 32
ROW_GAP: Final = 64
MARGIN: Final = 24
NAME_CHARS: Final = 20
LABEL_CHARS: Final = 22

NOT_STARTED: Final = "not started"

#: A sign for each tone, so that a node's state is its word, a colour and a shape.
GLYPHS: Final[Mapping[str, str]] = {
    "good": "✓",
    "bad": "✗",
    "busy": "●",
    "waiting": "…",
    "muted": "\u2013",  # an en dash
    "none": "○",
}


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    label: str
    """What the transition waits for, shortened (``succeeded()``, ``on failure``); may be
    empty."""


@dataclass(frozen=True, slots=True)
class GraphSpec:
    """Tasks (in file order, engine commands such as ``fail`` after them) and transitions."""

    nodes: tuple[str, ...]
    edges: tuple[Edge, ...]
    commands: frozenset[str] = frozenset()
    """Nodes that are engine commands, not tasks: ``fail after build`` is the ``fail`` that
    task ``build`` names (``continue`` is left out: it draws nothing)."""


@dataclass(frozen=True, slots=True)
class TaskState:
    status: str
    """The status of the task's latest execution, or ``not started``."""
    tone: str
    """The style's family for it (see :data:`packhorse.web.views.TONES`), ``none`` if not
    started."""


@dataclass(frozen=True, slots=True)
class PlacedNode:
    name: str
    label: str
    """The name, shortened to fit the box (the full name is in the node's title)."""
    status: str
    tone: str
    glyph: str
    command: bool
    x: int
    y: int
    layer: int


@dataclass(frozen=True, slots=True)
class PlacedEdge:
    source: str
    target: str
    label: str
    path: str
    """SVG path data."""
    label_x: int
    label_y: int
    back: bool
    """It closes a cycle (drawn curving back up)."""


@dataclass(frozen=True, slots=True)
class GraphLayout:
    nodes: tuple[PlacedNode, ...]
    edges: tuple[PlacedEdge, ...]
    width: int
    height: int
    node_width: int = NODE_WIDTH
    node_height: int = NODE_HEIGHT

    def outbound(self, name: str) -> tuple[PlacedEdge, ...]:
        return tuple(edge for edge in self.edges if edge.source == name)


_EXPRESSION: Final = re.compile(r"<%\s*(.*?)\s*%>|{{\s*(.*?)\s*}}", re.DOTALL)


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def when_label(when: str | None) -> str:
    """A transition's condition as an edge's label: the expression without its delimiters
    (``<% succeeded() %>`` is ``succeeded()``), shortened."""
    if not when:
        return ""
    inner = _EXPRESSION.sub(lambda m: m.group(1) or m.group(2) or "", when)
    return shorten(inner, LABEL_CHARS)


def orquesta_graph(definition: str) -> GraphSpec | None:
    """The graph of an Orquesta workflow definition, or None if it does not parse."""
    spec, _ = parse_workflow(definition, "<workflow>", check_context=False)
    if spec is None:
        return None
    graph = WorkflowGraph(spec)
    tasks = [name for name in spec.tasks if name in graph.tasks]
    commands: list[str] = []
    edges = []
    for name in tasks:
        for edge in graph.outbound(name):
            target = edge.target
            if graph.is_command(target):
                if target == "continue":
                    continue  # "carry on": nothing to draw
                # One node per task that names it, next to that task, not one node that
                # edges from all over the graph cross to.
                target = f"{target} after {name}"
                if target not in commands:
                    commands.append(target)
            edges.append(Edge(name, target, when_label(edge.when)))
    return GraphSpec(tuple(tasks + commands), tuple(edges), frozenset(commands))


def chain_graph(definition: str) -> GraphSpec | None:
    """The graph of an action chain: its nodes, ``on-success`` and ``on-failure`` edges."""
    chain, _ = parse_chain(definition, "<chain>")
    if chain is None:
        return None
    names = list(dict.fromkeys(node.name for node in chain.nodes))
    edges = []
    for name in names:
        node = chain.node(name)
        assert node is not None
        for target, label in ((node.on_success, "on success"), (node.on_failure, "on failure")):
            if target and target in names:
                edges.append(Edge(name, target, label))
    # The start node first, as the chain runs it.
    if chain.default in names:
        names.remove(chain.default)
        names.insert(0, chain.default)
    return GraphSpec(tuple(names), tuple(edges))


def graph_of(kind: str, definition: str) -> GraphSpec | None:
    """The graph of a stored workflow of ``kind`` (``orquesta``, ``action-chain``)."""
    match kind:
        case "orquesta":
            return orquesta_graph(definition)
        case "action-chain":
            return chain_graph(definition)
        case _:
            return None


def _back_edges(spec: GraphSpec) -> set[tuple[str, str]]:
    """Edges that close a cycle, found by a depth-first walk from the start nodes."""
    outbound: dict[str, list[str]] = {name: [] for name in spec.nodes}
    inbound = {edge.target for edge in spec.edges}
    for edge in spec.edges:
        outbound[edge.source].append(edge.target)
    back: set[tuple[str, str]] = set()
    visited: set[str] = set()
    starts = [name for name in spec.nodes if name not in inbound] + list(spec.nodes)
    for start in starts:
        if start in visited:
            continue
        visited.add(start)
        on_path = {start}
        stack = [(start, iter(outbound[start]))]
        while stack:
            name, targets = stack[-1]
            target = next(targets, None)
            if target is None:
                stack.pop()
                on_path.discard(name)
            elif target in on_path:
                back.add((name, target))
            elif target not in visited:
                visited.add(target)
                on_path.add(target)
                stack.append((target, iter(outbound[target])))
    return back


def layers(spec: GraphSpec) -> dict[str, int]:
    """Each node's layer: the longest path to it from a start node, cycles left out."""
    back = _back_edges(spec)
    forward = [e for e in spec.edges if (e.source, e.target) not in back]
    predecessors: dict[str, list[str]] = {name: [] for name in spec.nodes}
    for edge in forward:
        predecessors[edge.target].append(edge.source)
    layer: dict[str, int] = {}

    def depth(name: str) -> int:
        # Iterative: a long sequence of tasks must not exhaust the recursion limit.
        stack = [name]
        while stack:
            current = stack[-1]
            waiting = [p for p in predecessors[current] if p not in layer]
            if waiting:
                stack.extend(waiting)
                continue
            stack.pop()
            layer[current] = max((layer[p] + 1 for p in predecessors[current]), default=0)
        return layer[name]

    for name in spec.nodes:
        depth(name)
    return layer


def layout(spec: GraphSpec, states: Mapping[str, TaskState]) -> GraphLayout:
    """Where each node and edge goes; ``states`` by task name (absent: not started)."""
    layer_of = layers(spec)
    rows: dict[int, list[str]] = {}
    for name in spec.nodes:
        rows.setdefault(layer_of[name], []).append(name)
    file_order = {name: index for index, name in enumerate(spec.nodes)}
    column: dict[str, float] = {}
    predecessors: dict[str, list[str]] = {name: [] for name in spec.nodes}
    for edge in spec.edges:
        predecessors[edge.target].append(edge.source)
    for number in sorted(rows):
        row = rows[number]

        def weight(name: str) -> tuple[float, int]:
            placed = [column[p] for p in predecessors[name] if p in column]
            return (sum(placed) / len(placed) if placed else float("inf"), file_order[name])

        row.sort(key=weight)
        for index, name in enumerate(row):
            column[name] = float(index)
    widest = max((len(row) for row in rows.values()), default=0)
    width = MARGIN * 2 + widest * NODE_WIDTH + max(widest - 1, 0) * COLUMN_GAP
    height = MARGIN * 2 + len(rows) * NODE_HEIGHT + max(len(rows) - 1, 0) * ROW_GAP
    position: dict[str, tuple[int, int]] = {}
    nodes: list[PlacedNode] = []
    for number in sorted(rows):
        row = rows[number]
        span = len(row) * NODE_WIDTH + (len(row) - 1) * COLUMN_GAP
        left = (width - span) // 2
        for index, name in enumerate(row):
            x = left + index * (NODE_WIDTH + COLUMN_GAP)
            y = MARGIN + number * (NODE_HEIGHT + ROW_GAP)
            position[name] = (x, y)
            state = states.get(name, TaskState(NOT_STARTED, "none"))
            nodes.append(
                PlacedNode(
                    name=name,
                    label=shorten(name.split(" after ")[0], NAME_CHARS),
                    status=state.status,
                    tone=state.tone,
                    glyph=GLYPHS.get(state.tone, "○"),
                    command=name in spec.commands,
                    x=x,
                    y=y,
                    layer=number,
                )
            )
    nodes.sort(key=lambda node: file_order[node.name])
    back = _back_edges(spec)
    edges = [_place_edge(edge, position, (edge.source, edge.target) in back) for edge in spec.edges]
    return GraphLayout(tuple(nodes), tuple(edges), width, height)


def _place_edge(edge: Edge, position: Mapping[str, tuple[int, int]], back: bool) -> PlacedEdge:
    sx, sy = position[edge.source]
    tx, ty = position[edge.target]
    if back or ty <= sy:
        # Out of the source's right side, round, into the target's right side.
        x1, y1 = sx + NODE_WIDTH, sy + NODE_HEIGHT // 2
        x2, y2 = tx + NODE_WIDTH, ty + NODE_HEIGHT // 2
        bulge = max(x1, x2) + COLUMN_GAP
        path = f"M{x1},{y1} C{bulge},{y1} {bulge},{y2} {x2 + 6},{y2}"
        return PlacedEdge(
            edge.source, edge.target, edge.label, path, bulge - 4, (y1 + y2) // 2, True
        )
    x1, y1 = sx + NODE_WIDTH // 2, sy + NODE_HEIGHT
    x2, y2 = tx + NODE_WIDTH // 2, ty - 6
    middle = (y1 + y2) // 2
    path = f"M{x1},{y1} C{x1},{middle} {x2},{middle} {x2},{y2}"
    return PlacedEdge(edge.source, edge.target, edge.label, path, (x1 + x2) // 2, middle, False)


def task_states(
    children: Sequence[tuple[str | None, str, str, bool]],
) -> dict[str, TaskState]:
    """Each task's state from the workflow's children, oldest first, as (task name, status,
    tone, completed): the one still running if there is one, else the latest (a retried or
    repeated task has several)."""
    states: dict[str, TaskState] = {}
    running: set[str] = set()
    for task, status, tone, completed in children:
        if task is None or task in running:
            continue
        states[task] = TaskState(status, tone)
        if not completed:
            running.add(task)
    return states
