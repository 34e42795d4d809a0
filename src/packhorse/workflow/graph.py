"""The task graph of a workflow, built once from its spec with everything the conductor asks
of it precomputed (reference/orquesta.md §2.2, §2.5-2.7).

Nodes are the tasks reachable from the start tasks, plus the engine commands ``continue``,
``noop`` and ``fail`` when a transition names them (``retry`` is not a node: ``do: retry`` gives
its task a retry policy instead). Each name in a transition's ``do`` is one edge; the edges from
one task to the same target are keyed 0, 1, ... in the order of the transitions, and a task's
outbound edges are walked in target-name order, as orquesta walks them.

Building is linear in tasks plus transitions: orquesta rescans every task to find the
predecessors of each one, which makes a thousand-task workflow take a minute to compose.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from packhorse.workflow.spec import ENGINE_COMMANDS, TaskSpec, WorkflowSpec

COMMAND_NODES: Final = frozenset({"continue", "noop", "fail"})
"""Engine commands that become nodes (and task executions) when a transition names them."""

DEFAULT_RETRY_WHEN: Final = "<% completed() %>"
DEFAULT_RETRY_COUNT: Final = 3


@dataclass(frozen=True, slots=True)
class Transition:
    """One edge: ``source``'s transition number ``index`` names ``target``."""

    source: str
    target: str
    key: int
    """Counts the transitions of ``source`` into the same target, from 0."""
    index: int
    """Position of the transition in ``source``'s ``next`` list."""
    when: str | None
    id: str = field(init=False)
    """How the source's execution records the outcome: ``<target>__t<key>``."""
    backref: str = field(init=False)
    """How the target records where it came from: ``<source>__t<key>``."""

    def __post_init__(self) -> None:
        # Computed once: executions store them by the thousand.
        object.__setattr__(self, "id", f"{self.target}__t{self.key}")
        object.__setattr__(self, "backref", f"{self.source}__t{self.key}")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    when: str | None
    count: Any
    """An integer, or an expression evaluated when the task's execution is created."""
    delay: Any = None


class WorkflowGraph:
    """The graph of one workflow spec. Immutable once built."""

    def __init__(self, spec: WorkflowSpec) -> None:
        self.spec = spec
        self.tasks: frozenset[str] = frozenset()
        self._outbound: dict[str, tuple[Transition, ...]] = {}
        self._inbound: dict[str, list[Transition]] = defaultdict(list)
        self._retry: dict[str, RetryPolicy] = {}
        self._build(spec.tasks)
        self.start_tasks: tuple[str, ...] = tuple(
            sorted(name for name in self.tasks if not self._inbound.get(name))
        )
        self._inbound_tasks = {
            name: tuple(dict.fromkeys(t.source for t in edges))
            for name, edges in self._inbound.items()
        }
        self._targets = {
            name: tuple(dict.fromkeys(t.target for t in edges))
            for name, edges in self._outbound.items()
        }
        self._splits = self._find_splits(spec.tasks)
        self._in_cycle = self._find_cycle_members()

    # -- construction ---------------------------------------------------------------------

    def _build(self, specs: Mapping[str, TaskSpec]) -> None:
        referenced = {target for task in specs.values() for t in task.next for target in t.do}
        starts = [name for name in specs if name not in referenced]
        seen: set[str] = set(starts)
        queue = deque(starts)
        while queue:
            name = queue.popleft()
            task = specs.get(name)
            edges = self._edges(task) if task is not None else ()
            self._outbound[name] = edges
            for edge in edges:
                self._inbound[edge.target].append(edge)
                if edge.target not in seen:
                    seen.add(edge.target)
                    queue.append(edge.target)
            if task is not None:
                self._retry_policy(task)
        self.tasks = frozenset(seen)

    @staticmethod
    def _edges(task: TaskSpec) -> tuple[Transition, ...]:
        named: list[tuple[str, int, str | None]] = []
        for index, transition in enumerate(task.next):
            for target in dict.fromkeys(transition.do):  # a name twice in one do: one edge
                if target != "retry":
                    named.append((target, index, transition.when))
        named.sort(key=lambda entry: entry[0])  # stable: by target, then transition order
        keys: dict[str, int] = defaultdict(int)
        edges = []
        for target, index, when in named:
            edges.append(Transition(task.name, target, keys[target], index, when))
            keys[target] += 1
        return tuple(edges)

    def _retry_policy(self, task: TaskSpec) -> None:
        if task.retry is not None:
            self._retry[task.name] = RetryPolicy(
                task.retry.when, task.retry.count, task.retry.delay
            )
        # do: retry is sugar for a retry policy; the last such transition wins.
        for transition in task.next:
            if "retry" in transition.do:
                when = transition.when or DEFAULT_RETRY_WHEN
                self._retry[task.name] = RetryPolicy(when, DEFAULT_RETRY_COUNT)

    @staticmethod
    def _find_splits(specs: Mapping[str, TaskSpec]) -> frozenset[str]:
        """Tasks without ``join`` named more than once by the transitions of the whole spec
        (each name in each ``do`` counts, unreachable tasks' transitions too)."""
        counts: dict[str, int] = defaultdict(int)
        for task in specs.values():
            for transition in task.next:
                for target in transition.do:
                    counts[target] += 1
        return frozenset(
            name
            for name, count in counts.items()
            if count > 1 and (name not in specs or specs[name].join is None)
        )

    def _find_cycle_members(self) -> frozenset[str]:
        """Nodes on some cycle: members of a strongly connected component with more than one
        node, or with an edge to itself (Tarjan's algorithm, iteratively)."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        on_stack: set[str] = set()
        stack: list[str] = []
        members: set[str] = set()
        counter = 0
        for root in sorted(self.tasks):
            if root in index:
                continue
            work: list[tuple[str, int]] = [(root, 0)]
            while work:
                node, position = work.pop()
                if position == 0:
                    index[node] = low[node] = counter
                    counter += 1
                    stack.append(node)
                    on_stack.add(node)
                targets = self._targets.get(node, ())
                if position < len(targets):
                    work.append((node, position + 1))
                    target = targets[position]
                    if target not in index:
                        work.append((target, 0))
                    elif target in on_stack:
                        low[node] = min(low[node], index[target])
                    continue
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in targets:
                        members.update(component)
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
        return frozenset(members)

    # -- queries --------------------------------------------------------------------------

    def has_task(self, name: str) -> bool:
        return name in self.tasks

    def outbound(self, name: str) -> tuple[Transition, ...]:
        """Edges out of ``name``, by target name then key."""
        return self._outbound.get(name, ())

    def inbound(self, name: str) -> tuple[Transition, ...]:
        return tuple(self._inbound.get(name, ()))

    def inbound_tasks(self, name: str) -> tuple[str, ...]:
        """The distinct tasks with an edge into ``name``."""
        return self._inbound_tasks.get(name, ())

    def targets(self, name: str) -> tuple[str, ...]:
        """The distinct tasks ``name`` has an edge into."""
        return self._targets.get(name, ())

    def task_spec(self, name: str) -> TaskSpec | None:
        """The spec of a task (None for an engine command)."""
        return self.spec.tasks.get(name)

    def barrier(self, name: str) -> str | int | None:
        """``"all"`` or the count of a join task; None for other tasks."""
        task = self.spec.tasks.get(name)
        return None if task is None else task.join

    def requirement(self, name: str) -> int:
        """How many inbound tasks must have transitioned into ``name`` for it to run: all of
        them for ``join: all``, N for ``join: N`` (orquesta counts ``join: 0`` as 1), 1 for
        other tasks."""
        barrier = self.barrier(name)
        if barrier == "all":
            return len(self.inbound_tasks(name))
        return barrier if isinstance(barrier, int) and barrier > 0 else 1

    def is_barrier(self, name: str) -> bool:
        return self.barrier(name) is not None

    def is_split(self, name: str) -> bool:
        """A task that each inbound arrival runs anew, on a new route (§2.5)."""
        return name in self._splits

    def in_cycle(self, name: str) -> bool:
        return name in self._in_cycle

    def retry_policy(self, name: str) -> RetryPolicy | None:
        return self._retry.get(name)

    def has_items(self, name: str) -> bool:
        task = self.spec.tasks.get(name)
        return task is not None and task.with_items is not None

    @staticmethod
    def is_command(name: str) -> bool:
        return name in ENGINE_COMMANDS
