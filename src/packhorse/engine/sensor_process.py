"""One sensor process and its channels, seen from the engine.

The process runs ``python -u -m _packhorse_pack.sensor`` (the pack-side wrapper) on the pack's
interpreter, in a session of its own. It gets its request as JSON on stdin, a control socket
(JSON lines both ways: see the wrapper's docstring) and the python-script runner's datastore
socket, served by :func:`~packhorse.runners.datastore_channel.serve_datastore`. Its stdout
and stderr are read line by line; the tail of stderr is kept to explain a crash.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import signal
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from packhorse.engine.sensor_plan import TriggerChange
from packhorse.runners.base import RunRequest
from packhorse.runners.datastore_channel import DatastoreChannel, serve_datastore
from packhorse.runners.pyprocess import StartFailed, kill_group

__all__ = [
    "Dispatch",
    "Failed",
    "Log",
    "ProcessExit",
    "Ready",
    "SensorMessage",
    "SensorProcess",
    "StartFailed",
    "parse_message",
]

WRAPPER_MODULE = "_packhorse_pack.sensor"
LINE_LIMIT = 16 * 1024 * 1024
OUTPUT_GRACE = 1.0
"""Seconds to keep reading a process's channels after it exited (what it sent last)."""
STDERR_TAIL_LINES = 40
ERROR_LIMIT = 4000
"""Characters of an error kept for the status (the end of a traceback matters most)."""

LOG = logging.getLogger("packhorse.sensors")


@dataclass(frozen=True, slots=True)
class Ready:
    """``setup()`` returned and the first triggers were added: ``run()`` starts."""


@dataclass(frozen=True, slots=True)
class Dispatch:
    trigger: Any
    """A trigger ref, or a trigger dict (``ref``; or ``type`` and ``parameters``; or
    ``pack`` and ``name``), as the sensor passed it."""
    payload: Any
    trace_tag: str | None


@dataclass(frozen=True, slots=True)
class Log:
    level: int
    logger: str
    message: str


@dataclass(frozen=True, slots=True)
class Failed:
    """The sensor is about to exit 1: why (the exception and its traceback)."""

    error: str


SensorMessage = Ready | Dispatch | Log | Failed


def parse_message(line: bytes) -> SensorMessage | None:
    """A message of the control channel, or None for a line that is not one."""
    try:
        document = json.loads(line)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    args = document.get("args")
    args = args if isinstance(args, dict) else {}
    match document.get("op"):
        case "ready":
            return Ready()
        case "dispatch":
            tag = args.get("trace_tag")
            return Dispatch(
                args.get("trigger"), args.get("payload"), None if tag is None else str(tag)
            )
        case "log":
            level = args.get("level")
            return Log(
                level if isinstance(level, int) and not isinstance(level, bool) else logging.INFO,
                str(args.get("logger") or ""),
                str(args.get("message") or ""),
            )
        case "failed":
            return Failed(str(args.get("error") or ""))
    return None


@dataclass(frozen=True, slots=True)
class ProcessExit:
    code: int
    """The exit code; negative: killed by that signal."""
    error: str | None
    """What the sensor reported before failing, else the tail of its stderr; None when it
    said nothing."""

    def describe(self) -> str:
        """The reason for a status: the error, else how the process ended."""
        if self.error:
            return tail(self.error)
        if self.code < 0:
            return f"killed by signal {-self.code}"
        return f"exited with code {self.code}"


def tail(text: str, limit: int = ERROR_LIMIT) -> str:
    text = text.strip()
    return text if len(text) <= limit else "…" + text[-limit:]


class SensorProcess:
    """A started sensor process. :attr:`exited` completes once the process has ended and its
    channels are drained; whoever started it must :meth:`stop` it or await :attr:`exited`."""

    def __init__(
        self,
        ref: str,
        process: asyncio.subprocess.Process,
        command: str,
        control: asyncio.StreamWriter,
        on_message: Callable[[SensorMessage], None],
    ) -> None:
        self.ref = ref
        self.pid = process.pid
        self.command = command
        """The command line (what StackStorm's ``process_spawn`` trigger reports)."""
        self._process = process
        self._control = control
        self._on_message = on_message
        self._stderr: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._failure: str | None = None
        self.exited: asyncio.Task[ProcessExit]

    @classmethod
    async def start(
        cls,
        ref: str,
        python: str,
        request: Mapping[str, Any],
        *,
        env: Mapping[str, str],
        datastore: DatastoreChannel,
        caller: RunRequest,
        on_message: Callable[[SensorMessage], None],
    ) -> SensorProcess:
        """Start the wrapper on ``python`` with ``request``; ``on_message`` gets every message
        the sensor sends. ``caller`` says whom the datastore calls are made for. Raises
        :class:`StartFailed` when nothing started."""
        control_parent, control_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        data_parent, data_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        argv = [
            python,
            "-u",
            "-m",
            WRAPPER_MODULE,
            "--control-fd",
            str(control_child.fileno()),
            "--datastore-fd",
            str(data_child.fileno()),
        ]
        try:
            try:
                process = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    pass_fds=(control_child.fileno(), data_child.fileno()),
                    env=dict(env),
                    start_new_session=True,
                )
            finally:
                control_child.close()
                data_child.close()
        except OSError as error:
            control_parent.close()
            data_parent.close()
            raise StartFailed(f"cannot start {python}: {error}") from error
        try:
            control_reader, control_writer = await asyncio.open_connection(
                sock=control_parent, limit=LINE_LIMIT
            )
            data_reader, data_writer = await asyncio.open_connection(
                sock=data_parent, limit=LINE_LIMIT
            )
            started = cls(ref, process, " ".join(argv), control_writer, on_message)
            started._watch(
                control_reader,
                asyncio.create_task(serve_datastore(data_reader, data_writer, datastore, caller)),
            )
            await started._send_request(request)
        except BaseException:
            kill_group(process.pid)
            raise
        return started

    def _watch(self, control: asyncio.StreamReader, datastore: asyncio.Task[int]) -> None:
        stdout, stderr = self._process.stdout, self._process.stderr
        assert stdout is not None and stderr is not None
        readers = [
            asyncio.create_task(_read_messages(self.ref, control, self._received)),
            asyncio.create_task(_read_lines(stdout, self._stdout_line)),
            asyncio.create_task(_read_lines(stderr, self._stderr_line)),
        ]
        self.exited = asyncio.create_task(self._settle(readers, datastore))

    def _received(self, message: SensorMessage) -> None:
        if isinstance(message, Failed):
            self._failure = message.error
        self._on_message(message)

    def _stdout_line(self, line: str) -> None:
        LOG.info("[%s] stdout: %s", self.ref, line)

    def _stderr_line(self, line: str) -> None:
        self._stderr.append(line)
        LOG.warning("[%s] stderr: %s", self.ref, line)

    async def _send_request(self, request: Mapping[str, Any]) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        # Secrets (the config) go in on stdin, never in argv.
        stdin.write(json.dumps(request, default=str).encode())
        with contextlib.suppress(ConnectionError):
            await stdin.drain()  # a process that died at once: its exit says why
        stdin.close()

    @property
    def alive(self) -> bool:
        return not self.exited.done()

    def send(self, change: TriggerChange) -> None:
        """Tell the sensor about a trigger change (nothing happens once it is gone)."""
        self._write({"op": change.op.value, "args": {"trigger": dict(change.trigger)}})

    def _write(self, message: Mapping[str, Any]) -> None:
        if self._control.is_closing():
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            self._control.write(json.dumps(message).encode() + b"\n")

    async def stop(self, grace: float) -> ProcessExit:
        """Ask the sensor to stop (a ``stop`` message and SIGTERM: it leaves ``run()`` and
        calls ``cleanup()``); kill its process group after ``grace`` seconds."""
        if self.alive:
            self._write({"op": "stop", "args": {}})
            with contextlib.suppress(ProcessLookupError):
                self._process.send_signal(signal.SIGTERM)
            done, _ = await asyncio.wait({self.exited}, timeout=grace)
            if not done:
                LOG.warning("[%s] did not stop within %ss: killed", self.ref, grace)
                kill_group(self.pid)
        return await asyncio.shield(self.exited)

    async def _settle(
        self, readers: list[asyncio.Task[None]], datastore: asyncio.Task[int]
    ) -> ProcessExit:
        try:
            code = await self._process.wait()
            # What the sensor sent just before it ended (its last dispatches) is still read.
            await asyncio.wait(readers, timeout=OUTPUT_GRACE)
        finally:
            kill_group(self.pid)  # what the sensor started in its session ends with it
            for task in [*readers, datastore]:
                task.cancel()
            await asyncio.gather(*readers, datastore, return_exceptions=True)
            self._control.close()
        error = self._failure or ("\n".join(self._stderr) if code != 0 else None)
        return ProcessExit(code, error or None)


async def _read_messages(
    ref: str, reader: asyncio.StreamReader, received: Callable[[SensorMessage], None]
) -> None:
    try:
        while line := await reader.readline():
            message = parse_message(line)
            if message is None:
                LOG.warning("[%s] sent a message Packhorse does not know: %.200r", ref, line)
                continue
            try:
                received(message)
            except Exception:  # one bad message must not end the sensor's channel
                LOG.exception("[%s] handling %s failed", ref, type(message).__name__)
    except (ConnectionError, ValueError, asyncio.LimitOverrunError):
        LOG.warning("[%s] control channel broken", ref)


async def _read_lines(stream: asyncio.StreamReader, emit: Callable[[str], None]) -> None:
    """Report each line of ``stream`` (lines of any length, decoded leniently)."""
    pending = b""
    while chunk := await stream.read(1 << 16):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            emit(line.decode("utf-8", errors="replace").rstrip("\r"))
        if len(pending) > LINE_LIMIT:
            emit(pending.decode("utf-8", errors="replace"))
            pending = b""
    if pending:
        emit(pending.decode("utf-8", errors="replace"))
