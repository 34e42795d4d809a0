"""``/api/v1/triggertypes``, ``/api/v1/triggers`` and ``/api/v1/triggerinstances``:
StackStorm's ``TriggerTypeAPI``, ``TriggerAPI`` and ``TriggerInstanceAPI``.

Triggers are derived, not stored: one per parameterless trigger type (its ref is the type's)
plus one per distinct ``(type, parameters)`` a rule listens to (``<pack>.<uuid>``). Reads
need ``viewer``; ``POST /triggerinstances/{id}/re_emit`` needs ``operator``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from packhorse.api.errors import fault
from packhorse.api.v1.listing import (
    Offset,
    Operator,
    RuntimeDep,
    Viewer,
    error_fault,
    page,
    select_attributes,
)
from packhorse.engine.shapes import object_id
from packhorse.errors import PackhorseError
from packhorse.model.content import Resource, canonical_json
from packhorse.model.events import (
    Trigger,
    TriggerInstanceStatus,
    instance_record,
)
from packhorse.storage.events import InstanceFilter


def trigger_type_record(resource: Resource) -> dict[str, Any]:
    body = dict(resource.body)
    return {
        **body,
        "id": object_id("trigger_type", resource.ref),
        "uid": f"trigger_type:{resource.pack}:{resource.name}",
        "ref": resource.ref,
        "name": resource.name,
        "pack": resource.pack,
        "description": body.get("description", ""),
        "parameters_schema": body.get("parameters_schema") or {},
        "payload_schema": body.get("payload_schema") or {},
        "tags": body.get("tags") or [],
        "metadata_file": resource.metadata_file,
    }


def trigger_record(trigger: Trigger, trigger_type: Resource | None) -> dict[str, Any]:
    ref = trigger.ref
    pack, _, name = ref.partition(".")
    parameters = dict(trigger.parameters)
    digest = hashlib.md5(canonical_json(parameters).encode(), usedforsecurity=False).hexdigest()
    description = trigger_type.body.get("description", "") if trigger_type else ""
    return {
        "id": object_id("trigger", ref),
        "uid": f"trigger:{pack}:{name}:{digest}",
        "ref": ref,
        "name": name,
        "pack": pack,
        "type": trigger.type,
        "parameters": parameters,
        "description": description,
    }


def _instance(instance: Any) -> dict[str, Any]:
    return {key: value for key, value in instance_record(instance).items() if value is not None}


def router() -> APIRouter:
    routes = APIRouter(prefix="/api/v1", tags=["triggers"])

    @routes.get("/triggertypes", response_model=None)
    @routes.get("/triggertypes/", include_in_schema=False, response_model=None)
    def list_trigger_types(
        *,
        response: Response,
        pack: str | None = None,
        name: str | None = None,
        include_attributes: str | None = None,
        exclude_attributes: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        _principal: Viewer,
        rt: RuntimeDep,
    ) -> list[dict[str, Any]]:
        """Registered trigger types (what ``st2 trigger list`` shows), by ref."""
        types = sorted(rt.events.index().types.values(), key=lambda t: t.ref)
        records = [
            trigger_type_record(t)
            for t in types
            if (pack is None or t.pack == pack) and (name is None or t.name == name)
        ]
        return [
            select_attributes(r, include_attributes, exclude_attributes)
            for r in page(records, response, limit, offset)
        ]

    @routes.get("/triggertypes/{ref_or_id}", response_model=None)
    def get_trigger_type(
        *,
        ref_or_id: str,
        _principal: Viewer,
        rt: RuntimeDep,
    ) -> dict[str, Any] | JSONResponse:
        types = rt.events.index().types
        found = types.get(ref_or_id) or next(
            (t for t in types.values() if object_id("trigger_type", t.ref) == ref_or_id), None
        )
        if found is None:
            return fault(404, f'Resource with a reference or id "{ref_or_id}" not found')
        return trigger_type_record(found)

    @routes.get("/triggers", response_model=None)
    @routes.get("/triggers/", include_in_schema=False, response_model=None)
    def list_triggers(
        *,
        response: Response,
        type: str | None = Query(None, description="Only triggers of this trigger type."),
        limit: int | None = None,
        offset: int = 0,
        _principal: Viewer,
        rt: RuntimeDep,
    ) -> list[dict[str, Any]]:
        """Parameterless types' triggers and those rules bind with parameters, by ref."""
        index = rt.events.index()
        records = [
            trigger_record(trigger, index.types.get(trigger.type))
            for _ref, trigger in sorted(index.triggers.items())
            if type is None or trigger.type == type
        ]
        return page(records, response, limit, offset)

    @routes.get("/triggers/{ref_or_id}", response_model=None)
    def get_trigger(
        *,
        ref_or_id: str,
        _principal: Viewer,
        rt: RuntimeDep,
    ) -> dict[str, Any] | JSONResponse:
        index = rt.events.index()
        found = index.triggers.get(ref_or_id) or next(
            (t for ref, t in index.triggers.items() if object_id("trigger", ref) == ref_or_id),
            None,
        )
        if found is None:
            return fault(404, f'Resource with a reference or id "{ref_or_id}" not found')
        return trigger_record(found, index.types.get(found.type))

    @routes.get("/triggerinstances", response_model=None)
    @routes.get("/triggerinstances/", include_in_schema=False, response_model=None)
    def list_instances(
        *,
        response: Response,
        trigger: str | None = None,
        trigger_type: str | None = None,
        status: TriggerInstanceStatus | None = None,
        timestamp_gt: str | None = Query(None, description="Only those after this time."),
        timestamp_lt: str | None = Query(None, description="Only those before this time."),
        limit: int | None = None,
        offset: Offset = 0,
        _principal: Viewer,
        rt: RuntimeDep,
    ) -> list[dict[str, Any]]:
        """Trigger instances, newest first (``X-Total-Count`` holds how many match)."""
        size = 50 if limit is None or limit <= 0 else min(limit, 1000)
        query = InstanceFilter(
            trigger=trigger,
            trigger_type=trigger_type,
            statuses=(status,) if status else (),
            since=timestamp_gt,
            until=timestamp_lt,
            limit=size,
            offset=max(offset, 0),
        )
        store = rt.events.store
        response.headers["X-Total-Count"] = str(store.count(query))
        response.headers["X-Limit"] = str(size)
        return [_instance(i) for i in store.find(query)]

    @routes.get("/triggerinstances/{instance_id}", response_model=None)
    def get_instance(
        *,
        instance_id: str,
        _principal: Viewer,
        rt: RuntimeDep,
    ) -> dict[str, Any] | JSONResponse:
        found = rt.events.store.get(instance_id)
        if found is None:
            return fault(404, f'Resource with id "{instance_id}" not found')
        return _instance(found)

    @routes.post("/triggerinstances/{instance_id}/re_emit", response_model=None)
    def re_emit(
        *,
        instance_id: str,
        _principal: Operator,
        rt: RuntimeDep,
    ) -> dict[str, Any] | JSONResponse:
        """Fire the same trigger again with the same payload: a new instance, which the
        rules match as they are now."""
        found = rt.events.store.get(instance_id)
        if found is None:
            return fault(404, f'Resource with id "{instance_id}" not found')
        try:
            new = rt.events.emit(
                found.trigger,
                found.payload,
                source=f"re-emit:{found.id}",
                trace_tag=found.trace_tag,
            )
        except PackhorseError as error:
            return error_fault(error)
        return {
            "message": f"Trigger instance {instance_id} successfully re-sent.",
            "payload": dict(found.payload),
            "id": new.id,
        }

    return routes
