"""Mistral v2 -> orquesta: the mechanical subset converts, the rest is reported."""

from __future__ import annotations

import pytest
import yaml

from packhorse.migrate import transforms
from packhorse.migrate.transforms import mistral, mistral_convert

WORKFLOW = """\
version: '2.0'
p.wf:
  input:
    - who
    - greeting: hi
  output:
    said: <% $.said %>
  tasks:
    say:
      action: core.echo
      input:
        message: <% $.greeting %> <% $.who %>
      publish:
        said: <% task(say).result.stdout %>
      on-success: [after]
      on-error:
        - fail
      on-complete: cleanup
    after:
      action: core.noop
    cleanup:
      action: core.noop
"""


def test_converts_the_mechanical_subset() -> None:
    converted = mistral_convert.convert(WORKFLOW)
    assert converted is not None
    assert converted.startswith("# Converted from the Mistral v2 workflow p.wf")
    assert yaml.safe_load(converted) == {
        "version": 1.0,
        "input": ["who", {"greeting": "hi"}],
        "tasks": {
            "say": {
                "action": "core.echo",
                "input": {"message": "<% ctx().greeting %> <% ctx().who %>"},
                "next": [
                    {
                        "when": "<% succeeded() %>",
                        "publish": [{"said": "<% result().stdout %>"}],
                        "do": ["after"],
                    },
                    {"when": "<% failed() %>", "do": ["fail"]},
                    {"do": ["cleanup"]},
                ],
            },
            "after": {"action": "core.noop"},
            "cleanup": {"action": "core.noop"},
        },
        "output": [{"said": "<% ctx().said %>"}],
    }


@pytest.mark.parametrize(
    ("text", "task", "publishing", "expected"),
    [
        ("<% $.a.b %>", "", False, "<% ctx().a.b %>"),
        ("x <% $.a %> y <% len($.b) %>", "", False, "x <% ctx().a %> y <% len(ctx().b) %>"),
        ("<% task(t).result %>", "t", True, "<% result() %>"),
        ("<% task('t').result.x %>", "t", True, "<% result().x %>"),
        ("<% task().result %>", "t", True, "<% result() %>"),
        ("<% task(other).result %>", "t", True, None),
        ("<% task(t).result %>", "t", False, None),
        ("<% $ %>", "", False, None),
        ("<% env().x %>", "", False, None),
        ("{{ _.a }}", "", False, None),
        ("plain", "", False, "plain"),
    ],
)
def test_expressions(text: str, task: str, publishing: bool, expected: str | None) -> None:
    assert mistral_convert.convert_expression(text, task, publishing) == expected


@pytest.mark.parametrize(
    ("replace", "by", "reason"),
    [
        ("      action: core.noop\n    cleanup", "      join: all\n    cleanup", "join"),
        ("  tasks:\n", "  type: reverse\n  tasks:\n", "a reverse workflow"),
        ("on-complete: cleanup", "on-complete: [{cleanup: <% $.x %>}]", "not a task name"),
        ("<% $.greeting %> <% $.who %>", "'{{ _.greeting }}'", "expression"),
        ("p.wf:\n", "other: {tasks: {}}\np.wf:\n", "more than one workflow"),
    ],
)
def test_obstacles_are_reported_with_their_line(replace: str, by: str, reason: str) -> None:
    text = WORKFLOW.replace(replace, by)
    assert text != WORKFLOW
    problems = mistral_convert.obstacles(text)
    assert any(reason in p.reason for p in problems), problems
    assert all(p.line >= 1 for p in problems)
    assert mistral_convert.convert(text) is None


def test_pack_fix_converts_workflow_and_action_once() -> None:
    files = {
        "actions/wf.yaml": (
            "name: wf\nrunner_type: mistral-v2  # old\nentry_point: workflows/wf.yaml\n"
        ),
        "actions/workflows/wf.yaml": WORKFLOW,
    }
    assert [f.fixable for f in mistral.detect(files)] == [True, True]
    changed = transforms.apply_all(files)
    assert changed["actions/wf.yaml"] == (
        "name: wf\nrunner_type: orquesta  # old\nentry_point: workflows/wf.yaml\n"
    )
    assert changed["actions/workflows/wf.yaml"] == mistral_convert.convert(WORKFLOW)
    fixed = {**files, **changed}
    assert transforms.apply_all(fixed) == {}
    assert mistral.detect(fixed) == []


def test_unconvertible_workflow_leaves_the_action_alone() -> None:
    files = {
        "actions/wf.yaml": "name: wf\nrunner_type: mistral-v2\nentry_point: workflows/wf.yaml\n",
        "actions/workflows/wf.yaml": WORKFLOW.replace("on-success: [after]", "retry: {count: 2}"),
    }
    assert transforms.apply_all(files) == {}
    findings = mistral.detect(files)
    assert not any(f.fixable for f in findings)
    assert any("retry" in f.message and f.line == 15 for f in findings)


@pytest.mark.parametrize(
    ("say", "sequence", "status", "output"),
    [
        ("succeeded", ["say", "after", "cleanup"], "succeeded", {"said": "hi bob"}),
        ("failed", ["say", "fail", "cleanup"], "failed", None),
    ],
)
def test_converted_workflow_runs_on_our_conductor(
    say: str, sequence: list[str], status: str, output: dict[str, str] | None
) -> None:
    from packhorse.workflow.rehearse import run_rehearsal

    spec: dict[str, object] = {
        "workflow": mistral_convert.convert(WORKFLOW),
        "inputs": {"who": "bob"},
        "mock_action_executions": [
            {"task_id": "say", "status": say, "result": {"stdout": "hi bob"}},
        ],
        "expected_task_sequence": sequence,
        "expected_workflow_status": status,
    }
    if output is not None:
        spec["expected_output"] = output
    outcome = run_rehearsal(spec)
    assert outcome.passed, (outcome.unsupported, outcome.problems)
