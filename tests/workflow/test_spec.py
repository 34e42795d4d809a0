"""parse_workflow: the spec model of valid workflows, one fixture per diagnostic code."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from packhorse.packs.validate.codes import CODES
from packhorse.workflow.spec import (
    InputSpec,
    RetrySpec,
    TransitionSpec,
    WithItemsSpec,
    field_path,
    no_yaql_errors,
    parse_workflow,
)

FIXTURES = Path(__file__).parent / "fixtures"
VALID = sorted((FIXTURES / "valid").glob("*.yaml"))
INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))
WORKFLOW_CODES = [code for code in CODES if code.startswith("PH7")]


def parse(name: str) -> tuple[object, list[str]]:
    path = FIXTURES / "valid" / name
    spec, diagnostics = parse_workflow(path.read_text(), str(path))
    return spec, [d.format() for d in diagnostics]


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_workflows_have_no_diagnostics(path: Path) -> None:
    spec, diagnostics = parse_workflow(path.read_bytes(), str(path))
    assert [d.format() for d in diagnostics] == []
    assert spec is not None


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_each_invalid_fixture_reports_its_code_only(path: Path) -> None:
    spec, diagnostics = parse_workflow(path.read_text(), "w.yaml")
    assert {d.code for d in diagnostics} == {path.stem}
    assert all(d.path == "w.yaml" and d.line > 0 and d.col > 0 for d in diagnostics)
    assert (spec is None) == (CODES[path.stem].severity.value == "error")


def test_every_workflow_code_has_a_fixture_or_a_test() -> None:
    covered = {path.stem for path in INVALID} | {"PH711"}  # PH711: test_yaql_hook
    assert covered == set(WORKFLOW_CODES)


def test_sequential_model() -> None:
    spec, _ = parse_workflow((FIXTURES / "valid" / "sequential.yaml").read_text(), "s.yaml")
    assert spec is not None
    assert spec.version == "1.0"
    assert spec.description == "A sequence of three tasks."
    assert spec.input == (InputSpec("name"), InputSpec("greeting", "Hello <% ctx(name) %>", True))
    assert spec.vars == (("count", 0),)
    assert list(spec.tasks) == ["task1", "task2", "task3"]
    assert spec.start_tasks() == ("task1",)
    task1 = spec.tasks["task1"]
    assert task1.action == "core.echo"
    assert dict(task1.input) == {"message": "<% ctx(greeting) %>"}
    assert task1.next == (
        TransitionSpec("<% succeeded() %>", (("first", "<% result().stdout %>"),), ("task2",)),
    )
    assert spec.tasks["task2"].next == (TransitionSpec(None, (), ("task3",)),)
    assert spec.tasks["task3"].next == ()
    assert [name for name, _ in spec.output] == ["first", "again"]


def test_branching_join_and_publish_forms() -> None:
    spec, _ = parse_workflow((FIXTURES / "valid" / "branching_join.yaml").read_text(), "b.yaml")
    assert spec is not None
    assert spec.tasks["setup"].next[0].do == ("left", "right")
    assert spec.tasks["left"].next[0] == TransitionSpec(
        None, (("side", "left"), ("n", 1)), ("merge",)
    )
    assert spec.tasks["right"].next[0].publish == (("other", "right"),)
    assert spec.tasks["merge"].join == "all"
    assert spec.tasks["quorum"].join == 1
    assert spec.tasks["partial"].next[0].do == ("quorum",)
    assert spec.start_tasks() == ("setup", "partial", "also")


def test_with_items_forms() -> None:
    spec, _ = parse_workflow((FIXTURES / "valid" / "with_items.yaml").read_text(), "w.yaml")
    assert spec is not None
    assert spec.tasks["short"].with_items == WithItemsSpec("<% ctx(hosts) %>")
    assert spec.tasks["named"].with_items == WithItemsSpec("<% ctx(hosts) %>", None, ("host",))
    assert spec.tasks["zipped"].with_items == WithItemsSpec(
        "<% zip(ctx(hosts), ctx(ports)) %>", 2, ("host", "port")
    )
    assert spec.tasks["long"].with_items == WithItemsSpec(
        "{{ ctx('hosts') }}", "<% ctx(ports).len() %>"
    )


def test_retry_and_delay() -> None:
    spec, _ = parse_workflow((FIXTURES / "valid" / "retry_delay.yaml").read_text(), "r.yaml")
    assert spec is not None
    task1 = spec.tasks["task1"]
    assert task1.retry == RetrySpec("<% failed() %>", 3, 2)
    assert task1.delay == 5
    assert dict(task1.input) == {"cmd": "exit 1"}
    assert spec.tasks["task2"].retry == RetrySpec(None, "<% 2 %>")
    assert spec.tasks["task2"].delay == "<% 1 + 1 %>"
    assert spec.tasks["task2"].next[1].do == ("noop",)


@pytest.mark.parametrize(
    ("action", "ref", "inline"),
    [
        ("core.noop", "core.noop", {}),
        ('core.local cmd="ls -l" timeout=30', "core.local", {"cmd": "ls -l", "timeout": 30}),
        ("core.echo message=<% ctx(x) %>", "core.echo", {"message": "<% ctx(x) %>"}),
        ("a.b flag=True ratio=0.5 v=null", "a.b", {"flag": True, "ratio": 0.5, "v": None}),
        ("a.b items=[1, 2] obj='{\"k\": 1}'", "a.b", {"items": [1, 2], "obj": {"k": 1}}),
        ("a.b n='3'", "a.b", {"n": "3"}),
        ("<% ctx(x) %>", "<% ctx(x) %>", {}),
    ],
)
def test_inline_action_input(action: str, ref: str, inline: dict[str, object]) -> None:
    text = yaml.safe_dump(
        {"version": 1.0, "input": ["x"], "tasks": {"t": {"action": action, "input": {"z": 1}}}}
    )
    spec, diagnostics = parse_workflow(text, "w.yaml")
    assert diagnostics == []
    assert spec is not None
    assert spec.tasks["t"].action == ref
    # As in orquesta, pairs on the action line replace the task's input.
    assert dict(spec.tasks["t"].input) == (inline or {"z": 1})


def test_every_problem_is_reported_with_its_field_path() -> None:
    text = """\
version: 1.0
tasks:
  continue:
    action: core.noop
    next:
      - do: nowhere
        publish: [{a: "<% ctx(b) %>"}]
  task2:
    bogus: 1
    join: sometimes
"""
    spec, diagnostics = parse_workflow(text, "w.yaml")
    assert spec is None
    assert [(d.code, d.line, d.field) for d in diagnostics] == [
        ("PH706", 3, "tasks.continue"),
        ("PH703", 9, "tasks.task2.bogus"),
        ("PH704", 10, "tasks.task2.join"),
        ("PH707", 6, "tasks.continue.next[0].do"),
        ("PH708", 7, "tasks.continue.next[0].publish[0].a"),
    ]


def test_inputs_and_vars_see_only_earlier_names() -> None:
    text = """\
version: 1.0
input:
  - a: <% ctx(b) %>
  - b
vars:
  - c: <% ctx(d) %>
  - d: <% ctx(a) %>
tasks:
  t: {action: core.noop}
"""
    _, diagnostics = parse_workflow(text, "w.yaml")
    assert [(d.code, d.field) for d in diagnostics] == [
        ("PH708", "input[0].a"),
        ("PH708", "vars[0].c"),
    ]


def test_context_references_in_jinja_and_yaql() -> None:
    text = """\
version: 1.0
tasks:
  t:
    action: core.echo
    input:
      a: "{{ ctx().one }}"
      b: "{{ ctx('two') }}"
      c: <% ctx(three) %>
      d: <% ctx()['four'] %>
      e: <% ctx().st2.user %> plain ctx(five)
      f: <% ctx().get(six) %> <% ctx().keys() %>
      g: "{{ ctx().items() }}"
"""
    _, diagnostics = parse_workflow(text, "w.yaml")
    assert [d.message for d in diagnostics] == [
        f'Variable "{name}" is referenced before assignment.'
        for name in ("one", "two", "three", "four")
    ]


def test_yaql_hook() -> None:
    def check(text: str) -> Sequence[str]:
        return ["YaqlGrammarException: bad"] if "+ %>" in text else []

    text = "version: 1.0\ntasks:\n  t:\n    action: core.echo message=<% 1 + %>\n"
    _, diagnostics = parse_workflow(text, "w.yaml", yaql_syntax_errors=check)
    assert [(d.code, d.message, d.line) for d in diagnostics] == [
        ("PH711", "YaqlGrammarException: bad", 4)
    ]
    _, diagnostics = parse_workflow(text, "w.yaml", yaql_syntax_errors=no_yaql_errors)
    assert diagnostics == []
    _, diagnostics = parse_workflow(text, "w.yaml")  # the default parses with yaql
    assert [(d.code, d.line) for d in diagnostics] == [("PH711", 4)]
    assert "Parse error" in diagnostics[0].message


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "PH704"),
        ("- a\n- b\n", "PH704"),
        ("version: 1.0\ntasks: [a]\n", "PH704"),
        ("version: 1.0\ntasks:\n  t: 3\n", "PH704"),
        ("version: true\ntasks:\n  t: {}\n", "PH701"),
        ("version: 1.0\ntasks:\n  t: {retry: {delay: 1}}\n", "PH704"),
        ("version: 1.0\ntasks:\n  t: {delay: -1}\n", "PH704"),
        ("version: 1.0\ntasks:\n  t: {next: [{do: [1]}]}\n", "PH704"),
        ("version: 1.0\ntasks:\n  t: {with: {concurrency: 1}, action: a.b}\n", "PH704"),
        ("version: 1.0\nvars: [{a: 1}, {a: 2}]\ntasks:\n  t: {}\n", "PH717"),
        ("version: 1.0\ntasks:\n  t: {next: [{publish: 3}]}\n", "PH704"),
        ("version: 1.0\n  bad: [\n", "PH002"),
        ("version: 1.0\ntasks:\n  t: {action: a.b, with: foobar}\n", "PH704"),
        ("version: 1.0\ntasks:\n  t: {action: a.b, with: [1, 2]}\n", "PH704"),
        ("version: 1.0\ntasks:\n  t: {action: a.b, with: 'x y in <% [1] %>'}\n", "PH704"),
        ("version: 1.0\ntasks:\n  t: {action: a.b, with: '<% [1] %> tail'}\n", "PH704"),
        ("version: 1.0\ntasks: {}\n", "PH702"),
        ("version: 1.0\ntasks:\n  t:\n  t:\n", "PH718"),
    ],
)
def test_malformed_documents(text: str, code: str) -> None:
    spec, diagnostics = parse_workflow(text, "w.yaml")
    assert spec is None
    assert code in {d.code for d in diagnostics}


def test_field_path() -> None:
    assert field_path(("tasks", "t2", "next", 0, "do")) == "tasks.t2.next[0].do"
    assert field_path(("input", 1)) == "input[1]"
    assert field_path(()) == ""


_yaml_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(["<% ctx(x) %>", "{{ ctx('y') }}", "{{ ", "a, b in <% zip() %>", "all"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "version",
                    "tasks",
                    "input",
                    "vars",
                    "output",
                    "t1",
                    "action",
                    "next",
                    "do",
                    "when",
                    "publish",
                    "join",
                    "with",
                    "items",
                    "retry",
                    "count",
                    "delay",
                    "x",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(_yaml_values)
def test_parse_workflow_never_raises(value: object) -> None:
    spec, diagnostics = parse_workflow(yaml.safe_dump(value), "w.yaml")
    assert spec is not None or any(d.is_error for d in diagnostics)


def test_host_context_names_need_no_declaration() -> None:
    text = "version: 1.0\ntasks:\n  t:\n    action: core.echo message=<% ctx(app) %>\n"
    _, diagnostics = parse_workflow(text, "w.yaml")
    assert [d.code for d in diagnostics] == ["PH708"]
    spec, diagnostics = parse_workflow(text, "w.yaml", host_context={"app"})
    assert diagnostics == []
    assert spec is not None


# The shared orquesta conformance corpus, where this machine has it (not vendored yet).
CONFORMANCE = Path("/work/shared/conformance/cases")
# Cases that read undeclared or private names on purpose: orquesta fails them at run time,
# and its inspection rejects them too.
BROKEN_ON_PURPOSE = {"cond-context-bad_app_ctx_references", "cond-context-ctx_ref_private_var"}


@pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="conformance corpus not on this machine")
def test_conformance_workflows_inspect_clean() -> None:
    flagged = set()
    for path in sorted(CONFORMANCE.glob("*.yaml")):
        case = yaml.safe_load(path.read_text())
        host = {"st2", "parent", *(case.get("context") or {})}
        _, diagnostics = parse_workflow(case["workflow"], path.name, host_context=host)
        if any(d.is_error for d in diagnostics):
            flagged.add(path.stem)
    assert flagged == BROKEN_ON_PURPOSE


def test_a_name_published_only_downstream_is_not_yet_assigned() -> None:
    text = """\
version: 1.0
tasks:
  task1:
    action: core.echo message=<% ctx().late %>
    next:
      - publish: [{early: 1}]
        do: task2
  task2:
    action: core.echo message=<% ctx().early %>
    next:
      - publish: late=2 again=<% ctx().late %>
        do: task3
  task3:
    action: core.echo message="<% ctx().late %> <% ctx().early %>"
  island:
    join: all
    action: core.echo message=<% ctx().late %>
output:
  - late: <% ctx().late %>
"""
    _, diagnostics = parse_workflow(text, "w.yaml")
    assert [(d.code, d.field) for d in diagnostics] == [
        ("PH712", "tasks.island.join"),
        ("PH708", "tasks.task1.action"),
        ("PH708", "tasks.island.action"),  # a start task: nothing is published before it
    ]
