"""The ``remote-shell-cmd`` and ``remote-shell-script`` runners: shell commands over SSH.

As StackStorm does it (``remote_runner`` on ``ParallelSSHClient``), on asyncssh:

* ``hosts`` is a comma-separated list; each entry may carry a port (``host:port``,
  ``[v6]:port``), else the ``port`` parameter, else 22. Hosts are visited one at a time, as in
  StackStorm, where the runner's ``parallel`` parameter is immutable ``false`` and gives its
  ``ParallelSSHClient`` a pool of one; with ``parallel: true`` (a site's own runner metadata)
  every host is connected to and run on at once, up to ``max_parallel``. The result has one
  entry per host, keyed by the host *name* (without port).
* Authentication: ``password``; else ``private_key`` (the key text when it contains
  ``PRIVATE KEY-----``, else a key file path) with ``passphrase``; else the site's key file, or
  the SSH agent and ``~/.ssh`` keys. ``username`` defaults to the system user. ``bastion_host``
  is a jump host reached with the same credentials; the target is tunnelled through it.
* Host keys are **not checked** unless the site configures a known-hosts file: StackStorm uses
  paramiko's ``AutoAddPolicy``, which accepts any host key.
* The command is ``export <env> && cd <cwd> && <cmd>`` (``env`` plus the ``ST2_ACTION_*``
  variables, sorted and quoted); with ``sudo`` the whole line runs as
  ``sudo -E -- bash -c '<line>'``, with ``-S`` and the password on stdin when ``sudo_password``
  is set. Stdin is closed otherwise, so interactive commands cannot hang.
* ``remote-shell-script`` makes ``<dir>/<execution id>`` on each host over SFTP, uploads the
  entry point (mode 0744) and the ``lib`` folder next to it, runs
  ``<dir>/<execution id>/<script> <named> <positional>`` and removes the folder afterwards.
* Per host: ``{stdout, stderr, return_code, succeeded, failed}``, streams decoded as in the
  local runners. A host that cannot be reached or refuses the credentials, or whose command
  times out, gets StackStorm's error entry (``failed``, ``succeeded``, ``timeout``,
  ``return_code`` 255 or -9, ``stdout``, ``stderr``, ``error``, ``traceback``). When no host
  can be connected to, the result is a single ``{error, traceback}``.
* The run succeeds only when every host succeeded; it is ``timeout`` only when every host timed
  out; otherwise it failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import posixpath
import re
import shlex
import traceback
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncssh

from packhorse.params.render import RenderedParameters
from packhorse.params.shell import script_command, wrap_command
from packhorse.runners.base import RunEvents, RunnerResult, RunRequest, RunStatus
from packhorse.runners.environment import action_environment
from packhorse.runners.local import decode_output
from packhorse.runners.process import DEFAULT_MAX_OUTPUT_BYTES, OutputCapture

DEFAULT_SSH_PORT = 22
#: StackStorm's ``[ssh_runner] ssh_connect_timeout``.
DEFAULT_CONNECT_TIMEOUT = 60.0
_KEY_MATERIAL_MARKER = "private key-----"
_CHUNK = 65536
_SUDO_BAD_PASSWORD = re.compile(r"sudo: \d+ incorrect password attempts")
_SUDO_PROMPT_USER = re.compile(r"\[sudo\] password for (.+?):")
T = TypeVar("T")
_AUTH_TOKEN = re.compile(r"ST2_ACTION_AUTH_TOKEN=(.+?)\s+?")


@dataclass(frozen=True, slots=True)
class RemoteRunnerSettings:
    """Site settings of the remote shell runners (the composition root passes them in)."""

    known_hosts: str | None = None
    """A known-hosts file to check host keys against; None accepts any key (as StackStorm)."""
    default_key_file: str | None = None
    """Key used when an action gives neither password nor private_key (StackStorm's
    ``[system_user] ssh_key_file``); None: the SSH agent and the keys in ``~/.ssh``."""
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    """Seconds to connect and authenticate; cut to the action timeout minus 2, as StackStorm."""
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES
    """Bytes of stdout and of stderr kept per host; the rest is dropped with a note."""
    max_parallel: int = 50
    """Hosts handled at once when ``parallel`` is true (StackStorm's ``max_parallel_actions``)."""


@dataclass(frozen=True, slots=True)
class Target:
    """One entry of ``hosts``."""

    name: str
    """The key of its result entry: the host name without the port, as StackStorm."""
    hostname: str
    port: int


@dataclass(frozen=True, slots=True)
class _Upload:
    """What the script runner copies to each host before running the command."""

    remote_dir: str
    script: str
    remote_script: str
    lib_dir: str | None


def split_host_port(entry: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``v6-address``, ``[v6]`` or ``[v6]:port`` -> (host, port)."""
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(entry)
        return entry, None
    if entry.startswith("["):
        if entry.endswith("]"):
            return entry[1:-1], None
        hostname, _, port = entry.rpartition(":")
        return hostname.strip("[]"), _port(port)
    if ":" in entry:
        hostname, _, port = entry.rpartition(":")
        return hostname, _port(port)
    return entry, None


def _port(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"Invalid port {text} specified.") from None


def parse_hosts(hosts: Any, default_port: Any) -> list[Target]:
    """The ``hosts`` parameter as targets, in order, each name once."""
    port = int(default_port) if default_port else DEFAULT_SSH_PORT
    entries = [entry.strip() for entry in str(hosts or "").split(",") if entry.strip()]
    if not entries:
        raise ValueError("No hosts specified to run action on.")
    targets: dict[str, Target] = {}
    for entry in entries:
        hostname, entry_port = split_host_port(entry)
        # StackStorm keys results by host name, so one name listed twice runs once.
        targets[hostname] = Target(hostname, hostname, entry_port or port)
    return list(targets.values())


def environment_exports(request: RunRequest) -> str:
    """``export K=V ...``: the ``env`` parameter, then the ``ST2_ACTION_*`` variables, sorted."""
    env = action_environment(request)
    exports = " ".join(f"{shlex.quote(k)}={shlex.quote(v)}" for k, v in sorted(env.items()))
    return f"export {exports}"


def full_command(request: RunRequest, command: str, cwd: str) -> str:
    """``export ... && cd <cwd> && <command>``, wrapped in sudo when asked."""
    parameters = request.runner_parameters
    parts = [environment_exports(request)]
    if cwd:
        parts.append(f"cd {cwd}")
    parts.append(command)
    line = " && ".join(parts)
    if parameters.get("sudo"):
        line = wrap_command(
            line, sudo=True, run_as=None, sudo_password=bool(parameters.get("sudo_password"))
        )
    return line


class _RemoteShellRunner:
    """What the command and script runners share: connecting, running, the per-host result."""

    name = ""

    def __init__(self, settings: RemoteRunnerSettings | None = None) -> None:
        self.settings = settings or RemoteRunnerSettings()

    def _plan(self, request: RunRequest) -> tuple[str, _Upload | None]:
        raise NotImplementedError

    async def run(self, request: RunRequest, events: RunEvents) -> RunnerResult:
        parameters = request.runner_parameters
        try:
            targets = parse_hosts(parameters.get("hosts"), parameters.get("port"))
            command, upload = self._plan(request)
        except ValueError as refused:
            return _error_result(str(refused), "")
        connections: dict[str, asyncssh.SSHClientConnection] = {}
        closers: list[asyncssh.SSHClientConnection] = []
        results: dict[str, Any] = {}
        width = min(len(targets), self.settings.max_parallel) if parameters.get("parallel") else 1
        gate = asyncio.Semaphore(max(width, 1))

        async def gated(work: Awaitable[T]) -> T:
            async with gate:
                return await work

        try:
            outcomes = await asyncio.gather(
                *(gated(self._connect(request, target, closers)) for target in targets)
            )
            for target, outcome in zip(targets, outcomes, strict=True):
                if isinstance(outcome, asyncssh.SSHClientConnection):
                    connections[target.name] = outcome
                else:
                    results[target.name] = outcome
            if not connections:
                names = [target.name for target in targets]
                message = (
                    f"Unable to connect to any one of the hosts: {names}.\n\n "
                    f"connect_errors={json.dumps(results, indent=2)}"
                )
                return _error_result(message, "")
            stream = events if len(targets) == 1 else None
            ran = await asyncio.gather(
                *(
                    gated(
                        self._run_on(
                            request,
                            name,
                            connection,
                            command=command,
                            upload=upload,
                            events=stream,
                        )
                    )
                    for name, connection in connections.items()
                )
            )
            results.update(zip(connections, ran, strict=True))
        finally:
            for connection in closers:
                connection.close()
        ordered = {target.name: results[target.name] for target in targets}
        return RunnerResult(status=_status(ordered), result=ordered)

    async def _connect(
        self,
        request: RunRequest,
        target: Target,
        closers: list[asyncssh.SSHClientConnection],
    ) -> asyncssh.SSHClientConnection | dict[str, Any]:
        """A connection to ``target``, or its error entry."""
        parameters = request.runner_parameters
        options: dict[str, Any] = {
            "username": parameters.get("username") or request.system_user or None,
            "known_hosts": self.settings.known_hosts,
            "connect_timeout": self._connect_timeout(request),
        }
        try:
            options.update(self._credentials(parameters))
            bastion = parameters.get("bastion_host")
            if bastion:
                hostname, port = split_host_port(str(bastion))
                tunnel = await asyncssh.connect(hostname, port or target.port, **options)
                closers.append(tunnel)
                options["tunnel"] = tunnel
            connection = await asyncssh.connect(target.hostname, target.port, **options)
        except (asyncssh.Error, asyncssh.KeyImportError) as error:
            return _host_error(f"Connection error. {error}", error)
        except (OSError, ValueError, TimeoutError) as error:
            reason = str(error) or type(error).__name__
            return _host_error(f"Failed connecting to host {target.hostname}. {reason}", error)
        closers.append(connection)
        return connection

    def _connect_timeout(self, request: RunRequest) -> float:
        timeout = self.settings.connect_timeout
        if request.timeout and timeout > request.timeout - 2:
            timeout = max(request.timeout - 2, 1.0)
        return timeout

    def _credentials(self, parameters: Mapping[str, Any]) -> dict[str, Any]:
        password = parameters.get("password")
        private_key = parameters.get("private_key")
        passphrase = parameters.get("passphrase") or None
        if password:
            return {"password": str(password), "client_keys": None, "agent_path": None}
        if private_key:
            text = str(private_key)
            if _KEY_MATERIAL_MARKER in text.lower():
                key = asyncssh.import_private_key(text, passphrase)
            else:
                key = asyncssh.read_private_key(os.path.expanduser(text), passphrase)
            return {"client_keys": [key], "agent_path": None, "password": None}
        if passphrase:
            raise ValueError("passphrase should accompany private key material")
        if self.settings.default_key_file:
            return {"client_keys": [self.settings.default_key_file], "agent_path": None}
        return {}

    async def _run_on(
        self,
        request: RunRequest,
        host: str,
        connection: asyncssh.SSHClientConnection,
        *,
        command: str,
        upload: _Upload | None,
        events: RunEvents | None,
    ) -> dict[str, Any]:
        if upload is not None:
            try:
                await _copy(connection, upload)
            except (asyncssh.Error, OSError) as error:
                return _host_error(f"Failed copying content to remote host {host}. {error}", error)
        try:
            return await self._execute(request, host, connection, command, events)
        finally:
            if upload is not None:
                await _remove(connection, upload.remote_dir)

    async def _execute(
        self,
        request: RunRequest,
        host: str,
        connection: asyncssh.SSHClientConnection,
        command: str,
        events: RunEvents | None,
    ) -> dict[str, Any]:
        limit = self.settings.max_output_bytes
        stdout, stderr = OutputCapture("stdout", limit), OutputCapture("stderr", limit)
        sudo_password = request.runner_parameters.get("sudo_password")
        shown = _sanitize(command)
        try:
            process = await connection.create_process(command, encoding=None)
        except (asyncssh.Error, OSError) as error:
            return _host_error(
                f'Failed executing command "{shown}" on host "{host}" {error}', error
            )
        try:
            if sudo_password and request.runner_parameters.get("sudo"):
                process.stdin.write((str(sudo_password) + "\n").encode())
            process.stdin.write_eof()
            async with asyncio.timeout(request.timeout):
                await asyncio.gather(
                    _pump(process.stdout, stdout, events),
                    _pump(process.stderr, stderr, events),
                )
                await process.wait_closed()
        except TimeoutError as error:
            message = (
                f"Command didn't finish in {_seconds(request.timeout)} seconds or the SSH "
                f"connection did not succeed in {_seconds(self._connect_timeout(request))} seconds"
            )
            entry = _host_error(
                f'Failed executing command "{shown}" on host "{host}" {message}',
                error,
                timeout=True,
            )
            entry["stdout"] = stdout.text().removesuffix("\n").removesuffix("\r")
            entry["stderr"] = stderr.text().removesuffix("\n").removesuffix("\r")
            return entry
        except (asyncssh.Error, OSError) as error:
            return _host_error(
                f'Failed executing command "{shown}" on host "{host}" {error}', error
            )
        finally:
            # Ends the remote command on a timeout or cancellation: a KILL signal (for servers
            # that honour it), then the channel closed (sshd hangs up the session).
            if process.returncode is None:
                with contextlib.suppress(asyncssh.Error, OSError):
                    process.send_signal("KILL")
            process.close()
        err_text = stderr.text()
        if sudo_password and _SUDO_BAD_PASSWORD.search(err_text):
            match = _SUDO_PROMPT_USER.search(err_text)
            user = match.group(1) if match else "unknown"
            reason = (
                f"Invalid sudo password provided or sudo is not configured for this user ({user})"
            )
            return _host_error(f'Failed executing command "{shown}" on host "{host}" {reason}')
        return_code = process.returncode
        if return_code is None:
            return_code = 255
        succeeded = return_code == 0
        return {
            "stdout": decode_output(stdout.text()),
            "stderr": decode_output(err_text),
            "return_code": return_code,
            "succeeded": succeeded,
            "failed": not succeeded,
        }


class RemoteShellCommandRunner(_RemoteShellRunner):
    """``remote-shell-cmd``: runs the ``cmd`` runner parameter on every host."""

    name = "remote-shell-cmd"

    def _plan(self, request: RunRequest) -> tuple[str, _Upload | None]:
        if request.entry_point:
            raise ValueError(
                f'Action "{request.action_ref}" specified "entry_point" attribute. Perhaps '
                'wanted to use "remote-shell-script" runner?'
            )
        command = request.runner_parameters.get("cmd")
        if command is None:
            raise ValueError("the cmd runner parameter is required by remote-shell-cmd")
        cwd = request.runner_parameters.get("cwd") or ""
        # StackStorm leaves cwd unquoted for commands (so ~ expands), quoted for scripts.
        return full_command(request, str(command), str(cwd)), None


class RemoteShellScriptRunner(_RemoteShellRunner):
    """``remote-shell-script``: copies the entry point to every host and runs it there."""

    name = "remote-shell-script"

    def _plan(self, request: RunRequest) -> tuple[str, _Upload | None]:
        if not request.entry_point:
            raise ValueError(
                f'Action "{request.action_ref}" is missing "entry_point" attribute. Perhaps '
                'wanted to use "remote-shell-cmd" runner?'
            )
        parameters = request.runner_parameters
        remote_root = str(parameters.get("dir") or "/tmp")  # noqa: S108 - StackStorm's default
        remote_dir = posixpath.join(
            remote_root, re.sub(r"[^A-Za-z0-9_.-]", "_", request.execution_id)
        )
        remote_script = posixpath.join(remote_dir, os.path.basename(request.entry_point))
        lib_dir = os.path.join(os.path.dirname(request.entry_point), "lib")
        rendered = RenderedParameters(
            runner=dict(parameters), action=dict(request.action_parameters)
        )
        script = script_command(remote_script, rendered, request.parameter_schema).command
        cwd = parameters.get("cwd") or ""
        command = full_command(request, script, shlex.quote(str(cwd)) if cwd else "")
        upload = _Upload(
            remote_dir=remote_dir,
            script=request.entry_point,
            remote_script=remote_script,
            lib_dir=lib_dir if os.path.isdir(lib_dir) else None,
        )
        return command, upload


async def _copy(connection: asyncssh.SSHClientConnection, upload: _Upload) -> None:
    async with connection.start_sftp_client() as sftp:
        await sftp.mkdir(upload.remote_dir)
        await sftp.put(upload.script, upload.remote_script)
        await sftp.chmod(upload.remote_script, 0o744)
        if upload.lib_dir is not None:
            await sftp.put(upload.lib_dir, upload.remote_dir, recurse=True, preserve=True)


async def _remove(connection: asyncssh.SSHClientConnection, remote_dir: str) -> None:
    """Best effort, as StackStorm: a folder left behind does not change the result."""
    with contextlib.suppress(asyncssh.Error, OSError):
        async with connection.start_sftp_client() as sftp:
            await sftp.rmtree(remote_dir, ignore_errors=True)


async def _pump(
    reader: asyncssh.SSHReader[bytes], capture: OutputCapture, events: RunEvents | None
) -> None:
    while chunk := await reader.read(_CHUNK):
        text = capture.feed(chunk)
        if text and events is not None:
            events.output(capture.stream, text)


def _status(results: Mapping[str, Any]) -> RunStatus:
    """StackStorm's rule: every host succeeded; else timeout if every host timed out."""
    if all(entry.get("succeeded") for entry in results.values()):
        return RunStatus.SUCCEEDED
    if all(entry.get("timeout") for entry in results.values()):
        return RunStatus.TIMEOUT
    return RunStatus.FAILED


def _host_error(
    message: str, error: BaseException | None = None, *, timeout: bool = False
) -> dict[str, Any]:
    """StackStorm's per-host error entry (``ParallelSSHClient._generate_error_result``)."""
    trace = "".join(traceback.format_exception(error)) if error is not None else ""
    return {
        "failed": True,
        "succeeded": False,
        "timeout": timeout,
        "return_code": -9 if timeout else 255,
        "stdout": "",
        "stderr": "",
        "error": message,
        "traceback": trace,
    }


def _sanitize(command: str) -> str:
    """The command as shown in error messages: the auth token masked, as StackStorm."""
    return _AUTH_TOKEN.sub("ST2_ACTION_AUTH_TOKEN=******** ", command)


def _seconds(timeout: float | None) -> str:
    if timeout is None:
        return "None"
    return str(int(timeout)) if timeout == int(timeout) else str(timeout)


def _error_result(message: str, trace: str) -> RunnerResult:
    """A run with no per-host result: StackStorm's result for a runner exception."""
    return RunnerResult(
        status=RunStatus.FAILED,
        result={"error": message, "traceback": trace},
        error=message.splitlines()[0],
    )
