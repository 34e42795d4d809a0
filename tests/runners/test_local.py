"""local-shell-cmd and local-shell-script against real processes."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from packhorse.runners.base import NullEvents, RunnerResult, RunStatus
from packhorse.runners.local import (
    LocalRunnerSettings,
    LocalShellCommandRunner,
    LocalShellScriptRunner,
)
from tests.runners.helpers import RecordingEvents, group_gone, make_request, run


def shell(cmd: str, **overrides: Any) -> RunnerResult:
    runner = LocalShellCommandRunner(overrides.pop("settings", None))
    parameters = {"cmd": cmd, **overrides.pop("runner_parameters", {})}
    request = make_request(runner_parameters=parameters, **overrides)
    return run(runner.run(request, NullEvents()))


def script(path: Path, **overrides: Any) -> RunnerResult:
    request = make_request(runner_type="local-shell-script", entry_point=str(path), **overrides)
    return run(LocalShellScriptRunner().run(request, NullEvents()))


def write_script(folder: Path, body: str, name: str = "action.sh") -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o644)  # the runner makes it executable, as StackStorm does
    return path


# -- results ------------------------------------------------------------------------------


def test_success_strips_one_trailing_newline() -> None:
    result = shell("printf 'hello\\n\\n'; echo oops >&2")
    assert result.status is RunStatus.SUCCEEDED
    assert result.result == {
        "failed": False,
        "succeeded": True,
        "return_code": 0,
        "stdout": "hello\n",
        "stderr": "oops",
    }
    assert result.error is None


def test_crlf_is_stripped() -> None:
    assert shell("printf 'a\\r\\n'").result["stdout"] == "a"


@pytest.mark.parametrize("code", [1, 2, 127, 255])
def test_non_zero_exit_fails(code: int) -> None:
    result = shell(f"exit {code}")
    assert result.status is RunStatus.FAILED
    assert result.result["return_code"] == code
    assert result.result["failed"] is True and result.result["succeeded"] is False


@pytest.mark.parametrize(
    ("output", "decoded"),
    [
        ('{"a": [1, 2]}', {"a": [1, 2]}),
        ("[1, 2]", [1, 2]),
        ("42", 42),
        ("true", True),
        ("null", None),
        ('"text"', "text"),
        ("not json", "not json"),
        ("NaN", "NaN"),
        ("", ""),
    ],
)
def test_stdout_and_stderr_are_decoded_when_json(output: str, decoded: Any) -> None:
    result = shell(f"printf '%s\\n' '{output}'; printf '%s' '{output}' >&2")
    assert result.result["stdout"] == decoded
    assert result.result["stderr"] == decoded


@pytest.mark.parametrize(
    ("signal_name", "status", "code"),
    [("TERM", RunStatus.ABANDONED, -15), ("KILL", RunStatus.TIMEOUT, -9)],
)
def test_signal_exit_codes_map_like_stackstorm(
    signal_name: str, status: RunStatus, code: int
) -> None:
    result = shell(f"kill -{signal_name} $$")
    assert result.status is status
    assert result.result["return_code"] == code
    assert "error" not in result.result


def test_cmd_runner_refuses_an_entry_point() -> None:
    result = shell("true", entry_point="/bin/true")
    assert result.status is RunStatus.FAILED
    assert result.error == "entry_point is only valid for local-shell-script runner"


def test_environment_name_the_os_refuses_fails_cleanly() -> None:
    result = shell("true", runner_parameters={"env": {"A=B": "x"}})
    assert result.status is RunStatus.FAILED
    assert "cannot start the command" in result.result["error"]


def test_missing_work_root_fails_cleanly(tmp_path: Path) -> None:
    settings = LocalRunnerSettings(work_root=str(tmp_path / "absent"))
    result = shell("true", settings=settings)
    assert result.status is RunStatus.FAILED


def test_missing_cwd_fails_cleanly(tmp_path: Path) -> None:
    result = shell("true", runner_parameters={"cwd": str(tmp_path / "nope")})
    assert result.status is RunStatus.FAILED
    assert "cannot start the command" in result.result["error"]


# -- environment and working folder ---------------------------------------------------------


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PACKHORSE_TEST_SECRET", "do-not-leak")
    result = shell(
        "env",
        runner_parameters={
            "env": {"GREETING": "hi there", "COUNT": 3, "ST2_ACTION_PACK_NAME": "fake"},
        },
        context={"api_url": "http://127.0.0.1:9101/api/v1", "auth_token": "tok"},
        env={"ST2_ACTION_AUTH_TOKEN": "from-engine"},
    )
    lines = dict(line.split("=", 1) for line in result.result["stdout"].splitlines())
    assert lines["GREETING"] == "hi there"
    assert lines["COUNT"] == "3"
    assert lines["ST2_ACTION_PACK_NAME"] == "demo"  # env cannot fake the ST2 variables
    assert lines["ST2_ACTION_EXECUTION_ID"] == "6a1f0000000000000000abcd"
    assert lines["ST2_ACTION_API_URL"] == "http://127.0.0.1:9101/api/v1"
    assert lines["ST2_ACTION_AUTH_TOKEN"] == "from-engine"
    assert lines["ST2_ACTION_DEBUG"] == "False"
    assert "PATH" in lines
    assert "PACKHORSE_TEST_SECRET" not in lines


def test_configured_base_environment() -> None:
    settings = LocalRunnerSettings(base_env={"PATH": "/usr/bin:/bin", "ONLY": "this"})
    result = shell('echo "$ONLY:$PATH"', settings=settings)
    assert result.result["stdout"] == "this:/usr/bin:/bin"


def test_cwd_parameter(tmp_path: Path) -> None:
    result = shell("pwd", runner_parameters={"cwd": str(tmp_path)})
    assert result.result["stdout"] == str(tmp_path)


def test_default_cwd_is_a_private_folder_removed_afterwards(tmp_path: Path) -> None:
    settings = LocalRunnerSettings(work_root=str(tmp_path))
    result = shell("pwd; touch leftover", settings=settings)
    folder = Path(result.result["stdout"])
    assert folder.parent == tmp_path and folder.name.startswith("packhorse-6a1f")
    assert not folder.exists()
    # Moved away when the run ended, removed by a worker thread the loop waits for at its end.
    assert not list(tmp_path.iterdir())


# -- sudo and the system user ---------------------------------------------------------------


def test_system_user_that_is_the_engine_user_is_not_wrapped() -> None:
    result = shell("id -un", system_user=getpass.getuser())
    assert result.result["stdout"] == getpass.getuser()


def test_missing_system_user_fails_instead_of_running_as_the_engine() -> None:
    result = shell("id -un", system_user="no-such-user-ph")
    assert result.status is RunStatus.FAILED
    assert "system user 'no-such-user-ph' does not exist" in result.result["error"]


FAKE_SUDO = """#!/bin/sh
# Records how it was called, reads the password when asked to (-S), then runs the command
# after "--" as the calling user.
printf 'sudo-args: %s\\n' "$*" >&2
for argument in "$@"; do
  if [ "$argument" = -S ]; then read -r password; printf 'sudo-password: %s\\n' "$password" >&2; fi
done
while [ "$1" != "--" ]; do shift; done
shift
exec "$@"
"""

BAD_PASSWORD_SUDO = """#!/bin/sh
printf '[sudo] password for stanley: \\nsudo: 3 incorrect password attempts\\n' >&2
exit 1
"""


def fake_sudo(folder: Path, body: str = FAKE_SUDO) -> LocalRunnerSettings:
    bin_folder = folder / "bin"
    bin_folder.mkdir()
    sudo = bin_folder / "sudo"
    sudo.write_text(body)
    sudo.chmod(0o755)
    return LocalRunnerSettings(base_env={"PATH": f"{bin_folder}:/usr/bin:/bin"})


@pytest.fixture
def other_user() -> str:
    if getpass.getuser() == "nobody":
        pytest.skip("the tests run as nobody")
    return "nobody"


def test_system_user_wraps_in_sudo(tmp_path: Path, other_user: str) -> None:
    result = shell('echo "it\'s $0"', system_user=other_user, settings=fake_sudo(tmp_path))
    assert result.status is RunStatus.SUCCEEDED, result
    assert result.result["stdout"] == "it's bash"
    assert result.result["stderr"] == (
        f'sudo-args: -E -H -u {other_user} -- bash -c echo "it\'s $0"'
    )


def test_sudo_password_goes_to_stdin(tmp_path: Path, other_user: str) -> None:
    result = shell(
        "true",
        system_user=other_user,
        runner_parameters={"sudo_password": "pa ss"},
        settings=fake_sudo(tmp_path),
    )
    assert result.result["stderr"].split("\n") == [
        f"sudo-args: -S -E -H -u {other_user} -- bash -c true",
        "sudo-password: pa ss",
    ]


def test_wrong_sudo_password(tmp_path: Path, other_user: str) -> None:
    result = shell(
        "true",
        system_user=other_user,
        runner_parameters={"sudo_password": "wrong"},
        settings=fake_sudo(tmp_path, BAD_PASSWORD_SUDO),
    )
    assert result.status is RunStatus.FAILED
    assert result.result["return_code"] == -1
    assert result.result["error"] == (
        "Invalid sudo password provided or sudo is not configured for this user (stanley)"
    )


def test_sudo_flag(tmp_path: Path) -> None:
    result = shell(
        "echo $0; id -un",
        runner_parameters={"sudo": True},
        settings=fake_sudo(tmp_path),
    )
    assert result.status is RunStatus.SUCCEEDED
    if os.geteuid() == 0:
        # Already root: run by bash directly, no sudo needed.
        assert result.result["stdout"] == "bash\nroot"
        assert result.result["stderr"] == ""
    else:
        assert result.result["stderr"] == "sudo-args: -E -- bash -c echo $0; id -un"


# -- scripts --------------------------------------------------------------------------------


def test_script_receives_named_and_positional_arguments(tmp_path: Path) -> None:
    path = write_script(tmp_path, 'for a in "$@"; do printf "%s\\n" "$a"; done\n')
    result = script(
        path,
        action_parameters={
            "message": "it's $HOME",
            "force": True,
            "dry": False,
            "skip": None,
            "host": "web 1",
            "tags": ["a", "b"],
            "enabled": False,
        },
        parameter_schema={
            "host": {"type": "string", "position": 0},
            "tags": {"type": "array", "position": 1},
            "enabled": {"type": "boolean", "position": 2},
        },
    )
    assert result.status is RunStatus.SUCCEEDED, result
    assert result.result["stdout"].split("\n") == [
        "--message=it's $HOME",
        "--force",
        "web 1",
        "a,b",
        "0",
    ]
    assert os.access(path, os.X_OK)


def test_script_kwarg_op_and_debug(tmp_path: Path) -> None:
    path = write_script(tmp_path, 'echo "$@ $ST2_ACTION_DEBUG"\n')
    result = script(
        path,
        action_parameters={"x": "1"},
        runner_parameters={"kwarg_op": "-", "debug": True},
    )
    assert result.result["stdout"] == "-x=1 True"


def test_script_json_output_and_failure(tmp_path: Path) -> None:
    path = write_script(tmp_path, "echo '{\"ok\": false}'\necho '[\"e\"]' >&2\nexit 4\n")
    result = script(path)
    assert result.status is RunStatus.FAILED
    assert result.result["stdout"] == {"ok": False}
    assert result.result["stderr"] == ["e"]
    assert result.result["return_code"] == 4


def test_script_in_a_folder_with_spaces(tmp_path: Path) -> None:
    folder = tmp_path / "my pack"
    folder.mkdir()
    path = write_script(folder, "echo ran\n")
    assert script(path).result["stdout"] == "ran"


def test_content_version_is_refused(tmp_path: Path) -> None:
    path = write_script(tmp_path, "echo ran\n")
    result = script(path, runner_parameters={"content_version": "v1.2.0"})
    assert result.status is RunStatus.FAILED
    assert "content_version is not supported" in result.result["error"]


def test_missing_script_fails_like_stackstorm(tmp_path: Path) -> None:
    result = script(tmp_path / "absent.sh")
    assert result.status is RunStatus.FAILED
    assert result.result["return_code"] == 127


def test_script_runner_needs_an_entry_point() -> None:
    result = run(LocalShellScriptRunner().run(make_request(), NullEvents()))
    assert result.error == "Missing entry_point action metadata attribute"


# -- streaming, big output, limits ------------------------------------------------------------


def test_output_is_streamed_and_pid_reported() -> None:
    async def scenario() -> tuple[RunnerResult, RecordingEvents]:
        events = RecordingEvents()
        request = make_request(runner_parameters={"cmd": "echo one; echo two >&2; echo three"})
        return await LocalShellCommandRunner().run(request, events), events

    result, events = run(scenario())
    assert len(events.pids) == 1
    assert events.text("stdout") == "one\nthree\n"
    assert events.text("stderr") == "two\n"
    assert result.result["stdout"] == "one\nthree"


def test_several_megabytes_on_both_pipes_do_not_deadlock() -> None:
    size = 6 * 1024 * 1024
    cmd = f"head -c {size} /dev/zero | tr '\\0' a & head -c {size} /dev/zero | tr '\\0' b >&2; wait"

    async def scenario() -> tuple[RunnerResult, RecordingEvents]:
        events = RecordingEvents()
        request = make_request(runner_parameters={"cmd": cmd})
        return await LocalShellCommandRunner().run(request, events), events

    started = time.monotonic()
    result, events = run(scenario())
    assert time.monotonic() - started < 10
    assert result.status is RunStatus.SUCCEEDED
    assert result.result["stdout"] == "a" * size
    assert result.result["stderr"] == "b" * size
    assert len(events.text("stdout")) == size


def test_output_beyond_the_limit_is_dropped_with_a_note() -> None:
    settings = LocalRunnerSettings(max_output_bytes=1000)
    result = shell("head -c 5000 /dev/zero | tr '\\0' x", settings=settings)
    stdout = result.result["stdout"]
    assert stdout.startswith("x" * 1000 + "\n[packhorse: stdout truncated: 4000 bytes")
    assert result.status is RunStatus.SUCCEEDED


def test_invalid_utf8_is_replaced() -> None:
    assert shell("printf 'a\\377b'").result["stdout"] == "a\ufffdb"


# -- timeout and cancellation -------------------------------------------------------------------

TREE = (
    "sleep 1000 &\n"
    "(sleep 1000; echo never) &\n"
    "(trap '' TERM; sleep 1000) &\n"  # ignores SIGTERM: needs the SIGKILL
    # A child in a process group of its own (still in the session).
    f"{shlex.quote(sys.executable)} -c 'import os, time; os.setpgid(0, 0); time.sleep(1000)' &\n"
    "echo started\n"
    "wait\n"
)


@pytest.mark.slow
def test_timeout_kills_the_whole_tree() -> None:
    async def scenario() -> tuple[RunnerResult, RecordingEvents]:
        events = RecordingEvents()
        request = make_request(runner_parameters={"cmd": TREE}, timeout=1)
        return await LocalShellCommandRunner().run(request, events), events

    started = time.monotonic()
    result, events = run(scenario())
    elapsed = time.monotonic() - started
    assert result.status is RunStatus.TIMEOUT
    assert result.result == {
        "failed": True,
        "succeeded": False,
        "return_code": -9,
        "stdout": "started",
        "stderr": "",
        "error": "Action failed to complete in 1 seconds",
    }
    assert result.error == "Action failed to complete in 1 seconds"
    assert elapsed < 1 + 1 + 3  # timeout + SIGTERM grace + margin
    assert group_gone(events.pids[0])
    assert not _session_processes(events.pids[0])


def test_timeout_sends_sigterm_first_and_keeps_the_last_words() -> None:
    cmd = "trap 'echo bye; exit 1' TERM; echo started; sleep 1000 & wait"
    result = shell(cmd, timeout=0.5)
    assert result.status is RunStatus.TIMEOUT
    assert result.result["stdout"] == "started\nbye"


def test_fractional_timeout_message() -> None:
    result = shell("sleep 5", timeout=0.2, settings=LocalRunnerSettings(kill_grace=0))
    assert result.result["error"] == "Action failed to complete in 0.2 seconds"


def test_background_child_holding_the_pipe_is_bounded_by_the_timeout() -> None:
    result = shell("sleep 1000 & echo done", timeout=0.5)
    assert result.status is RunStatus.TIMEOUT
    assert result.result["stdout"] == "done"


def test_redirected_background_child_does_not_hold_the_run() -> None:
    started = time.monotonic()
    result = shell("sleep 3 >/dev/null 2>&1 & echo done", timeout=10)
    assert result.status is RunStatus.SUCCEEDED
    assert time.monotonic() - started < 2


@pytest.mark.slow
def test_cancellation_kills_the_tree_and_reraises() -> None:
    async def scenario() -> int:
        events = RecordingEvents()
        request = make_request(runner_parameters={"cmd": TREE}, timeout=None)
        task = asyncio.create_task(LocalShellCommandRunner().run(request, events))
        await events.first_output.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return events.pids[0]

    pgid = run(scenario())
    assert group_gone(pgid)
    assert not _session_processes(pgid)


def test_cancellation_with_unread_output_leaves_nothing_open() -> None:
    async def scenario() -> None:
        events = RecordingEvents()
        cmd = "echo go; exec yes flood"
        request = make_request(runner_parameters={"cmd": cmd}, timeout=None)
        task = asyncio.create_task(LocalShellCommandRunner().run(request, events))
        await events.first_output.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(scenario())  # an unclosed pipe would be a ResourceWarning, an error here


def _session_processes(leader: int) -> list[str]:
    """Live processes (not zombies) still in the session of ``leader``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path("/proc", entry, "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2 :].split()
            if int(fields[3]) == leader and fields[0] != "Z":
                found.append(stat)
    return found


def test_result_is_json_ready() -> None:
    result = shell("echo '{\"x\": 1}'")
    assert json.loads(json.dumps(result.result)) == result.result
