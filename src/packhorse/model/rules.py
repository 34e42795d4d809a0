"""Rules and the trigger instances they are matched against (stackstorm-packs.md §4)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from packhorse.model.content import canonical_json

__all__ = ["Rule", "RuleType", "TriggerInstance", "trigger_key"]


class RuleType(StrEnum):
    STANDARD = "standard"
    BACKSTOP = "backstop"
    """Fires only when no standard rule matched the same trigger instance."""


def trigger_key(trigger_type: str, parameters: Mapping[str, Any] | None) -> tuple[str, str]:
    """What identifies a trigger: its type ref and its parameters (as canonical JSON), so a
    parameterised type (``core.st2.webhook`` with ``url: a``) gives one trigger per value."""
    return trigger_type, canonical_json(dict(parameters or {}))


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule, as the matcher and the enforcement need it."""

    ref: str
    """``<pack>.<name>``."""
    pack: str
    name: str
    trigger_type: str
    """The trigger type ref, e.g. ``core.st2.webhook``."""
    action_ref: str
    enabled: bool = True
    type: RuleType = RuleType.STANDARD
    trigger_parameters: Mapping[str, Any] = field(default_factory=dict)
    """The trigger's parameters (``url`` of a webhook...); empty for a simple trigger."""
    criteria: Mapping[str, Any] = field(default_factory=dict)
    """Criteria key -> ``{type, pattern[, condition]}``, as written in the rule file."""
    action_parameters: Mapping[str, Any] = field(default_factory=dict)
    """The action's live parameters, templates not rendered."""
    id: str = ""
    """The stored id when there is one (``action_context.rule.id``)."""
    description: str = field(default="", compare=False)

    @classmethod
    def from_body(cls, body: Mapping[str, Any], *, id: str = "") -> Rule:
        """A rule from its document: a registered rule resource's ``body`` (normalised by
        validation) or a rule file as written (``pack`` must then be in it)."""
        trigger = body.get("trigger") or {}
        action = body.get("action") or {}
        rule_type = (body.get("type") or {}).get("ref") or RuleType.STANDARD
        pack = str(body.get("pack") or "")
        name = str(body.get("name") or "")
        return cls(
            ref=str(body.get("ref") or f"{pack}.{name}"),
            pack=pack,
            name=name,
            trigger_type=str(trigger.get("type") or ""),
            action_ref=str(action.get("ref") or ""),
            enabled=body.get("enabled", True) is True,
            type=RuleType(rule_type),
            trigger_parameters=MappingProxyType(dict(trigger.get("parameters") or {})),
            criteria=MappingProxyType(dict(body.get("criteria") or {})),
            action_parameters=MappingProxyType(dict(action.get("parameters") or {})),
            id=id or str(body.get("id") or ""),
            description=str(body.get("description") or ""),
        )


@dataclass(frozen=True, slots=True)
class TriggerInstance:
    """One occurrence of a trigger: what a sensor, webhook or timer emitted."""

    id: str
    trigger_type: str
    payload: Any
    """The payload, usually a dict (a webhook's ``{headers, body}``)."""
    trigger_parameters: Mapping[str, Any] = field(default_factory=dict)
    """The parameters of the trigger it was emitted for (empty for a simple trigger)."""
    occurrence_time: str = ""
    """ISO-8601 UTC time it occurred."""
