"""Conductor.apply, the host's API: workflows driven to completion with mocked action results,
the state reloaded from its parts between events as a durable host would."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from packhorse.errors import Refusal, ValidationFailed
from packhorse.workflow.conductor import (
    CancelTasks,
    Command,
    Conductor,
    Finished,
    PauseTasks,
    Request,
    RerunTask,
    ResumeTasks,
    RunTask,
    TaskEvent,
)
from packhorse.workflow.state import WorkflowState

Outcome = tuple[str, Any]
Mock = Callable[[RunTask], Outcome]


def succeed(run: RunTask) -> Outcome:
    return "succeeded", {"echo": run.input}


class Host:
    """A host that keeps the state as parts, reloads it for every event, and runs actions by
    asking ``mock`` for their outcome, one at a time, first started first finished."""

    def __init__(self, workflow: str, inputs: dict[str, Any] | None = None) -> None:
        self.conductor = Conductor(workflow)
        self.parts: dict[str, Any] = {}
        self.queue: deque[RunTask] = deque()
        self.commands: list[Command] = []
        self.changed: list[int] = []
        """Number of parts each event wrote or deleted."""
        self._save(self.conductor.create(inputs or {}))

    def _save(self, state: WorkflowState) -> None:
        written, deleted = state.take_changes()
        self.changed.append(len(written) + len(deleted))
        self.parts.update(written)
        for part in deleted:
            del self.parts[part]

    @property
    def state(self) -> WorkflowState:
        return WorkflowState.from_parts(self.parts)

    def send(self, event: Request | TaskEvent) -> list[Command]:
        state = self.state
        commands = self.conductor.apply(state, event)
        self._save(state)
        self.commands.extend(commands)
        self.queue.extend(c for c in commands if isinstance(c, RunTask))
        return commands

    def run(self, mock: Mock = succeed, inputs_event: bool = True) -> Finished | None:
        if inputs_event:
            self.send(Request("run"))
        while self.queue:
            run = self.queue.popleft()
            status, result = mock(run)
            self.send(TaskEvent(run.task_id, run.route, status, result, run.item))
        return self.finished()

    def finished(self) -> Finished | None:
        done = [c for c in self.commands if isinstance(c, Finished)]
        return done[-1] if done else None

    def sequence(self) -> list[tuple[str, str | None]]:
        return [(task, status) for task, _, status in self.state.task_sequence()]


SEQUENTIAL = """
version: 1.0
input:
  - name
tasks:
  greet:
    action: core.echo message="Hello, <% ctx(name) %>"
    next:
      - when: <% succeeded() %>
        publish:
          - greeting: <% result().echo.message %>
        do: nothing
  nothing:
    next:
      - do: empty
  empty:
    with: <% [] %>
    action: core.echo
    next:
      - publish: count=<% len(result()) %>
output:
  - greeting: <% ctx(greeting) %>
  - count: <% ctx(count) %>
"""


def test_a_sequence_runs_to_completion() -> None:
    host = Host(SEQUENTIAL, {"name": "Stanley"})
    first = host.send(Request("run"))
    assert first == [RunTask("greet", 0, "core.echo", {"message": "Hello, Stanley"})]
    finished = host.run(inputs_event=False)
    # The task without an action and the with-items task without items ran inside apply.
    assert finished == Finished("succeeded", {"greeting": "Hello, Stanley", "count": 0}, ())
    assert host.sequence() == [
        ("greet", "succeeded"),
        ("nothing", "succeeded"),
        ("empty", "succeeded"),
        ("continue", "succeeded"),
    ]
    assert sum(isinstance(c, Finished) for c in host.commands) == 1


ITEMS = """
version: 1.0
input:
  - xs
tasks:
  each:
    with:
      items: x in <% ctx(xs) %>
      concurrency: 2
    action: core.echo message=<% item(x) %>
    next:
      - when: <% succeeded() %>
        publish: out=<% result() %>
output:
  - out: <% ctx(out) %>
"""


def test_with_items_respects_concurrency_and_keeps_item_order() -> None:
    host = Host(ITEMS, {"xs": ["a", "b", "c", "d", "e"]})
    first = host.send(Request("run"))
    assert [(c.item, c.input, c.items_count) for c in first if isinstance(c, RunTask)] == [
        (0, {"message": "a"}, 5),
        (1, {"message": "b"}, 5),
    ]
    in_flight: list[int] = []

    def mock(run: RunTask) -> Outcome:
        in_flight.append(len(host.queue) + 1)
        return "succeeded", run.input["message"].upper()

    finished = host.run(mock, inputs_event=False)
    assert finished is not None and finished.output == {"out": ["A", "B", "C", "D", "E"]}
    assert max(in_flight) <= 2
    [each, _] = host.state.executions()
    assert (each.task_id, each.status, each.items) == ("each", "succeeded", ("succeeded",) * 5)


JOIN = """
version: 1.0
tasks:
  fork:
    action: core.noop
    next:
      - do: [left, right]
  left:
    action: core.noop
    next:
      - publish: side="left"
        do: meet
  right:
    action: core.noop
    next:
      - publish: side="right"
        do: meet
  meet:
    join: all
    action: core.echo message=<% ctx(side) %>
"""


def test_a_join_runs_once_after_every_branch() -> None:
    host = Host(JOIN)
    finished = host.run()
    assert finished is not None and finished.status == "succeeded"
    meets = [c for c in host.commands if isinstance(c, RunTask) and c.task_id == "meet"]
    assert meets == [RunTask("meet", 0, "core.echo", {"message": "right"})]  # last arrival wins


FAILING = """
version: 1.0
tasks:
  first:
    action: core.local cmd=false
    next:
      - when: <% succeeded() %>
        do: second
  second:
    action: core.noop
"""


def test_a_failure_finishes_with_errors_then_a_rerun_finishes_again() -> None:
    host = Host(FAILING)
    attempts: list[str] = []

    def fail_once(run: RunTask) -> Outcome:
        attempts.append(run.task_id)
        return ("failed", {"stderr": "no"}) if attempts.count("first") == 1 else ("succeeded", 1)

    finished = host.run(fail_once)
    assert finished == Finished(
        "failed",
        None,
        (
            {
                "type": "error",
                "message": "Execution failed. See result for details.",
                "task_id": "first",
                "result": {"stderr": "no"},
            },
        ),
    )
    commands = host.send(Request("rerun", (RerunTask("first"),)))
    assert commands == [RunTask("first", 0, "core.local", {"cmd": False})]
    finished = host.run(fail_once, inputs_event=False)
    assert finished == Finished("succeeded", None, ())
    assert host.sequence() == [("first", "failed"), ("first", "succeeded"), ("second", "succeeded")]


PARALLEL = """
version: 1.0
tasks:
  one:
    action: core.noop
  two:
    action: core.noop
"""


def test_pause_and_resume_reach_the_children() -> None:
    host = Host(PARALLEL)
    host.send(Request("run"))
    assert host.send(Request("pause")) == [PauseTasks((("one", 0, None), ("two", 0, None)))]
    host.queue.clear()
    host.send(TaskEvent("one", 0, "paused"))
    assert host.state.status == "pausing"
    host.send(TaskEvent("two", 0, "succeeded"))
    assert host.state.status == "paused"
    assert host.send(Request("resume")) == [ResumeTasks((("one", 0, None),))]
    host.send(TaskEvent("one", 0, "running"))
    last = host.send(TaskEvent("one", 0, "succeeded"))
    assert last == [Finished("succeeded", None, ())]


def test_cancel_reaches_the_children_and_finishes_once() -> None:
    host = Host(PARALLEL)
    host.send(Request("run"))
    assert host.send(Request("cancel")) == [CancelTasks((("one", 0, None), ("two", 0, None)))]
    assert host.send(TaskEvent("one", 0, "canceled")) == []
    assert host.send(TaskEvent("two", 0, "canceled")) == [Finished("canceled", None, ())]


def test_a_refused_event_leaves_the_state_untouched() -> None:
    host = Host(PARALLEL)
    host.send(Request("run"))
    state = host.state
    before = json.dumps(state.to_json(), sort_keys=True)
    for event, kind in [
        (TaskEvent("nope", 0, "running"), "InvalidTask"),
        (TaskEvent("one", 3, "running"), "InvalidTaskStateEntry"),
        (TaskEvent("one", 0, "exploded"), "InvalidStatus"),
        (Request("rerun"), "WorkflowIsActiveAndNotRerunableError"),
        (Request("resume"), "InvalidWorkflowStatusTransition"),
    ]:
        with pytest.raises(Refusal) as refused:
            host.conductor.apply(state, event)
        assert refused.value.kind == kind
        assert json.dumps(state.to_json(), sort_keys=True) == before
        assert state.take_changes() == ({}, set())


def test_inputs_that_fail_to_render_finish_the_workflow() -> None:
    host = Host("""
version: 1.0
input:
  - a: <% ctx().missing %>
tasks:
  t: {action: core.noop}
""")
    assert host.send(Request("run")) == [
        Finished(
            "failed",
            None,
            (
                {
                    "type": "error",
                    "message": "YaqlEvaluationException: Unable to resolve key 'missing' in "
                    "expression '<% ctx().missing %>' from context.",
                },
            ),
        )
    ]
    with pytest.raises(Refusal):  # a direct request is refused, as orquesta refuses it
        conductor = Conductor("version: 1.0\ninput: [{a: <% ctx().b %>}]\ntasks: {t: {}}")
        conductor.request(conductor.create({}), "run")


@pytest.mark.parametrize(
    "failing", ["input:\n  - a: <% ctx().missing %>", "vars:\n  - a: <% 1/0 %>"]
)
def test_a_workflow_whose_inputs_or_vars_fail_never_renders_its_output(failing: str) -> None:
    host = Host(f"""
version: 1.0
{failing}
tasks:
  t: {{action: core.noop}}
output:
  - said: <% ctx().never_published %>
""")
    [finished] = host.send(Request("run"))
    assert isinstance(finished, Finished) and finished.output is None
    assert len(finished.errors) == 1  # the rendering error only: the output was not rendered
    assert "never_published" not in finished.errors[0]["message"]


def test_an_invalid_workflow_is_refused_with_every_diagnostic() -> None:
    with pytest.raises(ValidationFailed) as raised:
        Conductor("version: 1.0\ntasks:\n  t:\n    next: [{do: missing}]\n")
    assert any("missing" in d.message for d in raised.value.diagnostics)


def test_host_functions_are_visible_in_both_languages() -> None:
    conductor = Conductor(
        """
version: 1.0
tasks:
  t:
    action: core.echo
    input:
      yaql: <% st2kv('system.k') %>
      jinja: "{{ st2kv('system.k') }}"
""",
        functions={"st2kv": lambda key: f"value of {key}"},
    )
    state = conductor.create({})
    commands = conductor.apply(state, Request("run"))
    assert commands == [
        RunTask("t", 0, "core.echo", {"yaql": "value of system.k", "jinja": "value of system.k"})
    ]


def _chain(size: int) -> str:
    tasks: dict[str, Any] = {
        f"t{i}": {
            "action": "core.noop",
            "next": [{"when": "<% succeeded() %>", "publish": [{"last": i}], "do": f"t{i + 1}"}],
        }
        for i in range(size - 1)
    }
    tasks[f"t{size - 1}"] = {"action": "core.noop"}
    return yaml.safe_dump({"version": 1.0, "tasks": tasks})


def _fan_in(size: int) -> str:
    tasks: dict[str, Any] = {
        "start": {"action": "core.noop", "next": [{"do": [f"b{i}" for i in range(size)]}]},
        "end": {"join": "all", "action": "core.noop"},
    }
    for i in range(size):
        tasks[f"b{i}"] = {"action": "core.noop", "next": [{"publish": [{f"v{i}": i}], "do": "end"}]}
    return yaml.safe_dump({"version": 1.0, "tasks": tasks})


@pytest.mark.parametrize("shape", [_chain, _fan_in])
def test_parts_written_per_event_do_not_grow_with_the_workflow(
    shape: Callable[[int], str],
) -> None:
    def most_changed(size: int) -> int:
        host = Host(shape(size))
        host.run()
        assert host.state.status == "succeeded"
        # Leave out the creation, the start and the fan-out, whose work is the workflow's.
        return max(host.changed[3:])

    assert most_changed(200) == most_changed(20)


def test_conducting_time_grows_linearly() -> None:
    """A guard against quadratic costs (orquesta takes 44 s for a 1,000-task chain)."""
    import time

    def best(size: int) -> float:
        conductor = Conductor(_chain(size))
        timings = []
        for _ in range(3):
            state = conductor.create({})
            started = time.perf_counter()
            pending = [c for c in conductor.apply(state, Request("run")) if isinstance(c, RunTask)]
            while pending:
                run = pending.pop()
                commands = conductor.apply(state, TaskEvent(run.task_id, run.route, "succeeded"))
                pending.extend(c for c in commands if isinstance(c, RunTask))
            timings.append(time.perf_counter() - started)
            assert state.status == "succeeded"
        return min(timings)

    small, large = best(200), best(2000)
    assert large < 30 * small + 0.1  # ten times the tasks; a quadratic cost would take 100x
    assert large < 5.0


def test_a_step_runs_with_the_garbage_collector_paused() -> None:
    """A step allocates what the state keeps and what reference counting frees; the step
    that hands out a wide fan-out allocates it all at once, and the collector's full passes
    over the whole process would make its cost grow faster than the fan-out. The collector
    is left as it was found."""
    import gc

    seen: list[bool] = []

    def probe() -> int:
        seen.append(gc.isenabled())
        return 1

    text = yaml.safe_dump(
        {"version": 1.0, "tasks": {"t": {"action": "core.echo", "input": {"n": "<% probe() %>"}}}}
    )
    conductor = Conductor(text, functions={"probe": probe})
    state = conductor.create({})
    [run] = [c for c in conductor.apply(state, Request("run")) if isinstance(c, RunTask)]
    assert run.input == {"n": 1}
    assert seen == [False]
    assert gc.isenabled()
    gc.disable()
    try:
        conductor.apply(state, TaskEvent("t", 0, "succeeded"))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_retry_count_that_fails_to_render_fails_the_workflow() -> None:
    host = Host("""
version: 1.0
tasks:
  t:
    action: core.noop
    retry:
      count: <% ctx().missing %>
""")
    host.send(Request("run"))
    finished = host.run(inputs_event=False)
    assert finished is not None and finished.status == "failed"
    assert finished.errors[0]["message"].startswith("YaqlEvaluationException: Unable to resolve")
    assert finished.errors[0]["task_id"] == "t"


def test_rerunning_a_with_items_task_that_succeeded_runs_every_item() -> None:
    host = Host(ITEMS, {"xs": ["a", "b"]})
    outcomes = iter(["succeeded", "succeeded", "succeeded", "succeeded"])
    host.run(lambda run: (next(outcomes), run.input["message"]))
    assert host.state.status == "succeeded"
    rerun = host.send(Request("rerun", (RerunTask("each"),)))
    assert [(c.item, c.input) for c in rerun if isinstance(c, RunTask)] == [
        (0, {"message": "a"}),
        (1, {"message": "b"}),
    ]


def test_a_loop_of_action_less_tasks_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    import packhorse.workflow.conductor as conductor_module

    monkeypatch.setattr(conductor_module, "MAX_IMMEDIATE_COMPLETIONS", 50)
    host = Host("""
version: 1.0
tasks:
  start:
    next: [{do: ping}]
  ping:
    next: [{do: pong}]
  pong:
    next: [{do: ping}]
""")
    [finished] = host.send(Request("run"))
    assert isinstance(finished, Finished) and finished.status == "failed"
    assert finished.errors[0]["message"].startswith("WorkflowLoopError:")
