"""The comparison of shadow outcomes (pure): cases as data."""

from __future__ import annotations

from typing import Any

import pytest

from packhorse.migrate.verify_diff import (
    Difference,
    DifferenceKind,
    Expectation,
    accept,
    compare,
    drift,
    parse_expectations,
)
from packhorse.model.shadow import ShadowMatch, ShadowOutcome, fingerprint

K = DifferenceKind


def outcome(*matches: ShadowMatch, instance: str = "ti1") -> ShadowOutcome:
    return ShadowOutcome(instance, tuple(matches))


def match(
    rule: str = "p.r", action: str = "p.a", error: str | None = None, **params: Any
) -> ShadowMatch:
    return ShadowMatch(rule, action, None if error else params, error)


CASES: list[tuple[str, ShadowOutcome, ShadowOutcome, Any]] = [
    ("same", outcome(match(cmd="ls")), outcome(match(cmd="ls")), set()),
    ("none on either side", outcome(), outcome(), set()),
    (
        "only in baseline",
        outcome(match(cmd="ls")),
        outcome(),
        {("p.r", K.ONLY_BASELINE, "criteria", "matched", "not matched")},
    ),
    (
        "only in candidate",
        outcome(),
        outcome(match(rule="p.new")),
        {("p.new", K.ONLY_CANDIDATE, "criteria", "not matched", "matched")},
    ),
    (
        "another action",
        outcome(match(cmd="ls")),
        outcome(match(action="p.b", cmd="ls")),
        {("p.r", K.ACTION, "action", "p.a", "p.b")},
    ),
    (
        "a parameter",
        outcome(match(cmd="ls", timeout=60)),
        outcome(match(cmd="ls -l", timeout=60)),
        {("p.r", K.PARAMETER, "parameters.cmd", "ls", "ls -l")},
    ),
    (
        "a type, not a value",
        outcome(match(count=1)),
        outcome(match(count="1")),
        {("p.r", K.PARAMETER, "parameters.count", 1, "1")},
    ),
    (
        "nested keys and list items",
        outcome(match(env={"A": "1", "B": "2"}, hosts=["a", "b"])),
        outcome(match(env={"A": "1", "C": "3"}, hosts=["a", "c"])),
        {
            ("p.r", K.PARAMETER, "parameters.env.B", "2", None),
            ("p.r", K.PARAMETER, "parameters.env.C", None, "3"),
            ("p.r", K.PARAMETER, "parameters.hosts[1]", "b", "c"),
        },
    ),
    (
        "lists of another length compare whole",
        outcome(match(hosts=["a"])),
        outcome(match(hosts=["a", "b"])),
        [("p.r", K.PARAMETER, "parameters.hosts", ["a"], ["a", "b"])],
    ),
    (
        "a parameter on one side only",
        outcome(match(cmd="ls")),
        outcome(match(cmd="ls", cwd="/tmp")),
        {("p.r", K.PARAMETER, "parameters.cwd", None, "/tmp")},
    ),
    (
        "the request fails on one side",
        outcome(match(cmd="ls")),
        outcome(match(error="action is disabled")),
        {("p.r", K.ERROR, "error", None, "action is disabled")},
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "expected"), CASES, ids=[c[0] for c in CASES])
def test_compare(name: str, old: ShadowOutcome, new: ShadowOutcome, expected: Any) -> None:
    found = compare([old], [new])
    assert {
        (d.rule, d.kind, d.field, _freeze(d.baseline), _freeze(d.candidate)) for d in found
    } == {
        (rule, kind, field, _freeze(before), _freeze(after))
        for rule, kind, field, before, after in expected
    }
    assert all(d.trigger_instance == "ti1" and d.unexpected for d in found)


def _freeze(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


@pytest.mark.parametrize(
    ("old", "new", "only"),
    [
        ("at 2026-11-28T10:00:00.000000Z", "at 2026-11-28T10:00:05.123456Z", True),
        ("at 2026-11-28 10:00", "at 2026-11-29 11:00+01:00", True),
        ("t=1764324000", "t=1764324005.5", True),
        ("at 2026-11-28T10:00:00Z by ada", "at 2026-11-28T10:00:05Z by bob", False),
        ("ada", "bob", False),
        ("2026-11-28T10:00:00Z", "2026-11-28T10:00:00Z", False),
        (1764324000, 1764324005, False),
    ],
)
def test_values_that_differ_by_timestamps_only_are_flagged(old: Any, new: Any, only: bool) -> None:
    (found,) = compare([outcome(match(when=old))], [outcome(match(when=new))]) or [None]
    if old == new:
        assert found is None
        return
    assert found is not None and found.timestamp_only is only and found.unexpected


def test_fingerprints_compare_by_value_under_one_key() -> None:
    key, other = b"k" * 32, b"o" * 32
    assert fingerprint(key, "s3cret") == fingerprint(key, "s3cret")
    assert fingerprint(key, "s3cret") != fingerprint(key, "s3cret!")
    assert fingerprint(key, "s3cret") != fingerprint(other, "s3cret")
    assert "s3cret" not in fingerprint(key, "s3cret")


def test_drift_is_checked_for_processed_instances_only() -> None:
    outcomes = [
        outcome(match(rule="p.a"), match(rule="p.b"), instance="t1"),
        outcome(match(rule="p.a"), instance="t2"),
        outcome(match(rule="p.a"), instance="pending"),
    ]
    recorded = {"t1": frozenset({"p.a", "p.c"}), "t2": frozenset({"p.a"})}
    found = drift(outcomes, recorded)
    assert {(d.trigger_instance, d.rule, d.baseline, d.candidate) for d in found} == {
        ("t1", "p.c", "enforced", "not matched"),
        ("t1", "p.b", "not enforced", "matched"),
    }
    assert all(d.kind is K.BASELINE_DRIFT and not d.unexpected for d in found)


def test_expectations_accept_by_rule_and_field() -> None:
    differences = [
        Difference("t", "p.r", K.PARAMETER, "parameters.cmd", "a", "b"),
        Difference("t", "p.r", K.PARAMETER, "parameters.env.X", "a", "b"),
        Difference("t", "p.s", K.ONLY_BASELINE, "criteria", "matched", "not matched"),
        Difference("t", "p.q", K.ACTION, "action", "x", "y"),
    ]
    expectations = parse_expectations(
        [{"rule": "p.r", "field": "parameters.env.*"}, {"rule": "p.s"}]
    )
    assert expectations == [Expectation("p.r", "parameters.env.*"), Expectation("p.s")]
    accepted = accept(differences, expectations)
    assert [d.expected for d in accepted] == [False, True, True, False]
    assert [d.unexpected for d in accepted] == [True, False, False, True]


@pytest.mark.parametrize("document", [{"rule": "x"}, ["p.r"], [{"field": "criteria"}], None])
def test_bad_expectation_files_are_refused(document: Any) -> None:
    with pytest.raises(ValueError, match="rule"):
        parse_expectations(document)
