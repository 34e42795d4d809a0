"""remote-shell-cmd and remote-shell-script against a real asyncssh server on loopback.

The server runs each requested command in a real local shell and serves SFTP on the real
filesystem, so the runners go through real SSH, real authentication and real file transfers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from packhorse.runners.base import NullEvents, RunnerResult, RunStatus
from packhorse.runners.remote import (
    RemoteShellCommandRunner,
    RemoteShellScriptRunner,
    parse_hosts,
    split_host_port,
)
from tests.runners.helpers import RecordingEvents, make_request, run

PASSWORD = "s3cret pass"
USER = "tester"


@dataclass
class _Server:
    port: int
    commands: list[str] = field(default_factory=list)
    killed: list[str] = field(default_factory=list)
    forwarded: list[tuple[str, int]] = field(default_factory=list)


class _Auth(asyncssh.SSHServer):
    def __init__(self, server: _Server, password: str, keys: list[asyncssh.SSHKey]) -> None:
        self.server = server
        self.password = password
        self.keys = [key.public_data for key in keys]

    def connection_requested(
        self, dest_host: str, dest_port: int, orig_host: str, orig_port: int
    ) -> bool:
        # A jump host: forward the tunnel (bastion_host), and remember it was used.
        self.server.forwarded.append((dest_host, dest_port))
        return True

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return password == self.password

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return key.public_data in self.keys


def _shell_process(server: _Server, env: dict[str, str] | None) -> Any:
    async def handle(process: asyncssh.SSHServerProcess[bytes]) -> None:
        command = process.command or ""
        server.commands.append(command)
        local = await asyncio.create_subprocess_shell(
            command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            env=env,
        )
        assert local.stdin and local.stdout and local.stderr
        stdin, stdout, stderr = local.stdin, local.stdout, local.stderr

        async def feed_stdin() -> None:
            with contextlib.suppress(asyncssh.Error, OSError):
                while data := await process.stdin.read(65536):
                    stdin.write(data)
                    await stdin.drain()
            stdin.close()

        async def pump(reader: asyncio.StreamReader, writer: Any) -> None:
            while data := await reader.read(65536):
                writer.write(data)

        async def finish() -> int:
            await asyncio.gather(pump(stdout, process.stdout), pump(stderr, process.stderr))
            return await local.wait()

        feeding = asyncio.ensure_future(feed_stdin())
        finished = asyncio.ensure_future(finish())
        closed = asyncio.ensure_future(process.wait_closed())
        await asyncio.wait({finished, closed}, return_when=asyncio.FIRST_COMPLETED)
        feeding.cancel()
        if finished.done():
            process.exit(finished.result())
            await closed
            return
        # The client hung up: end the command as sshd does when a session closes.
        server.killed.append(command)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(local.pid, signal.SIGKILL)
        finished.cancel()
        await local.wait()

    return handle


@contextlib.asynccontextmanager
async def ssh_server(
    password: str = PASSWORD,
    keys: list[asyncssh.SSHKey] | None = None,
    env: dict[str, str] | None = None,
) -> AsyncIterator[_Server]:
    server = _Server(port=0)
    acceptor = await asyncssh.create_server(
        lambda: _Auth(server, password, keys or []),
        "127.0.0.1",
        0,
        server_host_keys=[asyncssh.generate_private_key("ssh-ed25519")],
        process_factory=_shell_process(server, env),
        encoding=None,
        line_editor=False,
        sftp_factory=True,
    )
    server.port = acceptor.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        acceptor.close()
        await acceptor.wait_closed()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _request(hosts: str, cmd: str = "", **runner: Any) -> Any:
    fields: dict[str, Any] = {}
    for name in ("entry_point", "action_parameters", "parameter_schema", "timeout"):
        if name in runner:
            fields[name] = runner.pop(name)
    parameters = {"hosts": hosts, "username": USER, "password": PASSWORD, **runner}
    if cmd:
        parameters["cmd"] = cmd
    return make_request(runner_type="remote-shell-cmd", runner_parameters=parameters, **fields)


async def _run_cmd(request: Any, events: Any = None) -> RunnerResult:
    return await RemoteShellCommandRunner().run(request, events or NullEvents())


def test_cmd_on_one_host() -> None:
    async def scenario() -> tuple[RunnerResult, RecordingEvents]:
        events = RecordingEvents()
        async with ssh_server() as server:
            outcome = await _run_cmd(_request(f"127.0.0.1:{server.port}", "echo hello"), events)
        return outcome, events

    outcome, events = run(scenario())
    assert outcome.status is RunStatus.SUCCEEDED
    assert outcome.result == {
        "127.0.0.1": {
            "stdout": "hello",
            "stderr": "",
            "return_code": 0,
            "succeeded": True,
            "failed": False,
        }
    }
    assert events.text("stdout") == "hello\n"


@pytest.mark.parametrize("parallel", [False, True])
def test_cmd_on_two_hosts(parallel: bool) -> None:
    async def scenario() -> tuple[RunnerResult, float]:
        async with ssh_server() as first, ssh_server() as second:
            hosts = f"127.0.0.1:{first.port}, localhost:{second.port}"
            request = _request(hosts, "sleep 0.5; echo $((6 * 7))", parallel=parallel)
            started = time.monotonic()
            outcome = await _run_cmd(request)
            return outcome, time.monotonic() - started

    outcome, elapsed = run(scenario())
    assert outcome.status is RunStatus.SUCCEEDED
    assert list(outcome.result) == ["127.0.0.1", "localhost"]
    assert all(entry["stdout"] == 42 for entry in outcome.result.values())
    if parallel:
        assert elapsed < 0.95  # both hosts slept at the same time
    else:
        assert elapsed >= 1.0  # one host after the other, as StackStorm's pool of one


def test_port_parameter_is_the_default_port() -> None:
    async def scenario() -> RunnerResult:
        async with ssh_server() as server:
            return await _run_cmd(_request("127.0.0.1", "true", port=server.port))

    assert run(scenario()).status is RunStatus.SUCCEEDED


def test_non_zero_exit_fails() -> None:
    async def scenario() -> RunnerResult:
        async with ssh_server() as server:
            return await _run_cmd(_request(f"127.0.0.1:{server.port}", "echo oops >&2; exit 3"))

    outcome = run(scenario())
    assert outcome.status is RunStatus.FAILED
    assert outcome.result["127.0.0.1"] == {
        "stdout": "",
        "stderr": "oops",
        "return_code": 3,
        "succeeded": False,
        "failed": True,
    }


def test_json_stdout_is_decoded() -> None:
    async def scenario() -> RunnerResult:
        async with ssh_server() as server:
            cmd = """echo '{"a": [1, 2], "b": null}'; echo '["e"]' >&2"""
            return await _run_cmd(_request(f"127.0.0.1:{server.port}", cmd))

    entry = run(scenario()).result["127.0.0.1"]
    assert entry["stdout"] == {"a": [1, 2], "b": None}
    assert entry["stderr"] == ["e"]


def test_cwd_and_env_are_applied(tmp_path: Path) -> None:
    async def scenario() -> tuple[RunnerResult, _Server]:
        async with ssh_server() as server:
            request = _request(
                f"127.0.0.1:{server.port}",
                'pwd; echo "$GREETING|$COUNT|$ST2_ACTION_PACK_NAME|$ST2_ACTION_EXECUTION_ID"',
                cwd=str(tmp_path),
                env={"GREETING": "hi 'there'; $x", "COUNT": 3},
            )
            return await _run_cmd(request), server

    outcome, server = run(scenario())
    lines = outcome.result["127.0.0.1"]["stdout"].splitlines()
    assert lines == [str(tmp_path), "hi 'there'; $x|3|demo|6a1f0000000000000000abcd"]
    # StackStorm's order: exports, then cd, then the command.
    assert server.commands[0].startswith("export ")
    assert f" && cd {tmp_path} && pwd;" in server.commands[0]


@pytest.mark.parametrize(
    ("form", "key_format"),
    [
        # OpenSSH-format encryption uses bcrypt's KDF: slow by design (50 rounds, the least it
        # accepts without a warning), so it is tested once.
        pytest.param("file", "openssh", marks=pytest.mark.slow),
        ("file", "pkcs8-pem"),
        ("text", "pkcs8-pem"),
    ],
)
def test_key_authentication(tmp_path: Path, form: str, key_format: str) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    key_file = tmp_path / "id_test"
    key.write_private_key(str(key_file), key_format, passphrase="unlock", rounds=50)
    material = key.export_private_key(key_format, passphrase="unlock", rounds=50).decode()

    async def scenario() -> RunnerResult:
        async with ssh_server(password="not-this-one", keys=[key]) as server:
            request = _request(
                f"127.0.0.1:{server.port}",
                "echo keyed",
                password=None,
                private_key=str(key_file) if form == "file" else material,
                passphrase="unlock",
            )
            return await _run_cmd(request)

    outcome = run(scenario())
    assert outcome.status is RunStatus.SUCCEEDED
    assert outcome.result["127.0.0.1"]["stdout"] == "keyed"


def test_bad_password_on_the_only_host_fails_the_run() -> None:
    async def scenario() -> RunnerResult:
        async with ssh_server() as server:
            request = _request(f"127.0.0.1:{server.port}", "true", password="wrong")
            return await _run_cmd(request)

    outcome = run(scenario())
    assert outcome.status is RunStatus.FAILED
    # StackStorm's NoHostsConnectedToException, as a runner error: no per-host entries.
    assert set(outcome.result) == {"error", "traceback"}
    assert outcome.result["error"].startswith(
        "Unable to connect to any one of the hosts: ['127.0.0.1']."
    )
    assert "Connection error." in outcome.result["error"]


def test_bad_password_on_one_host_is_that_hosts_error() -> None:
    async def scenario() -> RunnerResult:
        async with ssh_server() as good, ssh_server(password="other") as bad:
            hosts = f"127.0.0.1:{good.port},localhost:{bad.port}"
            return await _run_cmd(_request(hosts, "echo fine"))

    outcome = run(scenario())
    assert outcome.status is RunStatus.FAILED
    assert outcome.result["127.0.0.1"]["succeeded"] is True
    entry = outcome.result["localhost"]
    assert entry["failed"] is True
    assert entry["succeeded"] is False
    assert entry["timeout"] is False
    assert entry["return_code"] == 255
    assert entry["error"].startswith("Connection error. ")
    assert "Traceback" in entry["traceback"]


def test_unreachable_host_is_that_hosts_error() -> None:
    async def scenario() -> RunnerResult:
        async with ssh_server() as server:
            hosts = f"127.0.0.1:{server.port},localhost:{_closed_port()}"
            return await _run_cmd(_request(hosts, "echo up"))

    outcome = run(scenario())
    assert outcome.status is RunStatus.FAILED
    assert outcome.result["127.0.0.1"]["stdout"] == "up"
    entry = outcome.result["localhost"]
    assert entry["error"].startswith("Failed connecting to host localhost. ")
    assert entry["failed"] is True
    assert entry["return_code"] == 255


def test_only_host_unreachable_fails_the_run() -> None:
    outcome = run(_run_cmd(_request(f"127.0.0.1:{_closed_port()}", "true")))
    assert outcome.status is RunStatus.FAILED
    assert "Unable to connect to any one of the hosts" in outcome.result["error"]


def test_timeout_kills_the_remote_command() -> None:
    async def scenario() -> tuple[RunnerResult, _Server, float]:
        async with ssh_server() as server:
            request = _request(f"127.0.0.1:{server.port}", "echo started; sleep 30", timeout=1)
            started = time.monotonic()
            outcome = await _run_cmd(request)
            elapsed = time.monotonic() - started
            for _ in range(100):  # the server notices the closed channel a moment later
                if server.killed:
                    break
                await asyncio.sleep(0.02)
            return outcome, server, elapsed

    outcome, server, elapsed = run(scenario())
    assert outcome.status is RunStatus.TIMEOUT
    assert elapsed < 5
    entry = outcome.result["127.0.0.1"]
    assert entry["timeout"] is True
    assert entry["return_code"] == -9
    assert entry["stdout"] == "started"
    assert "Command didn't finish in 1 seconds" in entry["error"]
    assert len(server.killed) == 1


def test_cancellation_closes_and_reraises() -> None:
    async def scenario() -> _Server:
        async with ssh_server() as server:
            events = RecordingEvents()
            request = _request(f"127.0.0.1:{server.port}", "echo go; sleep 30")
            task = asyncio.ensure_future(_run_cmd(request, events))
            await events.first_output.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            for _ in range(100):
                if server.killed:
                    break
                await asyncio.sleep(0.02)
            return server

    assert len(run(scenario()).killed) == 1


def test_sudo_wraps_the_line_and_passes_the_password_on_stdin(tmp_path: Path) -> None:
    # A stand-in for sudo on the "remote" host: shows its options and the password it read.
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "sudo").write_text(
        '#!/bin/sh\nread -r password\nopts=""\n'
        'while [ "$1" != "--" ]; do opts="$opts $1"; shift; done\nshift\n'
        'echo "sudo$opts password=$password"\nexec "$@"\n'
    )
    (fake / "sudo").chmod(0o755)
    env = {"PATH": f"{fake}:{os.environ['PATH']}"}

    async def scenario() -> tuple[RunnerResult, _Server]:
        async with ssh_server(env=env) as server:
            request = _request(
                f"127.0.0.1:{server.port}",
                "echo as root in $(pwd)",
                cwd=str(tmp_path),
                sudo=True,
                sudo_password="pw 1",
            )
            return await _run_cmd(request), server

    outcome, server = run(scenario())
    assert outcome.status is RunStatus.SUCCEEDED, outcome.result
    assert outcome.result["127.0.0.1"]["stdout"] == (
        f"sudo -S -E password=pw 1\nas root in {tmp_path}"
    )
    assert server.commands[0].startswith("sudo -S -E -- bash -c 'export ")
    assert "pw 1" not in server.commands[0]  # never on the command line


def test_bastion_host_tunnels_the_connection() -> None:
    async def scenario() -> tuple[RunnerResult, _Server, _Server]:
        async with ssh_server() as bastion, ssh_server() as target:
            request = _request(
                f"127.0.0.1:{target.port}", "echo via", bastion_host=f"127.0.0.1:{bastion.port}"
            )
            return await _run_cmd(request), bastion, target

    outcome, bastion, target = run(scenario())
    assert outcome.result["127.0.0.1"]["stdout"] == "via"
    assert bastion.forwarded == [("127.0.0.1", target.port)]
    assert bastion.commands == []
    assert len(target.commands) == 1


def test_entry_point_is_refused_by_the_command_runner() -> None:
    outcome = run(_run_cmd(_request("h", "true", entry_point="/x/a.sh")))
    assert outcome.status is RunStatus.FAILED
    assert "remote-shell-script" in outcome.result["error"]


def _pack(tmp_path: Path) -> Path:
    actions = tmp_path / "pack" / "actions"
    (actions / "lib").mkdir(parents=True)
    (actions / "lib" / "helper.sh").write_text('greet() { echo "hello $*"; }\n')
    script = actions / "greet.sh"
    script.write_text(
        "\n".join(
            [
                "#!/bin/sh",
                '. "$(dirname "$0")/lib/helper.sh"',
                'greet "$@"',
                'echo "script=$0" >&2',
                "pwd >&2",
                "",
            ]
        )
    )
    script.chmod(0o644)  # the runner makes the uploaded copy executable
    return script


def test_script_with_named_and_positional_arguments_and_lib(tmp_path: Path) -> None:
    script = _pack(tmp_path)
    remote = tmp_path / "remote"
    remote.mkdir()
    work = tmp_path / "work"
    work.mkdir()

    async def scenario() -> RunnerResult:
        async with ssh_server() as server:
            request = _request(
                f"127.0.0.1:{server.port}",
                entry_point=str(script),
                dir=str(remote),
                cwd=str(work),
                action_parameters={"name": "world", "loud": True, "count": 3, "tags": ["a", "b"]},
                parameter_schema={
                    "name": {"type": "string"},
                    "loud": {"type": "boolean"},
                    "count": {"type": "integer", "position": 0},
                    "tags": {"type": "array", "position": 1},
                },
            )
            return await RemoteShellScriptRunner().run(request, NullEvents())

    outcome = run(scenario())
    assert outcome.status is RunStatus.SUCCEEDED, outcome.result
    entry = outcome.result["127.0.0.1"]
    assert entry["stdout"] == "hello --name=world --loud 3 a,b"
    script_line, cwd_line = entry["stderr"].splitlines()
    assert script_line == f"script={remote}/6a1f0000000000000000abcd/greet.sh"
    assert cwd_line == str(work)
    assert list(remote.iterdir()) == []  # the uploaded folder was removed


def test_script_failure_still_cleans_up(tmp_path: Path) -> None:
    script = tmp_path / "fail.sh"
    script.write_text("#!/bin/sh\necho nope >&2\nexit 4\n")
    remote = tmp_path / "remote"
    remote.mkdir()

    async def scenario() -> RunnerResult:
        async with ssh_server() as server:
            request = _request(f"127.0.0.1:{server.port}", entry_point=str(script), dir=str(remote))
            return await RemoteShellScriptRunner().run(request, NullEvents())

    outcome = run(scenario())
    assert outcome.status is RunStatus.FAILED
    assert outcome.result["127.0.0.1"]["return_code"] == 4
    assert outcome.result["127.0.0.1"]["stderr"] == "nope"
    assert list(remote.iterdir()) == []


def test_script_runner_needs_an_entry_point() -> None:
    outcome = run(RemoteShellScriptRunner().run(_request("h"), NullEvents()))
    assert outcome.status is RunStatus.FAILED
    assert "entry_point" in outcome.result["error"]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("host", ("host", None)),
        ("host:2222", ("host", 2222)),
        ("10.0.0.1", ("10.0.0.1", None)),
        ("10.0.0.1:23", ("10.0.0.1", 23)),
        ("::1", ("::1", None)),
        ("[::1]", ("::1", None)),
        ("[::1]:2200", ("::1", 2200)),
    ],
)
def test_split_host_port(entry: str, expected: tuple[str, int | None]) -> None:
    assert split_host_port(entry) == expected


def test_parse_hosts() -> None:
    targets = parse_hosts(" a:1, b ,,a:2", 2022)
    assert [(t.name, t.hostname, t.port) for t in targets] == [("a", "a", 2), ("b", "b", 2022)]
    with pytest.raises(ValueError, match="No hosts"):
        parse_hosts(" , ", None)
    with pytest.raises(ValueError, match="Invalid port x"):
        parse_hosts("a:x", None)


def test_failed_upload_is_that_hosts_error(tmp_path: Path) -> None:
    script = tmp_path / "a.sh"
    script.write_text("#!/bin/sh\necho never\n")

    async def scenario() -> tuple[RunnerResult, _Server]:
        async with ssh_server() as server:
            request = _request(
                f"127.0.0.1:{server.port}", entry_point=str(script), dir=str(tmp_path / "missing")
            )
            return await RemoteShellScriptRunner().run(request, NullEvents()), server

    outcome, server = run(scenario())
    assert outcome.status is RunStatus.FAILED
    entry = outcome.result["127.0.0.1"]
    assert entry["error"].startswith("Failed copying content to remote host 127.0.0.1.")
    assert entry["return_code"] == 255
    assert server.commands == []  # nothing ran


def test_wrong_sudo_password_is_reported(tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "sudo").write_text(
        "#!/bin/sh\necho '[sudo] password for tester: ' >&2\n"
        "echo 'sudo: 3 incorrect password attempts' >&2\nexit 1\n"
    )
    (fake / "sudo").chmod(0o755)

    async def scenario() -> RunnerResult:
        async with ssh_server(env={"PATH": f"{fake}:{os.environ['PATH']}"}) as server:
            request = _request(f"127.0.0.1:{server.port}", "true", sudo=True, sudo_password="wrong")
            return await _run_cmd(request)

    outcome = run(scenario())
    assert outcome.status is RunStatus.FAILED
    assert outcome.result["127.0.0.1"]["error"].endswith(
        "Invalid sudo password provided or sudo is not configured for this user (tester)"
    )
