"""The workflow graph as pure code: nodes and edges read from a definition, layers, the
layout's geometry and each task's state from its executions."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from packhorse.web.graph import (
    NOT_STARTED,
    Edge,
    GraphSpec,
    TaskState,
    chain_graph,
    graph_of,
    layers,
    layout,
    orquesta_graph,
    task_states,
    when_label,
)

EXAMPLES = Path(__file__).parents[2] / "src" / "packhorse" / "bundled_packs" / "examples"
GREET_TEAM = (EXAMPLES / "actions" / "workflows" / "greet_team.yaml").read_text()
HELLO_CHAIN = (EXAMPLES / "actions" / "chains" / "hello_chain.yaml").read_text()

LOOP = """
version: 1.0
tasks:
  start:
    action: core.noop
    next:
      - do: poll
  poll:
    action: core.noop
    next:
      - when: <% failed() %>
        do: poll_again
      - when: <% succeeded() %>
        do: done
  poll_again:
    action: core.noop
    next:
      - do: poll
  done:
    action: core.noop
"""


def test_an_orquesta_workflow_gives_its_tasks_transitions_and_commands() -> None:
    spec = orquesta_graph(GREET_TEAM)
    assert spec is not None
    assert spec.nodes == (
        "build",
        "say",
        "list_names",
        "check",
        "fail after build",
        "fail after check",
    )
    assert spec.commands == {"fail after build", "fail after check"}
    assert set(spec.edges) == {
        Edge("build", "say", "succeeded()"),
        Edge("build", "list_names", "succeeded()"),
        Edge("build", "fail after build", "failed()"),
        Edge("say", "check", "succeeded()"),
        Edge("list_names", "check", "succeeded()"),
        Edge("check", "fail after check", "failed()"),
    }  # check's "succeeded: publish only" goes to continue, which draws nothing


def test_an_action_chain_gives_its_nodes_and_success_and_failure_edges() -> None:
    spec = chain_graph(HELLO_CHAIN)
    assert spec is not None
    assert spec.nodes == ("greet", "measure", "shout", "complain")
    assert spec.edges == (
        Edge("greet", "measure", "on success"),
        Edge("measure", "shout", "on success"),
        Edge("measure", "complain", "on failure"),
    )
    assert graph_of("action-chain", HELLO_CHAIN) == spec
    assert graph_of("orquesta", GREET_TEAM) == orquesta_graph(GREET_TEAM)


@pytest.mark.parametrize(
    ("kind", "definition"),
    [
        ("orquesta", "version: 1.0\ntasks: [not, a, mapping]\n"),
        ("action-chain", "chain: 3"),
        ("mistral", GREET_TEAM),
        ("orquesta", ": not yaml :"),
    ],
)
def test_what_cannot_be_drawn_gives_no_graph(kind: str, definition: str) -> None:
    assert graph_of(kind, definition) is None


def test_layers_are_the_longest_path_from_a_start_task() -> None:
    spec = orquesta_graph(GREET_TEAM)
    assert spec is not None
    assert layers(spec) == {
        "build": 0,
        "say": 1,
        "list_names": 1,
        "fail after build": 1,
        "check": 2,
        "fail after check": 3,
    }
    # A shortcut does not pull a task up: c is below b, which a -> c skips.
    shortcut = GraphSpec(
        ("a", "b", "c"), (Edge("a", "b", ""), Edge("b", "c", ""), Edge("a", "c", ""))
    )
    assert layers(shortcut) == {"a": 0, "b": 1, "c": 2}


def test_a_cycle_is_laid_out_and_its_closing_edge_drawn_back_up() -> None:
    spec = orquesta_graph(LOOP)
    assert spec is not None
    assert layers(spec) == {"start": 0, "poll": 1, "poll_again": 2, "done": 2}
    placed = layout(spec, {})
    back = [edge for edge in placed.edges if edge.back]
    assert [(edge.source, edge.target) for edge in back] == [("poll_again", "poll")]


def test_a_thousand_tasks_in_a_row_lay_out_without_recursion() -> None:
    names = tuple(f"t{i}" for i in range(1000))
    spec = GraphSpec(names, tuple(Edge(a, b, "") for a, b in itertools.pairwise(names)))
    assert layers(spec)["t999"] == 999


def test_the_layout_puts_each_layer_in_a_row_without_overlaps() -> None:
    spec = orquesta_graph(GREET_TEAM)
    assert spec is not None
    placed = layout(spec, {"build": TaskState("succeeded", "good")})
    by_name = {node.name: node for node in placed.nodes}
    assert [node.name for node in placed.nodes] == list(spec.nodes)
    # Rows top to bottom by layer; one row's nodes share a y.
    assert by_name["build"].y < by_name["say"].y == by_name["list_names"].y < by_name["check"].y
    boxes = sorted((node.y, node.x) for node in placed.nodes)
    for (y1, x1), (y2, x2) in itertools.pairwise(boxes):
        assert y1 != y2 or x2 - x1 >= placed.node_width, "two nodes overlap"
    for node in placed.nodes:
        assert node.x >= 0 and node.x + placed.node_width <= placed.width
        assert node.y >= 0 and node.y + placed.node_height <= placed.height
    # States: the one given, the rest not started; commands drawn as such, named by their word.
    assert (by_name["build"].status, by_name["build"].glyph) == ("succeeded", "✓")
    assert (by_name["say"].status, by_name["say"].tone) == (NOT_STARTED, "none")
    assert by_name["fail after check"].command and by_name["fail after check"].label == "fail"
    # Every edge goes down from its source's bottom to its target's top.
    for edge in placed.edges:
        source, target = by_name[edge.source], by_name[edge.target]
        assert edge.path.startswith(
            f"M{source.x + placed.node_width // 2},{source.y + placed.node_height}"
        )
        assert edge.path.endswith(f"{target.y - 6}")
    assert [e.target for e in placed.outbound("build")] == ["fail after build", "list_names", "say"]


@pytest.mark.parametrize(
    ("when", "label"),
    [
        (None, ""),
        ("<% succeeded() %>", "succeeded()"),
        ("{{ succeeded() }}", "succeeded()"),
        ("<% succeeded() and ctx().count > 10 %>", "succeeded() and ctx()…"),
        ("<%   failed()\n  %>", "failed()"),
    ],
)
def test_a_transitions_condition_is_shortened_for_its_label(when: str | None, label: str) -> None:
    assert when_label(when) == label


def test_a_tasks_state_is_its_running_execution_else_its_latest() -> None:
    children = [
        ("build", "failed", "bad", True),
        ("build", "succeeded", "good", True),  # retried: the latest counts
        ("say", "running", "busy", False),
        ("say", "succeeded", "good", True),  # with-items: one still runs
        (None, "succeeded", "good", True),  # not a task of the graph
    ]
    assert task_states(children) == {
        "build": TaskState("succeeded", "good"),
        "say": TaskState("running", "busy"),
    }
