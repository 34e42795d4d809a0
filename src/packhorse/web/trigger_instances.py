"""The console's trigger instances: the list (newest first, filtered by trigger type and
status, 25 a page, each with a preview of its payload), the row its live page fetches for a
new one, and a page for each (its payload, the rules it fired and their executions).
Payloads are shown as stored (a webhook's auth headers are never stored), with any secret
this process knows masked."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from packhorse import bootstrap
from packhorse.api.deps import runtime
from packhorse.model.events import TriggerInstance, TriggerInstanceStatus
from packhorse.storage.events import EnforcementFilter, InstanceFilter
from packhorse.web import views
from packhorse.web.rendering import PREFIX, not_found, render
from packhorse.web.session import require_session

PREVIEW_CHARS = 80


def _masked(payload: Any) -> Any:
    return bootstrap.redactor().redact(payload)


def preview(instance: TriggerInstance) -> str:
    text = json.dumps(_masked(dict(instance.payload)), sort_keys=True, default=str)
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def _stamp(iso: str) -> str:
    return iso[:19].replace("T", " ")


TONES = {
    TriggerInstanceStatus.PENDING: "waiting",
    TriggerInstanceStatus.PROCESSED: "good",
    TriggerInstanceStatus.PROCESSING_FAILED: "bad",
    TriggerInstanceStatus.HELD: "waiting",  # the intake is not open (a cutover): kept
    TriggerInstanceStatus.HANDED_OVER: "muted",  # given to the successor instance
}
"""Every status has its tone: a held or handed-over instance (an instance being cut over)
must not break the page."""


@dataclass(frozen=True, slots=True)
class InstanceRow:
    """What a row of the list says about a trigger instance."""

    instance: TriggerInstance
    occurred: str
    """Its occurrence time, UTC, to the second."""
    tone: str
    """Its status's colour (the status itself is always shown as a word)."""
    preview: str
    """The start of its payload as JSON, secrets masked."""


def instance_row(instance: TriggerInstance) -> InstanceRow:
    return InstanceRow(
        instance, _stamp(instance.occurrence_time), TONES[instance.status], preview(instance)
    )


def router() -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get(f"{PREFIX}/trigger-instances")
    def instances_page(
        request: Request, trigger_type: str = "", status: str = "", page: str = "1"
    ) -> Response:
        session = require_session(request)
        number = views.page_number(page)
        problem = None
        statuses: tuple[TriggerInstanceStatus, ...] = ()
        if status:
            try:
                statuses = (TriggerInstanceStatus(status),)
            except ValueError:
                problem = f"Unknown status {status!r}."
        query = InstanceFilter(
            trigger_type=trigger_type.strip() or None,
            statuses=statuses,
            limit=views.PAGE_SIZE,
            offset=(number - 1) * views.PAGE_SIZE,
        )
        store = runtime(request).events.store
        found = [] if problem else store.find(query)
        total = 0 if problem else store.count(query)
        filters = {"trigger_type": trigger_type.strip(), "status": status}

        return render(
            request,
            "trigger_instances.html",
            session=session,
            title="Trigger instances",
            rows=[instance_row(instance) for instance in found],
            filters=filters,
            filtered=any(filters.values()),
            statuses=[s.value for s in TriggerInstanceStatus],
            problem=problem,
            **views.paging(f"{PREFIX}/trigger-instances", filters, number, total),
        )

    @routes.get(f"{PREFIX}/trigger-instances/{{instance_id}}/row")
    def instance_row_fragment(request: Request, instance_id: str) -> Response:
        """One row of the list (the live list fetches it for each new instance)."""
        session = require_session(request)
        instance = runtime(request).events.store.get(instance_id)
        if instance is None:
            return HTMLResponse("", status_code=404)
        return render(
            request, "_trigger_instance_row.html", session=session, row=instance_row(instance)
        )

    @routes.get(f"{PREFIX}/trigger-instances/{{instance_id}}")
    def instance_page(request: Request, instance_id: str) -> Response:
        session = require_session(request)
        store = runtime(request).events.store
        instance = store.get(instance_id)
        if instance is None:
            message = f"There is no trigger instance {instance_id}."
            return not_found(request, session, "Trigger instance not found", message)
        enforcements = store.enforcements(
            EnforcementFilter(trigger_instance_id=instance.id, limit=100)
        )
        return render(
            request,
            "trigger_instance.html",
            session=session,
            title="Trigger instance",
            instance=instance,
            occurred=_stamp(instance.occurrence_time),
            tone=TONES[instance.status],
            payload=views.pretty_json(_masked(dict(instance.payload))),
            enforcements=[(e, _stamp(e.enforced_at)) for e in enforcements],
        )

    return routes
