"""Rules (``rules/*.yaml``): fields, criteria operators, trigger and action references."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from packhorse.model.content import Kind, Resource
from packhorse.packs.validate.report import FileReport, check_fields, describe, typed_fields
from packhorse.packs.validate.scope import PackScope, Reference
from packhorse.packs.validate.yamldoc import Path

#: Every criteria operator StackStorm knows, by lower-case name -> canonical name.
CRITERIA_OPERATORS: Mapping[str, str] = MappingProxyType(
    {
        **{
            name: name
            for name in (
                "equals",
                "nequals",
                "iequals",
                "contains",
                "ncontains",
                "icontains",
                "incontains",
                "startswith",
                "istartswith",
                "endswith",
                "iendswith",
                "lessthan",
                "greaterthan",
                "matchwildcard",
                "regex",
                "iregex",
                "matchregex",
                "timediff_lt",
                "timediff_gt",
                "exists",
                "nexists",
                "inside",
                "ninside",
                "search",
            )
        },
        "eq": "equals",
        "neq": "nequals",
        "ieq": "iequals",
        "lt": "lessthan",
        "gt": "greaterthan",
        "td_lt": "timediff_lt",
        "td_gt": "timediff_gt",
        "in": "inside",
        "nin": "ninside",
    }
)
SEARCH_CONDITIONS = frozenset({"any", "all", "any2any", "all2any"})
RULE_TYPES = frozenset({"standard", "backstop"})

FIELDS = frozenset(
    {
        "action",
        "context",
        "criteria",
        "description",
        "enabled",
        "id",
        "metadata_file",
        "name",
        "pack",
        "ref",
        "tags",
        "trigger",
        "type",
        "uid",
    }
)
_TYPES = {
    "name": "string",
    "description": "string",
    "enabled": "boolean",
    "trigger": "object",
    "action": "object",
    "type": "object",
    "criteria": "object",
    "context": "object",
    "tags": "array",
}


def canonical_operator(name: Any) -> str | None:
    """The canonical name of a criteria operator (case-insensitive, aliases), or None."""
    if not isinstance(name, str):
        return None
    return CRITERIA_OPERATORS.get(name.lower())


def validate_rule(
    scope: PackScope, relative: str, report: FileReport, data: dict[str, Any]
) -> list[Resource]:
    check_fields(report, data, kind="rule", required=("name", "trigger", "action"), allowed=FIELDS)
    typed_fields(report, data, _TYPES)
    trigger = data.get("trigger")
    if isinstance(trigger, dict):
        check_fields(report, trigger, kind="rule", required=("type",), at=("trigger",))
        typed_fields(report, trigger, {"type": "string", "parameters": "object"}, ("trigger",))
        kind = trigger.get("type")
        parameters = trigger.get("parameters")
        if isinstance(kind, str) and (parameters is None or isinstance(parameters, dict)):
            scope.references.append(
                Reference(
                    "trigger",
                    kind,
                    report,
                    ("trigger", "type"),
                    "rule",
                    parameters or {},
                    ("trigger", "parameters"),
                )
            )
    action = data.get("action")
    if isinstance(action, dict):
        check_fields(
            report,
            action,
            kind="rule",
            required=("ref",),
            allowed=("ref", "description", "parameters"),
            at=("action",),
        )
        typed_fields(report, action, {"ref": "string", "parameters": "object"}, ("action",))
        ref = action.get("ref")
        if isinstance(ref, str):
            scope.references.append(Reference("action", ref, report, ("action", "ref"), "rule"))
    rule_type = data.get("type")
    if isinstance(rule_type, dict):
        check_fields(
            report,
            rule_type,
            kind="rule",
            required=("ref",),
            allowed=("ref", "parameters"),
            at=("type",),
        )
        type_ref = rule_type.get("ref")
        if type_ref is not None and (not isinstance(type_ref, str) or type_ref not in RULE_TYPES):
            report.add(
                "PH312",
                f"rule type {type_ref!r} is unknown; use 'standard' or 'backstop'",
                ("type", "ref"),
            )
    criteria = data.get("criteria")
    if isinstance(criteria, dict):
        check_criteria(report, criteria, ("criteria",))
    name = data.get("name")
    if not isinstance(name, str) or not name:
        return []
    return [_resource(scope, relative, data, name)]


def check_criteria(report: FileReport, criteria: dict[str, Any], at: Path) -> None:
    """Each criterion: a mapping with a known operator; ``search`` with its own shape."""
    for key, criterion in criteria.items():
        here = (*at, key)
        if not isinstance(criterion, dict):
            report.add(
                "PH301",
                f"criterion {key!r} must be a mapping with 'type' and 'pattern', "
                f"not {describe(criterion)}",
                here,
            )
            continue
        operator = criterion.get("type")
        if operator is None:
            report.add(
                "PH303",
                f"criterion {key!r} has no 'type' (operator), so the rule never matches; "
                "add e.g. 'type: equals'",
                here,
            )
            continue
        canonical = canonical_operator(operator)
        if canonical is None:
            report.add(
                "PH302",
                f"criterion {key!r}: unknown operator {operator!r}; use one of "
                f"{', '.join(sorted(CRITERIA_OPERATORS))}",
                (*here, "type"),
            )
        elif canonical == "search":
            _check_search(report, key, criterion, here)


def _check_search(report: FileReport, key: str, criterion: dict[str, Any], at: Path) -> None:
    condition = criterion.get("condition")
    if not isinstance(condition, str) or condition not in SEARCH_CONDITIONS:
        report.add(
            "PH304",
            f"criterion {key!r}: search needs 'condition' set to one of "
            f"{', '.join(sorted(SEARCH_CONDITIONS))}, not {condition!r}",
            (*at, "condition") if "condition" in criterion else at,
        )
    pattern = criterion.get("pattern")
    if not isinstance(pattern, dict):
        report.add(
            "PH305",
            f"criterion {key!r}: search needs 'pattern' to be a mapping of item field to "
            f"criterion (e.g. item.name: {{type: equals, pattern: x}}), not {describe(pattern)}",
            (*at, "pattern") if "pattern" in criterion else at,
        )
        return
    for field, inner in pattern.items():
        here = (*at, "pattern", field)
        if not isinstance(inner, dict) or canonical_operator(inner.get("type")) in (None, "search"):
            report.add(
                "PH305",
                f"criterion {key!r}: search pattern {field!r} must be a mapping with a known "
                "operator in 'type' (not search) and a 'pattern'",
                here,
            )


def _resource(scope: PackScope, relative: str, data: dict[str, Any], name: str) -> Resource:
    body = {key: value for key, value in data.items() if key not in ("id", "uid")}
    trigger = dict(data["trigger"]) if isinstance(data.get("trigger"), dict) else {}
    trigger.setdefault("parameters", {})
    if trigger["parameters"] is None:
        trigger["parameters"] = {}
    action = dict(data["action"]) if isinstance(data.get("action"), dict) else {}
    if action.get("parameters") is None:
        action["parameters"] = {}
    rule_type = dict(data["type"]) if isinstance(data.get("type"), dict) else {}
    rule_type.setdefault("ref", "standard")
    if rule_type.get("parameters") is None:
        rule_type["parameters"] = {}
    enabled = data.get("enabled", False) is True
    body.update(
        name=name,
        pack=scope.ref,
        ref=f"{scope.ref}.{name}",
        metadata_file=relative,
        enabled=enabled,
        description=data.get("description") or "",
        trigger=trigger,
        action=action,
        type=rule_type,
        criteria=data.get("criteria") if isinstance(data.get("criteria"), dict) else {},
    )
    return Resource(
        kind=Kind.RULE,
        ref=body["ref"],
        pack=scope.ref,
        name=name,
        metadata_file=relative,
        body=body,
        enabled=enabled,
    )
