"""The warm host: one long-lived process per pack interpreter that forks a child per action.

The engine starts ``python -u -m _packhorse_pack.host --listen-fd L`` with a listening Unix
socket on ``L`` and a pipe on stdin that stays open as long as the engine lives (the
lifeline). The host imports the wrapper machinery and common modules once, keeps one child
forked ahead (the *spare*: forked while no child runs, since a fork competes with a running
child for the CPU), then for each connection:

1. receives one JSON line ``{"env": {...}, "cwd": "..."}`` with five descriptors attached
   (SCM_RIGHTS): the child's stdin, stdout, stderr, result pipe and datastore socket;
2. passes both to the spare over its socket pair (or to a child forked now, when there is no
   spare or it died); the child has started its own session (so the engine can kill its whole
   process group); it takes those descriptors and runs :func:`_packhorse_pack.action.serve`,
   exactly as a cold process would;
3. answers ``{"pid": N}``, then ``{"exit": CODE}`` as soon as the child reports its exit code
   over its socket pair (its last act, once its output pipes are released), or else once the
   host has reaped it (negative CODE: killed by that signal). Either way the engine does not
   wait for the kernel to tear the child down, which costs a millisecond or two. If the engine
   closes the connection first, the child's process group is killed.

The host exits when the lifeline closes or the engine dies (PR_SET_PDEATHSIG, SIGTERM):
it kills the groups of the children still running and of the spare, and removes its socket.
Children die with the host (PR_SET_PDEATHSIG, SIGKILL).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ctypes
import functools
import importlib
import importlib.util
import json
import os
import selectors
import signal
import socket
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]

PR_SET_PDEATHSIG = 1
FDS_PER_CHILD = 5
MAX_HEADER = 1 << 20
# Imported once here so that children do not pay for them. Only the standard library and
# packages too common to matter; importing them must not start threads.
COMMON_MODULES = (
    "argparse", "base64", "collections", "copy", "dataclasses", "datetime", "decimal",
    "hashlib", "http.client", "ipaddress", "json", "logging", "pathlib", "random", "re",
    "shlex", "socket", "ssl", "string", "subprocess", "tempfile", "threading", "time",
    "typing", "urllib.parse", "urllib.request", "uuid",
    "six", "yaml", "requests",
)  # fmt: skip
SHIM_MODULES = ("st2common.runners.base_action", "st2common.runners.utils")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="_packhorse_pack.host")
    parser.add_argument("--listen-fd", type=int, required=True)
    args = parser.parse_args(argv)
    die_with_parent(signal.SIGTERM)
    prepare_path()
    preimport()
    Host(socket.socket(fileno=args.listen_fd)).loop()
    return 0


def die_with_parent(signum: int) -> None:
    """Ask Linux to send ``signum`` to this process when its parent dies (no-op elsewhere)."""
    with contextlib.suppress(OSError, AttributeError):
        _libc().prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)


@functools.cache
def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def prepare_path() -> None:
    from _packhorse_pack.action import SITE_DIR, drop_start_directory

    drop_start_directory()
    sys.path[:] = [entry for entry in sys.path if entry != SITE_DIR] + [SITE_DIR]


def preimport() -> None:
    from _packhorse_pack import action
    from _packhorse_pack.action import SITE_DIR

    for name in COMMON_MODULES:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    # What every child reads: the interpreter's install paths...
    action.install_paths()
    # ...and the StackStorm base classes actions import, when they are our shims: a real
    # st2common in the pack's virtualenv is left for the child to import (it may start
    # threads, which a forking host must not have).
    spec = importlib.util.find_spec("st2common")
    if spec is not None and spec.origin and spec.origin.startswith(SITE_DIR + os.sep):
        for name in SHIM_MODULES:
            importlib.import_module(name)


class Spare:
    """A child forked ahead of its request, waiting for it on ``channel`` (its end of a socket
    pair); the same channel later carries its exit code back."""

    def __init__(self, pid: int, channel: socket.socket) -> None:
        self.pid = pid
        self.channel = channel


class Host:
    def __init__(self, listener: socket.socket) -> None:
        self.listener = listener
        self.listener.setblocking(False)
        self.selector = selectors.DefaultSelector()
        # Engine connections of running children, until their exit code is sent.
        self.children: dict[int, socket.socket] = {}
        # Channels of running children, until they report their exit code.
        self.reports: dict[int, socket.socket] = {}
        self.spare: Spare | None = None
        self.wake_read, self.wake_write = os.pipe()
        os.set_blocking(self.wake_read, False)
        os.set_blocking(self.wake_write, False)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.signal(signal.SIGTERM, self.stop)
        signal.set_wakeup_fd(self.wake_write)
        self.selector.register(listener, selectors.EVENT_READ, "accept")
        self.selector.register(0, selectors.EVENT_READ, "lifeline")
        self.selector.register(self.wake_read, selectors.EVENT_READ, "reap")
        self.running = True

    def loop(self) -> None:
        while self.running:
            if self.spare is None and not self.children:
                # Forked while no child runs (a fork competes with it for the CPU), so that the
                # next request finds its child already there.
                self.spare = self.fork_spare()
            for key, _ in self.selector.select():
                # No match statement: pack interpreters may be as old as Python 3.9.
                if key.data == "accept":
                    self.accept()
                elif key.data == "lifeline":
                    self.check_lifeline()
                elif key.data == "reap":
                    with contextlib.suppress(BlockingIOError):
                        os.read(self.wake_read, 4096)
                elif key.data[0] == "report":
                    self.check_report(key.data[1], key.fileobj)
                else:
                    self.check_connection(key.data[1], key.fileobj)
            self.reap()
        for pid in list(self.children):
            kill_group(pid)
        if self.spare is not None:
            kill_group(self.spare.pid)
        self.remove_socket()

    def stop(self, signum: int, frame: Any) -> None:
        self.running = False

    def remove_socket(self) -> None:
        with contextlib.suppress(OSError):
            path = self.listener.getsockname()
            if isinstance(path, str) and path:
                os.unlink(path)
                os.rmdir(os.path.dirname(path))

    def check_lifeline(self) -> None:
        if not os.read(0, 4096):
            self.running = False

    def accept(self) -> None:
        try:
            connection, _ = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        try:
            header, fds = receive_request(connection)
        except (OSError, ValueError) as error:
            sys.stderr.write(f"packhorse warm host: bad request: {error}\n")
            connection.close()
            return
        try:
            child = self.hand_over(connection, header, fds)
        finally:
            for fd in fds:
                os.close(fd)
        if child is None:  # nothing started: the engine sees the connection close
            connection.close()
            return
        pid = child.pid
        try:
            connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        except OSError:
            kill_group(pid)
        connection.setblocking(False)
        self.children[pid] = connection
        self.selector.register(connection, selectors.EVENT_READ, ("child", pid))
        child.channel.setblocking(False)
        self.reports[pid] = child.channel
        self.selector.register(child.channel, selectors.EVENT_READ, ("report", pid))

    def hand_over(
        self, connection: socket.socket, header: dict[str, Any], fds: list[int]
    ) -> Spare | None:
        """Give the request to the spare child (or, if it died waiting, to a new one)."""
        message = json.dumps(header).encode() + b"\n"
        for _attempt in range(2):
            child = self.spare or self.fork_spare(connection)
            self.spare = None
            if child is None:
                return None
            try:
                sent = socket.send_fds(child.channel, [message], fds)
                if sent < len(message):
                    # Nothing more once all is sent: the child may have run and exited already.
                    child.channel.sendall(message[sent:])
                return child
            except OSError as error:
                sys.stderr.write(f"packhorse warm host: cannot start a child: {error}\n")
                kill_group(child.pid)
                child.channel.close()
        return None

    def fork_spare(self, connection: socket.socket | None = None) -> Spare | None:
        """Fork a child that waits for its request (None when the fork fails)."""
        host_pid = os.getpid()
        channel, child_channel = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError as error:
            sys.stderr.write(f"packhorse warm host: cannot fork: {error}\n")
            channel.close()
            child_channel.close()
            return None
        if pid != 0:
            child_channel.close()
            return Spare(pid, channel)
        code = 70
        try:
            channel.close()
            self.become_child(connection)
            if os.getppid() != host_pid:  # the host died before PR_SET_PDEATHSIG took hold
                os._exit(code)
            try:
                header, fds = receive_request(child_channel, timeout=None)
            except (OSError, ValueError):  # the host is gone or stopping: never used
                os._exit(0)
            code = run_child(header, fds)
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        except BaseException:  # a child must never return into the host's loop
            import traceback

            traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            report_exit(child_channel, code)
            os._exit(code)

    def become_child(self, connection: socket.socket | None) -> None:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        self.selector.close()
        self.listener.close()
        if connection is not None:
            connection.close()
        for other in [*self.children.values(), *self.reports.values()]:
            other.close()
        os.close(self.wake_read)
        os.close(self.wake_write)
        os.setsid()
        die_with_parent(signal.SIGKILL)

    def check_connection(self, pid: int, connection: Any) -> None:
        try:
            data = connection.recv(1)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            # The engine gave up on this execution (cancelled or gone): end the child's group.
            kill_group(pid)
            self.selector.unregister(connection)

    def check_report(self, pid: int, channel: Any) -> None:
        """A child says its exit code as its last act (its output pipes already closed): the
        engine hears it now, not after the kernel has torn the process down."""
        try:
            data = channel.recv(64)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        self.forget_report(pid)
        if data.strip().lstrip(b"-").isdigit():
            self.send_exit(pid, int(data))
        # else the child died before reporting: its exit status is sent when it is reaped

    def forget_report(self, pid: int) -> None:
        channel = self.reports.pop(pid, None)
        if channel is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(channel)
            channel.close()

    def send_exit(self, pid: int, code: int) -> None:
        connection = self.children.pop(pid, None)
        if connection is None:
            return  # already sent
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(connection)
        with contextlib.suppress(OSError):
            connection.setblocking(True)
            connection.sendall(json.dumps({"exit": code}).encode() + b"\n")
        connection.close()

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if self.spare is not None and pid == self.spare.pid:
                self.spare.channel.close()  # killed while it waited: fork another
                self.spare = None
            self.forget_report(pid)
            self.send_exit(pid, os.waitstatus_to_exitcode(status))


def report_exit(channel: socket.socket, code: int) -> None:
    """Release the output pipes (the engine sees them close) and tell the host the exit code,
    just before ``os._exit``."""
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)
    with contextlib.suppress(OSError):
        channel.sendall(f"{code}\n".encode())


def receive_request(
    connection: socket.socket, timeout: float | None = 5.0
) -> tuple[dict[str, Any], list[int]]:
    connection.settimeout(timeout)
    data, fds, _flags, _address = socket.recv_fds(connection, 1 << 16, FDS_PER_CHILD)
    while not data.endswith(b"\n"):
        more = connection.recv(1 << 16)
        if not more or len(data) > MAX_HEADER:
            for fd in fds:
                os.close(fd)
            raise ValueError("incomplete request")
        data += more
    if len(fds) != FDS_PER_CHILD:
        for fd in fds:
            os.close(fd)
        raise ValueError(f"expected {FDS_PER_CHILD} descriptors, got {len(fds)}")
    return json.loads(data), fds


def run_child(header: dict[str, Any], fds: list[int]) -> int:
    from _packhorse_pack import action

    stdin, stdout, stderr, result_fd, datastore_fd = fds
    for target, fd in ((0, stdin), (1, stdout), (2, stderr)):
        os.dup2(fd, target)
        os.close(fd)
    os.environ.clear()
    os.environ.update(header.get("env", {}))
    if header.get("cwd"):
        os.chdir(header["cwd"])
    code = action.serve(result_fd, datastore_fd)
    atexit._run_exitfuncs()
    with contextlib.suppress(OSError):  # closed by now, unless serve() failed half-way
        os.close(result_fd)
    return code


def kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
