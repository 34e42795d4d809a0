"""The python-script process: parameters, config, paths, environment, datastore, timeout and
cancellation, on cold and warm processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from packhorse.compat import SITE_DIR
from packhorse.model.datastore import Scope
from packhorse.runners.base import RunRequest, RunStatus
from tests.runners.conftest import PACK, Execute, RecordingEvents, Runners, make_request

SECRET = "param-s3cret-value"


def inspect_request(**kwargs: Any) -> RunRequest:
    return make_request(
        "inspect_self",
        {"secret": SECRET, "number": 7, "items": [1, {"a": None}], "missing": None},
        config={"api_token": "config-s3cret", "retries": 3},
        **kwargs,
    )


def test_parameters_and_config_arrive_through_the_pipe_not_argv(execute: Execute) -> None:
    outcome, events = execute(inspect_request())
    assert outcome.status is RunStatus.SUCCEEDED, outcome.result["stderr"]
    seen = outcome.result["result"]
    assert seen["parameters"] == {
        "secret": SECRET,
        "number": 7,
        "items": [1, {"a": None}],
        "missing": None,
    }
    assert seen["config"] == {"api_token": "config-s3cret", "retries": 3}
    assert SECRET not in seen["cmdline"]
    assert "config-s3cret" not in seen["cmdline"]
    assert seen["stdin"] == ""  # the request was read; the action sees an empty stdin
    assert events.pids == [seen["pid"]]


def test_the_action_leads_its_own_process_group(execute: Execute) -> None:
    outcome, events = execute(inspect_request())
    seen = outcome.result["result"]
    assert seen["pgid"] == seen["pid"] == events.pids[0]
    assert seen["cwd"] == os.getcwd()


def test_sys_path_order(execute: Execute) -> None:
    outcome, _ = execute(inspect_request())
    seen = outcome.result["result"]
    path = seen["path"]
    lib = str(PACK / "actions" / "lib")
    actions = str(PACK / "actions")
    assert seen["shout"] == "LIB"
    assert seen["sibling"] == 42
    assert path[-1] == SITE_DIR
    assert path[-2] == actions
    assert path[0].endswith("site-packages")  # the pack venv's libraries come first
    assert path[1] == lib
    assert "" not in path
    assert seen["pythonpath"].split(os.pathsep)[-1] == SITE_DIR


def test_environment_layers(execute: Execute) -> None:
    request = inspect_request(
        env={"PH_ENGINE": "engine", "PH_BOTH": "engine"},
        runner_parameters={"env": {"PH_USER": "user", "PH_BOTH": "user", "PYTHONPATH": "/evil"}},
    )
    outcome, _ = execute(request)
    seen = outcome.result["result"]
    assert seen["env"] == {
        "PH_ENGINE": "engine",
        "PH_USER": "user",
        "PH_BOTH": "user",
        "ST2_ACTION_PACK_NAME": "pyrunner",
        "ST2_ACTION_EXECUTION_ID": "ex-inspect_self",
        "ST2_ACTION_DEBUG": "False",
    }
    assert "/evil" not in seen["pythonpath"]


def test_datastore_calls_round_trip_with_the_local_prefix(
    runners: Runners, execute: Execute
) -> None:
    outcome, _ = execute(make_request("datastore", context={"user": "ada"}))
    assert outcome.status is RunStatus.SUCCEEDED, outcome.result["stderr"]
    seen = outcome.result["result"]
    assert seen == {
        "counter_after_delete": None,
        "shared": "everyone",
        "token_masked": "********",
        "token": "s3cret",
        "mine": "only me",
        "listed": [
            "pyrunner.DatastoreAction:counter",
            "pyrunner.DatastoreAction:token",
        ],
        "global_listed": ["shared"],
        "deleted": True,
        "deleted_again": False,
        "bad_scope": "Scope galaxy is unsupported.",
        "user": "ada",
    }
    pairs = runners.datastore.pairs
    assert pairs[(Scope.SYSTEM, "", "pyrunner.DatastoreAction:token")].secret
    assert (Scope.USER, "ada", "pyrunner.DatastoreAction:mine") in pairs


def test_st2client_keys_and_webhooks_use_the_channel_and_other_calls_say_why_not(
    execute: Execute,
) -> None:
    outcome, _ = execute(make_request("client"))
    assert outcome.status is RunStatus.SUCCEEDED, outcome.result["stderr"]
    seen = outcome.result["result"]
    assert seen["value"] == "v"
    assert seen["missing"] is None
    assert seen["deleted"] is True
    assert seen["webhook"] == {"trigger": "x.y", "payload": {"a": 1}}  # the webhook's answer
    assert "need the Packhorse API (coming with the REST API issue)" in seen["unavailable"]
    assert seen["same_client_kind"] == "Client"


def test_eventlet_is_tolerated_without_a_real_one(execute: Execute) -> None:
    outcome, _ = execute(make_request("eventlet_user"))
    assert outcome.status is RunStatus.SUCCEEDED, outcome.result["stderr"]
    assert outcome.result["result"] is True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(FileNotFoundError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return False


def _wait_dead(pid: int, seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.02)
    return False


def test_timeout_kills_the_whole_process_group(execute: Execute, tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    request = make_request("sleeper", {"pid_file": str(pid_file)}, timeout=1.5)
    outcome, events = execute(request)
    assert outcome.status is RunStatus.TIMEOUT
    assert outcome.result["exit_code"] == -signal.SIGKILL
    assert outcome.result["error"] == "Action failed to complete in 1.5 seconds"
    action_pid, grandchild_pid = map(int, pid_file.read_text().split())
    assert events.pids == [action_pid]
    assert _wait_dead(grandchild_pid)


def test_cancellation_kills_the_group_and_reraises(
    runners: Runners, warm: bool, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pids"
    request = make_request("sleeper", {"pid_file": str(pid_file)}, timeout=30)
    runner = runners.by_warmth[warm]

    async def scenario() -> None:
        task = asyncio.create_task(runner.run(request, RecordingEvents()))
        while not pid_file.exists():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    runners.engine.call(scenario())
    action_pid, grandchild_pid = map(int, pid_file.read_text().split())
    assert _wait_dead(action_pid)
    assert _wait_dead(grandchild_pid)
