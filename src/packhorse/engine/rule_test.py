"""A rule's dry run: would it fire for this payload, and with which action parameters?
Nothing is recorded and nothing runs. ``packhorse rule test`` and the console's rule page
both ask this."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from packhorse.engine.datastore import DatastoreService
from packhorse.model import rules as rule_model
from packhorse.rules.enforcement import ParametersFailed, action_context, render_action_parameters
from packhorse.rules.matcher import Matcher


@dataclass(frozen=True, slots=True)
class DryRun:
    rule: str
    matched: bool
    reason: str | None = None
    """Why it does not match (the first criterion that failed, as the matcher says)."""
    action: str | None = None
    parameters: dict[str, Any] | None = None
    """The rendered action parameters, every known secret masked."""
    parameters_error: str | None = None
    """Why the parameters could not be rendered (it matches all the same)."""

    def as_dict(self) -> dict[str, Any]:
        """What ``packhorse rule test --json`` prints."""
        outcome: dict[str, Any] = {"rule": self.rule, "matched": self.matched}
        if not self.matched:
            outcome["reason"] = self.reason or "no match"
            return outcome
        outcome["action"] = self.action
        if self.parameters_error is not None:
            outcome["parameters_error"] = self.parameters_error
        else:
            outcome["parameters"] = self.parameters
        return outcome


def dry_run(
    rule: rule_model.Rule,
    payload: Any,
    *,
    datastore: DatastoreService,
    user: str,
    redact: Callable[[Any], Any],
    now: dt.datetime,
) -> DryRun:
    """Match ``rule`` (as if enabled) against ``payload``; when it matches, render its
    action parameters as an enforcement by ``user`` would, secrets masked by ``redact``
    (the process's redactor: a secret decrypted while rendering is known to it)."""
    occurrence = rule_model.TriggerInstance(
        id="dry-run",
        trigger_type=rule.trigger_type,
        payload=payload,
        trigger_parameters=dict(rule.trigger_parameters),
    )
    result = Matcher([rule]).match(occurrence, now, datastore.lookup, decrypt=datastore.decrypt)
    if not result.matched:
        reason = result.reason(rule.ref)
        return DryRun(rule.ref, False, reason=reason.message if reason is not None else None)
    context = action_context(rule, occurrence, user=user)
    rendered = render_action_parameters(
        rule, payload, context, datastore.lookup, decrypt=datastore.decrypt
    )
    if isinstance(rendered, ParametersFailed):
        return DryRun(rule.ref, True, action=rule.action_ref, parameters_error=rendered.message)
    masked: dict[str, Any] = json.loads(redact(json.dumps(rendered.parameters)))
    return DryRun(rule.ref, True, action=rule.action_ref, parameters=masked)
