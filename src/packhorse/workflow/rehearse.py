"""Rehearsals: run a workflow against scripted or mocked action outcomes and compare what the
conductor does with what orquesta does. Pure: cases come in as dicts, outcomes go out as data.

Two formats:

* **conformance cases** (``shared/conformance/FORMAT.md``): a workflow, inputs, a script of
  requests, task events and queries, expectations after each step and at the end. Compared in
  *tolerant* mode (error messages with a ``match`` head need only start with it; a refused step
  need not name orquesta's exception) and in *strict* mode (everything exact), both from one run;
* **orquesta's rehearsal specs** (``orquesta-rehearse``): a workflow, inputs, mocked action
  executions, the expected task sequence, routes, status, errors, output and terminal tasks.
  The conductor is driven in orquesta's waves: mark every next task running, then feed each
  its mock (a default success when none), then ask again. The caller puts the workflow's text
  in ``workflow`` (and results read from ``result_path`` in ``result``). Rerun specs
  (``workflow_state``, a serialized orquesta conductor) and inspection expectations are not
  supported and are reported so.

:func:`run_case` can also prove the state durable: after every step it reloads the state from
its JSON and from its accumulated parts, checks both equal it, and carries on with the reload.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from packhorse.errors import Refusal, ValidationFailed
from packhorse.workflow.conductor import Conductor, NextTask, RerunTask
from packhorse.workflow.state import WorkflowState
from packhorse.workflow.statuses import COMPLETED

_NOTHING: Any = object()


@dataclass(frozen=True, slots=True)
class Problem:
    """A difference between what was expected and what happened."""

    where: str
    message: str
    strict_only: bool = False
    """Only strict mode counts it (a message that starts with its ``match`` head, a refusal
    under another name)."""
    actual: Any = _NOTHING
    expected: Any = _NOTHING
    """The values compared, when the problem is a difference of values."""

    @property
    def has_values(self) -> bool:
        return self.actual is not _NOTHING

    def describe(self) -> str:
        """The problem on one line, with the values compared."""
        text = f"{self.where}: {self.message}"
        if self.has_values:
            text += f": got {self.actual!r}, expected {self.expected!r}"
        return text


@dataclass(slots=True)
class Outcome:
    """The result of one rehearsal."""

    name: str
    kind: str
    """``conformance`` or ``rehearsal``."""
    problems: list[Problem] = field(default_factory=list)
    unsupported: str | None = None
    """Why the case could not be run at all (it then fails)."""

    @property
    def passed(self) -> bool:
        """Passed in tolerant mode."""
        return self.unsupported is None and not any(not p.strict_only for p in self.problems)

    @property
    def passed_strict(self) -> bool:
        return self.unsupported is None and not self.problems

    def add(self, where: str, message: str, *, strict_only: bool = False) -> None:
        self.problems.append(Problem(where, message, strict_only))

    def differ(
        self, where: str, what: str, actual: Any, expected: Any, *, strict_only: bool = False
    ) -> None:
        self.problems.append(Problem(where, f"{what} differs", strict_only, actual, expected))


def same(left: Any, right: Any) -> bool:
    """JSON equality where ``1``, ``1.0`` and ``true`` differ; dict order does not count."""
    if type(left) is bool or type(right) is bool:
        return type(left) is type(right) and left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same(left[k], right[k]) for k in left)
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, int | float) and isinstance(right, int | float):
        return type(left) is type(right) and left == right
    return type(left) is type(right) and bool(left == right)


def label(task_id: str, route: int) -> str:
    """A task execution as the expectations write it: the id on route 0, ``id__rN`` after."""
    return task_id if route == 0 else f"{task_id}__r{route}"


# -- conformance cases ------------------------------------------------------------------------


def next_task_view(task: NextTask) -> dict[str, Any]:
    """A next task as FORMAT.md writes it."""
    view: dict[str, Any] = {"task": task.task_id, "route": task.route}
    if task.items_count is None:
        view["action"] = task.action
        view["input"] = task.input
    else:
        view["items_count"] = task.items_count
        view["concurrency"] = task.concurrency
        view["items"] = [
            {"item": item.index, "action": item.action, "input": item.input} for item in task.items
        ]
    if task.delay > 0:
        view["delay"] = task.delay
    return view


def _status_text(status: Any) -> str | None:
    return None if status is None else str(status)


class _Run:
    """One conformance case being run."""

    def __init__(self, case: Mapping[str, Any], outcome: Outcome, check_state: bool) -> None:
        self.case = case
        self.outcome = outcome
        self.check_state = check_state
        self.conductor = Conductor(case["workflow"])
        self.state = self.conductor.create(case.get("input") or {}, case.get("context") or None)
        self.parts: dict[str, Any] = {}
        if check_state:
            self._absorb_changes()

    def _absorb_changes(self) -> None:
        written, deleted = self.state.take_changes()
        self.parts.update(written)
        for part in deleted:
            self.parts.pop(part, None)

    def step(self, number: int, step: Mapping[str, Any]) -> None:
        where = f"step {number + 1}"
        expect: Mapping[str, Any] = step.get("expect") or {}
        refusal: Refusal | None = None
        returned: Any = None
        try:
            returned = self._perform(step)
        except Refusal as error:
            refusal = error
        self._check_refusal(where, expect, refusal)
        if "status" in expect and not same(_status_text(self.state.status), expect["status"]):
            self.outcome.differ(where, "status", _status_text(self.state.status), expect["status"])
        if "task_status" in expect and "task" in step:
            status = _status_text(self.state.task_status(step["task"], step.get("route", 0)))
            if not same(status, expect["task_status"]):
                self.outcome.differ(where, "task status", status, expect["task_status"])
        if "next_tasks" in expect:
            views = [next_task_view(task) for task in returned or []]
            if not same(views, expect["next_tasks"]):
                self.outcome.differ(where, "next tasks", views, expect["next_tasks"])
        if "output" in expect and not same(returned, expect["output"]):
            self.outcome.differ(where, "output", returned, expect["output"])
        if self.check_state:
            self._check_durable(where)

    def _perform(self, step: Mapping[str, Any]) -> Any:
        conductor, state = self.conductor, self.state
        if "request" in step:
            tasks = None
            if step.get("tasks"):
                tasks = [
                    RerunTask(t["task"], t.get("route", 0), bool(t.get("reset_items", False)))
                    for t in step["tasks"]
                ]
            conductor.request(state, step["request"], tasks=tasks)
            return None
        if "task" in step:
            conductor.task_event(
                state,
                step["task"],
                step.get("route", 0),
                step["status"],
                step.get("result"),
                item=step.get("item"),
            )
            return None
        if step.get("query") == "next_tasks":
            return conductor.next_tasks(state)
        if step.get("query") == "output":
            return conductor.render_output(state)
        raise ValueError(f"unknown step {dict(step)!r}")

    def _check_refusal(
        self, where: str, expect: Mapping[str, Any], refusal: Refusal | None
    ) -> None:
        if "raises" in expect:
            if refusal is None:
                self.outcome.add(where, f"expected a refusal ({expect['raises']}), none came")
            elif refusal.kind != expect["raises"]:
                self.outcome.add(
                    where,
                    f"refused with {refusal.kind}, expected {expect['raises']}",
                    strict_only=True,
                )
        elif refusal is not None:
            self.outcome.add(where, f"unexpected refusal: {refusal}")

    def _check_durable(self, where: str) -> None:
        self._absorb_changes()
        document = self.state.to_json()
        if WorkflowState.from_json(document).to_json() != document:
            self.outcome.add(where, "the state reloaded from to_json() differs")
        from_parts = WorkflowState.from_parts(self.parts)
        if from_parts.to_json() != document:
            self.outcome.add(where, "the state rebuilt from its parts differs")
        self.state = from_parts

    def finish(self) -> None:
        expect: Mapping[str, Any] = self.case.get("expect") or {}
        state = self.state
        if "status" in expect and not same(_status_text(state.status), expect["status"]):
            self.outcome.differ("end", "status", _status_text(state.status), expect["status"])
        labels = [label(task_id, route) for task_id, route, _ in state.task_sequence()]
        if "task_sequence" in expect and labels != expect["task_sequence"]:
            self.outcome.differ("end", "task sequence", labels, expect["task_sequence"])
        statuses = [_status_text(status) for _, _, status in state.task_sequence()]
        if "task_statuses" in expect and not same(statuses, expect["task_statuses"]):
            self.outcome.differ("end", "task statuses", statuses, expect["task_statuses"])
        if "routes" in expect and not same(state.routes, expect["routes"]):
            self.outcome.differ("end", "routes", state.routes, expect["routes"])
        elif "routes" not in expect and len(state.routes) > 1:
            self.outcome.differ("end", "routes", state.routes, [[]])
        if "output" in expect:
            output = self.conductor.render_output(state)
            if not same(output, expect["output"]):
                self.outcome.differ("end", "output", output, expect["output"])
        compare_errors(self.outcome, state.errors, expect.get("errors", []))


def _error_view(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {k: entry[k] for k in ("type", "message", "task_id", "result") if k in entry}


def _error_matches(actual: Mapping[str, Any], expected: Mapping[str, Any], strict: bool) -> bool:
    for key in ("type", "task_id", "result"):
        if (key in actual) != (key in expected) or (
            key in actual and not same(actual[key], expected[key])
        ):
            return False
    message = str(actual.get("message"))
    if strict or "match" not in expected:
        return message == expected.get("message")
    return message.startswith(str(expected["match"]))


def compare_errors(
    outcome: Outcome, actual: Sequence[Mapping[str, Any]], expected: Sequence[Mapping[str, Any]]
) -> None:
    """Errors compared as a multiset, in both modes."""
    views = [_error_view(entry) for entry in actual]
    for strict in (False, True):
        unmatched = list(views)
        missing = []
        for wanted in expected:
            found = next((a for a in unmatched if _error_matches(a, wanted, strict)), None)
            if found is None:
                missing.append(wanted)
            else:
                unmatched.remove(found)
        if missing or unmatched:
            without_heads = [{k: v for k, v in e.items() if k != "match"} for e in expected]
            outcome.differ("end", "errors", views, without_heads, strict_only=strict)
            return


def run_case(case: Mapping[str, Any], *, check_state: bool = False) -> Outcome:
    """Run one conformance case (FORMAT.md §3) and compare (§4)."""
    outcome = Outcome(str(case.get("name", "?")), "conformance")
    try:
        run = _Run(case, outcome, check_state)
    except ValidationFailed as error:
        outcome.unsupported = f"the workflow is not valid: {_diagnostics(error)}"
        return outcome
    for number, step in enumerate(case.get("steps") or []):
        run.step(number, step)
    run.finish()
    return outcome


def _diagnostics(error: ValidationFailed) -> str:
    return "; ".join(f"{d.field or '(workflow)'}: {d.message}" for d in error.diagnostics)


# -- orquesta's rehearsal specs ---------------------------------------------------------------


@dataclass(slots=True)
class _Mock:
    task_id: str
    status: str
    result: Any
    seq_id: int | None
    item_id: int | None
    uses_left: int


def _mocks(spec: Mapping[str, Any]) -> list[_Mock]:
    mocks = []
    for entry in spec.get("mock_action_executions") or []:
        mocks.append(
            _Mock(
                entry["task_id"],
                entry.get("status") or "succeeded",
                entry.get("result"),
                entry.get("seq_id"),
                entry.get("item_id"),
                int(entry.get("num_iter", 1)),
            )
        )
    return mocks


def _pick_mock(mocks: Iterable[_Mock], task_id: str, seq_id: int | None) -> _Mock | None:
    """orquesta's choice: the first unused mock of the task (with this sequence id when one is
    given); a mock bound to a sequence id is never used for another."""
    candidates = [m for m in mocks if m.task_id == task_id and m.uses_left > 0]
    if candidates and seq_id is not None:
        candidates = [m for m in candidates if m.seq_id == seq_id]
    if candidates and candidates[0].seq_id is not None and seq_id is None:
        return None
    return candidates[0] if candidates else None


def run_rehearsal(spec: Mapping[str, Any], *, name: str = "?") -> Outcome:
    """Run one orquesta rehearsal spec (its ``workflow`` being the workflow's text)."""
    outcome = Outcome(name, "rehearsal")
    if "workflow_state" in spec:
        outcome.unsupported = (
            "rerun specs (workflow_state: a serialized orquesta conductor) are not supported; "
            "write the rerun as a conformance case instead"
        )
        return outcome
    if spec.get("expected_inspection_errors"):
        outcome.unsupported = (
            "expected_inspection_errors is not supported: check the workflow with "
            "`packhorse workflow validate` (Packhorse words its diagnostics its own way)"
        )
        return outcome
    try:
        conductor = Conductor(spec["workflow"])
    except ValidationFailed as error:
        outcome.unsupported = f"the workflow is not valid: {_diagnostics(error)}"
        return outcome
    state = conductor.create(spec.get("inputs") or {})
    try:
        conductor.request(state, "run")
    except Refusal as error:
        outcome.add("run", f"the workflow did not start: {error}")
    _waves(conductor, state, _mocks(spec))
    if state.status in COMPLETED:
        conductor.render_output(state)
    _compare_rehearsal(outcome, spec, state)
    return outcome


def _waves(conductor: Conductor, state: WorkflowState, mocks: list[_Mock]) -> None:
    results: dict[str, list[Any]] = {}
    queue = conductor.next_tasks(state)
    while queue:
        running: list[tuple[NextTask, int]] = []
        for task in queue:
            conductor.task_event(state, task.task_id, task.route, "running")
            running.append((task, len(state.sequence) - 1))
        for task, seq_id in running:
            mock = _pick_mock(mocks, task.task_id, seq_id) or _pick_mock(mocks, task.task_id, None)
            status, result = ("succeeded", None) if mock is None else (mock.status, mock.result)
            if mock is not None:
                mock.uses_left -= 1
            if task.items_count is None:
                conductor.task_event(state, task.task_id, task.route, status, result)
                continue
            accumulated = results.setdefault(task.task_id, [])
            item = (
                mock.item_id if mock is not None and mock.item_id is not None else len(accumulated)
            )
            accumulated.extend([None] * (item + 1 - len(accumulated)))
            accumulated[item] = result
            conductor.task_event(state, task.task_id, task.route, status, result, item=item)
        queue = conductor.next_tasks(state)


def _full_label(text: str) -> str:
    return text if "__r" in text else f"{text}__r0"


def _compare_rehearsal(outcome: Outcome, spec: Mapping[str, Any], state: WorkflowState) -> None:
    sequence = [f"{task_id}__r{route}" for task_id, route, _ in state.task_sequence()]
    expected = [_full_label(text) for text in spec.get("expected_task_sequence") or []]
    if sequence != expected:
        friendly = [label(task_id, route) for task_id, route, _ in state.task_sequence()]
        outcome.differ("end", "task sequence", friendly, spec.get("expected_task_sequence"))
    routes = spec.get("expected_routes", [[]])
    if not same(state.routes, routes):
        outcome.differ("end", "routes", state.routes, routes)
    status = spec.get("expected_workflow_status") or "succeeded"
    if _status_text(state.status) != status:
        outcome.differ("end", "status", _status_text(state.status), status)
    if spec.get("expected_errors") is not None and not same(state.errors, spec["expected_errors"]):
        outcome.differ("end", "errors", state.errors, spec["expected_errors"])
    if spec.get("expected_output") is not None and not same(state.output, spec["expected_output"]):
        outcome.differ("end", "output", state.output, spec["expected_output"])
    if spec.get("expected_term_tasks") is not None:
        terminals = sorted(
            f"{state.sequence[i].id}__r{state.sequence[i].route}" for i in state.terminal
        )
        wanted = sorted(_full_label(text) for text in spec["expected_term_tasks"])
        if terminals != wanted:
            outcome.differ("end", "terminal tasks", terminals, wanted)


def detect_format(document: Mapping[str, Any]) -> str:
    """``conformance`` (a script of ``steps``) or ``rehearsal`` (orquesta's test spec)."""
    if "steps" in document:
        return "conformance"
    if "expected_task_sequence" in document or "workflow_state" in document:
        return "rehearsal"
    raise ValueError(
        "neither a conformance case (steps) nor a rehearsal spec (expected_task_sequence)"
    )
