"""Rule cases as data: each ``cases/*.yaml`` gives rules, a trigger instance and what must happen.

Case format::

    description: what the case shows
    rules: [<rule documents; pack defaults to "cases">]
    trigger: {type: <trigger type ref>, parameters: {...}}   # parameters optional
    payload: <the trigger payload>
    now: "2026-01-01T12:00:00Z"        # optional: the time timediff criteria see
    datastore: {key: value}            # optional: system-scope datastore keys
    expect:
      matched: [<rule refs, in order>]
      reasons: {<rule ref>: <substring of its miss message>}
    params: {<rule ref>: {<rendered action parameters>}}              # optional
    params_errors: {<rule ref>: <substring of the render error>}     # optional

Every rule of the trigger must be either matched or a miss: ``reasons`` need not list all of
them, but every rule listed there must be a miss.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from packhorse.rules import (
    Matcher,
    ParametersFailed,
    ParametersRendered,
    Rule,
    TriggerInstance,
    action_context,
    render_action_parameters,
)

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))
DEFAULT_NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
SYSTEM_USER = "stanley"


def _load(path: Path) -> dict[str, Any]:
    case = yaml.safe_load(path.read_text())
    assert isinstance(case, dict), path
    unknown = set(case) - {
        "description",
        "rules",
        "trigger",
        "payload",
        "now",
        "datastore",
        "expect",
        "params",
        "params_errors",
    }
    assert not unknown, f"{path.name}: unknown fields {unknown}"
    return case


def _now(value: Any) -> datetime:
    if value is None:
        return DEFAULT_NOW
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _rules(case: dict[str, Any]) -> list[Rule]:
    return [Rule.from_body({"pack": "cases", **document}) for document in case["rules"]]


@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_case(path: Path) -> None:
    case = _load(path)
    rules = _rules(case)
    matcher = Matcher(rules)
    datastore = {str(key): str(value) for key, value in (case.get("datastore") or {}).items()}
    lookups: list[tuple[str, str]] = []

    def lookup(scope: str, name: str) -> str | None:
        lookups.append((scope, name))
        return datastore.get(name) if scope == "system" else None

    trigger = case["trigger"]
    instance = TriggerInstance(
        id="ti-1",
        trigger_type=trigger["type"],
        trigger_parameters=trigger.get("parameters") or {},
        payload=case.get("payload"),
        occurrence_time="2026-01-01T11:59:59Z",
    )
    result = matcher.match(instance, _now(case.get("now")), lookup)
    expect = case["expect"]

    assert list(result.matched_refs) == expect["matched"], [str(miss) for miss in result.misses]
    of_trigger = {
        rule.ref for rule in matcher.rules_for(instance.trigger_type, trigger.get("parameters"))
    }
    assert {*result.matched_refs, *(miss.ref for miss in result.misses)} == of_trigger
    for ref, substring in (expect.get("reasons") or {}).items():
        reason = result.reason(ref)
        assert reason is not None, f"{ref} was expected to miss"
        assert substring in reason.message, f"{ref}: {reason.message!r}"

    by_ref = {rule.ref: rule for rule in rules}
    for ref, expected in (case.get("params") or {}).items():
        rule = by_ref[ref]
        context = action_context(rule, instance, user=SYSTEM_USER)
        rendered = render_action_parameters(rule, instance.payload, context, lookup)
        assert isinstance(rendered, ParametersRendered), rendered
        assert rendered.parameters == expected
    for ref, substring in (case.get("params_errors") or {}).items():
        rule = by_ref[ref]
        context = action_context(rule, instance, user=SYSTEM_USER)
        failed = render_action_parameters(rule, instance.payload, context, lookup)
        assert isinstance(failed, ParametersFailed), failed
        assert substring in failed.message, failed.message


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 40


def test_every_operator_appears_in_the_cases() -> None:
    from packhorse.rules.operators import OPERATORS, SEARCH, canonical_name

    used: set[str | None] = set()

    def collect(criteria: Any) -> None:
        for spec in (criteria or {}).values():
            if isinstance(spec, dict):
                name = canonical_name(spec.get("type"))
                used.add(name)
                if name == SEARCH and isinstance(spec.get("pattern"), dict):
                    collect(spec["pattern"])

    for path in CASES:
        for document in _load(path)["rules"]:
            collect(document.get("criteria"))
    assert used >= {*OPERATORS, SEARCH}
