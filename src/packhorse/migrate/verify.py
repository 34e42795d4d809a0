"""``packhorse upgrade verify``: replay a baseline's recorded trigger instances against it
and a candidate in shadow, compare, and run the candidate's pack tests.

Rule-triggered executions store their parameters as the rule wrote them (templates: see
docs/compatibility.md), so the recording alone cannot say what the baseline rendered. Both
instances therefore evaluate each recorded trigger instance by the same code
(:mod:`packhorse.engine.shadow`); their outcomes are compared
(:func:`~packhorse.migrate.verify_diff.compare`), and the baseline's matches are checked
against the enforcements it recorded (:func:`~packhorse.migrate.verify_diff.drift`).

The sources are ports: a local instance's event store or the remote one over the API
(:class:`EventSource`), an in-process evaluator or the API's shadow route (:class:`Shadow`).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from packhorse.errors import PackhorseError
from packhorse.migrate.verify_diff import (
    Difference,
    DifferenceKind,
    Expectation,
    PackTest,
    PackTestStatus,
    VerifyReport,
    accept,
    compare,
    drift,
)
from packhorse.model.events import Enforcement, TriggerInstance, TriggerInstanceStatus
from packhorse.model.shadow import ShadowInput, ShadowOutcome
from packhorse.storage.events import EnforcementFilter, InstanceFilter

PAGE = 1000
BATCH = 100
"""Trigger instances per shadow evaluation call (one HTTP request for a remote instance)."""


class EventSource(Protocol):
    """Recorded trigger instances and enforcements (``SqlEventStore``, ``RemoteEvents``)."""

    def find(self, query: InstanceFilter) -> list[TriggerInstance]: ...

    def enforcements(self, query: EnforcementFilter) -> list[Enforcement]: ...


class Shadow(Protocol):
    """Evaluates trigger instances in shadow (``ShadowEvaluator``, ``RemoteShadow``)."""

    def evaluate(self, inputs: Sequence[ShadowInput], *, key: bytes) -> list[ShadowOutcome]: ...


@dataclass(frozen=True, slots=True)
class RecordedTraffic:
    inputs: tuple[ShadowInput, ...]
    """Oldest first."""
    enforced: dict[str, frozenset[str]]
    """Rules enforced per processed trigger instance (pending ones are absent)."""


def recorded_traffic(events: EventSource, *, since: str | None, limit: int) -> RecordedTraffic:
    """The last ``limit`` trigger instances (created at or after ``since``) and the rules
    enforced for each."""
    found: list[TriggerInstance] = []
    while len(found) < limit:
        size = min(PAGE, limit - len(found))
        page = events.find(InstanceFilter(since=since, limit=size, offset=len(found)))
        found.extend(page)
        if len(page) < size:
            break
    found.reverse()
    processed = {i.id for i in found if i.status is not TriggerInstanceStatus.PENDING}
    enforced: dict[str, set[str]] = {instance_id: set() for instance_id in processed}
    oldest = min((i.occurrence_time for i in found), default="")
    offset = 0
    while found:
        page_of = events.enforcements(EnforcementFilter(limit=PAGE, offset=offset))
        for enforcement in page_of:
            if enforcement.trigger_instance_id in enforced:
                enforced[enforcement.trigger_instance_id].add(enforcement.rule)
        offset += len(page_of)
        # Newest first: an enforcement older than the oldest instance is of an older one.
        if len(page_of) < PAGE or page_of[-1].enforced_at < oldest:
            break
    inputs = tuple(
        ShadowInput(
            id=i.id,
            trigger=i.trigger,
            trigger_type=i.trigger_type,
            payload=dict(i.payload),
            occurrence_time=i.occurrence_time,
        )
        for i in found
    )
    return RecordedTraffic(inputs, {k: frozenset(v) for k, v in enforced.items()})


def evaluate_all(
    shadow: Shadow, inputs: Sequence[ShadowInput], *, key: bytes
) -> list[ShadowOutcome]:
    outcomes: list[ShadowOutcome] = []
    for start in range(0, len(inputs), BATCH):
        outcomes.extend(shadow.evaluate(inputs[start : start + BATCH], key=key))
    return outcomes


def verify(
    traffic: RecordedTraffic,
    baseline: Shadow,
    candidate: Shadow,
    *,
    names: tuple[str, str],
    pack_tests: Sequence[PackTest] = (),
    pack_tests_skipped: str | None = None,
    expectations: Sequence[Expectation] = (),
    key: bytes | None = None,
) -> VerifyReport:
    """The report of one verification; secrets fingerprinted with ``key`` (default: a fresh
    random key, forgotten afterwards)."""
    key = key or secrets.token_bytes(32)
    old = evaluate_all(baseline, traffic.inputs, key=key)
    new = evaluate_all(candidate, traffic.inputs, key=key)
    differences: list[Difference] = [*drift(old, traffic.enforced), *compare(old, new)]
    differences.extend(
        Difference("", test.pack, DifferenceKind.PACK_TESTS, "tests", None, test.status.value)
        for test in pack_tests
        if test.status in (PackTestStatus.FAILED, PackTestStatus.ERROR)
    )
    return VerifyReport(
        baseline=names[0],
        candidate=names[1],
        replayed=len(traffic.inputs),
        baseline_matches=sum(len(o.matches) for o in old),
        candidate_matches=sum(len(o.matches) for o in new),
        differences=tuple(accept(differences, expectations)),
        pack_tests=tuple(pack_tests),
        pack_tests_skipped=pack_tests_skipped,
    )


def run_pack_tests(packs: Sequence[tuple[str, Path]], run: PackTestRunner) -> list[PackTest]:
    """Each pack's tests by ``run(ref, folder) -> (passed, output)``; a pack without a
    ``tests/`` folder has none; a failure to run them is an :attr:`PackTestStatus.ERROR`."""
    results = []
    for ref, folder in packs:
        if not (folder / "tests").is_dir():
            results.append(PackTest(ref, PackTestStatus.NO_TESTS))
            continue
        try:
            passed, output = run(ref, folder)
        except PackhorseError as error:
            results.append(PackTest(ref, PackTestStatus.ERROR, error.message))
            continue
        tail = "\n".join(output.strip().splitlines()[-3:])
        results.append(
            PackTest(ref, PackTestStatus.PASSED if passed else PackTestStatus.FAILED, tail)
        )
    return results


class PackTestRunner(Protocol):
    def __call__(self, ref: str, folder: Path) -> tuple[bool, str]: ...
