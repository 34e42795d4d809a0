"""StackStorm-shaped JSON from the API back into the values the CLI prints.

The inverse of :mod:`packhorse.engine.shapes` and the API's record functions, so that local
and remote commands share their printing. Fields only the API has (``id``, ``uid``) are
dropped where the local values have no place for them. A document that does not fit raises
:class:`ValueError`, :class:`KeyError` or :class:`TypeError`; callers translate those.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from packhorse.engine.inquiries import Inquiry
from packhorse.model.auth import ApiKeyRecord
from packhorse.model.content import Kind, RegisteredPack, Resource, split_ref
from packhorse.model.datastore import KeyValue, Scope
from packhorse.model.events import (
    Enforcement,
    SensorStatus,
    TriggerInstance,
    TriggerInstanceStatus,
)
from packhorse.model.execution import Execution, Status

#: Fields the API adds to a registered document (the registry's body does not hold them).
_API_FIELDS = frozenset({"id", "uid", "enabled", "metadata_file", "status"})
_PACK_API_FIELDS = frozenset({"id", "uid", "path", "files"})


def execution(document: Mapping[str, Any]) -> Execution:
    """An ``ActionExecutionAPI`` document as an :class:`Execution`."""
    action = document.get("action") or {}
    runner = document.get("runner") or {}
    liveaction = document.get("liveaction") or {}
    start = document.get("start_timestamp")
    return Execution(
        id=str(document["id"]),
        action_ref=str(action.get("ref") or liveaction.get("action") or ""),
        runner_type=str(action.get("runner_type") or runner.get("name") or ""),
        status=Status(document["status"]),
        parameters=dict(document.get("parameters") or {}),
        context=dict(document.get("context") or {}),
        created_at=str(start or ""),
        result=document.get("result"),
        start_timestamp=start,
        end_timestamp=document.get("end_timestamp"),
        parent_id=document.get("parent"),
        log=tuple(dict(entry) for entry in document.get("log") or ()),
    )


def resource(kind: Kind, document: Mapping[str, Any]) -> Resource:
    """An ``ActionAPI``, ``RuleAPI``, ``TriggerTypeAPI`` or ``SensorTypeAPI`` document as a
    registered :class:`Resource`."""
    ref = str(document["ref"])
    pack, name = split_ref(ref)
    return Resource(
        kind=kind,
        ref=ref,
        pack=str(document.get("pack") or pack),
        name=str(document.get("name") or name),
        metadata_file=str(document.get("metadata_file") or ""),
        body={k: v for k, v in document.items() if k not in _API_FIELDS},
        enabled=bool(document.get("enabled", True)),
    )


def sensor_status(document: Mapping[str, Any]) -> SensorStatus | None:
    """What the sensor container last stored about a sensor (``SensorTypeAPI.status``)."""
    status = document.get("status")
    if not isinstance(status, Mapping):
        return None
    return SensorStatus(
        ref=str(document["ref"]),
        state=str(status.get("state") or ""),
        pid=status.get("pid"),
        restarts=int(status.get("restarts") or 0),
        last_error=status.get("last_error"),
        started_at=status.get("started_at"),
        updated_at=str(status.get("updated_at") or ""),
    )


def pack(document: Mapping[str, Any]) -> RegisteredPack:
    """A ``PackAPI`` document as a :class:`RegisteredPack` (digest and registration time are
    not in the API: left empty)."""
    return RegisteredPack(
        ref=str(document["ref"]),
        version=str(document.get("version") or ""),
        path=str(document.get("path") or ""),
        digest="",
        metadata={k: v for k, v in document.items() if k not in _PACK_API_FIELDS},
        files=tuple(str(f) for f in document.get("files") or ()),
        registered_at="",
    )


def key_value(record: Mapping[str, Any]) -> KeyValue:
    """A ``KeyValuePairAPI`` record as a :class:`KeyValue` (a secret's value as the server
    showed it: masked, or in clear when asked to decrypt)."""
    return KeyValue(
        name=str(record["name"]),
        value=str(record.get("value") or ""),
        scope=Scope.parse(str(record.get("scope") or "system")),
        user=str(record.get("user") or ""),
        secret=bool(record.get("secret")),
        description=str(record.get("description") or ""),
        expires_at=record.get("expire_timestamp"),
    )


def inquiry(record: Mapping[str, Any]) -> Inquiry:
    """An ``InquiryResponseAPI`` record as an :class:`Inquiry`."""
    return Inquiry(
        id=str(record["id"]),
        status=str(record.get("status") or ""),
        schema=dict(record.get("schema") or {}),
        roles=list(record.get("roles") or []),
        users=list(record.get("users") or []),
        route=str(record.get("route") or ""),
        ttl=int(record.get("ttl") or 0),
        parent=record.get("parent"),
        created_at=str(record.get("created_at") or ""),
        response=record.get("response"),
    )


def trigger_instance(record: Mapping[str, Any]) -> TriggerInstance:
    """A ``TriggerInstanceAPI`` record as a :class:`TriggerInstance`."""
    return TriggerInstance(
        id=str(record["id"]),
        trigger=str(record.get("trigger") or ""),
        trigger_type=str(record.get("trigger_type") or ""),
        payload=dict(record.get("payload") or {}),
        occurrence_time=str(record.get("occurrence_time") or ""),
        status=TriggerInstanceStatus(record.get("status") or "pending"),
        source=str(record.get("source") or ""),
        trace_tag=record.get("trace_tag"),
    )


def enforcement(record: Mapping[str, Any]) -> Enforcement:
    """A ``RuleEnforcementAPI`` record as an :class:`Enforcement`."""
    rule = record.get("rule") or {}
    return Enforcement(
        id=str(record["id"]),
        rule=str(rule.get("ref") if isinstance(rule, Mapping) else rule),
        trigger_instance_id=str(record.get("trigger_instance_id") or ""),
        execution_id=record.get("execution_id"),
        failure_reason=record.get("failure_reason"),
        enforced_at=str(record.get("enforced_at") or ""),
    )


def api_key(record: Mapping[str, Any]) -> ApiKeyRecord:
    """An ``ApiKeyAPI`` record as an :class:`ApiKeyRecord` (the hash as the server showed
    it: masked unless an admin asked for secrets)."""
    return ApiKeyRecord(
        id=str(record["id"]),
        user=str(record.get("user") or ""),
        key_hash=str(record.get("key_hash") or ""),
        created_at=str(record.get("created_at") or ""),
        enabled=bool(record.get("enabled", True)),
        metadata=dict(record.get("metadata") or {}),
    )
