"""Trigger types (``triggers/*.yaml`` and sensors' ``trigger_types``) and sensors."""

from __future__ import annotations

import posixpath
from typing import Any

from packhorse.model.content import Kind, Resource
from packhorse.packs.validate.report import (
    FileReport,
    check_fields,
    describe,
    is_type,
    typed_fields,
)
from packhorse.packs.validate.schema import json_schema_problem
from packhorse.packs.validate.scope import PackScope
from packhorse.packs.validate.yamldoc import Path

TRIGGER_TYPE_FIELDS = frozenset(
    {
        "description",
        "id",
        "metadata_file",
        "name",
        "pack",
        "parameters_schema",
        "payload_schema",
        "ref",
        "tags",
        "uid",
    }
)
SENSOR_FIELDS = frozenset(
    {
        "artifact_uri",
        "class_name",
        "description",
        "enabled",
        "entry_point",
        "id",
        "metadata_file",
        "pack",
        "poll_interval",
        "ref",
        "trigger_types",
        "uid",
    }
)
_TRIGGER_TYPES = {
    "name": "string",
    "description": "string",
    "payload_schema": "object",
    "parameters_schema": "object",
    "tags": "array",
}
_SENSOR_TYPES = {
    "class_name": "string",
    "description": "string",
    "enabled": "boolean",
    "entry_point": "string",
    "artifact_uri": "string",
    "trigger_types": "array",
}


def validate_trigger_type_file(
    scope: PackScope, relative: str, report: FileReport, data: dict[str, Any]
) -> list[Resource]:
    resource = trigger_type(scope, relative, report, data, ())
    return [resource] if resource is not None else []


def trigger_type(
    scope: PackScope, relative: str, report: FileReport, data: dict[str, Any], at: Path
) -> Resource | None:
    """Check one trigger-type definition; its resource, or None when it has no name."""
    check_fields(
        report, data, kind="trigger type", required=("name",), allowed=TRIGGER_TYPE_FIELDS, at=at
    )
    typed_fields(report, data, _TRIGGER_TYPES, at)
    if "pack" in data and at and data["pack"] != scope.ref:
        report.add(
            "PH013",
            f"trigger type is in pack {scope.ref!r} but says pack {data['pack']!r}; "
            f"remove the pack field or set it to {scope.ref!r}",
            (*at, "pack"),
        )
    for key in ("payload_schema", "parameters_schema"):
        schema = data.get(key)
        if isinstance(schema, dict) and schema:
            problem = json_schema_problem(schema)
            if problem is not None:
                report.add(
                    "PH313",
                    f"{key} is not a valid JSON schema: {problem[0]}",
                    (*at, key, *problem[1]),
                )
    name = data.get("name")
    if not isinstance(name, str) or not name:
        return None
    body = {key: value for key, value in data.items() if key not in ("id", "uid")}
    body.update(
        name=name,
        pack=scope.ref,
        ref=f"{scope.ref}.{name}",
        metadata_file=relative,
        description=data.get("description") or "",
        payload_schema=data.get("payload_schema")
        if is_type(data.get("payload_schema"), "object")
        else {},
        parameters_schema=(
            data.get("parameters_schema")
            if is_type(data.get("parameters_schema"), "object")
            else {}
        ),
        tags=data.get("tags") if isinstance(data.get("tags"), list) else [],
    )
    return Resource(
        kind=Kind.TRIGGER_TYPE,
        ref=body["ref"],
        pack=scope.ref,
        name=name,
        metadata_file=relative,
        body=body,
    )


def validate_sensor(
    scope: PackScope, relative: str, report: FileReport, data: dict[str, Any]
) -> list[Resource]:
    check_fields(report, data, kind="sensor", required=("class_name",), allowed=SENSOR_FIELDS)
    typed_fields(report, data, _SENSOR_TYPES)
    entry_point = data.get("entry_point")
    if entry_point is None or entry_point == "":
        report.add(
            "PH405",
            "sensor has no entry_point, so it cannot run; set it to the Python file of the "
            "sensor class, relative to sensors/",
        )
    elif isinstance(entry_point, str):
        folder = posixpath.dirname(relative) or "sensors"
        target, why = scope.resolve(folder, entry_point)
        if target is None:
            report.add("PH402", f"entry_point {why}; keep it inside the pack", ("entry_point",))
        elif target not in scope.files:
            report.add(
                "PH401",
                f"entry_point {entry_point!r} not found: expected the file {target} in the pack",
                ("entry_point",),
            )
    poll_interval = data.get("poll_interval")
    if poll_interval is not None and (not is_type(poll_interval, "number") or poll_interval <= 0):
        report.add(
            "PH403",
            f"poll_interval must be a number of seconds greater than 0, not {poll_interval!r}",
            ("poll_interval",),
        )
    resources: list[Resource] = []
    refs: list[str] = []
    definitions = data.get("trigger_types")
    if isinstance(definitions, list):
        for index, definition in enumerate(definitions):
            if not isinstance(definition, dict):
                report.add(
                    "PH404",
                    f"trigger_types[{index}] must be a trigger-type definition (a mapping "
                    f"with at least 'name'), not {describe(definition)}",
                    ("trigger_types", index),
                )
                continue
            resource = trigger_type(scope, relative, report, definition, ("trigger_types", index))
            if resource is not None:
                resources.append(resource)
                refs.append(resource.ref)
    class_name = data.get("class_name")
    if not isinstance(class_name, str) or not class_name:
        return resources
    enabled = data.get("enabled", True) is not False
    body = {key: value for key, value in data.items() if key not in ("id", "uid")}
    body.update(
        class_name=class_name,
        name=class_name,
        pack=scope.ref,
        ref=f"{scope.ref}.{class_name}",
        metadata_file=relative,
        enabled=enabled,
        description=data.get("description") or "",
        entry_point=entry_point if isinstance(entry_point, str) else "",
        trigger_types=refs,
    )
    sensor = Resource(
        kind=Kind.SENSOR,
        ref=body["ref"],
        pack=scope.ref,
        name=class_name,
        metadata_file=relative,
        body=body,
        enabled=enabled,
    )
    return [*resources, sensor]
