"""Retention: completed executions older than ``[retention] executions_days`` are deleted,
and processed trigger instances older than ``[retention] trigger_instances_days``.

``packhorse gc`` runs :func:`collect` once; ``packhorse up`` runs it every
:data:`INTERVAL_SECONDS`. Deletion goes in small batches, one short write transaction each,
so that workers recording results are never held up for long.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from packhorse.engine.clock import utc_now
from packhorse.engine.inquiries import InquiryService
from packhorse.engine.waiting import nap
from packhorse.errors import PackhorseError
from packhorse.storage.events import SqlEventStore
from packhorse.storage.executions import SqlExecutionStore

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 600.0
BATCH = 500
_ISO = "%Y-%m-%dT%H:%M:%S.%fZ"


@dataclass(frozen=True, slots=True)
class GcReport:
    cutoff: str
    """Completed executions that ended before this were (or, dry run, would be) deleted."""
    executions: int
    dry_run: bool
    inquiries_expired: int = 0
    """Unanswered inquiries past their ``ttl`` that ended ``timeout``."""
    trigger_instances: int = 0
    """Processed trigger instances deleted (with their rule enforcements)."""


def cutoff(now: dt.datetime, days: int) -> str:
    return (now - dt.timedelta(days=days)).astimezone(dt.UTC).strftime(_ISO)


def collect(
    store: SqlExecutionStore,
    *,
    now: dt.datetime,
    executions_days: int,
    events: SqlEventStore | None = None,
    trigger_instances_days: int = 7,
    dry_run: bool = False,
    batch: int = BATCH,
    between_batches: Callable[[float], None] = lambda _spent: time.sleep(0),
) -> GcReport:
    """Time out inquiries past their ``ttl``, then delete completed executions (and their log
    rows, output and workflow state) that ended more than ``executions_days`` before ``now``;
    running and waiting ones are never touched. ``between_batches(seconds)`` is called after
    each full batch with the time it took (``packhorse up`` rests as long: see
    :func:`rest_as_long`)."""
    before = cutoff(now, executions_days)
    if dry_run:
        return GcReport(before, store.count_completed(before=before), dry_run=True)
    expired = InquiryService(store, clock=lambda: now).expire()
    total = _batches(
        lambda: store.delete_completed(before=before, batch=batch), batch, between_batches
    )
    instances = 0
    if events is not None:
        old = cutoff(now, trigger_instances_days)
        instances = _batches(lambda: events.delete_before(old, batch=batch), batch, between_batches)
    return GcReport(
        before, total, dry_run=False, inquiries_expired=expired, trigger_instances=instances
    )


def _batches(
    delete: Callable[[], int], batch: int, between_batches: Callable[[float], None]
) -> int:
    total = 0
    while True:
        started = time.perf_counter()
        deleted = delete()
        total += deleted
        if deleted < batch:
            return total
        between_batches(time.perf_counter() - started)  # let other writers in between


def rest_as_long(spent: float) -> None:
    """Sleep as long as the batch took: a backlog of old executions (a big import, a long
    outage) is purged at half a core at most, and requests do not queue behind it."""
    time.sleep(min(spent, 1.0))


async def collect_periodically(
    store: SqlExecutionStore,
    events: SqlEventStore,
    stop: asyncio.Event,
    *,
    executions_days: int,
    trigger_instances_days: int,
    interval: float | None = None,
) -> None:
    """:func:`collect` every ``interval`` seconds (ten minutes) until ``stop`` is set; each
    run goes in a thread, batch by batch and resting between batches, so that neither the API
    nor the workers wait on it."""
    while not stop.is_set():
        try:
            await asyncio.to_thread(
                collect,
                store,
                now=utc_now(),
                executions_days=executions_days,
                events=events,
                trigger_instances_days=trigger_instances_days,
                between_batches=rest_as_long,
            )
        except PackhorseError:
            log.exception("retention run failed; will retry")
        await nap(interval or INTERVAL_SECONDS, stop)
