"""Rule matching: trigger instances per second through ``packhorse.rules.Matcher``.

Rules: 500 over 50 trigger types (10 per type), three criteria each, in this order: a
Jinja-rendered pattern (half ``{{ trigger.limits.cpu }}`` against ``greaterthan``, half
``{{ st2kv.system.env }}`` against ``equals``), a regex on the host and a plain ``equals`` on
the region. The rendered one comes first so that every rule renders it. Trigger
instances cycle over the types; about a third of the rules match each one. The worst case puts
all 500 rules on one trigger type.

Target (rules brief): at least 5,000 trigger instances per second in the typical case.

Floor, measured in the same run: the same criteria hand-written in Python for the rules of the
instance's type: per rule, three dictionary lookups, one precompiled ``re.search``, one ``>`` or
``==`` against the pattern's value and one ``==`` (no Jinja, no JSONPath, no reasons). That is
the least work any matcher of these rules does; the ratio says what the rest costs.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from common import median_seconds, print_table

from packhorse.rules import Matcher, Rule, TriggerInstance

RULES = 500
TYPES = 50
INSTANCES = 1000
REPEATS = 9
TARGET_PER_SECOND = 5000
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
DATASTORE = {"env": "prod"}


def lookup(scope: str, name: str) -> str | None:
    return DATASTORE.get(name)


def make_rules(types: int) -> list[Rule]:
    rules = []
    for i in range(RULES):
        if i % 2:
            rendered = {"trigger.env": {"type": "equals", "pattern": "{{ st2kv.system.env }}"}}
        else:
            rendered = {
                "trigger.cpu": {"type": "greaterthan", "pattern": "{{ trigger.limits.cpu }}"}
            }
        # The rendered pattern first, so that it is rendered for every rule (criteria are
        # checked in order and the first that fails ends the rule's check).
        criteria = {
            **rendered,
            "trigger.host": {"type": "regex", "pattern": rf"^(web|api)-{i % 7}\d*$"},
            "trigger.region": {"type": "equals", "pattern": f"eu-{i % 3}"},
        }
        rules.append(
            Rule(
                ref=f"bench.rule_{i}",
                pack="bench",
                name=f"rule_{i}",
                trigger_type=f"bench.type_{i % types}",
                action_ref="core.noop",
                criteria=criteria,
                action_parameters={"cmd": "echo {{ trigger.host }}"},
            )
        )
    return rules


def make_instances(types: int) -> list[TriggerInstance]:
    return [
        TriggerInstance(
            id=f"ti-{n}",
            trigger_type=f"bench.type_{n % types}",
            payload={
                "host": f"web-{n % 7}{n % 10}",
                "env": "prod" if n % 4 else "dev",
                "cpu": 80 + n % 20,
                "limits": {"cpu": 90},
                "region": f"eu-{n % 3}",
            },
        )
        for n in range(INSTANCES)
    ]


def floor_loop(rules: list[Rule], instances: list[TriggerInstance]) -> Callable[[], int]:
    """The same criteria, hand-written: a list of (regex, check, region) per trigger type."""
    by_type: dict[str, list[tuple[re.Pattern[str], bool, str]]] = {}
    for rule in rules:
        host = re.compile(rule.criteria["trigger.host"]["pattern"])
        by_env = "trigger.env" in rule.criteria
        region = rule.criteria["trigger.region"]["pattern"]
        by_type.setdefault(rule.trigger_type, []).append((host, by_env, region))

    def run() -> int:
        matched = 0
        for instance in instances:
            payload: dict[str, Any] = instance.payload
            for host, by_env, region in by_type[instance.trigger_type]:
                if (
                    (
                        payload["env"] == DATASTORE["env"]
                        if by_env
                        else payload["cpu"] > payload["limits"]["cpu"]
                    )
                    and host.search(payload["host"])
                    and payload["region"] == region
                ):
                    matched += 1
        return matched

    return run


def matcher_loop(matcher: Matcher, instances: list[TriggerInstance]) -> Callable[[], int]:
    def run() -> int:
        matched = 0
        for instance in instances:
            matched += len(matcher.match(instance, NOW, lookup).matched)
        return matched

    return run


def measure(types: int, label: str) -> tuple[list[tuple[str, float, float | None, str]], float]:
    rules = make_rules(types)
    instances = make_instances(types)
    matcher = Matcher(rules)
    ours = matcher_loop(matcher, instances)
    floor = floor_loop(rules, instances)
    assert ours() == floor(), "the matcher and the floor disagree"
    seconds = median_seconds(ours, REPEATS)
    floor_seconds = median_seconds(floor, REPEATS)
    per_second = INSTANCES / seconds
    target = f">= {TARGET_PER_SECOND:,}/s" if types == TYPES else ""
    row = (
        f"{label}: {INSTANCES:,} instances ({per_second:,.0f}/s)",
        seconds,
        floor_seconds,
        target,
    )
    return [row], per_second


def main() -> int:
    build = median_seconds(lambda: Matcher(make_rules(TYPES)), 5)
    typical, typical_rate = measure(TYPES, f"{RULES} rules / {TYPES} types")
    worst, worst_rate = measure(1, f"{RULES} rules / 1 type")
    rows = [
        *typical,
        *worst,
        (f"build a Matcher of {RULES} rules (incl. making them)", build, None, ""),
    ]
    print_table(f"Rule matching, median of {REPEATS} runs", rows)
    print(
        f"\ntypical: {typical_rate:,.0f} instances/s ({RULES // TYPES} rules each); "
        f"worst case: {worst_rate:,.0f} instances/s ({RULES} rules each, "
        f"{worst_rate * RULES:,.0f} rules/s)"
    )
    if typical_rate < TARGET_PER_SECOND:
        print(f"MISSED: {typical_rate:,.0f} < {TARGET_PER_SECOND:,} instances/s")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
