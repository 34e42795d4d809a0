"""Child processes for runners: a session of their own, streamed and capped output, group kill.

:func:`run_process` starts one command as the leader of a new session (``setsid``, so its
process group and session ids equal its pid), streams both pipes to ``events.output`` as data
arrives, keeps at most ``max_output_bytes`` of each stream, and on timeout or cancellation kills
everything the command started: SIGTERM to the group and session, a short grace, then SIGKILL.
It waits until no live process of the group is left, so a caller that sees the result knows the
action's children are gone (their zombies are reaped by init, which may take a moment longer).

The child is started with :class:`subprocess.Popen` (``vfork`` + ``exec``) and its exit is
heard through a pidfd the event loop watches (Linux 5.3 and later; elsewhere the exit is
polled). asyncio's own subprocesses on Python 3.11 start a waiting thread per child, which
cost about a millisecond per run here, more than the rest of the spawn.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import functools
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packhorse.runners.base import RunEvents

DEFAULT_MAX_OUTPUT_BYTES = 10 * 1024 * 1024
DEFAULT_KILL_GRACE = 1.0
_READ_SIZE = 64 * 1024
#: How long to wait for a killed group to disappear before giving up (a process stuck in the
#: kernel, uninterruptible, cannot be waited for any better).
_GONE_TIMEOUT = 10.0
#: After a kill, output still buffered in the pipes is collected for at most this long (a
#: process outside the group may hold the pipe open).
_DRAIN_AFTER_KILL = 1.0
_HAVE_PROC = Path("/proc/self/stat").exists()
#: Without a pidfd, the exit is polled this often at first, then less and less often.
_POLL_FIRST = 0.001
_POLL_MOST = 0.05


@dataclass(frozen=True, slots=True)
class ProcessOutcome:
    """How a child process ended and what it wrote."""

    return_code: int
    """The exit status; a negative number ``-N`` when signal ``N`` ended it."""
    stdout: str
    stderr: str
    timed_out: bool
    """The timeout expired and the process group was killed."""


@dataclass(slots=True)
class OutputCapture:
    """One output stream: decodes UTF-8 incrementally and keeps at most ``limit`` bytes."""

    stream: str
    limit: int
    parts: list[str] = field(default_factory=list)
    kept: int = 0
    dropped: int = 0
    decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )

    def feed(self, data: bytes) -> str:
        """Keep what fits; return the newly decoded text ("" when nothing new is kept)."""
        room = self.limit - self.kept
        if room <= 0:
            self.dropped += len(data)
            return ""
        if len(data) > room:
            self.dropped += len(data) - room
            data = data[:room]
        self.kept += len(data)
        text = self.decoder.decode(data)
        if text:
            self.parts.append(text)
        return text

    def text(self) -> str:
        tail = self.decoder.decode(b"", final=True)
        body = "".join(self.parts) + tail
        if self.dropped:
            body += (
                f"\n[packhorse: {self.stream} truncated: {self.dropped} bytes beyond the "
                f"{self.limit}-byte limit were dropped]"
            )
        return body


class ChildProcess:
    """A started child process whose exit the running event loop hears about by itself."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen
        self.pid = popen.pid
        loop = asyncio.get_running_loop()
        self._exited: asyncio.Future[int] = loop.create_future()
        self._poller: asyncio.Task[None] | None = None
        try:
            pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):  # not Linux, or older than 5.3
            self._poller = loop.create_task(self._poll())
            return

        def exited() -> None:
            loop.remove_reader(pidfd)
            os.close(pidfd)
            self._settle(self._popen.wait())  # it has exited: this reaps it at once

        loop.add_reader(pidfd, exited)

    @property
    def returncode(self) -> int | None:
        """The exit status once reaped; ``-N`` when signal ``N`` ended it."""
        return self._popen.returncode

    async def wait(self) -> int:
        # Shielded: a waiter that times out or is cancelled leaves the watch in place.
        return await asyncio.shield(self._exited)

    def _settle(self, code: int) -> None:
        if not self._exited.done():
            self._exited.set_result(code)

    async def _poll(self) -> None:
        delay = _POLL_FIRST
        while (code := self._popen.poll()) is None:
            await asyncio.sleep(delay)
            delay = min(delay * 2, _POLL_MOST)
        self._settle(code)


class _OutputPipe(asyncio.Protocol):
    """Feeds one output pipe to its capture and to the run's events; ``closed`` resolves at
    end of file (or holds the error of a failing ``events.output``)."""

    def __init__(self, capture: OutputCapture, events: RunEvents) -> None:
        self._capture = capture
        self._events = events
        self._transport: asyncio.BaseTransport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            text = self._capture.feed(data)
            if text:
                self._events.output(self._capture.stream, text)
        except Exception as error:  # noqa: BLE001 - a bug: handed to the run, which raises it
            if not self.closed.done():
                self.closed.set_exception(error)
            if self._transport is not None:
                self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


#: The shell prologue of a gated command: wait for the go line, or exit without running.
_GATE = "IFS= read -r _packhorse_go || exit 125\n"


async def run_process(
    command: str | Sequence[str],
    *,
    events: RunEvents,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    stdin_data: bytes | None = None,
    timeout: float | None = None,
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
    kill_grace: float = DEFAULT_KILL_GRACE,
    gate: bool = False,
) -> ProcessOutcome:
    """Run ``command`` (a shell command line, or an argv list) to completion.

    With ``gate`` (shell command lines only), the command waits for a go line on its stdin,
    which is written only after ``events.started`` has returned, that is after the engine has
    recorded the start. An engine killed in between never lets the command run (its stdin
    closes, and the shell exits 125 without running it): so a command the engine did not
    record as started has not done anything, and running it again after a restart cannot run
    it twice.

    The run ends when the command has exited *and* both pipes are closed: a background child
    that keeps the output pipe open keeps the run going, until the timeout. On timeout the
    whole group is killed and the outcome says ``timed_out``. When the calling task is
    cancelled, the group is killed and :class:`asyncio.CancelledError` propagates.

    Raises :class:`OSError` when the command cannot be started (missing ``cwd``...).
    """
    if gate and isinstance(command, str):
        command = _GATE + ("" if stdin_data is not None else "exec </dev/null\n") + command
        stdin_data = b"go\n" + (stdin_data or b"")
    popen = subprocess.Popen(
        command,
        shell=isinstance(command, str),
        stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        start_new_session=True,
        bufsize=0,
    )
    process = ChildProcess(popen)
    assert popen.stdout is not None and popen.stderr is not None
    loop = asyncio.get_running_loop()
    stdout = OutputCapture("stdout", max_output_bytes)
    stderr = OutputCapture("stderr", max_output_bytes)
    transports: list[asyncio.BaseTransport] = []
    readers: list[asyncio.Future[None]] = []
    timed_out = False
    try:
        events.started(process.pid)
        for pipe, capture in ((popen.stdout, stdout), (popen.stderr, stderr)):
            transport, reader = await loop.connect_read_pipe(
                functools.partial(_OutputPipe, capture, events), pipe
            )
            transports.append(transport)
            readers.append(reader.closed)
        if stdin_data is not None:
            assert popen.stdin is not None
            # Written as the command reads it; one that exits without reading breaks the
            # pipe, which is its business, not an error.
            writer, _ = await loop.connect_write_pipe(asyncio.Protocol, popen.stdin)
            transports.append(writer)
            writer.write(stdin_data)
            writer.close()
        try:
            async with asyncio.timeout(timeout):
                # asyncio.wait, not gather: a timeout or cancel must leave the readers running
                # so that they can collect the last output and see the pipes close.
                await asyncio.wait(readers)
                for reader_closed in readers:
                    reader_closed.result()  # a failing reader is a bug: let it raise
                await process.wait()
        except TimeoutError:
            timed_out = True
            await terminate(process, grace=kill_grace)
            await _drain(readers)
        except asyncio.CancelledError:
            await terminate(process, grace=kill_grace)
            await _drain(readers)  # readers reach EOF, so the pipes close
            raise
    finally:
        if process.returncode is None:
            # A second cancel during the kill, or a failing reader: never leave the group.
            _signal_group(process.pid, signal.SIGKILL)
        # Normally a no-op; closes the pipes when something outside the session holds them.
        for opened in transports:
            opened.close()
        for end in (popen.stdin, popen.stdout, popen.stderr):
            if end is not None:
                end.close()  # when the loop never took it over (it failed first)
    assert process.returncode is not None
    return ProcessOutcome(
        return_code=process.returncode,
        stdout=stdout.text(),
        stderr=stderr.text(),
        timed_out=timed_out,
    )


async def terminate(process: ChildProcess, *, grace: float) -> None:
    """Kill ``process`` and everything in its group and session; wait until they are gone.

    SIGTERM first (``sudo`` relays it to the command it runs), then SIGKILL after ``grace``
    seconds, or at once when the leader exits sooner.
    """
    pid = process.pid
    if grace > 0:
        _signal_group(pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace):
                await process.wait()
    _signal_group(pid, signal.SIGKILL)
    await process.wait()
    await _wait_group_gone(pid)


async def _drain(readers: list[asyncio.Future[None]]) -> None:
    """Let the readers collect what the killed processes left in the pipes."""
    await asyncio.wait(readers, timeout=_DRAIN_AFTER_KILL)


def _signal_group(leader: int, signum: int) -> None:
    """Send ``signum`` to the group led by ``leader`` and to every process of its session.

    The session sweep also reaches children that moved to a group of their own (``set -m``
    in a script puts each background job in its own group).
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader, signum)
    for pid in _session_members(leader, live_only=False):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


async def _wait_group_gone(leader: int) -> None:
    delay = 0.005
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(_GONE_TIMEOUT):
            while _live_members(leader):
                await asyncio.sleep(delay)  # no event tells us that a non-child died
                delay = min(delay * 2, 0.1)


def _live_members(leader: int) -> bool:
    """True while a process of the group or session is alive (zombies do not count)."""
    if _HAVE_PROC:
        return bool(_session_members(leader, live_only=True))
    try:
        os.killpg(leader, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _session_members(leader: int, *, live_only: bool) -> list[int]:
    """Pids whose session or process group is ``leader`` (Linux ``/proc``; [] elsewhere)."""
    members = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        # Fields after the command name, which is in parentheses and may contain anything.
        fields = stat[stat.rfind(")") + 2 :].split()
        state, group, session = fields[0], int(fields[2]), int(fields[3])
        if leader in (group, session) and not (live_only and state in ("Z", "X")):
            members.append(int(entry))
    return members
