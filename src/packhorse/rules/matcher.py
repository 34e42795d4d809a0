"""The rule matcher: which rules a trigger instance fires, and why the others do not.

Build a :class:`Matcher` once from the registered rules (after each registration), then call
:meth:`Matcher.match` for each trigger instance. Rules are indexed by trigger (type ref and
parameters), so a trigger instance is checked only against the rules of its trigger; their
criteria keys are parsed and their patterns syntax-checked when the matcher is built.

As in StackStorm's rules engine: standard rules are checked first; backstop rules only when no
standard rule matched; a disabled rule never matches; a rule with criteria never matches an
empty payload. Unlike StackStorm, nothing is written or logged here: every miss comes back as
data (:class:`Miss`), and a rule whose pattern fails to render or whose operator raises is a
miss with that reason, never an exception out of :meth:`Matcher.match`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from packhorse.expr import Datastore
from packhorse.expr.datastore import SYSTEM_SCOPE, Decrypt, Lookup
from packhorse.model.content import Kind, Resource
from packhorse.model.rules import Rule, RuleType, TriggerInstance, trigger_key
from packhorse.rules.criteria import Criterion, MissKind, Reason, Scope, check_all, compile_criteria

__all__ = ["MatchResult", "Matcher", "Miss"]


@dataclass(frozen=True, slots=True)
class Miss:
    """A rule of the trigger that did not match, and why."""

    rule: Rule
    reason: Reason

    @property
    def ref(self) -> str:
        return self.rule.ref

    def __str__(self) -> str:
        return f"{self.rule.ref}: {self.reason.message}"


@dataclass(frozen=True, slots=True)
class MatchResult:
    """The outcome of matching one trigger instance."""

    matched: tuple[Rule, ...]
    """Rules to enforce, standard ones first, each in the matcher's order."""
    misses: tuple[Miss, ...]
    """Every other rule of the trigger, with its reason."""

    @property
    def matched_refs(self) -> tuple[str, ...]:
        return tuple(rule.ref for rule in self.matched)

    def reason(self, ref: str) -> Reason | None:
        """Why the rule ``ref`` did not match (None if it matched or is not of this trigger)."""
        return next((miss.reason for miss in self.misses if miss.rule.ref == ref), None)


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: Rule
    criteria: tuple[Criterion, ...]


def _datastore_keys(lookup: Lookup) -> Callable[[str], str | None]:
    """System keys read by criteria keys, each once per trigger instance."""
    cache: dict[str, str | None] = {}

    def value(name: str) -> str | None:
        if name not in cache:
            cache[name] = lookup(SYSTEM_SCOPE, name)
        return cache[name]

    return value


class Matcher:
    """Rules indexed by trigger, with compiled criteria. Immutable once built; build a new one
    when the rules change."""

    __slots__ = ("_by_trigger", "_rules")

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._rules = tuple(rules)
        by_trigger: dict[tuple[str, str], tuple[list[_Compiled], list[_Compiled]]] = {}
        for rule in self._rules:
            compiled = _Compiled(rule, compile_criteria(rule.criteria))
            standard, backstop = by_trigger.setdefault(
                trigger_key(rule.trigger_type, rule.trigger_parameters), ([], [])
            )
            (backstop if rule.type is RuleType.BACKSTOP else standard).append(compiled)
        self._by_trigger = {
            key: (tuple(standard), tuple(backstop))
            for key, (standard, backstop) in by_trigger.items()
        }

    @classmethod
    def from_resources(cls, resources: Iterable[Resource]) -> Matcher:
        """A matcher over the rule resources among ``resources`` (others are ignored); a
        resource's ``enabled`` is the rule's (it may differ from the file's, after
        ``rule enable``)."""
        rules = []
        for resource in resources:
            if resource.kind is Kind.RULE:
                body = {**resource.body, "enabled": resource.enabled}
                rules.append(Rule.from_body(body))
        return cls(rules)

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self._rules

    def __len__(self) -> int:
        return len(self._rules)

    def rules_for(
        self, trigger_type: str, parameters: Mapping[str, Any] | None
    ) -> tuple[Rule, ...]:
        """The rules of one trigger, standard ones first."""
        standard, backstop = self._by_trigger.get(trigger_key(trigger_type, parameters), ((), ()))
        return tuple(compiled.rule for compiled in (*standard, *backstop))

    def match(
        self,
        trigger_instance: TriggerInstance,
        now: datetime,
        datastore_lookup: Lookup,
        *,
        decrypt: Decrypt | None = None,
    ) -> MatchResult:
        """The rules ``trigger_instance`` fires, and why each other rule of its trigger does
        not. ``now`` is the time ``timediff`` criteria compare with (aware, or naive UTC);
        ``datastore_lookup(scope, name)`` reads the datastore (``st2kv.system`` in patterns,
        ``system.<key>`` keys), ``decrypt`` serves ``decrypt_kv``. Never raises for a rule's
        content."""
        key = trigger_key(trigger_instance.trigger_type, trigger_instance.trigger_parameters)
        standard, backstop = self._by_trigger.get(key, ((), ()))
        if not standard and not backstop:
            return MatchResult((), ())
        payload = trigger_instance.payload
        scope = Scope.of(
            "trigger",
            payload,
            Datastore(datastore_lookup, decrypt=decrypt),
            _datastore_keys(datastore_lookup),
            now,
        )
        matched: list[Rule] = []
        misses: list[Miss] = []
        for compiled in standard:
            _check(compiled, payload, scope, matched, misses)
        if matched:
            refs = ", ".join(rule.ref for rule in matched)
            misses.extend(Miss(c.rule, Reason(MissKind.BACKSTOP, detail=refs)) for c in backstop)
        else:
            for compiled in backstop:
                _check(compiled, payload, scope, matched, misses)
        return MatchResult(tuple(matched), tuple(misses))


def _check(
    compiled: _Compiled, payload: Any, scope: Scope, matched: list[Rule], misses: list[Miss]
) -> None:
    rule = compiled.rule
    reason: Reason | None
    if not rule.enabled:
        reason = Reason(MissKind.DISABLED)
    elif compiled.criteria and not payload:
        reason = Reason(MissKind.EMPTY_PAYLOAD)
    else:
        reason = check_all(compiled.criteria, scope)
    if reason is None:
        matched.append(rule)
    else:
        misses.append(Miss(rule, reason))
