"""StackStorm's example workflows on Packhorse: do they end as StackStorm ends them?

    .venv/bin/python bench/st2_examples.py /path/to/st2/contrib/examples [--only NAME]... [--keep]

Creates a scratch instance, copies the given ``contrib/examples`` pack into it (in place of our
bundled ``examples`` pack), registers it and runs, on an in-process engine (the worker and the
workflow shell, as ``packhorse up`` runs them), every Orquesta workflow of the pack that needs
no network and no Windows, with the inquiries, pauses, cancellations and reruns StackStorm's
integration tests (``st2tests/integration/orquesta/test_wiring*.py``) put them through. Each
case compares what Packhorse gives with what those tests expect: the final status, the result
(``output`` and ``errors``) and, where the tests look at them, the states passed through and the
task executions. The expectations are written below as data; a few workflows the tests never
run have expectations read from their definitions (marked ``derived``).

Prints a table ``workflow | expected | got | ok``, the workflows skipped and why, and a last
line ``N of M match``. Exits 1 when any case does not match. A tool, not part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packhorse import bootstrap
from packhorse.engine.instance import init_instance
from packhorse.engine.runtime import Runtime, build_runtime
from packhorse.model.datastore import Scope
from packhorse.model.execution import COMPLETED, Execution, Status
from packhorse.settings import load_settings

USER = "admin"


class Mismatch(Exception):
    """The run left the path StackStorm takes; the message says where."""


# -- the engine, in this process ----------------------------------------------------------------


class Lab:
    """One scratch instance with its engine running, and what the cases do to it."""

    wait_seconds = 60.0
    """How long a case waits for one state (StackStorm's tests wait a minute too)."""

    def __init__(self, runtime: Runtime, scratch: Path) -> None:
        self.runtime = runtime
        self.scratch = scratch

    # Starting and reading.

    def start(self, workflow: str, **parameters: Any) -> str:
        execution = self.runtime.executions.request(f"examples.{workflow}", parameters, user=USER)
        return execution.id

    def get(self, execution_id: str) -> Execution:
        return self.runtime.executions.get(execution_id)

    def tasks(self, execution_id: str, task: str) -> list[Execution]:
        """The task executions of ``task`` under a workflow, oldest first."""
        return [
            child
            for child in self.runtime.workflows.store.children(execution_id)
            if child.context.get("orquesta", {}).get("task_name") == task
        ]

    def children(self, execution_id: str) -> list[Execution]:
        return self.runtime.workflows.store.children(execution_id)

    # Waiting, as StackStorm's tests wait: a completed execution in another state fails.

    async def state(self, execution_id: str, *statuses: Status) -> Execution:
        names = " or ".join(s.value for s in statuses)
        seen: list[Status] = []

        def reached() -> bool:
            status = self.get(execution_id).status
            seen.append(status)
            return status in statuses

        deadline = time.monotonic() + self.wait_seconds
        while not reached():
            if seen[-1] in COMPLETED:
                raise Mismatch(f"expected {names}, it ended {seen[-1].value}")
            if time.monotonic() > deadline:
                raise Mismatch(f"expected {names}, still {seen[-1].value}")
            await asyncio.sleep(0.05)
        return self.get(execution_id)

    async def still(self, execution_id: str, status: Status, *, seconds: float) -> None:
        """Check that the execution stays ``status`` for ``seconds`` (while its tasks run)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            now = self.get(execution_id).status
            if now is not status:
                raise Mismatch(f"expected to stay {status.value}, it became {now.value}")
            await asyncio.sleep(0.05)

    async def end(self, execution_id: str) -> Execution:
        return await self.state(execution_id, *COMPLETED)

    async def task(
        self, workflow_id: str, task: str, status: Status | None = None, count: int = 1
    ) -> list[Execution]:
        """Wait until ``task`` has ``count`` executions, all in ``status`` when given."""
        wanted = f"{count} execution(s) of {task}" + (f" {status.value}" if status else "")

        def reached() -> bool:
            runs = self.tasks(workflow_id, task)
            return len(runs) == count and (status is None or all(r.status is status for r in runs))

        deadline = time.monotonic() + self.wait_seconds
        while not reached():
            if time.monotonic() > deadline or self.get(workflow_id).completed:
                await asyncio.sleep(0.2)  # a child's last move may trail its workflow's end
                if reached():
                    break
                runs = [r.status.value for r in self.tasks(workflow_id, task)]
                raise Mismatch(f"expected {wanted}, got {runs or 'none'}")
            await asyncio.sleep(0.05)
        return self.tasks(workflow_id, task)

    # Acting.

    def pause(self, execution_id: str) -> None:
        self.runtime.executions.pause(execution_id)

    def resume(self, execution_id: str) -> None:
        self.runtime.executions.resume(execution_id)

    def cancel(self, execution_id: str) -> None:
        self.runtime.executions.cancel(execution_id)

    def respond(self, inquiry_id: str, response: Mapping[str, Any]) -> None:
        self.runtime.inquiries.respond(inquiry_id, dict(response), user=USER)

    def rerun(
        self, execution_id: str, tasks: Sequence[str] = (), no_reset: Sequence[str] = ()
    ) -> str:
        execution = self.runtime.executions.re_run(
            execution_id, user=USER, overrides={}, tasks=tasks, no_reset=no_reset
        )
        return execution.id

    def set_key(self, name: str, value: str, *, scope: Scope, secret: bool = False) -> None:
        user = USER if scope is Scope.USER else ""
        self.runtime.datastore.set_value(name, value, scope=scope, user=user, secret=secret)

    def delete_key(self, name: str, *, scope: Scope) -> None:
        user = USER if scope is Scope.USER else ""
        with contextlib.suppress(Exception):
            self.runtime.datastore.delete_value(name, scope=scope, user=user)

    @contextlib.contextmanager
    def files(self, count: int, content: str | None = None) -> Iterator[list[Path]]:
        """Temporary files the test workflows wait on (they loop while the file exists)."""
        folder = Path(tempfile.mkdtemp(dir=self.scratch))
        paths = [folder / f"file{index}" for index in range(count)]
        for path in paths:
            path.write_text(content or "")
        try:
            yield paths
        finally:
            shutil.rmtree(folder, ignore_errors=True)


# -- the cases ----------------------------------------------------------------------------------

Run = Callable[[Lab], Awaitable[str]]
"""A case's script: raises Mismatch where Packhorse leaves StackStorm's path, else returns
what it saw (the ``got`` column)."""


@dataclass(frozen=True)
class Case:
    workflow: str
    scenario: str
    expected: str
    """Short, for the table."""
    run: Run
    derived: bool = False
    """The expectation is read from the workflow's definition: no StackStorm test runs it."""

    @property
    def label(self) -> str:
        return f"{self.workflow} ({self.scenario})" if self.scenario else self.workflow


def shown(value: Any, limit: int = 70) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def finished(
    workflow: str,
    parameters: Mapping[str, Any] | None = None,
    *,
    status: Status,
    result: Any = None,
    check: Callable[[Lab, Execution], None] | None = None,
    tasks: Mapping[str, Status] | None = None,
    scenario: str = "",
    derived: bool = False,
    setup: Callable[[Lab], None] | None = None,
    expected: str = "",
) -> Case:
    """A workflow run to its end: status and result as StackStorm's test expects them.

    ``result`` is the whole result (compared exactly, as the tests' ``assertDictEqual``), or a
    callable of the execution giving it; ``check`` looks at what the tests look at instead;
    ``tasks`` are tasks run once each, waited for in that status (a task may end after its
    workflow: one staged with ``fail`` runs after the workflow failed).
    """

    async def run(lab: Lab) -> str:
        if setup is not None:
            setup(lab)
        execution = await lab.end(lab.start(workflow, **dict(parameters or {})))
        if execution.status is not status:
            raise Mismatch(f"{execution.status.value}: {shown(execution.result, 300)}")
        if result is not None:
            wanted = result(execution) if callable(result) else result
            if execution.result != wanted:
                raise Mismatch(f"result {shown(execution.result, 600)}")
        for task, task_status in (tasks or {}).items():
            await lab.task(execution.id, task, task_status)
        if check is not None:
            check(lab, execution)
        return f"{execution.status.value}, {shown(execution.result, 50)}"

    summary = expected or f"{status.value}" + (f", {shown(result, 50)}" if result else "")
    return Case(workflow, scenario, summary, run, derived)


def _task_statuses(lab: Lab, execution: Execution, task: str) -> list[str]:
    return [child.status.value for child in lab.tasks(execution.id, task)]


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise Mismatch(message)


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
        _expect(sub.status is Status.SUCCEEDED, f"subworkflow {sub.status.value}")
        for task in ("task1", "task2", "task3"):
            _expect(_task_statuses(lab, sub, task) == ["succeeded"], f"sub {task} not run once")

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
            check=lambda lab, ex: _expect(
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
            check=lambda lab, ex: _expect(
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
    got = _task_statuses(lab, execution, "check")
    _expect(got == ["failed"] * 3, f"check: {got}")
    _expect(not lab.tasks(execution.id, "delete"), "delete ran")


def mock_vm_output(lab: Lab, execution: Execution) -> None:
    output = (execution.result or {}).get("output") or {}
    _expect(output.get("ip") == "10.0.0.1", f"output ip {output.get('ip')!r}")
    _expect(bool(re.fullmatch(r"vm\d+", str(output.get("vm_id")))), "no vm_id in output")


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
            check=lambda lab, ex: _expect(
                (ex.result or {}).get("output", {}).get("value") == value,
                f"output {shown((ex.result or {}).get('output'))}",
            ),
            expected=f"succeeded, value {value!r}",
        )

    def missing(lab: Lab, execution: Execution) -> None:
        errors = (execution.result or {}).get("errors") or [{}]
        wanted = 'The key "matt" does not exist in the StackStorm datastore.'
        _expect(wanted in str(errors[0].get("message")), f"first error {shown(errors[0], 400)}")

    def default(value: Any) -> Case:
        return finished(
            "orquesta-st2kv-default",
            {"key_name": "system.matt", "decrypt": True, "default": value},
            scenario=f"default {value!r}",
            setup=lambda lab: lab.delete_key("matt", scope=Scope.SYSTEM),
            status=Status.SUCCEEDED,
            check=lambda lab, ex: _expect(
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


# -- cases that interact: inquiries, pause and resume, cancel, rerun ---------------------------


def scenario(
    workflow: str, name: str, expected: str, *, derived: bool = False
) -> Callable[[Run], Case]:
    def register(run: Run) -> Case:
        return Case(workflow, name, expected, run, derived)

    return register


S = Status


@scenario("orquesta-ask-basic", "answer", "paused, then succeeded")
async def ask_basic(lab: Lab) -> str:
    workflow = lab.start("orquesta-ask-basic")
    await lab.state(workflow, S.PAUSED)
    [ask] = await lab.task(workflow, "get_approval", S.PENDING)
    lab.respond(ask.id, {"approved": True})
    await lab.state(workflow, S.SUCCEEDED)
    return "paused, succeeded"


@scenario("orquesta-ask-consecutive", "answer twice", "paused twice, then succeeded")
async def ask_consecutive(lab: Lab) -> str:
    workflow = lab.start("orquesta-ask-consecutive")
    await lab.state(workflow, S.PAUSED)
    [first] = await lab.task(workflow, "get_approval", S.PENDING)
    lab.respond(first.id, {"approved": True})
    [second] = await lab.task(workflow, "get_confirmation", S.PENDING)
    await lab.state(workflow, S.PAUSED)
    lab.respond(second.id, {"approved": True})
    await lab.state(workflow, S.SUCCEEDED)
    return "paused, paused, succeeded"


@scenario("orquesta-ask-parallel", "answer both", "paused; each answer taken; succeeded")
async def ask_parallel(lab: Lab) -> str:
    workflow = lab.start("orquesta-ask-parallel")
    await lab.state(workflow, S.PAUSED)
    [jack] = await lab.task(workflow, "ask_jack", S.PENDING)
    lab.respond(jack.id, {"approved": True})
    await lab.task(workflow, "ask_jack", S.SUCCEEDED)
    await asyncio.sleep(1)
    [jill] = await lab.task(workflow, "ask_jill", S.PENDING)
    lab.respond(jill.id, {"approved": True})
    await lab.task(workflow, "ask_jill", S.SUCCEEDED)
    await lab.state(workflow, S.SUCCEEDED)
    return "paused, succeeded"


@scenario("orquesta-ask-nested", "answer inside the subworkflow", "paused, root succeeds")
async def ask_nested(lab: Lab) -> str:
    workflow = lab.start("orquesta-ask-nested")
    await lab.state(workflow, S.PAUSED)
    [sub] = await lab.task(workflow, "get_approval", S.PAUSED)
    [ask] = await lab.task(sub.id, "get_approval", S.PENDING)
    lab.respond(ask.id, {"approved": True})
    await lab.state(workflow, S.SUCCEEDED)
    return "paused, succeeded"


@scenario(
    "orquesta_ask_multiple_parameters",
    "answer with extra_output",
    "paused, then succeeded; echo_extra_message ran",
    derived=True,
)
async def ask_multiple(lab: Lab) -> str:
    workflow = lab.start("orquesta_ask_multiple_parameters")
    await lab.state(workflow, S.PAUSED)
    [ask] = await lab.task(workflow, "get_approval", S.PENDING)
    lab.respond(ask.id, {"approved": True, "department_id": 7, "extra_output": "hi"})
    await lab.state(workflow, S.SUCCEEDED)
    await lab.task(workflow, "echo_extra_message", S.SUCCEEDED)
    [finish] = await lab.task(workflow, "finish", S.SUCCEEDED)
    said = (finish.result or {}).get("stdout")
    _expect(said == "Approved by department 7. Automation completed.", f"finish said {said!r}")
    return "paused, succeeded"


@scenario("orquesta-test-cancel", "cancel the workflow", "canceling, task1 succeeds, canceled")
async def cancel_workflow(lab: Lab) -> str:
    with lab.files(1) as [path]:
        workflow = lab.start("orquesta-test-cancel", tempfile=str(path), message="foobar")
        await lab.task(workflow, "task1", S.RUNNING)
        lab.cancel(workflow)
        await lab.state(workflow, S.CANCELING)
        await lab.still(workflow, S.CANCELING, seconds=1)
        path.unlink()
        await lab.state(workflow, S.CANCELED)
        await lab.task(workflow, "task1", S.SUCCEEDED)
        _expect(not lab.tasks(workflow, "task2"), "task2 ran after the cancel")
    return "canceling, canceled"


@scenario("orquesta-test-cancel", "cancel the task", "task1 and the workflow canceled")
async def cancel_task(lab: Lab) -> str:
    with lab.files(1) as [path]:
        workflow = lab.start("orquesta-test-cancel", tempfile=str(path), message="foobar")
        [task1] = await lab.task(workflow, "task1", S.RUNNING)
        lab.cancel(task1.id)
        await lab.task(workflow, "task1", S.CANCELED)
        await lab.state(workflow, S.CANCELED)
    return "canceled"


@scenario(
    "orquesta-test-cancel-subworkflow", "cancel the parent", "both canceling, then both canceled"
)
async def cancel_down(lab: Lab) -> str:
    with lab.files(1) as [path]:
        workflow = lab.start(
            "orquesta-test-cancel-subworkflow", tempfile=str(path), message="foobar"
        )
        [sub] = await lab.task(workflow, "task1", S.RUNNING)
        lab.cancel(workflow)
        await lab.state(workflow, S.CANCELING)
        await lab.state(sub.id, S.CANCELING)
        await lab.still(sub.id, S.CANCELING, seconds=1)
        path.unlink()
        await lab.state(sub.id, S.CANCELED)
        await lab.state(workflow, S.CANCELED)
    return "canceling, canceled"


@scenario(
    "orquesta-test-cancel-subworkflow",
    "cancel the subworkflow",
    "the parent follows: canceling, canceled",
)
async def cancel_up(lab: Lab) -> str:
    with lab.files(1) as [path]:
        workflow = lab.start(
            "orquesta-test-cancel-subworkflow", tempfile=str(path), message="foobar"
        )
        [sub] = await lab.task(workflow, "task1", S.RUNNING)
        lab.cancel(sub.id)
        await lab.state(sub.id, S.CANCELING)
        await lab.state(workflow, S.CANCELING)
        await lab.still(sub.id, S.CANCELING, seconds=1)
        path.unlink()
        await lab.state(sub.id, S.CANCELED)
        await lab.state(workflow, S.CANCELED)
    return "canceling, canceled"


@scenario(
    "orquesta-test-cancel-subworkflows",
    "cancel one of two subworkflows",
    "parent and the other subworkflow follow",
)
async def cancel_up_and_across(lab: Lab) -> str:
    with lab.files(1) as [path]:
        workflow = lab.start("orquesta-test-cancel-subworkflows", file1=str(path), file2=str(path))
        [sub1] = await lab.task(workflow, "task1", S.RUNNING)
        [sub2] = await lab.task(workflow, "task2", S.RUNNING)
        lab.cancel(sub1.id)
        await lab.state(sub1.id, S.CANCELING)
        await lab.state(workflow, S.CANCELING)
        await lab.state(sub2.id, S.CANCELING)
        await lab.still(sub1.id, S.CANCELING, seconds=1)
        path.unlink()
        await lab.state(sub1.id, S.CANCELED)
        await lab.state(sub2.id, S.CANCELED)
        await lab.state(workflow, S.CANCELED)
    return "canceling, canceled"


@scenario("orquesta-delay", "cancel the workflow", "task1 delayed; both canceled")
async def delay_cancel_workflow(lab: Lab) -> str:
    workflow = lab.start("orquesta-delay", name="Thanos", delay=300)
    await lab.task(workflow, "task1", S.DELAYED)
    lab.cancel(workflow)
    await lab.state(workflow, S.CANCELED)
    await lab.task(workflow, "task1", S.CANCELED)
    return "canceled"


@scenario("orquesta-delay", "cancel the task", "task1 delayed; both canceled")
async def delay_cancel_task(lab: Lab) -> str:
    workflow = lab.start("orquesta-delay", name="Thanos", delay=300)
    [task1] = await lab.task(workflow, "task1", S.DELAYED)
    lab.cancel(task1.id)
    await lab.task(workflow, "task1", S.CANCELED)
    await lab.state(workflow, S.CANCELED)
    return "canceled"


@scenario("orquesta-test-pause", "pause, resume", "pausing, paused, succeeded")
async def pause_resume(lab: Lab) -> str:
    with lab.files(1) as [path]:
        workflow = lab.start("orquesta-test-pause", tempfile=str(path))
        await lab.task(workflow, "task1", S.RUNNING)
        lab.pause(workflow)
        await lab.state(workflow, S.PAUSING, S.PAUSED)
        path.unlink()
        await lab.state(workflow, S.PAUSED)
        lab.resume(workflow)
        await lab.state(workflow, S.SUCCEEDED)
    return "paused, succeeded"


@scenario("orquesta-test-pause-resume", "pause, resume", "pausing, paused, succeeded", derived=True)
async def pause_resume_other(lab: Lab) -> str:
    with lab.files(1) as [path]:
        workflow = lab.start("orquesta-test-pause-resume", tempfile=str(path), message="hi")
        await lab.task(workflow, "task1", S.RUNNING)
        lab.pause(workflow)
        await lab.state(workflow, S.PAUSING, S.PAUSED)
        path.unlink()
        await lab.state(workflow, S.PAUSED)
        lab.resume(workflow)
        await lab.state(workflow, S.SUCCEEDED)
        [task2] = await lab.task(workflow, "task2", S.SUCCEEDED)
        _expect((task2.result or {}).get("stdout") == "hi", "task2 did not echo the message")
    return "paused, succeeded"


@scenario(
    "orquesta-test-pause-subworkflow",
    "pause the parent",
    "both pause; resuming the parent finishes both",
)
async def pause_down(lab: Lab) -> str:
    with lab.files(1) as [path]:
        workflow = lab.start("orquesta-test-pause-subworkflow", tempfile=str(path))
        await lab.state(workflow, S.RUNNING)
        [sub] = await lab.task(workflow, "task1", S.RUNNING)
        lab.pause(workflow)
        await lab.state(workflow, S.PAUSING, S.PAUSED)
        await lab.state(sub.id, S.PAUSING, S.PAUSED)
        path.unlink()
        await lab.state(sub.id, S.PAUSED)
        await lab.state(workflow, S.PAUSED)
        lab.resume(workflow)
        await lab.state(sub.id, S.SUCCEEDED)
        await lab.state(workflow, S.SUCCEEDED)
    return "paused, succeeded"


@scenario(
    "orquesta-test-pause-subworkflows",
    "pause the parent",
    "all pause; resuming the parent finishes all",
)
async def pause_down_two(lab: Lab) -> str:
    with lab.files(2) as [path1, path2]:
        workflow = lab.start("orquesta-test-pause-subworkflows", file1=str(path1), file2=str(path2))
        await lab.state(workflow, S.RUNNING)
        [sub1] = await lab.task(workflow, "task1", S.RUNNING)
        [sub2] = await lab.task(workflow, "task2", S.RUNNING)
        lab.pause(workflow)
        await lab.state(workflow, S.PAUSING, S.PAUSED)
        await lab.state(sub1.id, S.PAUSING, S.PAUSED)
        await lab.state(sub2.id, S.PAUSING, S.PAUSED)
        path1.unlink()
        await lab.state(sub1.id, S.PAUSED)
        await lab.state(sub2.id, S.PAUSING, S.PAUSED)
        await lab.state(workflow, S.PAUSING, S.PAUSED)
        path2.unlink()
        await lab.state(sub1.id, S.PAUSED)
        await lab.state(sub2.id, S.PAUSED)
        await lab.state(workflow, S.PAUSED)
        lab.resume(workflow)
        await lab.state(sub1.id, S.SUCCEEDED)
        await lab.state(sub2.id, S.SUCCEEDED)
        await lab.state(workflow, S.SUCCEEDED)
    return "paused, succeeded"


@scenario(
    "orquesta-test-pause-subworkflow",
    "pause the subworkflow",
    "parent runs on, pauses when idle; resuming the subworkflow finishes both",
)
async def pause_up(lab: Lab) -> str:
    with lab.files(1) as [path]:
        workflow = lab.start("orquesta-test-pause-subworkflow", tempfile=str(path))
        await lab.state(workflow, S.RUNNING)
        [sub] = await lab.task(workflow, "task1", S.RUNNING)
        lab.pause(sub.id)
        await lab.state(workflow, S.RUNNING)
        await lab.state(sub.id, S.PAUSING, S.PAUSED)
        path.unlink()
        await lab.state(sub.id, S.PAUSED)
        await lab.state(workflow, S.PAUSED)
        lab.resume(sub.id)
        await lab.state(sub.id, S.SUCCEEDED)
        await lab.state(workflow, S.SUCCEEDED)
    return "paused, succeeded"


async def _one_of_two_paused(lab: Lab) -> tuple[str, Execution, Execution, Path, Path]:
    """Start the two-subworkflow test, pause the first subworkflow, let it reach paused."""
    path1, path2 = (lab.scratch / f"pause-{time.monotonic_ns()}-{i}" for i in (1, 2))
    path1.touch()
    path2.touch()
    workflow = lab.start("orquesta-test-pause-subworkflows", file1=str(path1), file2=str(path2))
    await lab.state(workflow, S.RUNNING)
    [sub1] = await lab.task(workflow, "task1", S.RUNNING)
    [sub2] = await lab.task(workflow, "task2", S.RUNNING)
    lab.pause(sub1.id)
    await lab.state(workflow, S.RUNNING)
    await lab.state(sub1.id, S.PAUSING, S.PAUSED)
    await lab.state(sub2.id, S.RUNNING)
    path1.unlink()
    await lab.state(workflow, S.RUNNING)
    await lab.state(sub1.id, S.PAUSED)
    await lab.state(sub2.id, S.RUNNING)
    return workflow, sub1, sub2, path1, path2


@scenario(
    "orquesta-test-pause-subworkflows",
    "pause one subworkflow, resume it once the parent paused",
    "parent pauses when the other ends; all succeed",
)
async def pause_one_resume_when_paused(lab: Lab) -> str:
    workflow, sub1, sub2, _, path2 = await _one_of_two_paused(lab)
    path2.unlink()
    await lab.state(workflow, S.PAUSED)
    await lab.state(sub1.id, S.PAUSED)
    await lab.state(sub2.id, S.SUCCEEDED)
    lab.resume(sub1.id)
    await lab.state(sub1.id, S.SUCCEEDED)
    await lab.state(workflow, S.SUCCEEDED)
    return "paused, succeeded"


@scenario(
    "orquesta-test-pause-subworkflows",
    "pause one subworkflow, resume it while the parent runs",
    "parent keeps running; all succeed",
)
async def pause_one_resume_while_running(lab: Lab) -> str:
    workflow, sub1, sub2, _, path2 = await _one_of_two_paused(lab)
    lab.resume(sub1.id)
    await lab.state(workflow, S.RUNNING)
    await lab.state(sub1.id, S.SUCCEEDED)
    await lab.state(sub2.id, S.RUNNING)
    path2.unlink()
    await lab.state(sub2.id, S.SUCCEEDED)
    await lab.state(workflow, S.SUCCEEDED)
    return "running, succeeded"


async def _both_paused(lab: Lab) -> tuple[str, Execution, Execution]:
    with lab.files(2) as [path1, path2]:
        workflow = lab.start("orquesta-test-pause-subworkflows", file1=str(path1), file2=str(path2))
        await lab.state(workflow, S.RUNNING)
        [sub1] = await lab.task(workflow, "task1", S.RUNNING)
        [sub2] = await lab.task(workflow, "task2", S.RUNNING)
        lab.pause(sub1.id)
        await lab.state(workflow, S.RUNNING)
        await lab.state(sub1.id, S.PAUSING, S.PAUSED)
        await lab.state(sub2.id, S.RUNNING)
        lab.pause(sub2.id)
        await lab.state(workflow, S.RUNNING)
        await lab.state(sub1.id, S.PAUSING, S.PAUSED)
        await lab.state(sub2.id, S.PAUSING, S.PAUSED)
    await lab.state(sub1.id, S.PAUSED)
    await lab.state(sub2.id, S.PAUSED)
    await lab.state(workflow, S.PAUSED)
    return workflow, sub1, sub2


@scenario(
    "orquesta-test-pause-subworkflows",
    "pause both subworkflows, resume them",
    "parent pauses; resuming each finishes all",
)
async def pause_both_resume_each(lab: Lab) -> str:
    workflow, sub1, sub2 = await _both_paused(lab)
    lab.resume(sub1.id)
    await lab.state(sub1.id, S.SUCCEEDED)
    await lab.state(sub2.id, S.PAUSED)
    await lab.state(workflow, S.PAUSED)
    lab.resume(sub2.id)
    await lab.state(sub2.id, S.SUCCEEDED)
    await lab.state(workflow, S.SUCCEEDED)
    return "paused, succeeded"


@scenario(
    "orquesta-test-pause-subworkflows",
    "pause both subworkflows, resume the parent",
    "parent pauses; resuming it finishes all",
)
async def pause_both_resume_parent(lab: Lab) -> str:
    workflow, sub1, sub2 = await _both_paused(lab)
    lab.resume(workflow)
    await lab.state(sub1.id, S.SUCCEEDED)
    await lab.state(sub2.id, S.SUCCEEDED)
    await lab.state(workflow, S.SUCCEEDED)
    return "paused, succeeded"


@scenario(
    "orquesta-test-with-items",
    "concurrency 2 of 5",
    "2, then 4, then 5 items started; succeeded",
)
async def items_concurrency(lab: Lab) -> str:
    with lab.files(5) as paths:
        workflow = lab.start(
            "orquesta-test-with-items", tempfiles=[str(p) for p in paths], concurrency=2
        )
        await lab.state(workflow, S.RUNNING)
        await lab.task(workflow, "task1", count=2)
        paths[0].unlink()
        paths[1].unlink()
        await lab.task(workflow, "task1", count=4)
        paths[2].unlink()
        paths[3].unlink()
        await lab.task(workflow, "task1", count=5)
        paths[4].unlink()
        await lab.state(workflow, S.SUCCEEDED)
    return "2, 4, 5; succeeded"


async def _items_canceled(lab: Lab, items: int) -> str:
    with lab.files(items) as paths:
        workflow = lab.start(
            "orquesta-test-with-items", tempfiles=[str(p) for p in paths], concurrency=2
        )
        await lab.state(workflow, S.RUNNING)
        await lab.task(workflow, "task1", S.RUNNING, count=2)
        lab.cancel(workflow)
        await lab.state(workflow, S.CANCELING)
        await lab.still(workflow, S.CANCELING, seconds=1)
        for path in paths:
            path.unlink()
        await lab.task(workflow, "task1", S.SUCCEEDED, count=2)
        await lab.state(workflow, S.CANCELED)
    return "canceling; 2 items succeeded; canceled"


@scenario("orquesta-test-with-items", "cancel 2 of 2", "canceling; running items end; canceled")
async def items_cancel(lab: Lab) -> str:
    return await _items_canceled(lab, 2)


@scenario(
    "orquesta-test-with-items",
    "cancel 2 of 4 (concurrency 2)",
    "canceling; running items end, no more start; canceled",
)
async def items_concurrency_cancel(lab: Lab) -> str:
    return await _items_canceled(lab, 4)


@scenario(
    "orquesta-test-with-items", "pause, resume (2 items)", "pausing; items end; paused; succeeded"
)
async def items_pause(lab: Lab) -> str:
    with lab.files(2) as paths:
        workflow = lab.start("orquesta-test-with-items", tempfiles=[str(p) for p in paths])
        await lab.state(workflow, S.RUNNING)
        await lab.task(workflow, "task1", S.RUNNING, count=2)
        lab.pause(workflow)
        await lab.state(workflow, S.PAUSING)
        for path in paths:
            path.unlink()
        await lab.task(workflow, "task1", S.SUCCEEDED, count=2)
        await lab.state(workflow, S.PAUSED)
        lab.resume(workflow)
        await lab.state(workflow, S.SUCCEEDED)
    return "pausing, paused, succeeded"


@scenario(
    "orquesta-test-with-items",
    "pause, resume (4 items, concurrency 2)",
    "pausing; 2 items end; paused; the other 2 run on resume",
)
async def items_concurrency_pause(lab: Lab) -> str:
    with lab.files(4) as paths:
        workflow = lab.start(
            "orquesta-test-with-items", tempfiles=[str(p) for p in paths], concurrency=2
        )
        await lab.state(workflow, S.RUNNING)
        await lab.task(workflow, "task1", S.RUNNING, count=2)
        lab.pause(workflow)
        await lab.state(workflow, S.PAUSING)
        for path in paths[:2]:
            path.unlink()
        await lab.task(workflow, "task1", S.SUCCEEDED, count=2)
        await lab.state(workflow, S.PAUSED)
        lab.resume(workflow)
        for path in paths[2:]:
            path.unlink()
        await lab.task(workflow, "task1", S.SUCCEEDED, count=4)
        await lab.state(workflow, S.SUCCEEDED)
    return "pausing, paused, succeeded"


@scenario("orquesta-test-rerun", "re-run the workflow", "failed; the re-run succeeds")
async def rerun_workflow(lab: Lab) -> str:
    with lab.files(1, "1") as [path]:
        workflow = lab.start("orquesta-test-rerun", tempfile=str(path))
        await lab.state(workflow, S.FAILED)
        path.write_text("0")
        again = lab.rerun(workflow)
        await lab.state(again, S.SUCCEEDED)
        _expect(
            [c.action_ref for c in lab.children(again)][:1] == ["core.noop"],
            "the re-run did not start over from task1",
        )
    return "failed; re-run succeeded"


@scenario("orquesta-test-rerun", "re-run task2", "failed; the re-run from task2 succeeds")
async def rerun_task(lab: Lab) -> str:
    with lab.files(1, "1") as [path]:
        workflow = lab.start("orquesta-test-rerun", tempfile=str(path))
        await lab.state(workflow, S.FAILED)
        path.write_text("0")
        again = lab.rerun(workflow, tasks=["task2"])
        await lab.state(again, S.SUCCEEDED)
        ran = sorted(c.context.get("orquesta", {}).get("task_name") for c in lab.children(again))
        _expect(ran == ["task2", "task3"], f"the re-run ran {ran}")
    return "failed; re-run succeeded"


@scenario("orquesta-test-rerun", "re-run task2 of a success", "succeeded; the re-run succeeds")
async def rerun_succeeded(lab: Lab) -> str:
    with lab.files(1, "0") as [path]:
        workflow = lab.start("orquesta-test-rerun", tempfile=str(path))
        await lab.state(workflow, S.SUCCEEDED)
        again = lab.rerun(workflow, tasks=["task2"])
        await lab.state(again, S.SUCCEEDED)
    return "succeeded; re-run succeeded"


@scenario(
    "orquesta-test-rerun-with-items",
    "re-run task1, items reset",
    "failed; the re-run runs all 4 items and succeeds",
)
async def rerun_items_reset(lab: Lab) -> str:
    with lab.files(1, "1") as [path]:
        workflow = lab.start("orquesta-test-rerun-with-items", tempfile=str(path))
        await lab.state(workflow, S.FAILED)
        path.write_text("0")
        again = lab.rerun(workflow, tasks=["task1"])
        await lab.state(again, S.SUCCEEDED)
        children = lab.children(again)
        _expect(len(children) == 4, f"{len(children)} children, not 4")
    return "failed; re-run of 4 items succeeded"


@scenario(
    "orquesta-test-rerun-with-items",
    "re-run task1 --no-reset",
    "failed; the re-run runs the 2 failed items and succeeds",
)
async def rerun_items_no_reset(lab: Lab) -> str:
    with lab.files(1, "1") as [path]:
        workflow = lab.start("orquesta-test-rerun-with-items", tempfile=str(path))
        await lab.state(workflow, S.FAILED)
        path.write_text("0")
        again = lab.rerun(workflow, tasks=["task1"], no_reset=["task1"])
        await lab.state(again, S.SUCCEEDED)
        children = lab.children(again)
        _expect(len(children) == 2, f"{len(children)} children, not 2")
    return "failed; re-run of 2 items succeeded"


INTERACTIVE = [
    ask_basic,
    ask_consecutive,
    ask_parallel,
    ask_nested,
    ask_multiple,
    cancel_workflow,
    cancel_task,
    cancel_down,
    cancel_up,
    cancel_up_and_across,
    delay_cancel_workflow,
    delay_cancel_task,
    pause_resume,
    pause_resume_other,
    pause_down,
    pause_down_two,
    pause_up,
    pause_one_resume_when_paused,
    pause_one_resume_while_running,
    pause_both_resume_each,
    pause_both_resume_parent,
    items_concurrency,
    items_cancel,
    items_concurrency_cancel,
    items_pause,
    items_concurrency_pause,
    rerun_workflow,
    rerun_task,
    rerun_succeeded,
    rerun_items_reset,
    rerun_items_no_reset,
]


def all_cases() -> list[Case]:
    return [*basic_cases(), *functions_cases(), *datastore_cases(), *INTERACTIVE]


SKIPPED = {
    "orquesta-streaming-demo": "network: tasks 8 and 10 run remote-shell actions over SSH",
    "orquesta-data-flow-large-data": (
        "needs a fixture file StackStorm's test harness provides, and names an action "
        "(examples.load_and_print_fixture) the pack does not have"
    ),
    "render_config_context": "needs a pack we lack: fixtures (fixtures.render_config_context)",
}
"""Orquesta workflows of the pack that are not run, and why."""


# -- running ------------------------------------------------------------------------------------


@dataclass
class Row:
    case: Case
    got: str
    ok: bool
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def orquesta_workflows(pack: Path) -> list[str]:
    """Names of the pack's Orquesta actions."""
    names = []
    for meta in sorted((pack / "actions").glob("*.yaml")):
        text = meta.read_text(encoding="utf-8")
        if re.search(r"^runner_type:\s*[\"']?orquesta", text, re.MULTILINE):
            match = re.search(r"^name:\s*[\"']?([\w.-]+)", text, re.MULTILINE)
            if match:
                names.append(match.group(1))
    return names


def prepare(examples: Path, home: Path) -> None:
    init_instance(home)
    target = home / "packs" / "examples"
    shutil.rmtree(target, ignore_errors=True)  # our bundled examples pack, in this instance only
    shutil.copytree(examples, target)
    settings = load_settings(home)
    outcome = bootstrap.register_instance_packs(settings, refs=["examples"])
    if not outcome.ok:
        problems = [d.format() for d in outcome.diagnostics if d.is_error]
        raise SystemExit("registering the examples pack failed:\n" + "\n".join(problems))


async def run_cases(home: Path, cases: Iterable[Case]) -> list[Row]:
    runtime = build_runtime(load_settings(home), slots=6)
    lab = Lab(runtime, home / "scratch")
    lab.scratch.mkdir()
    stop = asyncio.Event()
    loops = [
        asyncio.create_task(runtime.worker.run(stop)),
        asyncio.create_task(runtime.workflows.run(stop, poll_seconds=0.05)),
    ]
    rows = []
    try:
        for case in cases:
            started = time.monotonic()
            try:
                got, ok = await case.run(lab), True
            except Mismatch as mismatch:
                got, ok = str(mismatch), False
            except Exception as error:  # noqa: BLE001 - a crash is a result to report
                got, ok = f"error: {type(error).__name__}: {error}", False
            rows.append(Row(case, got, ok, time.monotonic() - started))
            print(
                f"  {'ok  ' if ok else 'DIFF'} {case.label} ({rows[-1].seconds:.1f} s)", flush=True
            )
    finally:
        stop.set()
        await asyncio.gather(*loops, return_exceptions=True)
        await runtime.aclose()
    return rows


def print_report(rows: Sequence[Row], workflows: Sequence[str], verbose: bool) -> None:
    width = max(len(row.case.label) for row in rows)
    print()
    print(f"{'workflow':<{width}} | {'expected':<48} | {'got':<48} | ok")
    print(f"{'-' * width}-+-{'-' * 48}-+-{'-' * 48}-+---")
    for row in rows:
        got = row.got if verbose or len(row.got) <= 48 else row.got[:45] + "..."
        mark = "yes" if row.ok else "NO"
        expected = row.case.expected + (" *" if row.case.derived else "")
        print(f"{row.case.label:<{width}} | {expected:<48} | {got:<48} | {mark}")
    print("\n* derived: no StackStorm test runs this workflow; expected read from its definition")
    covered = {case.workflow for case in all_cases()}
    missing = [name for name in workflows if name not in covered and name not in SKIPPED]
    print("\nSkipped:")
    for name, why in SKIPPED.items():
        print(f"  {name}: {why}")
    for name in missing:
        print(f"  {name}: no case written for it")
    if not verbose:
        failing = [row for row in rows if not row.ok and len(row.got) > 48]
        if failing:
            print("\nDifferences in full:")
            for row in failing:
                print(f"  {row.case.label}: {row.got}")
    matched = sum(row.ok for row in rows)
    print(f"\n{matched} of {len(rows)} match")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("examples", type=Path, help="a StackStorm checkout's contrib/examples")
    parser.add_argument(
        "--only", action="append", default=[], help="cases whose label contains this"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch instance")
    parser.add_argument("--verbose", action="store_true", help="print differences in full")
    parser.add_argument(
        "--wait", type=float, default=Lab.wait_seconds, help="seconds to wait for each state"
    )
    options = parser.parse_args()
    Lab.wait_seconds = options.wait
    examples: Path = options.examples.resolve()
    if not (examples / "pack.yaml").is_file():
        parser.error(f"{examples} is not a pack folder (no pack.yaml)")
    cases = [
        case
        for case in all_cases()
        if not options.only or any(word in case.label for word in options.only)
    ]
    scratch = Path(tempfile.mkdtemp(prefix="st2-examples-"))
    home = scratch / "home"
    try:
        prepare(examples, home)
        print(f"instance {home}; {len(cases)} cases")
        rows = asyncio.run(run_cases(home, cases))
    finally:
        if options.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print_report(rows, orquesta_workflows(examples), options.verbose)
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
