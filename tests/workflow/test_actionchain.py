"""Action chains: parsing and diagnostics, then the stepper against StackStorm's runner
(``contrib/runners/action_chain_runner``), driven by rehearsals with mocked action results."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from packhorse.errors import Conflict
from packhorse.expr import Datastore
from packhorse.model.diagnostics import Severity
from packhorse.packs.validate.codes import CODES
from packhorse.workflow.actionchain import (
    ChainFinished,
    ChainPaused,
    ChainState,
    ChainStatus,
    RunNode,
    action_missing,
    cancel,
    on_result,
    parse_chain,
    pause,
    resume,
    start,
    start_failed,
)
from packhorse.workflow.actionchain.state import TRANSITIONS, moved

from .chain_rehearsal import CHAINS, load, rehearse, roundtrip, stamp

INVALID = sorted((CHAINS / "invalid").glob("*.yaml"))
VALID = sorted(CHAINS.glob("*.yaml"))
CHAIN_CODES = [code for code in CODES if code.startswith("PH8")]

# ---------------------------------------------------------------------------------------------
# Parsing


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_chains_parse(path: Path) -> None:
    spec, diagnostics = parse_chain(path.read_bytes(), path.name)
    assert spec is not None
    assert all(d.severity is Severity.WARNING for d in diagnostics), diagnostics


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_each_invalid_chain_reports_its_code_only(path: Path) -> None:
    spec, diagnostics = parse_chain(path.read_text(), "c.yaml")
    assert diagnostics
    assert {d.code for d in diagnostics} == {path.stem}
    assert all(d.path == "c.yaml" and d.line > 0 and d.col > 0 for d in diagnostics)
    assert (spec is None) == (CODES[path.stem].severity is Severity.ERROR)


def test_every_chain_code_has_a_fixture() -> None:
    assert set(CHAIN_CODES) <= {path.stem for path in INVALID}


@dataclass(frozen=True)
class Located:
    fixture: str
    code: str
    line: int
    col: int
    field: str
    message: str


LOCATED = [
    Located("PH010", "PH010", 6, 5, "chain.1", "node chain.1 needs the field ref"),
    Located("PH011", "PH011", 5, 5, "chain.0.on-succes", "unknown field 'on-succes' in a node"),
    Located("PH012", "PH012", 5, 5, "chain.0.parameters", "must be a mapping, not a string"),
    Located("PH801", "PH801", 7, 5, "chain.1.description", "refuses it on the first node"),
    Located("PH803", "PH803", 7, 5, "chain.0.on-failure", 'name "cleanup" referenced in "on-f'),
    Located("PH804", "PH804", 8, 5, "chain.2.name", "'first' is used twice"),
    Located("PH805", "PH805", 9, 11, "chain.0.parameters.list.0", "'{% if x %}unclosed'"),
    Located("PH805", "PH805", 11, 7, "chain.0.publish.out", "unexpected ')'"),
    Located("PH805", "PH805", 3, 3, "vars.broken", "'{{ value | }}'"),
    Located("PH806", "PH806", 4, 5, "chain.0.ref", "'{{ action_ref }}' is a template"),
    Located("PH806", "PH806", 5, 5, "chain.0.on-failure", "'{{ handler }}' in \"on-failure\""),
]


@pytest.mark.parametrize("case", LOCATED, ids=lambda c: f"{c.code}-{c.field}")
def test_diagnostics_point_at_the_field(case: Located) -> None:
    text = (CHAINS / "invalid" / f"{case.fixture}.yaml").read_text()
    _, diagnostics = parse_chain(text, "c.yaml")
    found = [d for d in diagnostics if d.field == case.field]
    assert len(found) == 1, [d.format() for d in diagnostics]
    assert (found[0].code, found[0].line, found[0].col) == (case.code, case.line, case.col)
    assert case.message in found[0].message


def test_several_problems_are_all_reported() -> None:
    text = """\
foo: 1
chain:
  - name: a
    ref: demo.a
    on-success: nowhere
    bogus: 1
  - ref: demo.b
    params: [1]
default: missing
"""
    spec, diagnostics = parse_chain(text, "c.yaml")
    assert spec is None
    assert sorted((d.code, d.line) for d in diagnostics) == [
        ("PH010", 7),
        ("PH011", 1),
        ("PH011", 6),
        ("PH012", 8),
        ("PH803", 5),
        ("PH803", 9),
    ]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "PH004"),
        ("chain: [a", "PH002"),
        ("chain:\n  - name: a\n    ref: demo.a\n    ref: demo.b\n", "PH003"),
        ("vars: {}\n", "PH010"),
        ("chain: {a: 1}\n", "PH012"),
        ("chain:\n  - just a string\n", "PH012"),
        ("chain:\n  - name: a\n    ref: demo.a\n    notify:\n      on-done: {}\n", "PH011"),
        (
            "chain:\n  - name: a\n    ref: demo.a\n    notify:\n      on-success: {routes: x}\n",
            "PH012",
        ),
        (
            "chain:\n  - name: a\n    ref: demo.a\n  - {name: b, ref: demo.b, notify: {x: 1}}\n",
            "PH801",
        ),
        ("chain:\n  - name: 5\n    ref: demo.a\n", "PH012"),
        ("chain:\n  - name: a\n    ref: demo.a\ndefault: 3\n", "PH012"),
        ("chain:\n  - name: a\n    ref: .a\n", "PH807"),
    ],
)
def test_structure_problems(text: str, code: str) -> None:
    _, diagnostics = parse_chain(text, "c.yaml")
    assert [d.code for d in diagnostics] == [code], [d.format() for d in diagnostics]


def test_model() -> None:
    chain = load("sequential.yaml")
    assert [node.name for node in chain.nodes] == ["first", "second"]
    assert chain.default == "first"
    assert dict(chain.vars) == {"greeting": "Hello {{ who }}", "retries": 3}
    first, second = chain.nodes
    assert (first.ref, first.on_success, first.on_failure) == ("demo.say", "second", None)
    assert set(first.publish) == {"said", "greeting"}
    assert set(second.parameters) == {"message", "by_name", "by_results", "by_context", "who"}
    assert chain.node("second") is second
    assert chain.node("third") is None


@pytest.mark.parametrize(
    ("fixture", "default"),
    [
        ("default.yaml", "second"),  # as written
        ("default_computed.yaml", "begin"),  # the first node no transition leads to
        ("loop.yaml", "poll"),  # every node is a target: the first
        ("routing.yaml", "check"),
    ],
)
def test_default_node(fixture: str, default: str) -> None:
    assert load(fixture).default == default


# ---------------------------------------------------------------------------------------------
# Running: what nodes see


def test_parameters_see_inputs_vars_results_published_and_context() -> None:
    chain = load("sequential.yaml")
    run = rehearse(
        chain,
        {"who": "Ada"},
        {"first": ("succeeded", {"stdout": "said it"})},
        config={"region": "eu"},
    )
    assert run.order == ["first", "second"]
    assert run.parameters("first") == {
        "message": "Hello Ada",
        "retries": "3",
        "count": 2,
        "run_by": "stanley",
        "parent": "chain-1",
        "region": "eu",
    }
    assert run.parameters("second") == {
        "message": "said it / Hello Ada!",
        "by_name": "said it",
        "by_results": "said it",
        "by_context": "said it",
        "who": "Ada",
    }
    assert run.finished.status is ChainStatus.SUCCEEDED
    assert run.finished.result["published"] == {"said": "said it", "greeting": "Hello Ada!"}


def test_values_render_as_stackstorm_renders_them() -> None:
    run = rehearse(load("types.yaml"), {"count": 5, "key": "k", "word": 'hi "there"', "flag": True})
    assert run.parameters("only") == {
        "as_text": "5",
        "number": 5,
        "ratio": 0.5,
        "flag": True,
        "nothing": None,
        "plain": "no template",
        "trailing": "a line that ends with a newline",
        "nested": {
            "k": "5",
            "items": ["5", 7, "True"],
            "kept": "ends with a newline\n",
            "quoted": 'say "hi "there""',
        },
        "listed": ["5", {"inner": 'hi "there"'}],
    }


def test_run_node_carries_the_action_context_and_the_node() -> None:
    run = rehearse(load("routing.yaml"), context={"user": "ada", "pack": "demo", "api_user": "a"})
    first = run.started[0]
    assert first.action_ref == "demo.check"
    assert first.context == {
        "parent": {"execution_id": "chain-1", "user": "ada", "pack": "demo", "api_user": "a"},
        "chain": {
            "name": "check",
            "ref": "demo.check",
            "params": None,
            "parameters": None,
            "on_success": "deploy",
            "on_failure": "report",
            "publish": None,
            "notify": None,
        },
    }
    assert first.parameters == {}


def test_notify_is_the_nodes_else_the_chains_except_under_skip_notify() -> None:
    chain_notify = {"on-complete": {"routes": ["chat"]}}
    run = rehearse(load("notify.yaml"), notify=chain_notify, skip_notify=["skipped"])
    assert [node.notify for node in run.started] == [
        {"on-failure": {"message": "loud failed", "routes": ["pager"]}},
        chain_notify,
        None,
    ]


def test_published_names_update_vars_and_show_in_the_result() -> None:
    chain = load("publish.yaml")
    probe = {"level": "high", "host": "db1"}
    run = rehearse(chain, {"target": "prod"}, {"probe": ("succeeded", probe)})
    assert run.parameters("act") == {"level": "high", "url": "db1/api", "port": "8001"}
    assert run.finished.result["published"] == {
        "level": "high",
        "host": "db1",
        "from_results": "db1",
        "input": "prod",
        "paths": {"api": "db1/api", "port": "8001"},
    }


def test_publish_is_rendered_after_a_failed_node_too() -> None:
    run = rehearse(
        load("publish.yaml"), {"target": "x"}, {"probe": ("failed", {"level": "l", "host": "h"})}
    )
    assert run.order == ["probe", "act"]
    assert run.parameters("act")["level"] == "l"


def test_display_published_false_keeps_published_names_out_of_the_result() -> None:
    chain = load("publish.yaml")
    probe = ("succeeded", {"level": "high", "host": "db1"})
    run = rehearse(chain, {"target": "x"}, {"probe": probe}, display_published=False)
    assert run.parameters("act")["level"] == "high"
    assert "published" not in run.finished.result
    assert set(run.finished.result) == {"tasks"}


def test_a_node_run_again_replaces_its_result() -> None:
    polls = [("succeeded", {"n": 1}), ("succeeded", {"n": 2}), ("failed", {"n": 3})]
    run = rehearse(load("loop.yaml"), replies={"poll": polls})
    assert run.order == ["poll", "wait", "poll", "wait", "poll"]
    assert [run.parameters("poll", i)["last"] for i in range(3)] == ["", "1", "2"]
    assert [run.parameters("wait", i)["seen"] for i in range(2)] == ["1", "2"]
    assert run.finished.status is ChainStatus.FAILED
    assert [task["name"] for task in run.finished.result["tasks"]] == run.order


def test_datastore_through_host_functions() -> None:
    values = {("system", "token"): "t0k", ("user", "ada:pref"): "dark", ("system", "secret"): "s"}
    datastore = Datastore(
        lambda scope, name: values.get((scope, name)), user="ada", decrypt=str.upper
    )
    run = rehearse(load("datastore.yaml"), functions={"st2kv": datastore})
    assert run.parameters("first") == {
        "token": "t0k",
        "mine": "dark",
        "legacy": "t0k",
        "secret": "S",
    }
    assert run.finished.result["published"] == {"seen": "t0k-t0k"}


# ---------------------------------------------------------------------------------------------
# Running: routing and the final status


@dataclass(frozen=True)
class Route:
    name: str
    replies: dict[str, Any]
    order: list[str]
    status: ChainStatus
    states: list[str] = field(default_factory=list)


def ok(**result: Any) -> tuple[str, Any]:
    return "succeeded", result


ROUTES = [
    Route("all succeed", {}, ["check", "deploy"], ChainStatus.SUCCEEDED),
    Route(
        "failure handled by on-failure",
        {"check": ("failed", {})},
        ["check", "report"],
        ChainStatus.SUCCEEDED,
        ["failed", "succeeded"],
    ),
    Route(
        "a failure handled further down the chain",
        {"deploy": ("failed", {})},
        ["check", "deploy", "rollback"],
        ChainStatus.SUCCEEDED,
    ),
    Route(
        "failed handler fails the chain",
        {"deploy": ("failed", {}), "rollback": ("failed", {})},
        ["check", "deploy", "rollback"],
        ChainStatus.FAILED,
    ),
    Route(
        "timeout follows on-failure",
        {"deploy": ("timeout", {})},
        ["check", "deploy", "rollback"],
        ChainStatus.SUCCEEDED,
        ["succeeded", "timeout", "succeeded"],
    ),
    Route(
        "a last node that times out times out the chain",
        {"deploy": ("failed", {}), "rollback": ("timeout", {})},
        ["check", "deploy", "rollback"],
        ChainStatus.TIMED_OUT,
    ),
    Route(
        "abandoned is a failure",
        {"check": ("abandoned", {}), "report": ("abandoned", {})},
        ["check", "report"],
        ChainStatus.FAILED,
    ),
    Route(
        "a canceled node cancels the chain",
        {"deploy": ("canceled", {})},
        ["check", "deploy"],
        ChainStatus.CANCELED,
        ["succeeded", "canceled"],
    ),
    Route(
        "a node without on-success ends the chain", {}, ["check", "deploy"], ChainStatus.SUCCEEDED
    ),
]


@pytest.mark.parametrize("case", ROUTES, ids=lambda c: c.name)
def test_routing(case: Route) -> None:
    run = rehearse(load("routing.yaml"), replies=case.replies)
    assert run.order == case.order
    assert run.finished.status is case.status
    tasks = run.finished.result["tasks"]
    assert [task["name"] for task in tasks] == case.order
    if case.states:
        assert [task["state"] for task in tasks] == case.states
    assert "error" not in run.finished.result


@pytest.mark.parametrize(
    ("fixture", "order"),
    [("default.yaml", ["second", "first"]), ("default_computed.yaml", ["begin", "finish"])],
)
def test_the_chain_starts_at_its_default(fixture: str, order: list[str]) -> None:
    assert rehearse(load(fixture)).order == order


def test_a_templated_default_runs_nothing_and_succeeds() -> None:
    spec, diagnostics = parse_chain((CHAINS / "default_template.yaml").read_text(), "c.yaml")
    assert spec is not None
    assert [d.code for d in diagnostics] == ["PH806"]
    run = rehearse(spec, {"start_with": "first"})
    assert run.order == []
    assert run.finished == ChainFinished(ChainStatus.SUCCEEDED, {"tasks": [], "published": {}})


def test_task_entries_have_stackstorms_shape() -> None:
    run = rehearse(load("routing.yaml"), replies={"check": ("failed", {"stderr": "no"})})
    assert run.finished.result == {
        "tasks": [
            {
                "id": "check",
                "name": "check",
                "execution_id": "check-1",
                "liveaction_id": "check-1",
                "workflow": None,
                "created_at": stamp(0),
                "updated_at": stamp(1),
                "state": "failed",
                "result": {"stderr": "no"},
            },
            {
                "id": "report",
                "name": "report",
                "execution_id": "report-2",
                "liveaction_id": "report-2",
                "workflow": None,
                "created_at": stamp(1),
                "updated_at": stamp(2),
                "state": "succeeded",
                "result": {"stdout": "report ran"},
            },
        ],
        "published": {},
    }


# ---------------------------------------------------------------------------------------------
# Running: failures of the chain itself


@dataclass(frozen=True)
class Failure:
    name: str
    fixture: str
    parameters: dict[str, Any]
    tasks: list[str]
    error: str
    traceback: str


FAILURES = [
    Failure(
        "a parameter does not render",
        "parameter_failure.yaml",
        {},
        ["first"],
        'Failed to run task "second". Parameter rendering failed.. Failed rendering value for '
        'action parameter "value" in task "second" (template string={{ missing }}): '
        "'missing' is undefined",
        "ParameterRenderingFailedException: Failed rendering value for action parameter",
    ),
    Failure(
        "publish does not render",
        "publish_failure.yaml",
        {},
        ["first"],
        'Failed rendering value for publish parameter "value" in task "first" (template '
        "string={{ first.missing }}): 'dict object' has no attribute 'missing'",
        "ParameterRenderingFailedException: Failed rendering value for publish parameter",
    ),
    Failure(
        "publish does not see action_context",
        "publish_context.yaml",
        {},
        ["first"],
        'Failed rendering value for publish parameter "user" in task "first" (template '
        "string={{ action_context.parent.user }}): 'action_context' is undefined",
        "ParameterRenderingFailedException:",
    ),
    Failure(
        "vars do not see each other",
        "vars_failure.yaml",
        {},
        [],
        "Failed initializing ``vars`` in chain.. 'first' is undefined",
        "UndefinedError: ",
    ),
    Failure(
        "a templated transition finds no node",
        "template_target.yaml",
        {"next_node": "second"},
        ["first"],
        'Failed to get next node "first".. Unable to find node with name "{{ next_node }}".',
        "ActionRunnerException: Unable to find node",
    ),
]


@pytest.mark.parametrize("case", FAILURES, ids=lambda c: c.name)
def test_chain_failures(case: Failure) -> None:
    run = rehearse(load(case.fixture), case.parameters)
    assert run.order == case.tasks
    assert run.finished.status is ChainStatus.FAILED
    result = run.finished.result
    assert [task["name"] for task in result["tasks"]] == case.tasks
    assert all(task["state"] == "succeeded" for task in result["tasks"])
    assert result["error"] == case.error
    assert result["traceback"].startswith(case.traceback)
    assert set(result) == {"tasks", "published", "error", "traceback"}


def test_a_missing_action_fails_the_chain_without_a_task_entry() -> None:
    chain = load("routing.yaml")
    state, step = start(chain, {}, {}, execution_id="c", now=stamp(0))
    assert isinstance(step, RunNode)
    state, step = on_result(chain, state, "check", "succeeded", {}, execution_id="e1", now=stamp(1))
    assert isinstance(step, RunNode) and step.node == "deploy"
    state, end = action_missing(chain, roundtrip(state), "deploy")
    assert isinstance(end, ChainFinished) and end.status is ChainStatus.FAILED
    assert [task["name"] for task in end.result["tasks"]] == ["check"]
    assert end.result["error"] == (
        'Failed to run task "deploy". Action with reference "demo.deploy" doesn\'t exist.. '
        "Task :: deploy - Action with ref demo.deploy not registered."
    )
    assert end.result["traceback"].startswith("InvalidActionReferencedException: ")
    assert state.status is ChainStatus.FAILED


def test_an_action_that_cannot_start_fails_its_task_and_follows_on_failure() -> None:
    chain = load("routing.yaml")
    state, step = start(chain, {}, {}, execution_id="c", now=stamp(0))
    state, step = start_failed(chain, state, "check", "parameter 'x' is required", now=stamp(1))
    assert isinstance(step, RunNode) and step.node == "report"
    task = state.tasks[0]
    error = "Failed running task \"check\".. parameter 'x' is required"
    assert task["state"] == "failed"
    assert task["execution_id"] is None
    assert task["result"]["error"] == error
    # Later templates see the error as the node's result, as in StackStorm.
    assert state.results["check"] == task["result"]


# ---------------------------------------------------------------------------------------------
# Inquiries, pause, resume and cancel


def test_a_pending_inquiry_pauses_the_chain_until_answered() -> None:
    chain = load("inquiry.yaml")
    pending = {"schema": {}, "route": "ops", "users": [], "roles": [], "ttl": 1440}
    answered = {**pending, "response": {"answer": "yes"}}
    state, step = start(chain, {}, {}, execution_id="c", now=stamp(0))
    state, paused = on_result(
        chain, state, "ask", "pending", pending, execution_id="a", now=stamp(1)
    )
    assert isinstance(paused, ChainPaused)
    assert state.status is ChainStatus.PAUSED
    assert [(t["name"], t["state"]) for t in paused.result["tasks"]] == [("ask", "pending")]
    state, step = on_result(
        chain, roundtrip(state), "ask", "succeeded", answered, execution_id="a", now=stamp(2)
    )
    assert isinstance(step, RunNode)
    # StackStorm keeps the pending result for templates and puts the answer under "result".
    assert step.parameters == {"cmd": "echo yes yes ops"}
    (task,) = state.tasks
    assert (task["state"], task["created_at"], task["updated_at"]) == (
        "succeeded",
        stamp(0),
        stamp(2),
    )
    assert task["result"] == answered
    assert state.published == {"answer": "yes"}


def test_a_paused_sub_workflow_pauses_the_chain_and_its_end_continues_it() -> None:
    chain = load("routing.yaml")
    replies = {"check": [[("paused", {"tasks": []}), ("succeeded", {"tasks": [1]})]]}
    run = rehearse(chain, replies=replies)
    assert isinstance(run.steps[1], ChainPaused)
    assert run.order == ["check", "deploy"]
    assert run.finished.status is ChainStatus.SUCCEEDED
    assert run.finished.result["tasks"][0]["result"] == {"tasks": [1]}


@pytest.mark.parametrize(
    ("waiting", "final"),
    [
        # An inquiry ends through StackStorm's resume branch, which counts a timeout as a
        # failure; a paused sub-workflow is resumed by the main loop, which keeps "timeout".
        ("pending", ChainStatus.FAILED),
        ("paused", ChainStatus.TIMED_OUT),
    ],
)
def test_a_node_that_waited_then_timed_out(waiting: str, final: ChainStatus) -> None:
    replies = {"first": [[(waiting, {}), ("timeout", {})]]}
    run = rehearse(load("default.yaml"), replies=replies)
    assert run.order == ["second", "first"]
    assert run.finished.status is final
    assert [task["state"] for task in run.finished.result["tasks"]] == ["succeeded", "timeout"]


def test_pause_waits_for_the_running_node_then_resume_runs_the_next() -> None:
    chain = load("routing.yaml")
    state, _ = start(chain, {}, {}, execution_id="c", now=stamp(0))
    state, now = pause(state)
    assert now is None and state.status is ChainStatus.PAUSING
    state, step = on_result(chain, state, "check", "succeeded", {}, execution_id="e", now=stamp(1))
    assert isinstance(step, ChainPaused) and state.status is ChainStatus.PAUSED
    assert [task["name"] for task in step.result["tasks"]] == ["check"]
    assert pause(state)[1] == step  # pausing a paused chain changes nothing
    state, step = resume(chain, roundtrip(state), now=stamp(2))
    assert isinstance(step, RunNode) and step.node == "deploy"
    assert state.running is not None and state.running.created_at == stamp(2)


def test_resume_before_the_node_ends_cancels_the_pause() -> None:
    chain = load("routing.yaml")
    state, _ = start(chain, {}, {}, execution_id="c", now=stamp(0))
    state, _ = pause(state)
    state, step = resume(chain, state, now=stamp(1))
    assert step is None and state.status is ChainStatus.RUNNING
    state, step = on_result(chain, state, "check", "succeeded", {}, execution_id="e", now=stamp(2))
    assert isinstance(step, RunNode)


@pytest.mark.parametrize(
    ("status", "final"),
    [
        ("succeeded", ChainStatus.SUCCEEDED),
        ("failed", ChainStatus.FAILED),
        # StackStorm's resume branch counts a timeout as a failure.
        ("timeout", ChainStatus.FAILED),
        ("canceled", ChainStatus.CANCELED),
    ],
)
def test_a_chain_paused_after_its_last_node_ends_on_resume(status: str, final: ChainStatus) -> None:
    chain = load("default.yaml")  # second, then first, which has no on-success
    state, _ = start(chain, {}, {}, execution_id="c", now=stamp(0))
    state, _ = on_result(chain, state, "second", "succeeded", {}, execution_id="e", now=stamp(1))
    state, _ = pause(state)
    state, paused = on_result(chain, state, "first", status, {}, execution_id="f", now=stamp(2))
    assert isinstance(paused, ChainPaused)
    state, end = resume(chain, state, now=stamp(3))
    assert isinstance(end, ChainFinished) and end.status is final
    assert len(end.result["tasks"]) == 2


def test_cancel_waits_for_the_running_node_and_records_it() -> None:
    chain = load("routing.yaml")
    state, _ = start(chain, {}, {}, execution_id="c", now=stamp(0))
    state, now = cancel(state)
    assert now is None and state.status is ChainStatus.CANCELING
    assert cancel(state) == (state, None)
    state, end = on_result(chain, state, "check", "succeeded", {}, execution_id="e", now=stamp(1))
    assert isinstance(end, ChainFinished) and end.status is ChainStatus.CANCELED
    assert [task["name"] for task in end.result["tasks"]] == ["check"]
    assert set(end.result) == {"tasks", "published"}


def test_cancel_of_a_chain_paused_between_nodes_ends_it_at_once() -> None:
    chain = load("routing.yaml")
    state, _ = start(chain, {}, {}, execution_id="c", now=stamp(0))
    state, _ = pause(state)
    state, _ = on_result(chain, state, "check", "succeeded", {}, execution_id="e", now=stamp(1))
    state, end = cancel(state)
    assert end == ChainFinished(ChainStatus.CANCELED, state.result())
    assert len(end.result["tasks"]) == 1


def test_cancel_of_a_pending_node_waits_for_it() -> None:
    chain = load("inquiry.yaml")
    state, _ = start(chain, {}, {}, execution_id="c", now=stamp(0))
    state, _ = on_result(chain, state, "ask", "pending", {}, execution_id="a", now=stamp(1))
    state, now = cancel(state)
    assert now is None
    state, end = on_result(chain, state, "ask", "canceled", {}, execution_id="a", now=stamp(2))
    assert isinstance(end, ChainFinished) and end.status is ChainStatus.CANCELED
    assert [task["state"] for task in end.result["tasks"]] == ["canceled"]


@pytest.mark.parametrize(
    "call",
    [
        lambda chain, state: on_result(
            chain, state, "other", "succeeded", {}, execution_id="e", now="t"
        ),
        lambda chain, state: cancel(state),
        lambda chain, state: pause(state),
        lambda chain, state: resume(chain, state, now="t"),
        lambda chain, state: action_missing(chain, state, "check"),
    ],
    ids=["result of another node", "cancel", "pause", "resume", "action missing"],
)
def test_steps_that_do_not_fit_the_state_are_refused(call: Any) -> None:
    chain = load("routing.yaml")
    finished = rehearse(chain).state
    assert finished is not None
    with pytest.raises(Conflict):
        call(chain, finished)


def test_an_unknown_node_status_is_refused() -> None:
    chain = load("routing.yaml")
    state, _ = start(chain, {}, {}, execution_id="c", now=stamp(0))
    with pytest.raises(ValueError, match="'running' is not a valid NodeStatus"):
        on_result(chain, state, "check", "running", {}, execution_id="e", now=stamp(1))


# ---------------------------------------------------------------------------------------------
# The state


@pytest.mark.parametrize(
    ("before", "after"), list(itertools.product(ChainStatus, ChainStatus)), ids=str
)
def test_status_moves_follow_the_table(before: ChainStatus, after: ChainStatus) -> None:
    state, _ = start(load("routing.yaml"), {}, {}, execution_id="c", now=stamp(0))
    state = ChainState.from_json({**state.to_json(), "status": before.value})
    if after in TRANSITIONS[before]:
        assert moved(state, after).status is after
    else:
        with pytest.raises(Conflict):
            moved(state, after)


def test_state_is_plain_json_with_a_version() -> None:
    run = rehearse(load("publish.yaml"), {"target": "x"}, {"probe": ("succeeded", {"level": 1})})
    assert run.state is not None
    data = run.state.to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["version"] == 1
    assert ChainState.from_json(data) == run.state
    with pytest.raises(Conflict, match="version 99"):
        ChainState.from_json({**data, "version": 99})
