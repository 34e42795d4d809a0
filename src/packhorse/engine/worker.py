"""Workers: claim scheduled executions, run them through their runner, record the outcome.

Crash rules (issue 4), made true here and in :func:`recover`:

* an execution claimed but not started (still ``scheduled``) is released when its lease
  expires and runs after a restart;
* one whose process had started (``running``) is settled ``abandoned`` after a restart (a
  retry policy may retry it), and its recorded process groups are killed;
* results are recorded once per attempt (``transition`` checks the attempt and the status).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from packhorse.engine.clock import iso, utc_now
from packhorse.engine.observer import NO_OBSERVER, Observer
from packhorse.engine.scheduling import RetryFor, Scheduler
from packhorse.engine.waiting import first_of, set_from_any_thread
from packhorse.engine.workflows import WorkflowShell
from packhorse.errors import PackhorseError
from packhorse.model.execution import COMPLETED, Execution, Status
from packhorse.model.runner_types import RUNNER_TYPES
from packhorse.runners.base import RunEvents, Runner, RunnerResult, RunRequest, RunStatus
from packhorse.storage.executions import SqlExecutionStore

log = logging.getLogger(__name__)


def worker_name() -> str:
    """``host:pid:random``: the pid lets a restarted node recognise its dead predecessors."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


Prepare = Callable[[Execution], Awaitable[RunRequest]]
"""Builds the runner's request (renders parameters, resolves the config)."""
RunnerFor = Callable[[str], Runner]


@dataclass
class WorkerSettings:
    slots: int = 4
    """Executions run at once by this worker."""
    lease_seconds: float = 15.0
    heartbeat_seconds: float = 5.0
    poll_seconds: float = 0.5
    """Longest wait for new work when nobody wakes the worker."""


#: A running execution asked to cancel is killed within this time (plus the poll interval).
CANCEL_CHECK_SECONDS = 0.25
SCHEDULE_SECONDS = 0.05
"""The longest a delayed execution waits for a scheduler pass once it may go."""

#: Output is stored in chunks at most this old (seconds) or this big (characters).
OUTPUT_FLUSH_SECONDS = 0.25
OUTPUT_FLUSH_SIZE = 64 * 1024


class _Events(RunEvents):
    def __init__(self, worker: Worker, execution: Execution) -> None:
        self._worker = worker
        self._execution = execution
        self.started_at_least_once = False
        self._pending: list[tuple[str, str, str]] = []
        self._pending_size = 0
        self._flushed_at = time.monotonic()

    def started(self, pid: int) -> None:
        if self.started_at_least_once:
            self._worker.store.add_pid(self._execution.id, pid)
            return
        self.started_at_least_once = True
        self._worker.mark_running(self._execution, pids=(pid,))

    def output(self, stream: str, text: str) -> None:
        # Stored redacted, in small batches: `packhorse execution tail` reads them.
        self._pending.append((stream, str(self._worker.redact(text)), self._worker._now()))
        self._pending_size += len(text)
        if (
            self._pending_size >= OUTPUT_FLUSH_SIZE
            or time.monotonic() - self._flushed_at >= OUTPUT_FLUSH_SECONDS
        ):
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self._worker.store.append_output(self._execution.id, self._pending)
        self._pending, self._pending_size = [], 0
        self._flushed_at = time.monotonic()


class Worker:
    def __init__(
        self,
        store: SqlExecutionStore,
        runner_for: RunnerFor,
        prepare: Prepare,
        *,
        settings: WorkerSettings | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
        name: str | None = None,
        on_finished: Callable[[Execution], None] | None = None,
        redact: Callable[[object], object] = lambda value: value,
        scheduler: Scheduler | None = None,
        workflows: WorkflowShell | None = None,
        observer: Observer = NO_OBSERVER,
    ) -> None:
        self.store = store
        self.observer = observer
        self.workflows = workflows
        self._runner_for = runner_for
        self._prepare = prepare
        self.settings = settings or WorkerSettings()
        self._clock = clock
        self.name = name or worker_name()
        self._on_finished = on_finished
        self.redact = redact
        self.scheduler = scheduler
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._began: dict[str, float] = {}
        """When this worker began each execution it runs (monotonic), for its latency."""
        self._cancel_checked_at = 0.0
        self._scheduled_at = 0.0
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.periodic_passes = True
        """Whether this worker's loop runs the scheduler's periodic passes (delays, what a
        request's own pass left). One process of a site does (:meth:`hold_passes`); every
        worker still schedules an action it has just freed a slot of."""
        self.intake_open: Callable[[], bool] = lambda: True
        """False while a cutover drains the instance: queued top-level executions do not
        start (they are handed over); the tasks of running workflows still do."""

    def _now(self) -> str:
        return iso(self._clock())

    def _lease(self) -> str:
        return iso(self._clock() + dt.timedelta(seconds=self.settings.lease_seconds))

    def wake(self, _execution_id: str | None = None) -> None:
        """New work may be waiting. Safe from any thread (the API's handlers and the rules
        engine request executions from threads): without it a new execution waited for the
        next poll, up to ``poll_seconds``.

        Cheap when it changes nothing, as it is called for every execution stored anywhere on
        the site (``NOTIFY``): already woken, or every slot busy (a slot that frees wakes the
        loop itself), the loop is left alone."""
        if self._wake.is_set() or len(self._tasks) >= self.settings.slots:
            return
        set_from_any_thread(self._wake, self._loop)

    # -- the loop -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and run work until ``stop`` is set; then finish what is running."""
        self._loop = asyncio.get_running_loop()
        heartbeat = asyncio.create_task(self._heartbeat(stop))
        try:
            while not stop.is_set():
                # Cleared before the claim: a wake-up that comes during it is for work the
                # claim may not have seen, and makes the wait below return at once.
                self._wake.clear()
                self._cancel_requested()
                self._schedule()
                free = self.settings.slots - len(self._tasks)
                if free > 0:
                    for execution in self.store.claim(
                        self.name,
                        now=self._now(),
                        lease_until=self._lease(),
                        limit=free,
                        top_level=self.intake_open(),
                    ):
                        self.start(execution)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        first_of(stop.wait(), self._wake.wait()), self.settings.poll_seconds
                    )
        finally:
            if self._tasks:
                await asyncio.gather(*self._tasks.values(), return_exceptions=True)
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    def _schedule(self) -> None:
        """A scheduler pass: requested and delayed executions move on when policies allow.
        At most every ``SCHEDULE_SECONDS``: a request held back by a policy is scheduled by
        its own pass at once; these passes are for what waits (delays, freed slots)."""
        if self.scheduler is None or not self.periodic_passes:
            return
        now = time.monotonic()
        if now - self._scheduled_at < SCHEDULE_SECONDS:
            return
        self._scheduled_at = now
        try:
            self.scheduler.run_pass(now=self._now())
        except PackhorseError:
            log.exception("scheduler pass failed; will retry")

    async def hold_passes(self, stop: asyncio.Event) -> None:
        """Run the periodic scheduler passes until ``stop``: the loop of the process holding
        the ``scheduler`` singleton (``engine/singleton.py``). Every worker ran them before,
        a query every 50 ms in each process of the site, nearly all finding nothing."""
        self.periodic_passes = True
        try:
            await stop.wait()
        finally:
            self.periodic_passes = False

    def _slot_freed(self, execution: Execution) -> None:
        """An execution of an action with a concurrency policy ended: the next one waiting
        for it is scheduled now, by this process, not at some process's next pass."""
        if self.scheduler is None or not self.scheduler.holds_back(execution.action_ref):
            return
        try:
            self.scheduler.schedule_action(execution.action_ref, now=self._now())
        except PackhorseError:
            log.exception("scheduling %s failed; the next pass will", execution.action_ref)

    def start(self, execution: Execution) -> asyncio.Task[None]:
        task = asyncio.create_task(self.execute(execution), name=f"execution-{execution.id}")
        self._tasks[execution.id] = task
        task.add_done_callback(lambda _: self._done(execution.id))
        return task

    def _done(self, execution_id: str) -> None:
        self._tasks.pop(execution_id, None)
        self._wake.set()  # a slot is free: claim more at once

    async def _heartbeat(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(self.settings.heartbeat_seconds)
            try:
                self.store.heartbeat(self.name, list(self._tasks), lease_until=self._lease())
            except PackhorseError:
                log.exception("heartbeat failed; will retry")

    def _cancel_requested(self) -> None:
        """Cancel the tasks of executions asked to cancel (checked at most every
        ``CANCEL_CHECK_SECONDS``: cheap on a busy worker, prompt enough for a person)."""
        if not self._tasks:
            return
        now = time.monotonic()
        if now - self._cancel_checked_at < CANCEL_CHECK_SECONDS:
            return
        self._cancel_checked_at = now
        for execution in self.store.by_status([Status.CANCELING]):
            task = self._tasks.get(execution.id)
            if task is not None and not task.done():
                task.cancel()

    # -- one execution ------------------------------------------------------------------------

    def mark_running(self, execution: Execution, *, pids: tuple[int, ...] = ()) -> None:
        """Started: ``running``, with the first process's pid in the same write, so that a
        crash can never leave a started process unrecorded."""
        now = self._now()
        self.store.transition(
            execution.id,
            Status.RUNNING,
            now=now,
            attempt=execution.attempt,
            expected=(Status.SCHEDULED,),
            top_level=execution.parent_id is None,
            start_timestamp=now,
            pids=list(pids),
        )

    async def execute(self, execution: Execution) -> None:
        events = _Events(self, execution)
        self._began[execution.id] = time.monotonic()
        try:
            request = await self._prepare(execution)
            if self.workflows is not None and self.workflows.drives(execution.runner_type):
                # A workflow runs as steps of the workflow shell, not as a runner's task.
                self.workflows.start(
                    execution,
                    request.action_parameters,
                    request.entry_point,
                    request.runner_parameters,
                )
                self._began.pop(execution.id, None)  # the workflow shell reports its end
                return
            runner = self._runner_for(execution.runner_type)
            if getattr(runner, "settles_at_once", False) and self._settle(
                execution, await runner.run(request, events)
            ):
                return
            if not getattr(runner, "starts_processes", False):
                events.started_at_least_once = True
                self.mark_running(execution)
            try:
                outcome = await runner.run(request, events)
            finally:
                events.flush()
        except asyncio.CancelledError:
            self._finish(execution, Status.CANCELED, None, expected=(Status.CANCELING,))
            return
        except PackhorseError as error:
            # Preparation failed (parameters, config): the execution fails with the reason.
            self._fail_unstarted(execution, events, error.message)
            return
        except Exception as error:  # a runner bug must not take the worker down
            log.exception("runner %s crashed on %s", execution.runner_type, execution.id)
            self._fail_unstarted(execution, events, f"{type(error).__name__}: {error}")
            return
        if not events.started_at_least_once:
            # The runner ended without starting a process (it could not: a missing cwd...).
            self.mark_running(execution)
        self._record(execution, outcome)

    def _settle(self, execution: Execution, outcome: RunnerResult) -> bool:
        """A runner that does nothing outside (``noop``) and succeeded: its start and its end
        are written in one transaction. False (nothing written) for any other outcome, which
        is then recorded the usual way."""
        if outcome.status is not RunStatus.SUCCEEDED:
            return False
        if not self.store.settle(
            execution.id,
            Status.SUCCEEDED,
            now=self._now(),
            attempt=execution.attempt,
            result=self.redact(outcome.result),
        ):
            return False
        self._finished(execution, Status.SUCCEEDED)
        return True

    def _fail_unstarted(self, execution: Execution, events: _Events, message: str) -> None:
        if not events.started_at_least_once:
            self.mark_running(execution)
        self._finish(execution, Status.FAILED, {"error": message})

    def _record(self, execution: Execution, outcome: RunnerResult) -> None:
        status = {
            RunStatus.SUCCEEDED: Status.SUCCEEDED,
            RunStatus.FAILED: Status.FAILED,
            RunStatus.TIMEOUT: Status.TIMEOUT,
            RunStatus.CANCELED: Status.CANCELED,
            RunStatus.ABANDONED: Status.ABANDONED,
            RunStatus.PENDING: Status.PENDING,
        }[outcome.status]
        if status is Status.PENDING:
            # Waiting for a person (an inquiry), not for this worker: let go of the claim.
            self._finish(execution, status, outcome.result, claimed_by=None, lease_expires_at=None)
            return
        self._finish(execution, status, outcome.result)

    def _finish(
        self,
        execution: Execution,
        status: Status,
        result: object,
        *,
        expected: tuple[Status, ...] = (Status.RUNNING, Status.CANCELING),
        **values: object,
    ) -> None:
        now = self._now()
        retry = None
        if self.scheduler is not None:
            try:
                retry = self.scheduler.retry_for(execution, status, now)
            except PackhorseError:
                # The result matters more than its retry: record it without one.
                log.exception("reading the retry policy of %s failed", execution.id)
        recorded = self.store.transition(
            execution.id,
            status,
            now=now,
            attempt=execution.attempt,
            expected=expected,
            # A retry policy's new execution is stored with the result, in one transaction.
            follow_up=retry,
            top_level=execution.parent_id is None,
            # A secret the action printed (or returned) is stored masked, never in clear.
            result=self.redact(result),
            **values,
        )
        if recorded:
            self._finished(execution, status)
        else:
            self._began.pop(execution.id, None)

    def _finished(self, execution: Execution, status: Status) -> None:
        began = self._began.pop(execution.id, None)
        if status in COMPLETED:
            self._slot_freed(execution)
            self.observer.execution_finished(
                execution.runner_type,
                status,
                None if began is None else time.monotonic() - began,
                workflow_task=execution.parent_id is not None,
            )
        if execution.parent_id is not None and self.workflows is not None:
            self.workflows.wake()  # its parent workflow has an event to apply
        if self._on_finished is not None:
            finished = self.store.get(execution.id)
            if finished is not None:
                self._on_finished(finished)


def recover(
    store: SqlExecutionStore,
    *,
    now: str,
    host: str | None = None,
    retry_for: RetryFor | None = None,
) -> list[Execution]:
    """Settle what dead workers left: running ones become ``abandoned`` and their process
    groups are killed; scheduled ones are released to run again. Workers of this host whose
    process is gone are treated as dead at once; others when their lease expires.
    ``retry_for`` gives the retry a policy makes of an abandoned execution (stored with it).
    Returns the executions abandoned."""
    host = host or socket.gethostname()
    abandoned = []
    for execution in _orphans(store, now=now, host=host):
        if execution.status in (Status.RUNNING, Status.CANCELING, Status.PENDING):
            owner_host = (execution.claimed_by or "").partition(":")[0]
            if owner_host in ("", host):  # another host's pids are not ours to kill
                _reap(execution.pids)
            target = Status.CANCELED if execution.status is Status.CANCELING else Status.ABANDONED
            retry = retry_for(execution, target, now) if retry_for is not None else None
            if store.transition(
                execution.id, target, now=now, attempt=execution.attempt, follow_up=retry
            ):
                abandoned.append(execution)
        elif execution.status is Status.SCHEDULED and execution.claimed_by:
            store.release(execution.claimed_by, [execution.id])
    return abandoned


def _orphans(store: SqlExecutionStore, *, now: str, host: str) -> list[Execution]:
    # The database narrows them down (every lease period, on the site's busiest table); the
    # rules below decide, as they did when every claimed execution was read.
    workflows = [name for name, runner in RUNNER_TYPES.items() if runner.workflow]
    claimed = store.recovery_candidates(now=now, host=host, unheld_runners=workflows)
    orphans = []
    for execution in claimed:
        owner = execution.claimed_by
        runner = RUNNER_TYPES.get(execution.runner_type)
        if owner is None and runner is not None and runner.workflow:
            continue  # a started workflow is held by nobody: its inbox carries it on
        if owner is None and execution.status is Status.PENDING:
            continue  # waiting for an answer (an inquiry), not for a worker
        if owner is None:
            # A running execution nobody holds (its worker released or crashed mid-claim).
            if execution.status is not Status.SCHEDULED:
                orphans.append(execution)
            continue
        owner_host, _, rest = owner.partition(":")
        pid_text = rest.partition(":")[0]
        dead_here = owner_host == host and pid_text.isdigit() and not _alive(int(pid_text))
        expired = execution.lease_expires_at is not None and execution.lease_expires_at <= now
        if dead_here or expired:
            orphans.append(execution)
    return orphans


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap(pids: tuple[int, ...]) -> None:
    """Kill the process groups an abandoned execution started (each runner makes its process
    a group leader). A recycled pid whose group is someone else's is left alone."""
    for pid in pids:
        try:
            if os.getpgid(pid) != pid:
                continue
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
