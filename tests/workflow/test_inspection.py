"""StackStorm's inspection of a workflow at start: every problem, in StackStorm's shape, paths
and order (type, then schema path)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from packhorse.workflow.inspection import inspect_workflow

TASK = r"properties.tasks.patternProperties.^\w+$"

ACTIONS: dict[str, dict[str, dict[str, Any]]] = {
    "demo.say": {"text": {"type": "string", "required": True}, "loud": {"type": "boolean"}},
    "demo.opt": {"level": {"type": "integer", "required": True, "default": 1}},
}


def lookup(ref: str) -> Mapping[str, Mapping[str, Any]] | None:
    return ACTIONS.get(ref)


def problems(text: str) -> list[dict[str, Any]]:
    return [problem.to_dict() for problem in inspect_workflow(text, lookup)]


def test_a_clean_workflow_has_no_problem() -> None:
    assert (
        problems("""
version: 1.0
input: [who]
vars:
  - greeting: hello <% ctx(who) %>
tasks:
  first:
    action: demo.say text=<% ctx(greeting) %>
    next:
      - when: <% succeeded() %>
        publish:
          - said: <% result() %>
        do: second
  second:
    action: demo.opt
    input:
      level: 3
output:
  - said: <% ctx(said) %> <% ctx().get(missing_is_fine) %>
""")
        == []
    )


def test_every_kind_of_problem_in_stackstorms_order() -> None:
    found = problems("""
version: 1.0
tasks:
  fetch:
    action: demo.say text=<% ctx().nowhere %>
    next:
      - when: <% succeeded( %>
        do: store
  store:
    action: demo.say
    input:
      - text: not a mapping
    next:
      - do: vanish
  archive:
    action: demo.missing
""")
    assert found == [
        {
            "type": "content",
            "message": 'The action "demo.missing" is not registered in the database.',
            "spec_path": "tasks.archive.action",
            "schema_path": f"{TASK}.properties.action",
        },
        {
            "type": "context",
            "language": "yaql",
            "expression": "<% ctx().nowhere %>",
            "message": 'Variable "nowhere" is referenced before assignment.',
            "spec_path": "tasks.fetch.input",
            "schema_path": f"{TASK}.properties.input",
        },
        {
            "type": "expression",
            "language": "yaql",
            "expression": "<% succeeded( %>",
            "message": found[2]["message"],
            "spec_path": "tasks.fetch.next[0].when",
            "schema_path": f"{TASK}.properties.next.items.properties.when",
        },
        {
            "type": "semantic",
            "message": 'The task "vanish" is not defined.',
            "spec_path": "tasks.store.next[0].do",
            "schema_path": f"{TASK}.properties.next.items.properties.do",
        },
        {
            "type": "syntax",
            "message": "[{'text': 'not a mapping'}] is not valid under any of the given schemas",
            "spec_path": "tasks.store.input",
            "schema_path": f"{TASK}.properties.input.oneOf",
        },
    ]
    assert found[2]["message"].startswith("Parse error:")


def test_action_checks_name_the_reference_and_the_inputs() -> None:
    found = problems("""
version: 1.0
tasks:
  a:
    action: say
  b:
    action: demo.say louder=true
  c:
    action: demo.opt
  d:
    action: <% ctx().st2.action %>
  e:
    action: demo.say
    input: <% {text => 1} %>
""")
    assert [(p["message"], p["spec_path"], p["schema_path"]) for p in found] == [
        (
            'The action reference "say" is not formatted correctly.',
            "tasks.a.action",
            f"{TASK}.properties.action",
        ),
        (
            'Action "demo.say" is missing required input "text".',
            "tasks.b.input",
            f"{TASK}.properties.input",
        ),
        (
            'Action "demo.say" has unexpected input "louder".',
            "tasks.b.input.louder",
            rf"{TASK}.properties.input.patternProperties.^\w+$",
        ),
    ]


@pytest.mark.parametrize(
    ("body", "spec_path", "schema_path"),
    [
        (
            "vars:\n  - a: <% ctx(b) %>\ntasks:\n  t: {action: demo.opt}",
            "vars[0]",
            "properties.vars",
        ),
        (
            "tasks:\n  t:\n    action: demo.opt\n    next:\n"
            "      - publish:\n          - a: 1\n          - b: <% ctx(c) %>",
            "tasks.t.next[0].publish[1]",
            f"{TASK}.properties.next.items.properties.publish",
        ),
        (
            "tasks:\n  t:\n    action: demo.opt\n    next:\n      - publish: a=<% ctx(c) %>",
            "tasks.t.next[0].publish",
            f"{TASK}.properties.next.items.properties.publish",
        ),
        (
            "tasks:\n  t:\n    with: <% ctx(c) %>\n    action: demo.opt",
            "tasks.t.with.items",
            f"{TASK}.properties.with.properties.items",
        ),
    ],
)
def test_context_problems_sit_on_orquestas_property(
    body: str, spec_path: str, schema_path: str
) -> None:
    [found] = problems(f"version: 1.0\n{body}\n")
    assert found["type"] == "context"
    assert (found["spec_path"], found["schema_path"]) == (spec_path, schema_path)


def test_semantic_and_key_problems() -> None:
    found = problems("""
version: 1.0
tasks:
  noop:
    action: demo.opt
    colour: red
""")
    assert [(p["type"], p["message"], p["spec_path"], p["schema_path"]) for p in found] == [
        ("semantic", 'The task name "noop" is reserved with special function.', "tasks.noop", TASK),
        (
            "syntax",
            "Additional properties are not allowed ('colour' was unexpected)",
            "tasks.noop",
            f"{TASK}.additionalProperties",
        ),
    ]
