"""Shadow evaluation of trigger instances, as data: what goes in, what comes out.

An instance evaluates a recorded trigger instance "in shadow" (``packhorse upgrade verify``):
its rules are matched and the matched rules' action parameters rendered as the rules engine
and the worker would, and nothing is written or run. The outcomes of two instances for the
same trigger instances are then compared. These types travel as JSON between an instance's
API (``POST /api/v1/packhorse/shadow``) and the CLI, hence :meth:`to_dict` / ``from_dict``.

Secret values never leave the evaluating instance in clear: each is replaced by
:func:`fingerprint`, a keyed digest (HMAC-SHA256 with a key the caller chooses for one run),
so that two instances' secrets compare equal exactly when their clear values are equal.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MASK = "********"
FINGERPRINT_PREFIX = MASK + "#"
"""A fingerprinted secret reads ``********#<16 hex digits>``."""


def fingerprint(key: bytes, value: Any) -> str:
    """``value`` masked, with a keyed digest of it that compares without revealing it."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    digest = hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
    return FINGERPRINT_PREFIX + digest[:16]


def is_fingerprint(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(FINGERPRINT_PREFIX)


@dataclass(frozen=True, slots=True)
class ShadowInput:
    """A recorded trigger instance to evaluate."""

    id: str
    trigger: str
    """The trigger ref (a type's ref, or ``<pack>.<uuid>`` for a parameterised trigger)."""
    trigger_type: str
    payload: Mapping[str, Any]
    occurrence_time: str
    """When it happened (ISO-8601): ``timediff`` criteria compare with this time, as they
    did when the instance was first processed."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "trigger": self.trigger,
            "trigger_type": self.trigger_type,
            "payload": dict(self.payload),
            "occurrence_time": self.occurrence_time,
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> ShadowInput:
        trigger = str(record["trigger"])
        return cls(
            id=str(record.get("id") or ""),
            trigger=trigger,
            trigger_type=str(record.get("trigger_type") or trigger),
            payload=dict(record.get("payload") or {}),
            occurrence_time=str(record.get("occurrence_time") or ""),
        )


@dataclass(frozen=True, slots=True)
class ShadowMatch:
    """A rule the trigger instance matched, and the execution it would request."""

    rule: str
    action: str
    """The action ref the rule names."""
    parameters: Mapping[str, Any] | None
    """The rendered parameters (runner's and action's, defaults applied), secrets
    fingerprinted; None when the execution could not be requested (see ``error``)."""
    error: str | None = None
    """Why the execution could not be requested (action missing or disabled, parameters
    that do not render): the rule engine records a failed enforcement then."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "action": self.action,
            "parameters": None if self.parameters is None else dict(self.parameters),
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> ShadowMatch:
        parameters = record.get("parameters")
        return cls(
            rule=str(record["rule"]),
            action=str(record.get("action") or ""),
            parameters=None if parameters is None else dict(parameters),
            error=None if record.get("error") is None else str(record["error"]),
        )


@dataclass(frozen=True, slots=True)
class ShadowOutcome:
    """What one instance would do with one trigger instance."""

    trigger_instance: str
    matches: tuple[ShadowMatch, ...] = field(default_factory=tuple)

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(match.rule for match in self.matches)

    def to_dict(self) -> dict[str, Any]:
        return {
            "trigger_instance": self.trigger_instance,
            "matches": [match.to_dict() for match in self.matches],
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> ShadowOutcome:
        return cls(
            trigger_instance=str(record["trigger_instance"]),
            matches=tuple(ShadowMatch.from_dict(m) for m in record.get("matches") or ()),
        )
