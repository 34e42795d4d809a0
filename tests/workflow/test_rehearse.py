"""The rehearsal harness on orquesta's spec format: mocks by sequence id, repeated mocks, items."""

from __future__ import annotations

from packhorse.workflow.rehearse import detect_format, run_rehearsal, same

LOOP = """
version: 1.0
tasks:
  init:
    action: core.noop
    next: [{do: check}]
  check:
    action: core.http
    next:
      - when: <% failed() %>
        do: wait
      - when: <% succeeded() %>
        publish: body=<% result() %>
  wait:
    action: core.sleep
    next: [{do: check}]
output:
  - body: <% ctx(body) %>
"""


def test_mocks_bound_to_a_sequence_id_and_repeated_mocks() -> None:
    outcome = run_rehearsal(
        {
            "workflow": LOOP,
            "mock_action_executions": [
                {"task_id": "check", "status": "failed", "num_iter": 2},
                {"task_id": "check", "seq_id": 5, "result": "ready"},
            ],
            # check fails twice (sequence entries 1 and 3), the third attempt is entry 5.
            "expected_task_sequence": [
                "init",
                "check",
                "wait",
                "check",
                "wait",
                "check",
                "continue",
            ],
            "expected_output": {"body": "ready"},
            "expected_errors": [
                {
                    "type": "error",
                    "message": "Execution failed. See result for details.",
                    "task_id": "check",
                }
            ],
        },
        name="loop",
    )
    assert outcome.passed_strict, [p.describe() for p in outcome.problems]


def test_items_take_mocks_by_item_id() -> None:
    outcome = run_rehearsal(
        {
            "workflow": """
version: 1.0
tasks:
  each:
    with: <% ["a", "b", "c"] %>
    action: core.echo message=<% item() %>
    next:
      - publish: out=<% result() %>
output:
  - out: <% ctx(out) %>
""",
            # One item per wave, as orquesta's rehearsal runs them.
            "mock_action_executions": [
                {"task_id": "each", "item_id": 0, "result": "A"},
                {"task_id": "each", "item_id": 1},
                {"task_id": "each", "item_id": 2, "result": "C"},
            ],
            "expected_task_sequence": ["each", "continue"],
            "expected_output": {"out": ["A", None, "C"]},
        }
    )
    assert outcome.passed_strict, [p.describe() for p in outcome.problems]


def test_a_wrong_expectation_is_a_problem_with_both_values() -> None:
    outcome = run_rehearsal(
        {"workflow": LOOP, "expected_task_sequence": ["init"], "expected_workflow_status": "failed"}
    )
    assert not outcome.passed
    assert [(p.message, p.actual, p.expected) for p in outcome.problems] == [
        ("task sequence differs", ["init", "check", "continue"], ["init"]),
        ("status differs", "succeeded", "failed"),
    ]


def test_formats_and_json_equality() -> None:
    assert detect_format({"steps": [], "workflow": ""}) == "conformance"
    assert detect_format({"expected_task_sequence": []}) == "rehearsal"
    assert same({"a": [1, 2.0]}, {"a": [1, 2.0]})
    assert not same(1, 1.0) and not same(1, True) and not same([1], [1, 2])
