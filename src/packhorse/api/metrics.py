"""``GET /metrics``: Prometheus's text format, from a registry of the app's own.

Three sources feed it:

* :class:`PrometheusObserver`, the engine's :class:`~packhorse.engine.observer.Observer`:
  counters and histograms of what the engine did (executions ended, rules matched, sensors
  restarted) since this process started;
* :class:`DatabaseCollector`: gauges read from the database at each scrape (executions by
  status, the queue), so they are right whichever process changed the rows;
* :class:`RequestMetrics`: an ASGI middleware counting HTTP requests by route template.

Each app gets its own ``CollectorRegistry`` (never prometheus_client's global one), so that two
apps in one process (tests) count apart. The series are listed in docs/diagnostics.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from packhorse.api import security
from packhorse.model.execution import Status

if TYPE_CHECKING:
    from packhorse.engine.observer import Observer
    from packhorse.engine.runtime import Runtime

#: Buckets (seconds) of the latency histograms: from a noop (milliseconds) to long scripts.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)

#: Methods counted by name; any other a client makes up counts as ``OTHER`` (one series).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

#: Statuses of executions waiting for a worker or a policy (the queue).
QUEUED = (Status.REQUESTED, Status.SCHEDULED)


class PrometheusObserver:
    """The engine's observer, as Prometheus counters and histograms in ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.executions = Counter(
            "packhorse_executions_finished",
            "Executions that reached a final status, by runner and status.",
            ["runner", "status"],
            registry=registry,
        )
        self.action_latency = Histogram(
            "packhorse_action_duration_seconds",
            "Start to end of executions (every execution that ran), by runner.",
            ["runner"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.task_latency = Histogram(
            "packhorse_workflow_task_duration_seconds",
            "Start to end of executions that are tasks of a workflow, by runner.",
            ["runner"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.rule_matches = Counter(
            "packhorse_rule_matches",
            "Trigger instances a rule matched, by rule.",
            ["rule"],
            registry=registry,
        )
        self.enforcements = Counter(
            "packhorse_rule_enforcements",
            "Rule enforcements written, by rule and outcome (requested or failed).",
            ["rule", "outcome"],
            registry=registry,
        )
        self.sensor_restarts = Counter(
            "packhorse_sensor_restarts",
            "Sensors started again after a failure, by sensor.",
            ["sensor"],
            registry=registry,
        )

    def execution_finished(
        self, runner: str, status: Status, seconds: float | None, *, workflow_task: bool
    ) -> None:
        self.executions.labels(runner=runner, status=status.value).inc()
        if seconds is None:
            return
        self.action_latency.labels(runner=runner).observe(seconds)
        if workflow_task:
            self.task_latency.labels(runner=runner).observe(seconds)

    def rule_matched(self, rule: str) -> None:
        self.rule_matches.labels(rule=rule).inc()

    def rule_enforced(self, rule: str, *, failed: bool) -> None:
        self.enforcements.labels(rule=rule, outcome="failed" if failed else "requested").inc()

    def sensor_restarted(self, sensor: str) -> None:
        self.sensor_restarts.labels(sensor=sensor).inc()


class DatabaseCollector:
    """Gauges read from the database at each scrape: ``counts()`` gives executions by
    status, ``oldest(statuses)`` the creation time (ISO) of the oldest with one of them."""

    def __init__(
        self,
        counts: Callable[[], Mapping[Status, int]],
        oldest: Callable[[Iterable[Status]], str | None],
        *,
        now: Callable[[], dt.datetime],
        parse: Callable[[str], dt.datetime],
    ) -> None:
        self._counts = counts
        self._oldest = oldest
        self._now = now
        self._parse = parse

    def collect(self) -> Iterable[Metric]:
        counts = self._counts()
        by_status = GaugeMetricFamily(
            "packhorse_executions", "Executions in the database now, by status.", labels=["status"]
        )
        for status in Status:
            by_status.add_metric([status.value], counts.get(status, 0))
        yield by_status
        yield GaugeMetricFamily(
            "packhorse_queue_depth",
            "Executions waiting for a worker or a policy (requested or scheduled).",
            value=sum(counts.get(status, 0) for status in QUEUED),
        )
        oldest = self._oldest(QUEUED)
        age = 0.0 if oldest is None else (self._now() - self._parse(oldest)).total_seconds()
        yield GaugeMetricFamily(
            "packhorse_queue_oldest_age_seconds",
            "Age of the oldest queued execution (0 when the queue is empty).",
            value=max(age, 0.0),
        )


class RequestMetrics:
    """ASGI middleware: ``packhorse_http_requests_total`` by method, route template (not the
    raw path: ids would make a series each) and status. Unrouted paths count as
    ``unmatched`` and made-up methods as ``OTHER``, so that no client can add series at will."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "packhorse_http_requests",
            "HTTP requests answered, by method, route and status.",
            ["method", "route", "status"],
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            self.requests.labels(
                method=method if method in METHODS else "OTHER", route=template, status=str(status)
            ).inc()


def router(registry: CollectorRegistry, *, guarded: bool) -> APIRouter:
    """``GET /metrics`` over ``registry``; ``guarded``: callers need a token or an API key
    (any role), as the rest of the API."""
    dependencies: list[Any] = [Depends(security.current_principal)] if guarded else []
    routes = APIRouter(tags=["health"], dependencies=dependencies)

    @routes.get("/metrics", response_class=Response, summary="Prometheus metrics")
    def metrics(_request: Request) -> Response:
        """The instance's metrics in Prometheus's text format (see docs/diagnostics.md)."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return routes


def observe(runtime: Runtime) -> tuple[CollectorRegistry, Observer]:
    """A metrics registry of this app's own, and the observer that feeds it, told by the
    runtime's worker, workflow shell, execution service and rules engine."""
    from packhorse.engine.clock import parse_iso, utc_now

    registry = CollectorRegistry()
    observer = PrometheusObserver(registry)
    registry.register(
        DatabaseCollector(
            runtime.store.status_counts, runtime.store.oldest_created, now=utc_now, parse=parse_iso
        )
    )
    runtime.worker.observer = observer
    runtime.workflows.observer = observer
    runtime.executions.observer = observer
    runtime.rules.observer = observer
    if runtime.worker.scheduler is not None:
        runtime.worker.scheduler.observer = observer
    runtime.inquiries.observer = observer
    return registry, observer
