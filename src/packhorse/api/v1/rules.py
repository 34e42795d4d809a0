"""``/api/v1/rules`` and ``/api/v1/ruleenforcements``: StackStorm's ``RuleAPI`` and
``RuleEnforcementAPI``.

Rules come from packs (their files are the source of truth), so ``PUT /rules/{ref_or_id}``
changes only ``enabled`` (what ``st2 rule enable|disable`` sends: the whole rule with
``enabled`` flipped); a body that changes anything else is refused with 400. Reads need
``viewer``; enabling and disabling needs ``admin`` (StackStorm's ``rule_modify``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from packhorse import bootstrap
from packhorse.api import openapi
from packhorse.api.errors import fault
from packhorse.api.openapi import BOOLEAN
from packhorse.api.v1.listing import (
    Admin,
    Offset,
    RuntimeDep,
    SettingsDep,
    Viewer,
    json_object,
    page,
    select_attributes,
)
from packhorse.engine.events import rule_trigger
from packhorse.engine.shapes import object_id
from packhorse.model.content import Kind, Resource
from packhorse.model.events import Enforcement, enforcement_record
from packhorse.settings import Settings
from packhorse.storage.events import EnforcementFilter

#: Fields ``PUT`` compares with the registered rule: a change to one of them is refused.
_FIXED = ("name", "pack", "criteria")


def rule_record(rule: Resource) -> dict[str, Any]:
    """A registered rule as StackStorm's RuleAPI."""
    body = dict(rule.body)
    trigger = rule_trigger(rule)
    action = dict(body.get("action") or {})
    action.setdefault("parameters", {})
    return {
        **body,
        "id": object_id("rule", rule.ref),
        "uid": f"rule:{rule.pack}:{rule.name}",
        "ref": rule.ref,
        "name": rule.name,
        "pack": rule.pack,
        "description": body.get("description", ""),
        "enabled": rule.enabled,
        "trigger": {
            "type": trigger.type,
            "ref": trigger.ref,
            "parameters": dict(trigger.parameters),
        },
        "criteria": body.get("criteria") or {},
        "action": action,
        "type": body.get("type") or {"ref": "standard", "parameters": {}},
        "context": body.get("context") or {},
        "tags": body.get("tags") or [],
        "metadata_file": rule.metadata_file,
    }


def find_rule(config: Settings, ref_or_id: str) -> Resource | None:
    """The registered rule with this ref or (stable) id, read fresh from the registry."""
    registry = bootstrap.content_registry(config)
    found = registry.get_resource(Kind.RULE, ref_or_id)
    if found is not None:
        return found
    return next(
        (r for r in registry.list_resources(Kind.RULE) if object_id("rule", r.ref) == ref_or_id),
        None,
    )


def api_enforcement(enforcement: Enforcement) -> dict[str, Any]:
    """StackStorm's RuleEnforcementAPI (``rule`` carries ref, id and uid)."""
    record = enforcement_record(enforcement)
    pack, _, name = enforcement.rule.partition(".")
    record["rule"] = {
        "ref": enforcement.rule,
        "id": object_id("rule", enforcement.rule),
        "uid": f"rule:{pack}:{name}",
    }
    return {key: value for key, value in record.items() if value is not None}


def router() -> APIRouter:
    routes = APIRouter(prefix="/api/v1", tags=["rules"])

    @routes.get("/rules", response_model=None)
    @routes.get("/rules/", include_in_schema=False, response_model=None)
    def list_rules(
        *,
        response: Response,
        pack: str | None = None,
        name: str | None = None,
        enabled: bool | None = None,
        action: str | None = None,
        trigger: str | None = None,
        include_attributes: str | None = None,
        exclude_attributes: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        _principal: Viewer,
        config: SettingsDep,
    ) -> list[dict[str, Any]]:
        """Registered rules by ref; filters as StackStorm's (``trigger`` is the trigger's ref
        or its type)."""
        records = [
            rule_record(rule)
            for rule in bootstrap.content_registry(config).list_resources(Kind.RULE, pack)
        ]
        if name is not None:
            records = [r for r in records if r["name"] == name]
        if enabled is not None:
            records = [r for r in records if r["enabled"] is enabled]
        if action is not None:
            records = [r for r in records if r["action"].get("ref") == action]
        if trigger is not None:
            records = [r for r in records if trigger in (r["trigger"]["ref"], r["trigger"]["type"])]
        return [
            select_attributes(r, include_attributes, exclude_attributes)
            for r in page(records, response, limit, offset)
        ]

    @routes.get("/rules/{ref_or_id}", response_model=None)
    def get_rule(
        *,
        ref_or_id: str,
        _principal: Viewer,
        config: SettingsDep,
    ) -> dict[str, Any] | JSONResponse:
        rule = find_rule(config, ref_or_id)
        if rule is None:
            return fault(404, f'Resource with a reference or id "{ref_or_id}" not found')
        return rule_record(rule)

    @routes.put(
        "/rules/{ref_or_id}",
        response_model=None,
        openapi_extra=openapi.body({"enabled": BOOLEAN}, required=["enabled"]),
    )
    async def update_rule(
        *,
        ref_or_id: str,
        request: Request,
        _principal: Admin,
        config: SettingsDep,
        rt: RuntimeDep,
    ) -> dict[str, Any] | JSONResponse:
        """Enable or disable a rule (the body is the rule with ``enabled`` set)."""
        body = await json_object(request)
        if isinstance(body, JSONResponse):
            return body
        rule = find_rule(config, ref_or_id)
        if rule is None:
            return fault(404, f'Resource with a reference or id "{ref_or_id}" not found')
        problem = _update_problem(rule_record(rule), body)
        if problem:
            return fault(400, problem)
        enabled = body["enabled"]
        if enabled != rule.enabled:
            bootstrap.content_registry(config).set_enabled(Kind.RULE, rule.ref, enabled)
            rt.rules.reload()
        found = find_rule(config, rule.ref)
        assert found is not None
        return rule_record(found)

    @routes.get("/ruleenforcements", response_model=None)
    @routes.get("/ruleenforcements/", include_in_schema=False, response_model=None)
    def list_enforcements(
        *,
        response: Response,
        rule_ref: str | None = None,
        rule_id: str | None = None,
        execution: str | None = None,
        trigger_instance: str | None = None,
        limit: int | None = None,
        offset: Offset = 0,
        _principal: Viewer,
        config: SettingsDep,
        rt: RuntimeDep,
    ) -> list[dict[str, Any]]:
        """Rule enforcements, newest first."""
        rule = rule_ref
        if rule is None and rule_id is not None:
            found = find_rule(config, rule_id)
            rule = found.ref if found is not None else rule_id
        size = 50 if limit is None or limit <= 0 else min(limit, 1000)
        query = EnforcementFilter(
            rule=rule,
            trigger_instance_id=trigger_instance,
            execution_id=execution,
            limit=size,
            offset=max(offset, 0),
        )
        store = rt.events.store
        response.headers["X-Total-Count"] = str(store.count_enforcements(query))
        response.headers["X-Limit"] = str(size)
        return [api_enforcement(e) for e in store.enforcements(query)]

    @routes.get("/ruleenforcements/{enforcement_id}", response_model=None)
    def get_enforcement(
        *,
        enforcement_id: str,
        _principal: Viewer,
        rt: RuntimeDep,
    ) -> dict[str, Any] | JSONResponse:
        found = rt.events.store.get_enforcement(enforcement_id)
        if found is None:
            return fault(404, f'Resource with id "{enforcement_id}" not found')
        return api_enforcement(found)

    return routes


def _update_problem(current: dict[str, Any], body: dict[str, Any]) -> str | None:
    if not isinstance(body.get("enabled"), bool):
        return "'enabled' is required and must be true or false"
    for field in _FIXED:
        if field in body and body[field] != current[field]:
            return _only_enabled(field)
    for part in ("trigger", "action"):
        given = body.get(part)
        if given is None:
            continue
        if not isinstance(given, dict):
            return f"'{part}' must be an object"
        for key in ("type", "ref", "parameters") if part == "trigger" else ("ref", "parameters"):
            if key in given and given[key] != current[part].get(key):
                return _only_enabled(f"{part}.{key}")
    return None


def _only_enabled(field: str) -> str:
    return (
        f"only 'enabled' can be changed over the API, not {field!r}: rules are defined by "
        "their pack's files (edit the file, then 'packhorse pack register')"
    )
