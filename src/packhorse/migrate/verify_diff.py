"""``packhorse upgrade verify``'s comparison (pure): two instances' shadow outcomes for the
same recorded trigger instances, and the baseline's outcomes against what it recorded.

Each difference names the trigger instance, the rule, its :class:`DifferenceKind` and the
field (``criteria``, ``action``, ``parameters.<name>[.<key>|[i]...]``, ``error``), with both
values (secrets arrive fingerprinted: :func:`packhorse.model.shadow.fingerprint`). A
difference is *unexpected* unless it is baseline drift (the baseline's rules no longer do what
it recorded: a rule edited since, not an upgrade difference) or an expectation accepts it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from packhorse.model.shadow import ShadowMatch, ShadowOutcome

__all__ = [
    "Difference",
    "DifferenceKind",
    "Expectation",
    "PackTest",
    "PackTestStatus",
    "VerifyReport",
    "accept",
    "compare",
    "drift",
    "parse_expectations",
]


class DifferenceKind(StrEnum):
    ONLY_BASELINE = "only-baseline"
    """The rule matched in the baseline, not in the candidate."""
    ONLY_CANDIDATE = "only-candidate"
    ACTION = "action"
    """The rule requests another action."""
    PARAMETER = "parameter"
    """A rendered parameter differs."""
    ERROR = "error"
    """The execution could be requested on one side only, or failed for another reason."""
    BASELINE_DRIFT = "baseline-drift"
    """The baseline's replay disagrees with the enforcements it recorded."""
    PACK_TESTS = "pack-tests"
    """A pack's tests failed in the candidate."""

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    DifferenceKind.ONLY_BASELINE: "matched only in baseline",
    DifferenceKind.ONLY_CANDIDATE: "matched only in candidate",
    DifferenceKind.ACTION: "action differs",
    DifferenceKind.PARAMETER: "parameter differs",
    DifferenceKind.ERROR: "request error differs",
    DifferenceKind.BASELINE_DRIFT: "baseline drift",
    DifferenceKind.PACK_TESTS: "pack tests failed",
}


@dataclass(frozen=True, slots=True)
class Difference:
    trigger_instance: str
    rule: str
    """The rule ref (the pack's ref for :attr:`DifferenceKind.PACK_TESTS`)."""
    kind: DifferenceKind
    field: str
    baseline: Any
    candidate: Any
    """For baseline drift: what the baseline recorded, and what its replay does."""
    expected: bool = False
    """Accepted by an expectation (``--expect``)."""
    timestamp_only: bool = False
    """Both values are texts equal but for timestamps in them (a template that reads the
    clock): still a difference, flagged so that it is easy to judge."""

    @property
    def unexpected(self) -> bool:
        return not self.expected and self.kind is not DifferenceKind.BASELINE_DRIFT

    def to_dict(self) -> dict[str, Any]:
        return {
            "trigger_instance": self.trigger_instance,
            "rule": self.rule,
            "kind": self.kind.value,
            "field": self.field,
            "baseline": self.baseline,
            "candidate": self.candidate,
            "expected": self.expected,
            "unexpected": self.unexpected,
            "timestamp_only": self.timestamp_only,
        }


_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|\b1\d{9}(?:\.\d+)?\b"
)
"""ISO-8601 date-times and Unix times (seconds since 2001)."""


def differs_by_timestamps_only(old: Any, new: Any) -> bool:
    """Two different texts that read the same once their timestamps are blanked out."""
    if not isinstance(old, str) or not isinstance(new, str) or old == new:
        return False
    if not _TIMESTAMP.search(old) or not _TIMESTAMP.search(new):
        return False
    return _TIMESTAMP.sub("<time>", old) == _TIMESTAMP.sub("<time>", new)


def compare(
    baseline: Sequence[ShadowOutcome], candidate: Sequence[ShadowOutcome]
) -> list[Difference]:
    """Differences between two instances' outcomes for the same trigger instances (paired by
    trigger instance id)."""
    theirs = {outcome.trigger_instance: outcome for outcome in candidate}
    differences: list[Difference] = []
    for old in baseline:
        new = theirs.get(old.trigger_instance, ShadowOutcome(old.trigger_instance))
        differences.extend(_compare_one(old, new))
    return differences


_MATCHED = ("matched", "not matched")


def _compare_one(old: ShadowOutcome, new: ShadowOutcome) -> Iterable[Difference]:
    instance = old.trigger_instance
    before = {match.rule: match for match in old.matches}
    after = {match.rule: match for match in new.matches}
    for rule in sorted(before.keys() | after.keys()):
        if rule not in after:
            yield Difference(instance, rule, DifferenceKind.ONLY_BASELINE, "criteria", *_MATCHED)
        elif rule not in before:
            yield Difference(
                instance, rule, DifferenceKind.ONLY_CANDIDATE, "criteria", *_MATCHED[::-1]
            )
        else:
            yield from _compare_match(instance, before[rule], after[rule])


def _compare_match(instance: str, old: ShadowMatch, new: ShadowMatch) -> Iterable[Difference]:
    rule = old.rule
    if old.action != new.action:
        yield Difference(instance, rule, DifferenceKind.ACTION, "action", old.action, new.action)
    if old.error != new.error:
        yield Difference(instance, rule, DifferenceKind.ERROR, "error", old.error, new.error)
    if old.parameters is not None and new.parameters is not None:
        for path, before, after in _value_changes("parameters", old.parameters, new.parameters):
            yield Difference(
                instance,
                rule,
                DifferenceKind.PARAMETER,
                path,
                before,
                after,
                timestamp_only=differs_by_timestamps_only(before, after),
            )


def _value_changes(path: str, old: Any, new: Any) -> Iterable[tuple[str, Any, Any]]:
    """``(path, old, new)`` of every leaf that differs; a key on one side only reads None on
    the other."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted(old.keys() | new.keys(), key=str):
            yield from _value_changes(f"{path}.{key}", old.get(key), new.get(key))
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for position, (before, after) in enumerate(zip(old, new, strict=True)):
            yield from _value_changes(f"{path}[{position}]", before, after)
    elif old != new or type(old) is not type(new):
        yield (path, old, new)


def drift(
    outcomes: Sequence[ShadowOutcome], recorded: Mapping[str, frozenset[str]]
) -> list[Difference]:
    """Where the baseline's replay disagrees with the rules it recorded as enforced for each
    trigger instance (``recorded``: instance id to enforced rule refs; instances absent from
    it were not processed yet and are not checked)."""
    differences: list[Difference] = []
    for outcome in outcomes:
        enforced = recorded.get(outcome.trigger_instance)
        if enforced is None:
            continue
        replayed = frozenset(outcome.rules)
        for rule in sorted(enforced - replayed):
            differences.append(
                Difference(
                    outcome.trigger_instance,
                    rule,
                    DifferenceKind.BASELINE_DRIFT,
                    "criteria",
                    "enforced",
                    "not matched",
                )
            )
        for rule in sorted(replayed - enforced):
            differences.append(
                Difference(
                    outcome.trigger_instance,
                    rule,
                    DifferenceKind.BASELINE_DRIFT,
                    "criteria",
                    "not enforced",
                    "matched",
                )
            )
    return differences


@dataclass(frozen=True, slots=True)
class Expectation:
    """An accepted difference: ``rule`` (a ref), and ``field`` (a path, or a path prefix
    ending in ``.*``; absent: any field)."""

    rule: str
    field: str | None = None

    def accepts(self, difference: Difference) -> bool:
        if difference.rule != self.rule:
            return False
        if self.field is None or self.field == difference.field:
            return True
        return self.field.endswith(".*") and difference.field.startswith(self.field[:-1])


def parse_expectations(document: Any) -> list[Expectation]:
    """Expectations from a loaded YAML document: a list of ``{rule, field}`` mappings."""
    if not isinstance(document, list):
        raise ValueError("an expectations file holds a list of {rule: REF, field: PATH}")
    found = []
    for position, item in enumerate(document):
        if not isinstance(item, Mapping) or not isinstance(item.get("rule"), str):
            raise ValueError(f"item {position}: a mapping with a 'rule' (and a 'field') expected")
        name = item.get("field")
        found.append(Expectation(item["rule"], None if name is None else str(name)))
    return found


def accept(
    differences: Iterable[Difference], expectations: Sequence[Expectation]
) -> list[Difference]:
    return [
        replace(d, expected=True) if any(e.accepts(d) for e in expectations) else d
        for d in differences
    ]


class PackTestStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NO_TESTS = "no tests"
    ERROR = "error"
    """The tests could not be run (their virtualenv failed to build...)."""


@dataclass(frozen=True, slots=True)
class PackTest:
    pack: str
    status: PackTestStatus
    detail: str = ""
    """The last lines of pytest's output, or why the tests could not run."""

    def to_dict(self) -> dict[str, Any]:
        return {"pack": self.pack, "status": self.status.value, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class VerifyReport:
    baseline: str
    candidate: str
    replayed: int
    """Trigger instances replayed."""
    baseline_matches: int
    candidate_matches: int
    differences: tuple[Difference, ...]
    pack_tests: tuple[PackTest, ...] = field(default_factory=tuple)
    pack_tests_skipped: str | None = None
    """Why pack tests did not run (``--skip-tests``, a remote candidate)."""

    @property
    def unexpected(self) -> int:
        return sum(1 for d in self.differences if d.unexpected)

    @property
    def drift(self) -> int:
        return sum(1 for d in self.differences if d.kind is DifferenceKind.BASELINE_DRIFT)

    def count(self, status: PackTestStatus) -> int:
        return sum(1 for t in self.pack_tests if t.status is status)

    def summary(self) -> str:
        differences = len(self.differences)
        line = (
            f"{self.replayed} trigger instance{'s' * (self.replayed != 1)} replayed, "
            f"{self.baseline_matches} rule match{'es' * (self.baseline_matches != 1)} in the "
            f"baseline, {self.candidate_matches} in the candidate; "
            f"{differences} difference{'s' * (differences != 1)} "
            f"({self.unexpected} unexpected, {self.drift} baseline drift)"
        )
        if self.pack_tests_skipped is not None:
            return f"{line}; pack tests skipped: {self.pack_tests_skipped}"
        return (
            f"{line}; pack tests: {self.count(PackTestStatus.PASSED)} passed, "
            f"{self.count(PackTestStatus.FAILED) + self.count(PackTestStatus.ERROR)} failed, "
            f"{self.count(PackTestStatus.NO_TESTS)} without tests"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "candidate": self.candidate,
            "replayed": self.replayed,
            "matches": {"baseline": self.baseline_matches, "candidate": self.candidate_matches},
            "differences": [d.to_dict() for d in self.differences],
            "unexpected": self.unexpected,
            "baseline_drift": self.drift,
            "pack_tests": [t.to_dict() for t in self.pack_tests],
            "pack_tests_skipped": self.pack_tests_skipped,
            "ok": self.unexpected == 0,
        }
