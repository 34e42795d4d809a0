"""The orquesta conformance corpus (shared/conformance, FORMAT.md): every case, run with the
state reloaded from its parts after every step.

A case may fail only if it is listed in :data:`KNOWN_FAILURES` with the StackStorm/orquesta bug
it reflects (docs/compatibility.md says why Packhorse behaves otherwise). The strict-mode count
is printed by :func:`test_conformance_summary` (see it with ``pytest -rA``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from packhorse.workflow.rehearse import Outcome, run_case

CASES = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "cases"

KNOWN_FAILURES: dict[str, str] = {}
"""Case name -> the orquesta bug it reflects (at most 5; each in docs/compatibility.md)."""

PATHS = sorted(CASES.glob("*.yaml")) if CASES.is_dir() else []
MISSING = f"the conformance corpus is not at {CASES}"


def _load(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        loaded: dict[str, Any] = yaml.safe_load(handle)
    return loaded


def _explain(outcome: Outcome) -> str:
    if outcome.unsupported:
        return outcome.unsupported
    return "\n".join(p.describe() for p in outcome.problems if not p.strict_only)


def test_the_corpus_is_there() -> None:
    if not PATHS:
        print(MISSING)
        pytest.skip(MISSING)
    assert len(KNOWN_FAILURES) <= 5


@pytest.mark.parametrize("path", PATHS, ids=lambda path: path.stem)
def test_case(path: Path) -> None:
    case = _load(path)
    outcome = run_case(case, check_state=True)
    if case["name"] in KNOWN_FAILURES:
        pytest.xfail(KNOWN_FAILURES[case["name"]])
    assert outcome.passed, _explain(outcome)


def test_conformance_summary() -> None:
    if not PATHS:
        pytest.skip(MISSING)
    outcomes = [run_case(_load(path)) for path in PATHS]
    tolerant = sum(outcome.passed for outcome in outcomes)
    strict = sum(outcome.passed_strict for outcome in outcomes)
    print(f"\nconformance: tolerant {tolerant}/{len(PATHS)}, strict {strict}/{len(PATHS)}")
    for outcome in outcomes:
        if not outcome.passed_strict:
            print(f"  not strict: {outcome.name}")
    assert tolerant >= len(PATHS) - len(KNOWN_FAILURES)
