"""One python-script action process, started cold or by a warm host, seen the same way.

The runner makes five channels per execution: pipes for stdin (the request), stdout, stderr
and the result, and a socket pair for datastore calls. The child ends go to a cold
subprocess (:func:`spawn_cold`) or, over a Unix socket, to a warm host's forked child; either
way the runner gets an :class:`ActionProcess` that it waits for and kills by process group.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "ActionProcess",
    "ChildEnds",
    "Collector",
    "HostLost",
    "ParentEnds",
    "StartFailed",
    "kill_group",
    "make_channels",
    "spawn_cold",
]

WRAPPER_MODULE = "_packhorse_pack.action"


class StartFailed(Exception):
    """The action process could not be started (no interpreter, no resources)."""


class HostLost(Exception):
    """The warm host died while it ran the child: the child's exit status is unknown."""


class ActionProcess(Protocol):
    """A started action process: the leader of its own process group."""

    pid: int

    async def wait(self) -> int:
        """The exit code (negative: killed by that signal). Raises :class:`HostLost`."""
        ...

    def kill(self) -> None:
        """SIGKILL the whole process group."""
        ...


@dataclass(frozen=True, slots=True)
class ChildEnds:
    stdin: int
    stdout: int
    stderr: int
    result: int
    datastore: socket.socket

    def fds(self) -> list[int]:
        """In the order the warm host expects them."""
        return [self.stdin, self.stdout, self.stderr, self.result, self.datastore.fileno()]

    def close(self) -> None:
        for fd in (self.stdin, self.stdout, self.stderr, self.result):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.datastore.close()


@dataclass(frozen=True, slots=True)
class ParentEnds:
    stdin: int
    stdout: int
    stderr: int
    result: int
    datastore: socket.socket


def make_channels() -> tuple[ParentEnds, ChildEnds]:
    stdin_read, stdin_write = os.pipe()
    stdout_read, stdout_write = os.pipe()
    stderr_read, stderr_write = os.pipe()
    result_read, result_write = os.pipe()
    parent_socket, child_socket = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    parent = ParentEnds(stdin_write, stdout_read, stderr_read, result_read, parent_socket)
    child = ChildEnds(stdin_read, stdout_write, stderr_write, result_write, child_socket)
    return parent, child


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class ColdProcess:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self.pid = process.pid

    async def wait(self) -> int:
        return await self._process.wait()

    def kill(self) -> None:
        kill_group(self.pid)


async def spawn_cold(
    python: str, child: ChildEnds, *, env: Mapping[str, str], cwd: str
) -> ColdProcess:
    """Start ``python -u -m _packhorse_pack.action`` in a new session on the child ends."""
    datastore_fd = child.datastore.fileno()
    process = await asyncio.create_subprocess_exec(
        python,
        "-u",
        "-m",
        WRAPPER_MODULE,
        "--result-fd",
        str(child.result),
        "--datastore-fd",
        str(datastore_fd),
        stdin=child.stdin,
        stdout=child.stdout,
        stderr=child.stderr,
        pass_fds=(child.result, datastore_fd),
        env=dict(env),
        cwd=cwd,
        start_new_session=True,
    )
    return ColdProcess(process)


class Collector(asyncio.Protocol):
    """Gathers what a pipe carries; optionally reports each decoded chunk."""

    def __init__(self, report: Callable[[str], None] | None = None) -> None:
        self.data = bytearray()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._report = report
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def data_received(self, data: bytes) -> None:
        self.data += data
        if self._report is not None:
            text = self._decoder.decode(data)
            if text:
                self._report(text)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


async def collect(
    fd: int, report: Callable[[str], None] | None = None
) -> tuple[asyncio.ReadTransport, Collector]:
    loop = asyncio.get_running_loop()
    pipe = os.fdopen(fd, "rb", buffering=0)
    transport, collector = await loop.connect_read_pipe(lambda: Collector(report), pipe)
    return transport, collector


async def send_and_close(fd: int, payload: bytes) -> asyncio.WriteTransport:
    """Write ``payload`` to the pipe without blocking the loop, then close it (when flushed)."""
    loop = asyncio.get_running_loop()
    pipe = os.fdopen(fd, "wb", buffering=0)
    transport, _ = await loop.connect_write_pipe(asyncio.Protocol, pipe)
    transport.write(payload)
    transport.close()
    return transport
