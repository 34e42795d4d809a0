"""Action aliases (``aliases/*.yaml``) and policies (``policies/*.yaml``)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from packhorse.aliases.formats import FormatError, compile_format
from packhorse.model.content import Kind, Resource
from packhorse.packs.validate.report import (
    FileReport,
    check_fields,
    describe,
    is_type,
    typed_fields,
)
from packhorse.packs.validate.schema import PARAMETER_NAME
from packhorse.packs.validate.scope import PackScope, Reference

ALIAS_FIELDS = frozenset(
    {
        "ack",
        "action_ref",
        "description",
        "enabled",
        "extra",
        "formats",
        "id",
        "immutable_parameters",
        "metadata_file",
        "name",
        "pack",
        "ref",
        "result",
        "uid",
    }
)
_ALIAS_TYPES = {
    "name": "string",
    "action_ref": "string",
    "description": "string",
    "enabled": "boolean",
    "formats": "array",
    "ack": "object",
    "result": "object",
    "immutable_parameters": "object",
    "extra": "object",
}
_MESSAGE_FIELDS = {
    "ack": {"enabled": "boolean", "format": "string", "extra": "object", "append_url": "boolean"},
    "result": {"enabled": "boolean", "format": "string", "extra": "object"},
}

POLICY_FIELDS = frozenset(
    {
        "description",
        "enabled",
        "id",
        "metadata_file",
        "name",
        "pack",
        "parameters",
        "policy_type",
        "ref",
        "resource_ref",
        "uid",
    }
)
_POLICY_TYPES = {
    "name": "string",
    "description": "string",
    "enabled": "boolean",
    "resource_ref": "string",
    "policy_type": "string",
    "parameters": "object",
}

_CONCURRENCY: dict[str, dict[str, Any]] = {
    "threshold": {"type": "integer", "minimum": 0, "required": True},
    "action": {"type": "string", "enum": ["delay", "cancel"], "default": "delay"},
}
#: Built-in policy types and their parameters (type, bounds, enum, required).
POLICY_TYPES: Mapping[str, Mapping[str, Mapping[str, Any]]] = MappingProxyType(
    {
        "action.concurrency": _CONCURRENCY,
        "action.concurrency.attr": {
            **_CONCURRENCY,
            "attributes": {"type": "array", "items": "string"},
        },
        "action.retry": {
            "retry_on": {"type": "string", "enum": ["failure", "timeout"], "required": True},
            "max_retry_count": {"type": "integer", "minimum": 1, "maximum": 5, "default": 2},
            "delay": {"type": "number", "minimum": 0, "maximum": 120, "default": 0},
        },
    }
)


def validate_alias(
    scope: PackScope, relative: str, report: FileReport, data: dict[str, Any]
) -> list[Resource]:
    check_fields(report, data, kind="alias", required=("name", "action_ref"), allowed=ALIAS_FIELDS)
    typed_fields(report, data, _ALIAS_TYPES)
    formats = data.get("formats")
    if isinstance(formats, list):
        for index, item in enumerate(formats):
            if isinstance(item, str):
                continue
            ok = isinstance(item, dict) and (
                is_type(item.get("display", ""), "string")
                and isinstance(item.get("representation", []), list)
                and all(isinstance(text, str) for text in item.get("representation", []))
            )
            if not ok:
                report.add(
                    "PH501",
                    f"formats[{index}] must be a string or a mapping "
                    "{display: <string>, representation: [<string>, ...]}",
                    ("formats", index),
                )
        _check_format_regexes(report, formats)
    for key, fields in _MESSAGE_FIELDS.items():
        section = data.get(key)
        if not isinstance(section, dict):
            continue
        for field, type_name in fields.items():
            if field in section and not is_type(section[field], type_name):
                report.add(
                    "PH502",
                    f"{key}.{field} must be a {type_name}, not {describe(section[field])}",
                    (key, field),
                )
    action_ref = data.get("action_ref")
    if isinstance(action_ref, str):
        scope.references.append(Reference("action", action_ref, report, ("action_ref",), "alias"))
    name = data.get("name")
    if not isinstance(name, str) or not name:
        return []
    return [
        _resource(
            Kind.ALIAS,
            scope,
            relative,
            data,
            name,
            formats=formats if isinstance(formats, list) else [],
        )
    ]


def _check_format_regexes(report: FileReport, formats: list[Any]) -> None:
    """PH503 for each format string that is no regular expression once its placeholders are
    replaced: it can never match (StackStorm fails every match while it is registered)."""
    for index, item in enumerate(formats):
        texts: list[tuple[str, tuple[str | int, ...]]] = []
        if isinstance(item, str):
            texts.append((item, ("formats", index)))
        elif isinstance(item, dict) and isinstance(item.get("representation"), list):
            texts += [
                (text, ("formats", index, "representation", number))
                for number, text in enumerate(item["representation"])
                if isinstance(text, str)
            ]
        for text, path in texts:
            try:
                compile_format(text)
            except FormatError as error:
                report.add("PH503", f"{error}; this format never matches", path)


def validate_policy(
    scope: PackScope, relative: str, report: FileReport, data: dict[str, Any]
) -> list[Resource]:
    check_fields(
        report,
        data,
        kind="policy",
        required=("name", "resource_ref", "policy_type"),
        allowed=POLICY_FIELDS,
    )
    typed_fields(report, data, _POLICY_TYPES)
    policy_type = data.get("policy_type")
    given = data.get("parameters")
    parameters: dict[str, Any] = given if isinstance(given, dict) else {}
    if isinstance(policy_type, str):
        spec = POLICY_TYPES.get(policy_type)
        if spec is None:
            report.add(
                "PH510",
                f"unknown policy type {policy_type!r}; use one of {', '.join(POLICY_TYPES)}",
                ("policy_type",),
            )
        else:
            _check_policy_parameters(report, policy_type, spec, parameters)
    resource_ref = data.get("resource_ref")
    if isinstance(resource_ref, str):
        scope.references.append(
            Reference("action", resource_ref, report, ("resource_ref",), "policy")
        )
    name = data.get("name")
    if not isinstance(name, str) or not name:
        return []
    return [_resource(Kind.POLICY, scope, relative, data, name, parameters=parameters)]


def _resource(
    kind: Kind,
    scope: PackScope,
    relative: str,
    data: dict[str, Any],
    name: str,
    **normalised: Any,
) -> Resource:
    """The resource of an alias or policy file: its document, normalised (``enabled``
    defaulting to true, ``pack``, ``ref`` and ``metadata_file`` set), plus ``normalised``."""
    enabled = data.get("enabled", True) is not False
    body = {key: value for key, value in data.items() if key not in ("id", "uid")}
    body.update(
        name=name,
        pack=scope.ref,
        ref=f"{scope.ref}.{name}",
        metadata_file=relative,
        enabled=enabled,
        description=data.get("description") or "",
        **normalised,
    )
    return Resource(kind, body["ref"], scope.ref, name, relative, body, enabled=enabled)


def _check_policy_parameters(
    report: FileReport,
    policy_type: str,
    spec: Mapping[str, Mapping[str, Any]],
    parameters: dict[str, Any],
) -> None:
    for name, value in parameters.items():
        here = ("parameters", name)
        declared = spec.get(name)
        if declared is None or not PARAMETER_NAME.match(name):
            report.add(
                "PH511",
                f"policy type {policy_type!r} has no parameter {name!r}; "
                f"its parameters are {', '.join(spec)}",
                here,
            )
            continue
        problem = _value_problem(declared, value)
        if problem:
            report.add("PH511", f"parameter {name!r} of {policy_type!r} {problem}", here)
    for name, declared in spec.items():
        if declared.get("required") and parameters.get(name) is None:
            report.add(
                "PH511",
                f"policy type {policy_type!r} needs the parameter {name!r}; add it under "
                "parameters",
                ("parameters",) if parameters else ("policy_type",),
            )


def _value_problem(declared: Mapping[str, Any], value: Any) -> str:
    type_name = declared["type"]
    if not is_type(value, type_name):
        return f"must be {type_name}, not {describe(value)}"
    if "enum" in declared and value not in declared["enum"]:
        return f"must be one of {', '.join(declared['enum'])}, not {value!r}"
    if "minimum" in declared and value < declared["minimum"]:
        return f"must be at least {declared['minimum']}, not {value!r}"
    if "maximum" in declared and value > declared["maximum"]:
        return f"must be at most {declared['maximum']}, not {value!r}"
    if type_name == "array" and not all(isinstance(item, str) for item in value):
        return "must be a list of parameter names"
    return ""
