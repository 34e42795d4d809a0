"""The workflow graph: edges and their keys, start tasks, joins, splits, cycles, retry policies,
and a build time linear in the size of the workflow."""

from __future__ import annotations

import time

import pytest
import yaml

from packhorse.workflow.graph import WorkflowGraph
from packhorse.workflow.spec import WorkflowSpec, parse_workflow


def graph_of(text: str) -> WorkflowGraph:
    spec, diagnostics = parse_workflow(text, "wf.yaml", check_context=False)
    assert spec is not None, [d.format() for d in diagnostics]
    return WorkflowGraph(spec)


BRANCHES = """
version: 1.0
tasks:
  start:
    action: core.noop
    next:
      - when: <% succeeded() %>
        do: [b, a]
      - when: <% failed() %>
        do: a
      - do: noop
  a:
    action: core.noop
    next:
      - do: join
  b:
    action: core.noop
    next:
      - do: join
  join:
    join: all
    action: core.noop
  orphan_loop:
    action: core.noop
    next:
      - do: orphan_back
  orphan_back:
    action: core.noop
    next:
      - do: orphan_loop
"""


def test_edges_are_walked_by_target_then_transition() -> None:
    graph = graph_of(BRANCHES)
    edges = [(t.target, t.key, t.index, t.when) for t in graph.outbound("start")]
    assert edges == [
        ("a", 0, 0, "<% succeeded() %>"),
        ("a", 1, 1, "<% failed() %>"),
        ("b", 0, 0, "<% succeeded() %>"),
        ("noop", 0, 2, None),
    ]
    assert [t.id for t in graph.outbound("start")] == ["a__t0", "a__t1", "b__t0", "noop__t0"]
    assert graph.outbound("a")[0].backref == "a__t0"


def test_nodes_are_what_the_start_tasks_reach() -> None:
    graph = graph_of(BRANCHES)
    # The loop nobody enters is left out (orquesta's inspection rejects a workflow made only
    # of such loops); engine commands named by transitions are nodes.
    assert graph.tasks == {"start", "a", "b", "join", "noop", "orphan_loop", "orphan_back"} - {
        "orphan_loop",
        "orphan_back",
    }
    assert graph.start_tasks == ("start",)
    assert graph.inbound_tasks("join") == ("a", "b")
    assert graph.targets("start") == ("a", "b", "noop")


def test_joins_and_splits() -> None:
    graph = graph_of(BRANCHES)
    assert graph.is_barrier("join") and graph.requirement("join") == 2
    assert not graph.is_split("join")  # a join is never a split
    assert graph.is_split("a")  # two transitions name it
    assert not graph.is_split("b")
    assert graph.requirement("b") == 1


def test_cycles() -> None:
    graph = graph_of("""
version: 1.0
tasks:
  init:
    action: core.noop
    next: [{do: check}]
  check:
    action: core.noop
    next:
      - when: <% failed() %>
        do: fix
      - when: <% succeeded() %>
        do: done
  fix:
    action: core.noop
    next: [{do: check}]
  done:
    action: core.noop
    next: [{do: done_again}]
  done_again:
    action: core.noop
""")
    assert {name for name in graph.tasks if graph.in_cycle(name)} == {"check", "fix"}
    assert graph.is_split("check")  # two inbound transitions, but in a cycle: no new routes


def test_retry_policies() -> None:
    graph = graph_of("""
version: 1.0
tasks:
  one:
    action: core.noop
    retry:
      count: 2
      delay: <% ctx().d %>
  two:
    action: core.noop
    next:
      - when: <% failed() %>
        do: retry
  three:
    action: core.noop
    next:
      - do: retry
""")
    one, two, three = (graph.retry_policy(name) for name in ("one", "two", "three"))
    assert one is not None and (one.when, one.count, one.delay) == (None, 2, "<% ctx().d %>")
    assert two is not None and (two.when, two.count) == ("<% failed() %>", 3)
    assert three is not None and three.when == "<% completed() %>"
    assert graph.outbound("two") == ()  # retry is not a node


def test_join_zero_needs_one_inbound_task() -> None:
    graph = graph_of("""
version: 1.0
tasks:
  a: {action: core.noop, next: [{do: j}]}
  b: {action: core.noop, next: [{do: j}]}
  j: {action: core.noop, join: 0}
""")
    assert graph.is_barrier("j") and graph.requirement("j") == 1


def _chain(size: int) -> WorkflowSpec:
    tasks = {
        f"t{i}": {"action": "core.noop", "next": [{"when": "<% succeeded() %>", "do": f"t{i + 1}"}]}
        for i in range(size - 1)
    }
    tasks[f"t{size - 1}"] = {"action": "core.noop"}
    text = yaml.safe_dump({"version": 1.0, "tasks": tasks})
    spec, _ = parse_workflow(text, "wf.yaml", check_context=False)
    assert spec is not None
    return spec


@pytest.mark.parametrize("size", [5000])
def test_building_is_linear(size: int) -> None:
    small, large = _chain(size // 10), _chain(size)

    def best(spec: WorkflowSpec) -> float:
        timings = []
        for _ in range(7):  # the best of several: the machine is shared
            started = time.perf_counter()
            WorkflowGraph(spec)
            timings.append(time.perf_counter() - started)
        return min(timings)

    # Ten times the tasks: far less than the hundred times a quadratic build would take.
    assert best(large) < 30 * best(small) + 0.05
