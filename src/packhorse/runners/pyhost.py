"""Warm hosts: one long-lived pack interpreter per virtualenv that forks a child per action.

A cold python-script execution pays for Python's start-up and imports on every run. A warm
host (``_packhorse_pack.host`` in the pack site folder) pays them once; each execution is a
fresh ``fork()`` of it, so executions stay isolated (nothing an action does survives it) but
start in a few milliseconds.

Lifecycle: :class:`WarmHosts` starts a host lazily, the first time an interpreter is asked
for, and restarts it when it has died. The host gets a listening Unix socket (in a private
0700 folder) and a lifeline pipe on stdin; it exits when the lifeline closes, and Linux kills
it when the engine dies (PR_SET_PDEATHSIG). :meth:`WarmHosts.aclose` stops every host.

Per execution the runner connects, sends the child's five descriptors (SCM_RIGHTS) with its
environment and working folder, and gets the child's PID back (the host forks children ahead
of their requests), then its exit code (reported by the child as its last act, or read when
the host reaps it). The child leads its own process group, so the runner times it out and
cancels it by PGID exactly as it does a cold process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Any

from packhorse.runners.pyprocess import ChildEnds, HostLost, kill_group

__all__ = ["WarmChild", "WarmHost", "WarmHosts"]

HOST_MODULE = "_packhorse_pack.host"
STOP_GRACE = 2.0
COOLDOWN = 60.0
"""Seconds an interpreter runs cold after its host failed before serving anyone (a broken
interpreter or an old Python must not cost a failed host start on every execution)."""


class WarmChild:
    """An action process forked by a warm host."""

    def __init__(self, pid: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.pid = pid
        self._reader = reader
        self._writer = writer

    async def wait(self) -> int:
        line = await self._reader.readline()  # a timeout may cancel this; then we wait again
        self._writer.close()
        if not line:
            raise HostLost(f"the warm host died while running process {self.pid}")
        return int(json.loads(line)["exit"])

    def kill(self) -> None:
        kill_group(self.pid)

    def abandon(self) -> None:
        """Close the connection: the host kills the child's group if it is still running."""
        self._writer.close()


class WarmHost:
    """One running host process for one interpreter."""

    def __init__(self, process: asyncio.subprocess.Process, folder: str) -> None:
        self.process = process
        self.folder = folder
        self.socket_path = os.path.join(folder, "host.sock")
        self.served = 0

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    @classmethod
    async def start(cls, python: str, env: Mapping[str, str]) -> WarmHost:
        folder = tempfile.mkdtemp(prefix="packhorse-pyhost-")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(os.path.join(folder, "host.sock"))
            listener.listen(128)
            process = await asyncio.create_subprocess_exec(
                python,
                "-u",
                "-m",
                HOST_MODULE,
                "--listen-fd",
                str(listener.fileno()),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                pass_fds=(listener.fileno(),),
                env=dict(env),
                start_new_session=True,
            )
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        finally:
            # Only the host holds the listener now: once it dies, connecting fails at once.
            listener.close()
        return cls(process, folder)

    async def spawn(self, header: Mapping[str, Any], child: ChildEnds) -> WarmChild | None:
        """Ask for a forked child on ``child``'s descriptors; None if the host cannot."""
        if not self.alive:
            return None
        loop = asyncio.get_running_loop()
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.setblocking(False)
        try:
            await loop.sock_connect(connection, self.socket_path)
            message = json.dumps(dict(header)).encode() + b"\n"
            # A fresh connection's buffer is empty, so this small message is sent at once.
            socket.send_fds(connection, [message], child.fds())
        except OSError:
            connection.close()
            return None
        reader, writer = await asyncio.open_connection(sock=connection)
        try:
            line = await reader.readline()
        except OSError:  # the host died with our request pending: nothing was started
            line = b""
        except BaseException:
            writer.close()
            raise
        if not line:
            writer.close()
            return None
        self.served += 1
        return WarmChild(int(json.loads(line)["pid"]), reader, writer)

    async def stop(self) -> None:
        if self.alive:
            if self.process.stdin is not None:
                self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), STOP_GRACE)
            except TimeoutError:
                kill_group(self.pid)
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


class WarmHosts:
    """The warm hosts of one runner, one per interpreter, started on first use."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._hosts: dict[str, WarmHost] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._cold_until: dict[str, float] = {}
        self._clock = clock

    def host_pids(self) -> dict[str, int]:
        """The PID of each live host, by interpreter path."""
        return {python: host.pid for python, host in self._hosts.items() if host.alive}

    async def get(self, python: str, env: Mapping[str, str]) -> WarmHost | None:
        """The live host of ``python``, started (or restarted) now if needed; None while the
        interpreter is cooling down after a host that never worked."""
        lock = self._locks.setdefault(python, asyncio.Lock())
        async with lock:
            host = self._hosts.get(python)
            if host is not None and host.alive:
                return host
            if host is not None:
                await self.discard(python)
            if self._clock() < self._cold_until.get(python, 0.0):
                return None
            try:
                host = await WarmHost.start(python, env)
            except OSError:
                self._cold_until[python] = self._clock() + COOLDOWN
                return None
            self._hosts[python] = host
            return host

    async def discard(self, python: str) -> None:
        """Stop the host of ``python`` (it failed a request); the next use starts a new one,
        unless this host never served anyone: then the interpreter cools down first."""
        host = self._hosts.pop(python, None)
        if host is not None:
            if host.served == 0:
                self._cold_until[python] = self._clock() + COOLDOWN
            await host.stop()

    async def aclose(self) -> None:
        hosts, self._hosts = list(self._hosts.values()), {}
        await asyncio.gather(*(host.stop() for host in hosts), return_exceptions=True)
