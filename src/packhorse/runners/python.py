"""The ``python-script`` runner: a pack's ``Action.run()`` in the pack's interpreter.

Each execution runs in a process of its own: a fork of the pack interpreter's warm host when
one is up (see :mod:`packhorse.runners.pyhost`), else a fresh ``python -u -m
_packhorse_pack.action``. Parameters and config go in on stdin, never in argv; the result
comes back on a pipe of its own; datastore calls come back over a socket and are answered by
the :class:`~packhorse.runners.datastore_channel.DatastoreChannel` the runner was built with.

Result: StackStorm's ``{result, stdout, stderr, exit_code[, error]}``. Status: ``(True, x)``
and a plain return succeed, ``(False, x)`` fails, a 2-tuple whose first item is not a bool
fails with StackStorm's message (exit code 220), an exception fails with its traceback in
``stderr``, a timeout kills the process group and ends as ``timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from dataclasses import dataclass
from typing import Any

from packhorse.runners.base import RunEvents, RunnerResult, RunRequest, RunStatus
from packhorse.runners.datastore_channel import DatastoreChannel, NoDatastore, serve_datastore
from packhorse.runners.environment import pack_environment, pack_interpreter
from packhorse.runners.pyhost import WarmChild, WarmHosts
from packhorse.runners.pyprocess import (
    ActionProcess,
    ChildEnds,
    HostLost,
    ParentEnds,
    StartFailed,
    collect,
    make_channels,
    send_and_close,
    spawn_cold,
)

__all__ = ["INVALID_STATUS_EXIT_CODE", "PythonRunner"]

INVALID_STATUS_EXIT_CODE = 220
INVALID_STATUS_PREFIX = "Status returned from the action run() method"
DEFAULT_LOG_LEVEL = "DEBUG"
OUTPUT_GRACE = 1.0
"""Seconds to keep reading output after the action exits (a leftover grandchild may hold
the pipes open; StackStorm would wait for it forever)."""
DATASTORE_LINE_LIMIT = 16 * 1024 * 1024


@dataclass(slots=True)
class Outcome:
    exit_code: int | None
    stdout: str
    stderr: str
    result: bytes
    timed_out: bool
    lost: str | None = None


class PythonRunner:
    """Runs python-script actions.

    ``datastore`` answers the actions' datastore calls (the engine binds its datastore
    service; without one every call fails). ``warm`` enables warm hosts (on by default).
    ``default_log_level`` applies when the ``log_level`` runner parameter keeps its default,
    like StackStorm's ``[actionrunner] python_runner_log_level``. ``enable_common_libs`` puts
    the pack's ``lib/`` folder first on the path, like StackStorm's ``[packs]`` option.

    A runner belongs to one event loop (its warm hosts are that loop's subprocesses); call
    :meth:`aclose` on it before the loop ends.
    """

    name = "python-script"
    starts_processes = True

    def __init__(
        self,
        datastore: DatastoreChannel | None = None,
        *,
        warm: bool = True,
        default_log_level: str = DEFAULT_LOG_LEVEL,
        enable_common_libs: bool = False,
    ) -> None:
        self._datastore: DatastoreChannel = datastore if datastore is not None else NoDatastore()
        self._warm = warm
        self._default_log_level = default_log_level
        self._common_libs = enable_common_libs
        self.hosts = WarmHosts()

    async def aclose(self) -> None:
        """Stop the warm hosts (the engine calls this when it shuts down)."""
        await self.hosts.aclose()

    async def run(self, request: RunRequest, events: RunEvents) -> RunnerResult:
        problem = _check(request)
        if problem is not None:
            return _failed(problem)
        python = pack_interpreter(request.venv_path)
        try:
            outcome = await self._execute(request, python, events)
        except StartFailed as error:  # nothing ran
            return _failed(str(error))
        return _result(outcome, request.timeout)

    async def _execute(self, request: RunRequest, python: str, events: RunEvents) -> Outcome:
        parent, child = make_channels()
        host_env = self._host_environment(request)
        env = self._environment(request, host_env)
        cwd = os.getcwd()
        transports: list[asyncio.BaseTransport] = []
        process: ActionProcess | None = None
        try:
            try:
                # The request goes in first (the pipe holds it, or its transport does): the
                # child reads it as soon as it starts, while the engine records the start.
                payload = json.dumps(self._payload(request), default=str).encode()
                transports.append(await send_and_close(parent.stdin, payload))
                process = await self._start(python, host_env, env, cwd, child)
            finally:
                child.close()
            events.started(process.pid)
            return await self._supervise(request, process, parent, events, transports)
        except BaseException:
            if process is not None:
                process.kill()
                if isinstance(process, WarmChild):
                    process.abandon()
            raise
        finally:
            for transport in transports:
                transport.close()
            parent.datastore.close()

    async def _start(
        self,
        python: str,
        host_env: dict[str, str],
        env: dict[str, str],
        cwd: str,
        child: ChildEnds,
    ) -> ActionProcess:
        if self._warm:
            host = await self.hosts.get(python, host_env)
            if host is not None:
                started = await host.spawn({"env": env, "cwd": cwd}, child)
                if started is not None:
                    return started
                await self.hosts.discard(python)
        try:
            return await spawn_cold(python, child, env=env, cwd=cwd)
        except OSError as error:
            raise StartFailed(f"cannot start {python}: {error}") from error

    async def _supervise(
        self,
        request: RunRequest,
        process: ActionProcess,
        parent: ParentEnds,
        events: RunEvents,
        transports: list[asyncio.BaseTransport],
    ) -> Outcome:
        out_transport, stdout = await collect(parent.stdout, lambda t: events.output("stdout", t))
        err_transport, stderr = await collect(parent.stderr, lambda t: events.output("stderr", t))
        result_transport, result = await collect(parent.result)
        transports += [out_transport, err_transport, result_transport]
        reader, writer = await asyncio.open_connection(
            sock=parent.datastore, limit=DATASTORE_LINE_LIMIT
        )
        datastore = asyncio.create_task(serve_datastore(reader, writer, self._datastore, request))
        timed_out = False
        lost: str | None = None
        exit_code: int | None = None
        try:
            try:
                async with asyncio.timeout(request.timeout):
                    exit_code = await process.wait()
            except TimeoutError:
                timed_out = True
                process.kill()
                exit_code = await process.wait()
        except HostLost as error:
            process.kill()
            lost = str(error)
        except BaseException:
            datastore.cancel()  # cancelled: the caller kills the group and re-raises
            raise
        closed = [stdout.closed, stderr.closed, result.closed]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(OUTPUT_GRACE):
                await asyncio.gather(*closed)
        datastore.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await datastore
        return Outcome(
            exit_code=exit_code,
            stdout=stdout.text(),
            stderr=stderr.text(),
            result=bytes(result.data),
            timed_out=timed_out,
            lost=lost,
        )

    def _payload(self, request: RunRequest) -> dict[str, Any]:
        log_level = str(request.runner_parameters.get("log_level") or DEFAULT_LOG_LEVEL)
        if log_level.upper() == DEFAULT_LOG_LEVEL:
            log_level = self._default_log_level
        user = str(request.context.get("user") or request.system_user or "")
        return {
            "pack": request.pack,
            "pack_path": request.pack_path,
            "entry_point": request.entry_point,
            "parameters": dict(request.action_parameters),
            "config": dict(request.config),
            "log_level": log_level,
            "common_libs": self._common_libs,
            "user_info": {
                "username": user,
                "authentication": {"method": "authentication token", "location": "header"},
                "rbac": {"enabled": False, "is_admin": False, "roles": []},
            },
        }

    def _host_environment(self, request: RunRequest) -> dict[str, str]:
        return pack_environment(request.venv_path)

    def _environment(self, request: RunRequest, host_env: dict[str, str]) -> dict[str, str]:
        """The action's environment: the host's, then StackStorm's variables and ``env``."""
        env = dict(host_env)
        env["ST2_ACTION_PACK_NAME"] = request.pack
        env["ST2_ACTION_EXECUTION_ID"] = request.execution_id
        env["ST2_ACTION_DEBUG"] = str(bool(request.runner_parameters.get("debug", False)))
        env.update(request.env)
        user_env = request.runner_parameters.get("env") or {}
        for key, value in dict(user_env).items():
            # As StackStorm: the user may not replace PYTHONPATH (the wrapper needs it).
            if str(key).lower() != "pythonpath":
                env[str(key)] = str(value)
        return env


def _check(request: RunRequest) -> str | None:
    if not request.entry_point:
        return f'Action "{request.action_ref}" is missing entry_point attribute'
    if request.venv_path and not os.path.isdir(request.venv_path):
        return (
            f'Virtual environment ({request.venv_path}) for pack "{request.pack}" does not '
            "exist. Install the pack again to rebuild it."
        )
    return None


def _failed(error: str) -> RunnerResult:
    output = {"result": None, "stdout": "", "stderr": "", "exit_code": None, "error": error}
    return RunnerResult(status=RunStatus.FAILED, result=output, error=error)


def _result(outcome: Outcome, timeout: float | None) -> RunnerResult:
    status_flag: Any = None
    result: Any = None
    if outcome.result:
        try:
            document = json.loads(outcome.result)
            status_flag, result = document.get("status"), document.get("result")
        except ValueError:
            result = outcome.result.decode("utf-8", errors="replace")
    output: dict[str, Any] = {
        "result": result,
        "stdout": outcome.stdout,
        "stderr": outcome.stderr,
        "exit_code": outcome.exit_code,
    }
    error: str | None = None
    if outcome.timed_out:
        error = f"Action failed to complete in {_seconds(timeout)} seconds"
        status = RunStatus.TIMEOUT
    elif outcome.lost is not None:
        error = outcome.lost
        status = RunStatus.FAILED
    elif outcome.exit_code == INVALID_STATUS_EXIT_CODE:
        # StackStorm fails the run with the wrapper's message (logs before it are dropped).
        start = outcome.stderr.rfind(INVALID_STATUS_PREFIX)
        error = outcome.stderr[max(start, 0) :].strip()
        status = RunStatus.FAILED
    elif outcome.exit_code == 0 and status_flag is not False:
        status = RunStatus.SUCCEEDED
    else:
        status = RunStatus.FAILED
    if error is not None:
        output["error"] = error
    return RunnerResult(status=status, result=output, error=_first_line(error))


def _seconds(timeout: float | None) -> str:
    if timeout is not None and float(timeout).is_integer():
        return str(int(timeout))
    return str(timeout)


def _first_line(error: str | None) -> str | None:
    return None if error is None else error.splitlines()[0] if error else error
