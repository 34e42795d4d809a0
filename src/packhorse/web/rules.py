"""The console's rules: the list (enabled, trigger, action, recent matches), a page for each
(criteria, action parameters, its recent enforcements, enable and disable) and a dry run
against a pasted payload (:func:`packhorse.engine.rule_test.dry_run`, what ``packhorse rule
test`` runs: nothing is recorded, nothing runs, rendered secrets are masked).

Enabling and disabling need admin, as ``PUT /api/v1/rules/REF`` does; a dry run needs
operator (it renders parameters with the datastore's values, masked)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from packhorse import bootstrap
from packhorse.api.deps import runtime, settings
from packhorse.engine.clock import utc_now
from packhorse.engine.events import rule_trigger
from packhorse.engine.rule_test import DryRun, dry_run
from packhorse.model.content import Kind, Resource
from packhorse.model.events import Enforcement
from packhorse.model.rules import Rule
from packhorse.storage.events import EnforcementFilter
from packhorse.web import views
from packhorse.web.rendering import PREFIX, not_found, posted_form, render
from packhorse.web.session import Session, require_session

RECENT = 20
MAX_PAYLOAD_CHARS = 100_000


@dataclass(frozen=True, slots=True)
class RuleRow:
    ref: str
    pack: str
    enabled: bool
    trigger: str
    action: str
    matches: int
    """Enforcements recorded (each a time the rule matched)."""
    last_match: str
    """``YYYY-MM-DD HH:MM:SS`` UTC of the latest, or empty."""


def _stamp(iso: str | None) -> str:
    return (iso or "")[:19].replace("T", " ")


def _rules(request: Request) -> list[Resource]:
    return bootstrap.content_registry(settings(request)).list_resources(Kind.RULE)


def _rule(request: Request, ref: str) -> Resource | None:
    return bootstrap.content_registry(settings(request)).get_resource(Kind.RULE, ref)


def _row(request: Request, rule: Resource) -> RuleRow:
    store = runtime(request).events.store
    query = EnforcementFilter(rule=rule.ref, limit=1)
    latest = store.enforcements(query)
    return RuleRow(
        ref=rule.ref,
        pack=rule.pack,
        enabled=rule.enabled,
        trigger=rule_trigger(rule).type,
        action=str((rule.body.get("action") or {}).get("ref") or ""),
        matches=store.count_enforcements(query),
        last_match=_stamp(latest[0].enforced_at) if latest else "",
    )


def router() -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get(f"{PREFIX}/rules")
    def rules_page(request: Request, pack: str = "") -> Response:
        session = require_session(request)
        found = _rules(request)
        packs = sorted({rule.pack for rule in found})
        shown = [rule for rule in found if not pack.strip() or rule.pack == pack.strip()]
        return render(
            request,
            "rules.html",
            session=session,
            title="Rules",
            rows=[_row(request, rule) for rule in shown],
            packs=packs,
            pack=pack.strip(),
        )

    def _page(
        request: Request,
        session: Session,
        rule: Resource,
        *,
        payload: str = "",
        outcome: DryRun | None = None,
        problem: str | None = None,
        status_code: int = 200,
    ) -> Response:
        store = runtime(request).events.store
        enforcements: list[Enforcement] = store.enforcements(
            EnforcementFilter(rule=rule.ref, limit=RECENT)
        )
        action = dict(rule.body.get("action") or {})
        trigger = rule_trigger(rule)
        return render(
            request,
            "rule.html",
            session=session,
            title=f"Rule {rule.ref}",
            rule=rule,
            row=_row(request, rule),
            description=str(rule.body.get("description") or ""),
            trigger=trigger,
            trigger_parameters=views.pretty_json(dict(trigger.parameters)),
            criteria=views.pretty_json(rule.body.get("criteria") or {}),
            has_criteria=bool(rule.body.get("criteria")),
            action_ref=str(action.get("ref") or ""),
            action_parameters=views.pretty_json(action.get("parameters") or {}),
            enforcements=[(e, _stamp(e.enforced_at)) for e in enforcements],
            may_toggle=session.principal.may("admin"),
            may_test=session.principal.may("operator"),
            payload=payload,
            outcome=outcome,
            rendered=views.pretty_json(outcome.parameters)
            if outcome is not None and outcome.parameters is not None
            else "",
            problem=problem,
            status_code=status_code,
        )

    @routes.get(f"{PREFIX}/rules/{{ref}}")
    def rule_page(request: Request, ref: str) -> Response:
        session = require_session(request)
        rule = _rule(request, ref)
        if rule is None:
            return not_found(request, session, "Rule not found", f"There is no rule {ref}.")
        return _page(request, session, rule)

    @routes.post(f"{PREFIX}/rules/{{ref}}/enabled")
    async def set_enabled(request: Request, ref: str) -> Response:
        session, form = await posted_form(request, needs="admin", doing="enable or disable rules")
        rule = _rule(request, ref)
        if rule is None:
            return not_found(request, session, "Rule not found", f"There is no rule {ref}.")
        enabled = form.get("enabled") == "true"
        if enabled != rule.enabled:
            registry = bootstrap.content_registry(settings(request))
            await run_in_threadpool(registry.set_enabled, Kind.RULE, rule.ref, enabled)
            runtime(request).rules.reload()
        return RedirectResponse(f"{PREFIX}/rules/{rule.ref}", status_code=303)

    @routes.post(f"{PREFIX}/rules/{{ref}}/test")
    async def test_rule(request: Request, ref: str) -> Response:
        session, form = await posted_form(request, needs="operator", doing="test rules")
        rule = _rule(request, ref)
        if rule is None:
            return not_found(request, session, "Rule not found", f"There is no rule {ref}.")
        text = form.get("payload", "")
        try:
            if len(text) > MAX_PAYLOAD_CHARS:
                raise ValueError(f"longer than {MAX_PAYLOAD_CHARS} characters")
            payload: Any = json.loads(text)
        except ValueError as error:
            return _page(
                request,
                session,
                rule,
                payload=text,
                problem=f"The payload is not JSON: {error}",
                status_code=400,
            )
        config = settings(request)
        outcome = await run_in_threadpool(
            lambda: dry_run(
                Rule.from_body({**rule.body, "enabled": True}),
                payload,
                datastore=runtime(request).datastore,
                user=config.system_user,
                redact=bootstrap.redactor().redact,
                now=utc_now(),
            )
        )
        return _page(request, session, rule, payload=text, outcome=outcome)

    return routes
