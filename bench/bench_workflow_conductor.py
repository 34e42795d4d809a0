"""The Orquesta conductor alone, in process: no storage, no actions (reference/orquesta.md §5).

Scenarios (all end succeeded):

* ``seq N``: a chain t0 -> ... -> tN-1, each transition ``when: <% succeeded() %>``;
* ``fanjoin N``: start -> N branches -> one ``join: all`` task;
* ``items N``: one with-items task over N items, publishing the results, with an output.

Each run builds the state with ``create``, starts it, then works in waves as StackStorm does:
``next_tasks`` -> a ``running`` event for every task (every item) -> a ``succeeded`` event for
each. The ``apply`` rows drive the same workflows through ``Conductor.apply`` instead (one
``succeeded`` event per task or item, the host being told what to start). Building the
conductor (parsing, inspecting and composing the workflow, once per workflow definition) is
timed apart.

Targets (conductor brief): each 1,000 case under 0.5 s; 10,000 within 12x of 1,000. orquesta
1.6 takes 44 s to conduct seq 1000 and 83 s for fanjoin 1000 on this kind of machine.

Figures are medians of several runs, each after a garbage collection: wall time, and the
process's CPU time, which the other processes of a shared machine disturb less. The linearity
ratio is taken on CPU time.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import yaml

from packhorse.workflow.conductor import Conductor, Finished, Request, RunTask, TaskEvent

REPEATS = {1000: 9, 10000: 5}
TARGET_SECONDS = 0.5
LINEAR_RATIO = 12


def seq(size: int) -> str:
    tasks: dict[str, Any] = {
        f"t{i}": {"action": "core.noop", "next": [{"when": "<% succeeded() %>", "do": f"t{i + 1}"}]}
        for i in range(size - 1)
    }
    tasks[f"t{size - 1}"] = {"action": "core.noop"}
    return yaml.safe_dump({"version": 1.0, "tasks": tasks})


def fanjoin(size: int) -> str:
    tasks: dict[str, Any] = {
        "start": {"action": "core.noop", "next": [{"do": [f"b{i}" for i in range(size)]}]},
        "join": {"join": "all", "action": "core.noop"},
    }
    for i in range(size):
        tasks[f"b{i}"] = {
            "action": "core.noop",
            "next": [{"when": "<% succeeded() %>", "do": "join"}],
        }
    return yaml.safe_dump({"version": 1.0, "tasks": tasks})


def items(size: int) -> str:
    return yaml.safe_dump(
        {
            "version": 1.0,
            "input": [{"xs": list(range(size))}],
            "tasks": {
                "each": {
                    "with": "<% ctx(xs) %>",
                    "action": "core.echo message=<% item() %>",
                    "next": [{"when": "<% succeeded() %>", "publish": [{"out": "<% result() %>"}]}],
                }
            },
            "output": [{"count": "<% len(ctx(out)) %>"}],
        }
    )


def waves(conductor: Conductor) -> None:
    state = conductor.create({})
    conductor.request(state, "run")
    while tasks := conductor.next_tasks(state):
        for task in tasks:
            if task.items_count is None:
                conductor.task_event(state, task.task_id, task.route, "running")
            else:
                for item in task.items:
                    conductor.task_event(
                        state, task.task_id, task.route, "running", item=item.index
                    )
        for task in tasks:
            if task.items_count is None:
                conductor.task_event(state, task.task_id, task.route, "succeeded", {"ok": True})
            else:
                for item in task.items:
                    conductor.task_event(
                        state, task.task_id, task.route, "succeeded", item.index, item=item.index
                    )
    assert state.status == "succeeded", state.status
    conductor.render_output(state)


def applied(conductor: Conductor) -> None:
    state = conductor.create({})
    pending = [c for c in conductor.apply(state, Request("run")) if isinstance(c, RunTask)]
    finished = None
    while pending:
        run = pending.pop()
        commands = conductor.apply(
            state, TaskEvent(run.task_id, run.route, "succeeded", {"ok": True}, run.item)
        )
        for command in commands:
            if isinstance(command, RunTask):
                pending.append(command)
            elif isinstance(command, Finished):
                finished = command
    assert finished is not None and finished.status == "succeeded", finished


def timed(run: Callable[[], None], repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``repeats`` runs, each after a collection."""
    walls, cpus = [], []
    for _ in range(repeats):
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def build_seconds(text: str) -> float:
    samples = []
    for _ in range(3):
        started = time.perf_counter()
        Conductor(text)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> int:
    scenarios: list[tuple[str, Callable[[int], str]]] = [
        ("seq", seq),
        ("fanjoin", fanjoin),
        ("items", items),
    ]
    drivers: list[tuple[str, Callable[[Conductor], None]]] = [("waves", waves), ("apply", applied)]
    rows: list[tuple[str, int, str, float, float, float]] = []
    for name, shape in scenarios:
        for size in (1000, 10000):
            text = shape(size)
            conductor = Conductor(text)
            build = build_seconds(text)
            for driver_name, driver in drivers:
                wall, cpu = timed(lambda d=driver, c=conductor: d(c), REPEATS[size])
                rows.append((name, size, driver_name, wall, cpu, build))
    print("\nOrquesta conductor alone (medians; build = Conductor(text), once per definition)")
    header = (
        f"{'scenario':<8} {'N':>6} {'driver':<6} {'wall':>9} {'cpu':>9} {'cpu/task':>9} "
        f"{'build':>8}  target"
    )
    print(header)
    print("-" * (len(header) + 24))
    missed = False
    cpu_of = {(name, size, driver): cpu for name, size, driver, _, cpu, _ in rows}
    for name, size, driver, wall, cpu, build in rows:
        if size == 1000:
            ok = wall < TARGET_SECONDS
            note = f"< 0.5 s: {'met' if ok else 'MISSED'}"
        else:
            ratio = cpu / cpu_of[(name, 1000, driver)]
            ok = ratio <= LINEAR_RATIO
            note = f"{ratio:4.1f}x of 1,000 (<= 12x): {'met' if ok else 'MISSED'}"
        missed = missed or not ok
        print(
            f"{name:<8} {size:>6} {driver:<6} {wall * 1000:7.1f}ms {cpu * 1000:7.1f}ms "
            f"{cpu / size * 1e6:7.1f}us {build * 1000:6.0f}ms  {note}"
        )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
