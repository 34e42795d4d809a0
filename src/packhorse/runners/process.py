"""Child processes for runners: a session of their own, streamed and capped output, group kill.

:func:`run_process` starts one command as the leader of a new session (``setsid``, so its
process group and session ids equal its pid), streams both pipes to ``events.output`` as data
arrives, keeps at most ``max_output_bytes`` of each stream, and on timeout or cancellation kills
everything the command started: SIGTERM to the group and session, a short grace, then SIGKILL.
It waits until no live process of the group is left, so a caller that sees the result knows the
action's children are gone (their zombies are reaped by init, which may take a moment longer).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
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
) -> ProcessOutcome:
    """Run ``command`` (a shell command line, or an argv list) to completion.

    The run ends when the command has exited *and* both pipes are closed: a background child
    that keeps the output pipe open keeps the run going, until the timeout. On timeout the
    whole group is killed and the outcome says ``timed_out``. When the calling task is
    cancelled, the group is killed and :class:`asyncio.CancelledError` propagates.

    Raises :class:`OSError` when the command cannot be started (missing ``cwd``...).
    """
    common = {
        "stdin": asyncio.subprocess.PIPE if stdin_data is not None else asyncio.subprocess.DEVNULL,
        "stdout": asyncio.subprocess.PIPE,
        "stderr": asyncio.subprocess.PIPE,
        "cwd": cwd,
        "env": dict(env) if env is not None else None,
        "start_new_session": True,
    }
    if isinstance(command, str):
        process = await asyncio.create_subprocess_shell(command, **common)  # type: ignore[arg-type]
    else:
        process = await asyncio.create_subprocess_exec(*command, **common)  # type: ignore[arg-type]
    events.started(process.pid)
    assert process.stdout is not None and process.stderr is not None
    stdout = OutputCapture("stdout", max_output_bytes)
    stderr = OutputCapture("stderr", max_output_bytes)
    tasks = [
        asyncio.create_task(_pump(process.stdout, stdout, events)),
        asyncio.create_task(_pump(process.stderr, stderr, events)),
    ]
    if stdin_data is not None:
        tasks.append(asyncio.create_task(_feed(process, stdin_data)))
    timed_out = False
    try:
        try:
            async with asyncio.timeout(timeout):
                # asyncio.wait, not gather: a timeout or cancel must leave the readers running
                # so that they can collect the last output and see the pipes close.
                await asyncio.wait(tasks)
                for task in tasks:
                    task.result()  # a failing reader is a bug: let it raise
                await process.wait()
        except TimeoutError:
            timed_out = True
            await terminate(process, grace=kill_grace)
            await _drain(tasks)
        except asyncio.CancelledError:
            await terminate(process, grace=kill_grace)
            await _drain(tasks)  # readers reach EOF, so the pipes close
            raise
    finally:
        if process.returncode is None:
            # A second cancel during the kill, or a failing reader: never leave the group.
            _signal_group(process.pid, signal.SIGKILL)
        for task in tasks:
            task.cancel()
        # Normally a no-op; closes the pipes when something outside the session holds them.
        transport = getattr(process, "_transport", None)
        if transport is not None:
            transport.close()
    assert process.returncode is not None
    return ProcessOutcome(
        return_code=process.returncode,
        stdout=stdout.text(),
        stderr=stderr.text(),
        timed_out=timed_out,
    )


async def terminate(process: asyncio.subprocess.Process, *, grace: float) -> None:
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


async def _pump(reader: asyncio.StreamReader, capture: OutputCapture, events: RunEvents) -> None:
    while data := await reader.read(_READ_SIZE):
        text = capture.feed(data)
        if text:
            events.output(capture.stream, text)


async def _feed(process: asyncio.subprocess.Process, data: bytes) -> None:
    assert process.stdin is not None
    # The command may exit without reading its input: that is its business, not an error.
    try:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            process.stdin.write(data)
            await process.stdin.drain()
    finally:
        process.stdin.close()


async def _drain(tasks: list[asyncio.Task[None]]) -> None:
    """Let the readers collect what the killed processes left in the pipes."""
    await asyncio.wait(tasks, timeout=_DRAIN_AFTER_KILL)


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
