"""python-script return semantics, exceptions and output, on cold and warm processes."""

from __future__ import annotations

from typing import Any

import pytest

from packhorse.runners.base import RunStatus
from tests.runners.conftest import PACK, Execute, make_request, run_once

INVALID_STATUS = (
    "Status returned from the action run() method must either be True or False, got: yes"
)


@pytest.mark.parametrize(
    ("mode", "status", "result"),
    [
        ("plain", RunStatus.SUCCEEDED, {"answer": 42}),
        ("none", RunStatus.SUCCEEDED, None),
        ("true_tuple", RunStatus.SUCCEEDED, {"ok": 1}),
        ("false_tuple", RunStatus.FAILED, {"why": "over the limit"}),
        ("pair_as_list", RunStatus.SUCCEEDED, ["a", "b"]),
        ("three_tuple", RunStatus.SUCCEEDED, [1, 2, 3]),
        ("opaque", RunStatus.SUCCEEDED, "<opaque>"),
        ("opaque_with_status", RunStatus.SUCCEEDED, "<opaque>"),
        ("datetime", RunStatus.SUCCEEDED, {"at": "2024-05-01T12:30:00"}),
        ("exit_0", RunStatus.SUCCEEDED, None),
    ],
)
def test_return_values(execute: Execute, mode: str, status: RunStatus, result: Any) -> None:
    outcome, _ = execute(make_request("returns", {"mode": mode}))
    assert outcome.status is status, outcome.result
    assert outcome.result["result"] == result
    assert outcome.result["stdout"] == "some output\n"
    assert outcome.result["exit_code"] == 0
    assert "error" not in outcome.result


def test_a_two_tuple_without_a_bool_fails_with_stackstorm_message(execute: Execute) -> None:
    outcome, _ = execute(make_request("returns", {"mode": "bad_tuple"}))
    assert outcome.status is RunStatus.FAILED
    assert outcome.result["exit_code"] == 220
    assert outcome.result["result"] is None
    assert outcome.error == INVALID_STATUS
    assert outcome.result["error"].startswith(INVALID_STATUS)
    assert "Return a list instead of a tuple" in outcome.result["error"]


def test_an_exception_fails_with_its_traceback_in_stderr(execute: Execute) -> None:
    outcome, _ = execute(make_request("returns", {"mode": "raise"}))
    assert outcome.status is RunStatus.FAILED
    assert outcome.result["exit_code"] == 1
    assert outcome.result["result"] is None
    stderr = outcome.result["stderr"]
    assert stderr.startswith("Traceback (most recent call last):")
    assert "RuntimeError: the action broke" in stderr
    assert "returns.py" in stderr


def test_a_nonzero_exit_fails(execute: Execute) -> None:
    outcome, _ = execute(make_request("returns", {"mode": "exit_3"}))
    assert outcome.status is RunStatus.FAILED
    assert outcome.result["exit_code"] == 3


def test_printed_delimiters_cannot_forge_the_result(execute: Execute) -> None:
    outcome, _ = execute(make_request("spoof"))
    assert outcome.status is RunStatus.SUCCEEDED
    assert outcome.result["result"] == "genuine"
    assert "forged" in outcome.result["stdout"]


def test_the_class_is_the_first_by_name_that_implements_run(execute: Execute) -> None:
    outcome, _ = execute(make_request("classes"))
    assert outcome.result["result"] == "alpha"


def test_an_old_constructor_without_action_service_still_gets_one(execute: Execute) -> None:
    outcome, _ = execute(make_request("old_style"))
    assert outcome.status is RunStatus.SUCCEEDED, outcome.result["stderr"]
    assert outcome.result["result"] is True


def test_a_file_without_an_action_class_fails_saying_so(execute: Execute) -> None:
    outcome, _ = execute(make_request("no_class"))
    assert outcome.status is RunStatus.FAILED
    stderr = outcome.result["stderr"]
    assert "Failed to load action class from file" in stderr
    assert "Found no classes in plugin file" in stderr


def test_a_syntax_error_fails_with_the_load_message(tmp_path: Any, execute: Execute) -> None:
    (tmp_path / "actions").mkdir()
    (tmp_path / "actions" / "broken.py").write_text("class Broken(\n    def run(self):\n")
    request = make_request("broken", pack_path=tmp_path)
    outcome, _ = execute(request)
    assert outcome.status is RunStatus.FAILED
    assert 'Failed to load action class from file "' in outcome.result["stderr"]
    assert "SyntaxError" in outcome.result["stderr"]


@pytest.mark.parametrize(
    ("log_level", "lines"),
    [
        ("DEBUG", ["a debug line", "an info line", "an error line"]),
        ("INFO", ["an info line", "an error line"]),
        ("ERROR", ["an error line"]),
    ],
)
def test_log_level_filters_the_action_logger(
    execute: Execute, log_level: str, lines: list[str]
) -> None:
    request = make_request("logs", runner_parameters={"log_level": log_level})
    outcome, _ = execute(request)
    stderr = outcome.result["stderr"]
    logged = [line.split(maxsplit=2)[2] for line in stderr.splitlines()]
    assert logged == lines
    assert stderr.startswith("actions.python.LogsAction:")


def test_output_is_reported_as_it_comes(execute: Execute) -> None:
    outcome, events = execute(make_request("logs"))
    streamed = "".join(text for stream, text in events.chunks if stream == "stderr")
    assert streamed == outcome.result["stderr"]
    assert len(events.pids) == 1


def test_missing_entry_point_and_virtualenv_fail_without_a_process() -> None:
    request = make_request("constant")
    from dataclasses import replace

    outcome, events = run_once(replace(request, entry_point=""), warm=False)
    assert outcome.status is RunStatus.FAILED
    assert outcome.error == 'Action "pyrunner.constant" is missing entry_point attribute'
    outcome, events = run_once(replace(request, venv_path=str(PACK / "no-venv")), warm=False)
    assert outcome.status is RunStatus.FAILED
    assert "Virtual environment" in str(outcome.error)
    assert events.pids == []


def test_a_virtualenv_without_an_interpreter_fails_without_raising(tmp_path: Any) -> None:
    from dataclasses import replace

    request = replace(make_request("constant"), venv_path=str(tmp_path))
    outcome, events = run_once(request, warm=True)
    assert outcome.status is RunStatus.FAILED
    assert str(outcome.error).startswith(f"cannot start {tmp_path}/bin/python")
    assert events.pids == []
