"""StackStorm's example workflows run to their end: status and result as StackStorm's
integration tests (``st2tests/integration/orquesta/test_wiring*.py``) expect them, written here
as data; ``derived`` ones are read from a workflow's definition (no test runs it)."""

from __future__ import annotations

import re
from typing import Any

from st2_examples_lab import Case, Lab, expect, finished, shown, task_statuses

from packhorse.model.datastore import Scope
from packhorse.model.execution import Execution, Status

ACTION_FAILED = {
    "failed": True,
    "return_code": 1,
    "stderr": "",
    "stdout": "",
    "succeeded": False,
}
"""``core.local`` of ``exit 1``: the result StackStorm's error entries carry."""

GREETING = "{}, All your base are belong to us!"

YAQL_NO_VALUE = (
    "YaqlEvaluationException: Unable to evaluate expression '<% abs(8).value %>'. "
    'NoFunctionRegisteredException: Unknown function "#property#value"'
)

DATA_FUNCTIONS = {
    "data_json_str_1": '{"foo": {"bar": "foobar"}}',
    "data_json_str_2": '{"foo": {"bar": "foobar"}}',
    "data_json_str_3": '{"foo": {"bar": "foobar"}}',
    "data_json_obj_1": {"foo": {"bar": "foobar"}},
    "data_json_obj_2": {"foo": {"bar": "foobar"}},
    "data_json_obj_3": {"foo": {"bar": "foobar"}},
    "data_json_obj_4": {"foo": {"bar": "foobar"}},
    "data_yaml_str_1": "foo:\n  bar: foobar\n",
    "data_yaml_str_2": "foo:\n  bar: foobar\n",
    "data_query_1": ["foobar"],
    "data_none_str": "%*****__%NONE%__*****%",
    "data_str": "foobar",
}

VERSION_FUNCTIONS = {
    "compare_equal": 0,
    "compare_more_than": -1,
    "compare_less_than": 1,
    "equal": True,
    "more_than": False,
    "less_than": False,
    "match": True,
    "bump_major": "1.0.0",
    "bump_minor": "0.11.0",
    "bump_patch": "0.10.1",
    "strip_patch": "0.10",
}

TASK_FUNCTIONS = {
    "last_task4_result": "False",
    "task9__1__parent": "task8__1",
    "task9__2__parent": "task8__2",
    "that_task_by_name": "task1",
    "this_task_by_name": "task1",
    "this_task_no_arg": "task1",
}

REMEDIATED_THEN_FAILED = [
    {
        "task_id": "task1",
        "type": "error",
        "message": "Execution failed. See result for details.",
        "result": ACTION_FAILED,
    },
    {"task_id": "fail", "type": "error", "message": "Execution failed. See result for details."},
]

TASK_SCHEMA = r"properties.tasks.patternProperties.^\w+$"

INSPECTION_ERRORS = [
    {
        "type": "content",
        "message": 'The action "std.noop" is not registered in the database.',
        "schema_path": TASK_SCHEMA + ".properties.action",
        "spec_path": "tasks.task3.action",
    },
    {
        "type": "context",
        "language": "yaql",
        "expression": "<% ctx().foobar %>",
        "message": 'Variable "foobar" is referenced before assignment.',
        "schema_path": TASK_SCHEMA + ".properties.input",
        "spec_path": "tasks.task1.input",
    },
    {
        "type": "expression",
        "language": "yaql",
        "expression": "<% <% succeeded() %>",
        "message": "Parse error: unexpected '<' at position 0 of expression '<% succeeded()'",
        "schema_path": TASK_SCHEMA + ".properties.next.items.properties.when",
        "spec_path": "tasks.task2.next[0].when",
    },
    {
        "type": "syntax",
        "message": (
            "[{'cmd': 'echo <% ctx().macro %>'}] is not valid under any of the given schemas"
        ),
        "schema_path": TASK_SCHEMA + ".properties.input.oneOf",
        "spec_path": "tasks.task2.input",
    },
]

CONTENT_ERRORS = [
    {
        "type": "content",
        "message": 'The action reference "echo" is not formatted correctly.',
        "schema_path": TASK_SCHEMA + ".properties.action",
        "spec_path": "tasks.task1.action",
    },
    {
        "type": "content",
        "message": 'The action "core.echoz" is not registered in the database.',
        "schema_path": TASK_SCHEMA + ".properties.action",
        "spec_path": "tasks.task2.action",
    },
    {
        "type": "content",
        "message": 'Action "core.echo" is missing required input "message".',
        "schema_path": TASK_SCHEMA + ".properties.input",
        "spec_path": "tasks.task3.input",
    },
    {
        "type": "content",
        "message": 'Action "core.echo" has unexpected input "messages".',
        "schema_path": TASK_SCHEMA + r".properties.input.patternProperties.^\w+$",
        "spec_path": "tasks.task3.input.messages",
    },
]


def task_nonexistent(language: str, expression: str) -> dict[str, Any]:
    return {
        "output": None,
        "errors": [
            {
                "type": "error",
                "message": (
                    f"{language}EvaluationException: Unable to evaluate expression "
                    f"'{expression}'. ExpressionEvaluationException: "
                    'Unable to find task execution for "task0".'
                ),
                "task_transition_id": "continue__t0",
                "task_id": "task1",
                "route": 0,
            }
        ],
    }


def functions_cases() -> list[Case]:
    cases = []
    for language in ("yaql", "jinja"):
        data = dict(DATA_FUNCTIONS)
        if language == "jinja":
            data["data_pipe_str_1"] = '{"foo": {"bar": "foobar"}}'
            data["data_list_str"] = "- a: 1\n  b: 2\n- x: 3\n  y: 4\n"
        outputs: dict[str, dict[str, Any]] = {
            "data": data,
            "path": {"basename": "file.txt", "dirname": "/path/to/some"},
            "regex": {
                "match": True,
                "replace": "wxyz",
                "search": True,
                "substring": "668 Infinite Dr",
            },
            "time": {"time": "3h25m45s"},
            "version": VERSION_FUNCTIONS,
            "task": TASK_FUNCTIONS,
        }
        for kind, output in outputs.items():
            cases.append(
                finished(
                    f"orquesta-test-{language}-{kind}-functions",
                    status=Status.SUCCEEDED,
                    result={"output": output},
                    expected=f"succeeded, {len(output)} outputs",
                )
            )
    cases.append(
        finished(
            "orquesta-test-yaql-task-nonexistent",
            status=Status.FAILED,
            result=task_nonexistent("Yaql", '<% task("task0") %>'),
            expected="failed, task0 not found",
        )
    )
    cases.append(
        finished(
            "orquesta-test-jinja-task-nonexistent",
            status=Status.FAILED,
            result=task_nonexistent("Jinja", '{{ task("task0") }}'),
            expected="failed, task0 not found",
        )
    )
    return cases


def basic_cases() -> list[Case]:
    def callback(execution: Execution) -> dict[str, Any]:
        return {"output": {"callback": f"http://127.0.0.1:9101/v1/executions/{execution.id}"}}

    def subworkflow_tasks(lab: Lab, execution: Execution) -> None:
        [sub] = lab.tasks(execution.id, "subworkflow")
        expect(sub.status is Status.SUCCEEDED, f"subworkflow {sub.status.value}")
        for task in ("task1", "task2", "task3"):
            expect(task_statuses(lab, sub, task) == ["succeeded"], f"sub {task} not run once")

    message = {"message": "$%#&@#$!!!"}
    unicode_text = "床前明月光 疑是地上霜 舉頭望明月 低頭思故鄉"
    big = "".join("abcdefghijklmnopqrstuvwxyz"[(i * 7) % 26] for i in range(100_000))
    return [
        finished(
            "orquesta-sequential",
            {"name": "Thanos"},
            status=Status.SUCCEEDED,
            result={"output": {"greeting": GREETING.format("Thanos")}},
        ),
        finished(
            "orquesta-sequential",
            {"name": "薩諾斯"},
            scenario="unicode",
            status=Status.SUCCEEDED,
            result={"output": {"greeting": GREETING.format("薩諾斯")}},
        ),
        finished(
            "orquesta-join",
            status=Status.SUCCEEDED,
            result={
                "output": {
                    "messages": [
                        "Fee fi fo fum",
                        "I smell the blood of an English man",
                        "Be alive, or be he dead",
                        "I'll grind his bones to make my bread",
                    ]
                }
            },
            expected="succeeded, 4 messages joined",
        ),
        finished(
            "orquesta-rollback-retry",
            status=Status.SUCCEEDED,
            result={"output": None},
        ),
        finished(
            "orquesta-test-action-less-tasks",
            {"name": "Thanos"},
            status=Status.SUCCEEDED,
            result={"output": {"greeting": GREETING.format("Thanos").upper()}},
        ),
        finished(
            "orquesta-st2-ctx",
            status=Status.SUCCEEDED,
            result=callback,
            expected="succeeded, callback <api_url>/executions/<id>",
        ),
        finished(
            "orquesta-subworkflow",
            status=Status.SUCCEEDED,
            tasks={"start": Status.SUCCEEDED, "finish": Status.SUCCEEDED},
            check=subworkflow_tasks,
            expected="succeeded, every task once",
        ),
        finished(
            "orquesta-output-on-error",
            status=Status.FAILED,
            result={
                "output": {"progress": 25},
                "errors": [
                    {
                        "type": "error",
                        "task_id": "task2",
                        "message": "Execution failed. See result for details.",
                        "result": ACTION_FAILED,
                    }
                ],
            },
            expected="failed, progress 25 and task2's error",
        ),
        finished(
            "orquesta-test-field-escaping",
            status=Status.SUCCEEDED,
            result={
                "output": {
                    "wf.hostname.with.periods": {
                        "hostname.domain.tld": "vars.value.with.periods",
                        "hostname2.domain.tld": {"stdout": "vars.nested.value.with.periods"},
                    },
                    "wf.output.with.periods": "vars.nested.value.with.periods",
                }
            },
            expected="succeeded, dotted keys kept",
        ),
        finished(
            "orquesta-data-flow",
            {"a1": "fee fi fo fum"},
            status=Status.SUCCEEDED,
            result={"output": {"a5": "fee fi fo fum", "b5": "fee fi fo fum"}},
        ),
        finished(
            "orquesta-data-flow",
            {"a1": unicode_text},
            scenario="unicode",
            status=Status.SUCCEEDED,
            result={"output": {"a5": unicode_text, "b5": unicode_text}},
            expected="succeeded, the text back twice",
        ),
        finished(
            "orquesta-data-flow",
            {"a1": big},
            scenario="100,000 characters",
            status=Status.SUCCEEDED,
            result={"output": {"a5": big, "b5": big}},
            expected="succeeded, the text back twice",
        ),
        finished(
            "orquesta-delay",
            {"name": "Thanos", "delay": 1},
            status=Status.SUCCEEDED,
            result={"output": {"greeting": GREETING.format("Thanos")}},
        ),
        finished(
            "orquesta-fail-inspection",
            status=Status.FAILED,
            result={"errors": INSPECTION_ERRORS, "output": None},
            expected="failed, 4 inspection errors",
        ),
        finished(
            "orquesta-fail-inspection-task-contents",
            status=Status.FAILED,
            result={"errors": CONTENT_ERRORS, "output": None},
            expected="failed, 4 content errors",
        ),
        finished(
            "orquesta-fail-input-rendering",
            status=Status.FAILED,
            result={"errors": [{"type": "error", "message": YAQL_NO_VALUE}], "output": None},
            expected="failed, the input's error only",
        ),
        finished(
            "orquesta-fail-vars-rendering",
            status=Status.FAILED,
            result={"errors": [{"type": "error", "message": YAQL_NO_VALUE}], "output": None},
            expected="failed, the vars' error only",
        ),
        finished(
            "orquesta-fail-start-task",
            status=Status.FAILED,
            result={
                "errors": [
                    {
                        "type": "error",
                        "message": (
                            "YaqlEvaluationException: Unable to evaluate expression "
                            "'<% ctx().name.value %>'. NoFunctionRegisteredException: "
                            'Unknown function "#property#value"'
                        ),
                        "task_id": "task1",
                        "route": 0,
                    },
                    {
                        "type": "error",
                        "message": (
                            "YaqlEvaluationException: Unable to resolve key 'greeting' "
                            "in expression '<% ctx().greeting %>' from context."
                        ),
                    },
                ],
                "output": None,
            },
            expected="failed, task1's and the output's errors",
        ),
        finished(
            "orquesta-fail-task-transition",
            status=Status.FAILED,
            result={
                "errors": [
                    {
                        "type": "error",
                        "message": (
                            "YaqlEvaluationException: Unable to resolve key 'value' "
                            "in expression '<% succeeded() and result().value %>' from context."
                        ),
                        "task_transition_id": "task2__t0",
                        "task_id": "task1",
                        "route": 0,
                    }
                ],
                "output": {"greeting": None},
            },
            expected="failed, the when's error",
        ),
        finished(
            "orquesta-fail-task-publish",
            status=Status.FAILED,
            result={
                "errors": [
                    {
                        "type": "error",
                        "message": (
                            "YaqlEvaluationException: Unable to resolve key 'value' "
                            "in expression '<% result().value %>' from context."
                        ),
                        "task_transition_id": "task2__t0",
                        "task_id": "task1",
                        "route": 0,
                    }
                ],
                "output": {"greeting": None},
            },
            expected="failed, the publish's error",
        ),
        finished(
            "orquesta-fail-output-rendering",
            status=Status.FAILED,
            result={"errors": [{"type": "error", "message": YAQL_NO_VALUE}], "output": None},
            expected="failed, the output's error",
        ),
        finished(
            "orquesta-remediate-then-fail",
            status=Status.FAILED,
            result={"errors": REMEDIATED_THEN_FAILED, "output": None},
            tasks={"task1": Status.FAILED, "log": Status.SUCCEEDED},
            expected="failed, task1's and fail's errors; log ran",
        ),
        finished(
            "orquesta-fail-manually",
            status=Status.FAILED,
            result={"errors": REMEDIATED_THEN_FAILED, "output": None},
            tasks={"task1": Status.FAILED, "log": Status.SUCCEEDED},
            expected="as orquesta-remediate-then-fail",
            derived=True,
        ),
        finished(
            "orquesta-error-handling-fail-manually",
            {"cmd": "exit 1"},
            status=Status.FAILED,
            result={"errors": REMEDIATED_THEN_FAILED, "output": message},
            tasks={"task1": Status.FAILED, "task3": Status.SUCCEEDED},
            expected="failed, 2 errors, output message",
        ),
        finished(
            "orquesta-error-handling-continue",
            {"cmd": "exit 1"},
            status=Status.FAILED,
            result={"errors": REMEDIATED_THEN_FAILED[:1], "output": message},
            tasks={"task1": Status.FAILED},
            expected="failed, task1's error, output message",
        ),
        finished(
            "orquesta-error-handling-noop",
            {"cmd": "exit 1"},
            status=Status.SUCCEEDED,
            result={"output": message},
            tasks={"task1": Status.FAILED},
            expected="succeeded, output message",
        ),
        finished(
            "orquesta-data-flow-large-data",
            {"file_path": "/nonexistent/fixture.json"},
            status=Status.FAILED,
            result={
                "errors": [
                    {
                        "type": "content",
                        "message": (
                            'The action "examples.load_and_print_fixture" is not registered '
                            "in the database."
                        ),
                        "schema_path": TASK_SCHEMA + ".properties.action",
                        "spec_path": "tasks.task2.action",
                    }
                ],
                "output": None,
            },
            expected="failed: task2's action is not in the pack",
            derived=True,
        ),
        finished(
            "orquesta-basic",
            {"cmd": "echo hello", "timeout": 60},
            status=Status.SUCCEEDED,
            result={"output": {"stdout": "hello"}},
            derived=True,
        ),
        finished(
            "orquesta-examples",
            status=Status.SUCCEEDED,
            result={"output": None},
            derived=True,
        ),
        finished(
            "orquesta-with-items",
            {"members": MEMBERS},
            status=Status.SUCCEEDED,
            result={"output": {"items": [f"{m}, resistance is futile!" for m in MEMBERS]}},
            expected="succeeded, 5 items echoed",
        ),
        finished(
            "orquesta-with-items-concurrency",
            {"members": MEMBERS},
            status=Status.SUCCEEDED,
            result={"output": {"items": [f"{m}, resistance is futile!" for m in MEMBERS]}},
            expected="succeeded, 5 items echoed",
            derived=True,
        ),
        finished(
            "orquesta-test-with-items-failure",
            status=Status.FAILED,
            check=lambda lab, ex: expect(
                len(lab.tasks(ex.id, "task1")) == 10, "not 10 task1 executions"
            ),
            expected="failed, 10 items run",
        ),
        finished(
            "orquesta-test-subworkflow-empty-with-items",
            status=Status.SUCCEEDED,
        ),
        finished(
            "orquesta-task-retry",
            status=Status.SUCCEEDED,
            check=lambda lab, ex: expect(
                len(lab.tasks(ex.id, "check")) > 1, "check was not retried"
            ),
            expected="succeeded, check retried",
        ),
        finished(
            "orquesta-task-retry-exhausted",
            status=Status.FAILED,
            check=handled_retries,
            expected="failed, check failed 3 times, delete never ran",
        ),
        finished(
            "orquesta-mock-create-vm",
            {"vm_name": "vm1", "cpu_cores": 1, "memory_mb": 256, "ip": "10.0.0.1", "meta": {}},
            status=Status.SUCCEEDED,
            check=mock_vm_output,
            expected="succeeded, output vm_id and ip",
            derived=True,
        ),
    ]


MEMBERS = ["Lakshmi", "Lindsay", "Tomaz", "Matt", "Drew"]


def handled_retries(lab: Lab, execution: Execution) -> None:
    got = task_statuses(lab, execution, "check")
    expect(got == ["failed"] * 3, f"check: {got}")
    expect(not lab.tasks(execution.id, "delete"), "delete ran")


def mock_vm_output(lab: Lab, execution: Execution) -> None:
    output = (execution.result or {}).get("output") or {}
    expect(output.get("ip") == "10.0.0.1", f"output ip {output.get('ip')!r}")
    expect(bool(re.fullmatch(r"vm\d+", str(output.get("vm_id")))), "no vm_id in output")


def datastore_cases() -> list[Case]:
    def st2kv(name: str, key: str, value: str, scope: Scope, secret: bool = False) -> Case:
        setup = lambda lab: lab.set_key(key, value, scope=scope, secret=secret)  # noqa: E731
        key_name = f"system.{key}" if scope is Scope.SYSTEM else key
        parameters: dict[str, Any] = {"key_name": key_name}
        if secret:
            parameters["decrypt"] = True
        return finished(
            "orquesta-st2kv",
            parameters,
            scenario=name,
            setup=setup,
            status=Status.SUCCEEDED,
            check=lambda lab, ex: expect(
                (ex.result or {}).get("output", {}).get("value") == value,
                f"output {shown((ex.result or {}).get('output'))}",
            ),
            expected=f"succeeded, value {value!r}",
        )

    def missing(lab: Lab, execution: Execution) -> None:
        errors = (execution.result or {}).get("errors") or [{}]
        wanted = 'The key "matt" does not exist in the StackStorm datastore.'
        expect(wanted in str(errors[0].get("message")), f"first error {shown(errors[0], 400)}")

    def default(value: Any) -> Case:
        return finished(
            "orquesta-st2kv-default",
            {"key_name": "system.matt", "decrypt": True, "default": value},
            scenario=f"default {value!r}",
            setup=lambda lab: lab.delete_key("matt", scope=Scope.SYSTEM),
            status=Status.SUCCEEDED,
            check=lambda lab, ex: expect(
                (ex.result or {}).get("output", {}).get("value_from_yaql") == value
                and (ex.result or {}).get("output", {}).get("value_from_jinja") == value,
                f"output {shown((ex.result or {}).get('output'))}",
            ),
            expected=f"succeeded, both {value!r}",
        )

    return [
        st2kv("system scope", "lakshmi", "kanahansnasnasdlsajks", Scope.SYSTEM),
        st2kv("user scope", "winson", "SoDiamondEng", Scope.USER),
        st2kv("decrypt", "kami", "eggplant", Scope.SYSTEM, secret=True),
        finished(
            "orquesta-st2kv",
            {"key_name": "system.matt", "decrypt": True},
            scenario="missing key",
            setup=lambda lab: lab.delete_key("matt", scope=Scope.SYSTEM),
            status=Status.FAILED,
            check=missing,
            expected="failed, the key does not exist",
        ),
        default("stone"),
        default(""),
        default(None),
    ]
