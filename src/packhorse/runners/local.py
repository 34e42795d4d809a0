"""The ``local-shell-cmd`` and ``local-shell-script`` runners: shell commands on this host.

As StackStorm does it (``local_runner``): the command line runs through the system shell
(``/bin/sh -c``) as the leader of its own session; with ``sudo: true`` it is wrapped as
``sudo -E -- bash -c '<command>'``, and when the action must run as another user (the
``system_user``) as ``sudo -E -H -u <user> -- bash -c '<command>'``; ``sudo_password`` goes to
sudo on stdin (``-S``). The result is ``{stdout, stderr, return_code, succeeded, failed}``
(``error`` added on timeout), one trailing newline stripped from each stream and each stream
decoded when it is valid JSON. Exit 0 is ``succeeded``, ``-9`` ``timeout``, ``-15``
``abandoned``, anything else ``failed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import pwd
import re
import shlex
import shutil
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from packhorse.params.render import RenderedParameters
from packhorse.params.shell import script_command
from packhorse.runners.base import RunEvents, RunnerResult, RunRequest, RunStatus
from packhorse.runners.environment import action_environment
from packhorse.runners.process import (
    DEFAULT_KILL_GRACE,
    DEFAULT_MAX_OUTPUT_BYTES,
    run_process,
)

#: Exit codes with a status of their own (StackStorm's PROC_EXIT_CODE_TO_LIVEACTION_STATUS_MAP).
_STATUS_BY_EXIT_CODE = {0: RunStatus.SUCCEEDED, -9: RunStatus.TIMEOUT, -15: RunStatus.ABANDONED}
_TIMEOUT_EXIT_CODE = -9
#: What an action sees of the engine's environment when no base environment is configured.
_INHERITED_VARIABLES = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
)
_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_SUDO_BAD_PASSWORD = re.compile(r"sudo: \d+ incorrect password attempts")
_SUDO_PROMPT_USER = re.compile(r"\[sudo\] password for (.+?):")


@dataclass(frozen=True, slots=True)
class LocalRunnerSettings:
    """Site settings of the local shell runners (the composition root passes them in)."""

    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES
    """Bytes of stdout and of stderr kept in the result; the rest is dropped with a note."""
    kill_grace: float = DEFAULT_KILL_GRACE
    """Seconds between SIGTERM and SIGKILL when a run is killed (0: SIGKILL at once)."""
    base_env: Mapping[str, str] | None = None
    """Environment every action starts from; None: PATH, HOME, LANG... of the engine."""
    work_root: str | None = None
    """Where per-run working folders are made when ``cwd`` is unset; None: the temp folder."""


class _LocalShellRunner:
    """What the command and script runners share: wrapping, environment, running, result."""

    name = ""
    starts_processes = True

    def __init__(self, settings: LocalRunnerSettings | None = None) -> None:
        self.settings = settings or LocalRunnerSettings()

    def _command(self, request: RunRequest) -> str:
        raise NotImplementedError

    async def run(self, request: RunRequest, events: RunEvents) -> RunnerResult:
        parameters = request.runner_parameters
        try:
            command = self._command(request)
            command = _wrap(command, request, parameters)
        except ValueError as refused:
            return _error_result(str(refused))
        sudo_password = parameters.get("sudo_password") or None
        cwd = parameters.get("cwd") or None
        work_dir = None
        try:
            if cwd is None:
                label = re.sub(r"[^A-Za-z0-9_.-]", "_", request.execution_id)[:64]
                work_dir = tempfile.mkdtemp(
                    prefix=f"packhorse-{label}-", dir=self.settings.work_root
                )
                _hand_over(work_dir, request.system_user)
                cwd = work_dir
            outcome = await run_process(
                command,
                events=events,
                cwd=cwd,
                env=self._environment(request),
                stdin_data=(sudo_password + "\n").encode() if sudo_password else None,
                timeout=request.timeout,
                max_output_bytes=self.settings.max_output_bytes,
                kill_grace=self.settings.kill_grace,
                gate=True,  # nothing runs before the engine has recorded the start
            )
        except (OSError, ValueError) as failure:
            # A missing or unusable working folder, an environment name the OS refuses...
            return _error_result(f"cannot start the command in {cwd!r}: {failure}")
        finally:
            if work_dir is not None:
                _discard_folder(work_dir)
        return_code = outcome.return_code
        error = None
        if outcome.timed_out:
            error = f"Action failed to complete in {_seconds(request.timeout)} seconds"
            return_code = _TIMEOUT_EXIT_CODE
        if sudo_password and _SUDO_BAD_PASSWORD.search(outcome.stderr):
            match = _SUDO_PROMPT_USER.search(outcome.stderr)
            user = match.group(1) if match else "unknown"
            error = (
                f"Invalid sudo password provided or sudo is not configured for this user ({user})"
            )
            return_code = -1
        succeeded = return_code == 0
        result: dict[str, Any] = {
            "failed": not succeeded,
            "succeeded": succeeded,
            "return_code": return_code,
            "stdout": decode_output(outcome.stdout),
            "stderr": decode_output(outcome.stderr),
        }
        if error:
            result["error"] = error
        status = _STATUS_BY_EXIT_CODE.get(return_code, RunStatus.FAILED)
        return RunnerResult(status=status, result=result, error=error)

    def _environment(self, request: RunRequest) -> dict[str, str]:
        """Base, then the ``env`` parameter, then the ``ST2_ACTION_*`` variables.

        As in StackStorm the ``ST2_ACTION_*`` variables come last, so ``env`` cannot fake them.
        """
        if self.settings.base_env is not None:
            env = dict(self.settings.base_env)
        else:
            env = {name: os.environ[name] for name in _INHERITED_VARIABLES if name in os.environ}
            env.setdefault("PATH", _DEFAULT_PATH)
        env.update(action_environment(request))
        return env


class LocalShellCommandRunner(_LocalShellRunner):
    """``local-shell-cmd``: runs the ``cmd`` runner parameter through the shell."""

    name = "local-shell-cmd"

    def _command(self, request: RunRequest) -> str:
        if request.entry_point:
            raise ValueError("entry_point is only valid for local-shell-script runner")
        command = request.runner_parameters.get("cmd")
        if command is None:
            raise ValueError("the cmd runner parameter is required by local-shell-cmd")
        return str(command)


class LocalShellScriptRunner(_LocalShellRunner):
    """``local-shell-script``: runs the pack's ``entry_point`` with the action parameters."""

    name = "local-shell-script"

    def _command(self, request: RunRequest) -> str:
        if not request.entry_point:
            raise ValueError("Missing entry_point action metadata attribute")
        if request.runner_parameters.get("content_version"):
            raise ValueError(
                "content_version is not supported by Packhorse yet: the action would run the "
                "pack's current files, not the requested revision"
            )
        _make_executable(request.entry_point)
        rendered = RenderedParameters(
            runner=dict(request.runner_parameters), action=dict(request.action_parameters)
        )
        return script_command(request.entry_point, rendered, request.parameter_schema).command


def decode_output(text: str) -> Any:
    """One trailing ``\\n``, then one ``\\r``, stripped; the text decoded when it is JSON."""
    text = text.removesuffix("\n").removesuffix("\r")
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except ValueError:
        return text


def _refuse_constant(name: str) -> Any:
    # StackStorm decodes with orjson, which refuses NaN and Infinity: they stay text.
    raise ValueError(name)


def _wrap(command: str, request: RunRequest, parameters: Mapping[str, Any]) -> str:
    """Wrap in sudo as StackStorm does: for ``sudo: true`` or to switch to the system user."""
    password_flag = ["-S"] if parameters.get("sudo_password") else []
    if parameters.get("sudo"):
        if os.geteuid() == 0:
            # Already root: sudo would change nothing, and containers often lack it.
            return shlex.join(["bash", "-c", command])
        return shlex.join(["sudo", *password_flag, "-E", "--", "bash", "-c", command])
    user = request.system_user
    if not user or user == _current_user():
        return command
    try:
        pwd.getpwnam(user)
    except KeyError:
        raise ValueError(
            f"system user {user!r} does not exist on this host: create it, or set the system "
            "user to '' to run actions as the engine's own user"
        ) from None
    return shlex.join(["sudo", *password_flag, "-E", "-H", "-u", user, "--", "bash", "-c", command])


def _current_user() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def _hand_over(folder: str, user: str) -> None:
    """Let the system user work in a per-run folder the engine made (best effort)."""
    if not user or user == _current_user():
        return
    with contextlib.suppress(KeyError, OSError):
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)


def _discard_folder(folder: str) -> None:
    """Move a per-run folder out of its path at once, and remove it in a worker thread: on
    some file systems removing a folder costs ten times renaming it (ext4 mounted with
    ``discard`` here: 0.1 to 1 ms), and the run's result need not wait for it."""
    discarded = f"{folder}.done"
    try:
        os.rename(folder, discarded)
    except OSError:
        _remove_folder(folder)
        return
    try:
        asyncio.get_running_loop().run_in_executor(None, _remove_folder, discarded)
    except RuntimeError:  # no loop (cannot happen in run()): remove it here
        _remove_folder(discarded)


def _remove_folder(folder: str) -> None:
    """Remove a per-run folder: most are left empty, and one ``rmdir`` is a third of what
    ``shutil.rmtree`` costs (it opens and lists the folder first)."""
    try:
        os.rmdir(folder)
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)


def _make_executable(path: str) -> None:
    """``chmod +x`` as StackStorm does before running a script; a read-only file is left."""
    with contextlib.suppress(OSError):
        mode = os.stat(path).st_mode
        wanted = mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
        if wanted != mode:
            os.chmod(path, wanted)


def _seconds(timeout: float | None) -> str:
    if timeout is None:
        return "None"
    if math.isfinite(timeout) and timeout == int(timeout):
        return str(int(timeout))
    return str(timeout)


def _error_result(message: str) -> RunnerResult:
    """A run that could not start: StackStorm's result for a runner exception."""
    return RunnerResult(status=RunStatus.FAILED, result={"error": message}, error=message)
