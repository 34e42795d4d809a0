"""The Matcher's surface: building from registered resources, the index, the datastore and
robustness. Matching behaviour itself is in the YAML cases (test_cases.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import packhorse
from packhorse.model.content import Kind, Resource
from packhorse.packs.discover import default_context, read_pack
from packhorse.packs.validate import validate_packs
from packhorse.rules import Matcher, MissKind, Rule, RuleType, TriggerInstance

BUNDLED = Path(packhorse.__file__).parent / "bundled_packs"
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _no_datastore(scope: str, name: str) -> str | None:
    return None


def _bundled_resources() -> list[Resource]:
    results = validate_packs(
        [read_pack(BUNDLED / "core"), read_pack(BUNDLED / "examples")], default_context()
    )
    resources: list[Resource] = []
    for result in results:
        assert result.pack is not None, [d.format() for d in result.diagnostics]
        resources.extend(result.pack.resources)
    return resources


def _rule(name: str, criteria: dict[str, Any] | None = None, **fields: Any) -> Rule:
    return Rule(
        ref=f"t.{name}",
        pack="t",
        name=name,
        trigger_type=fields.pop("trigger_type", "t.event"),
        action_ref="core.noop",
        criteria=criteria or {},
        **fields,
    )


def test_a_matcher_from_registered_resources_matches_the_bundled_example_rules() -> None:
    resources = _bundled_resources()
    matcher = Matcher.from_resources(resources)
    assert {rule.ref for rule in matcher.rules} == {r.ref for r in resources if r.kind is Kind.RULE}
    alert = TriggerInstance(
        "ti-1",
        "examples.service_alert",
        {
            "severity": "CRITICAL",
            "service": "api-gateway",
            "tags": ["production"],
            "message": "5xx rate above 10%",
        },
    )
    assert matcher.match(alert, NOW, _no_datastore).matched_refs == (
        "examples.page_on_critical_alert",
    )
    staging = TriggerInstance("ti-2", "examples.service_alert", {**alert.payload, "tags": []})
    result = matcher.match(staging, NOW, _no_datastore)
    assert result.matched_refs == ()
    reason = result.reason("examples.page_on_critical_alert")
    assert reason is not None
    assert reason.kind is MissKind.NOT_SATISFIED
    assert reason.key == "trigger.tags"
    assert reason.value == []
    assert reason.pattern == "production"


def test_a_resource_s_enabled_flag_overrides_its_file() -> None:
    resources = _bundled_resources()
    timer_rule = next(r for r in resources if r.ref == "examples.greet_every_minute")
    assert timer_rule.body["enabled"] is False
    enabled = Resource(
        kind=timer_rule.kind,
        ref=timer_rule.ref,
        pack=timer_rule.pack,
        name=timer_rule.name,
        metadata_file=timer_rule.metadata_file,
        body=timer_rule.body,
        enabled=True,
    )
    tick = TriggerInstance(
        "ti-3", "core.st2.IntervalTimer", {"executed_at": "x"}, {"unit": "minutes", "delta": 1}
    )
    assert Matcher.from_resources([timer_rule]).match(tick, NOW, _no_datastore).matched_refs == ()
    assert Matcher.from_resources([enabled]).match(tick, NOW, _no_datastore).matched_refs == (
        "examples.greet_every_minute",
    )


def test_only_the_rules_of_the_trigger_are_looked_at() -> None:
    rules = [_rule(f"r{i}", trigger_type=f"t.type{i % 5}") for i in range(50)]
    matcher = Matcher(rules)
    assert [rule.ref for rule in matcher.rules_for("t.type3", {})] == [
        f"t.r{i}" for i in range(3, 50, 5)
    ]
    result = matcher.match(TriggerInstance("ti", "t.type3", {"x": 1}), NOW, _no_datastore)
    assert result.matched_refs == tuple(f"t.r{i}" for i in range(3, 50, 5))
    assert result.misses == ()
    nothing = matcher.match(TriggerInstance("ti", "t.unknown", {"x": 1}), NOW, _no_datastore)
    assert nothing.matched == () and nothing.misses == ()


def test_trigger_parameters_are_compared_by_value_not_by_key_order() -> None:
    rule = _rule("timer", trigger_type="core.st2.IntervalTimer")
    rule = Rule(**{**_fields(rule), "trigger_parameters": {"unit": "seconds", "delta": 5}})
    matcher = Matcher([rule])
    same = TriggerInstance(
        "ti", "core.st2.IntervalTimer", {"a": 1}, {"delta": 5, "unit": "seconds"}
    )
    other = TriggerInstance(
        "ti", "core.st2.IntervalTimer", {"a": 1}, {"delta": 6, "unit": "seconds"}
    )
    assert matcher.match(same, NOW, _no_datastore).matched_refs == ("t.timer",)
    assert matcher.match(other, NOW, _no_datastore).matched_refs == ()


def _fields(rule: Rule) -> dict[str, Any]:
    return {name: getattr(rule, name) for name in Rule.__dataclass_fields__}


def test_backstops_come_after_standard_rules_whatever_the_order_given() -> None:
    backstop = _rule("backstop", type=RuleType.BACKSTOP)
    standard = _rule("standard", {"trigger.x": {"type": "equals", "pattern": 1}})
    matcher = Matcher([backstop, standard])
    assert [rule.ref for rule in matcher.rules_for("t.event", None)] == ["t.standard", "t.backstop"]
    hit = matcher.match(TriggerInstance("ti", "t.event", {"x": 1}), NOW, _no_datastore)
    assert hit.matched_refs == ("t.standard",)
    assert [(miss.ref, miss.reason.kind) for miss in hit.misses] == [
        ("t.backstop", MissKind.BACKSTOP)
    ]
    miss = matcher.match(TriggerInstance("ti", "t.event", {"x": 2}), NOW, _no_datastore)
    assert miss.matched_refs == ("t.backstop",)


def test_each_datastore_key_is_read_once_per_trigger_instance() -> None:
    calls: list[tuple[str, str]] = []

    def lookup(scope: str, name: str) -> str | None:
        calls.append((scope, name))
        return {"env": "prod", "limit": "5"}.get(name)

    rules = [
        _rule("a", {"trigger.env": {"type": "equals", "pattern": "{{ st2kv.system.env }}"}}),
        _rule("b", {"trigger.env": {"type": "equals", "pattern": "{{ st2kv.system.env }}"}}),
        _rule("c", {"system.limit": {"type": "equals", "pattern": "5"}}),
        _rule("d", {"system.limit": {"type": "exists"}}),
    ]
    matcher = Matcher(rules)
    result = matcher.match(TriggerInstance("ti", "t.event", {"env": "prod"}), NOW, lookup)
    assert result.matched_refs == ("t.a", "t.b", "t.c", "t.d")
    assert sorted(calls) == [("system", "env"), ("system", "limit")]
    calls.clear()
    matcher.match(TriggerInstance("ti", "t.event", {"env": "prod"}), NOW, lookup)
    assert len(calls) == 2  # a new trigger instance sees the datastore as it is now


def test_decrypt_kv_in_a_pattern_uses_the_decrypt_passed_in() -> None:
    rule = _rule(
        "secret",
        {"trigger.token": {"type": "equals", "pattern": "{{ st2kv.system.token | decrypt_kv }}"}},
    )
    matcher = Matcher([rule])
    instance = TriggerInstance("ti", "t.event", {"token": "plain"})

    def lookup(scope: str, name: str) -> str | None:
        return "cipher"

    decrypted = matcher.match(instance, NOW, lookup, decrypt=lambda text: "plain")
    assert decrypted.matched_refs == ("t.secret",)
    without = matcher.match(instance, NOW, lookup)
    reason = without.reason("t.secret")
    assert reason is not None and reason.kind is MissKind.RENDER_FAILED
    assert "no datastore encryption key" in reason.detail


def test_a_naive_now_is_utc() -> None:
    rule = _rule("recent", {"trigger.at": {"type": "td_lt", "pattern": 60}})
    instance = TriggerInstance("ti", "t.event", {"at": "2026-01-01T11:59:30Z"})
    matcher = Matcher([rule])
    assert matcher.match(instance, datetime(2026, 1, 1, 12, 0), _no_datastore).matched
    assert not matcher.match(instance, datetime(2026, 1, 1, 12, 5), _no_datastore).matched


class _Weird:
    """A payload value whose comparisons raise something unusual."""

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no comparing me")

    def __hash__(self) -> int:
        return 0


@pytest.mark.parametrize(
    "criteria",
    [
        {"trigger.x": {"type": "equals", "pattern": "a"}},
        {"trigger.x": {"type": "search", "condition": "any", "pattern": {"item": {"type": "eq"}}}},
        {"trigger.x": {"type": "regex", "pattern": "["}},
        {"trigger[": {"type": "exists"}},
        {"trigger.x": {"type": "equals", "pattern": "{{ 1 / 0 }}"}},
        {"trigger.x": {"type": "equals", "pattern": "{{ }}"}},
        {"trigger.x": {"type": "equals", "pattern": "{{ 'x' * 10 ** 9 }}"}},
        {"trigger.x": {"type": 42, "pattern": "a"}},
        {"trigger.x": None},
        {"trigger.x": {"type": "search", "condition": "any", "pattern": None}},
    ],
)
def test_match_never_raises_for_a_rule_s_content(criteria: dict[str, Any]) -> None:
    good = _rule("good")
    bad = _rule("bad", criteria)
    matcher = Matcher([bad, good])
    result = matcher.match(TriggerInstance("ti", "t.event", {"x": _Weird()}), NOW, _no_datastore)
    assert result.matched_refs == ("t.good",)
    reason = result.reason("t.bad")
    assert reason is not None and reason.message


def test_reasons_carry_data_as_well_as_a_message() -> None:
    rule = _rule("cpu", {"trigger.cpu#high": {"type": "GT", "pattern": "{{ trigger.limit }}"}})
    result = Matcher([rule]).match(
        TriggerInstance("ti", "t.event", {"cpu": 50, "limit": 90}), NOW, _no_datastore
    )
    [miss] = result.misses
    assert miss.rule is rule
    reason = miss.reason
    assert (reason.kind, reason.key, reason.operator, reason.pattern, reason.value) == (
        MissKind.NOT_SATISFIED,
        "trigger.cpu#high",
        "GT",
        90,
        50,
    )
    assert str(miss) == "t.cpu: criterion 'trigger.cpu#high': value 50 does not satisfy GT 90"


def test_long_values_are_shortened_in_messages() -> None:
    rule = _rule("long", {"trigger.text": {"type": "equals", "pattern": "short"}})
    result = Matcher([rule]).match(
        TriggerInstance("ti", "t.event", {"text": "x" * 5000}), NOW, _no_datastore
    )
    reason = result.reason("t.long")
    assert reason is not None
    assert len(reason.message) < 400
    assert reason.value == "x" * 5000  # the data itself is whole
