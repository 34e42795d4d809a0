"""``packhorse workflow rehearse`` through the real entry point, on our own fixture cases."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

REHEARSALS = Path(__file__).parent / "fixtures" / "rehearsals"
PASSING = [
    REHEARSALS / name for name in ("deploy_success.yaml", "deploy_failure.yaml", "retry_case.yaml")
]


def test_passing_cases_of_both_formats(cli: Callable[..., Any]) -> None:
    result = cli("workflow", "rehearse", *PASSING)
    assert result.code == 0, result.out
    lines = result.out.splitlines()
    assert lines[:3] == [
        f"PASS  {PASSING[0]} (rehearsal)",
        f"PASS  {PASSING[1]} (rehearsal)",
        f"PASS  {PASSING[2]} (conformance)",
    ]
    assert lines[-1] == "3 passed, 0 failed"


def test_a_failure_shows_what_differs_and_exits_1(cli: Callable[..., Any]) -> None:
    result = cli("workflow", "rehearse", REHEARSALS / "deploy_wrong.yaml", PASSING[0])
    assert result.code == 1
    assert f"FAIL  {REHEARSALS / 'deploy_wrong.yaml'} (rehearsal)" in result.out
    assert "end: task sequence differs" in result.out
    assert '-  "smoke",' in result.out and '+  "smoke",' in result.out  # a unified diff
    assert result.out.splitlines()[-1] == "1 passed, 1 failed"


def test_rerun_specs_are_reported_unsupported(cli: Callable[..., Any]) -> None:
    result = cli("workflow", "rehearse", REHEARSALS / "deploy_rerun.yaml")
    assert result.code == 1
    assert "rerun specs (workflow_state" in result.out
    assert "not supported" in result.out


def test_strict_compares_messages_whole(cli: Callable[..., Any]) -> None:
    case = REHEARSALS / "match_case.yaml"
    assert cli("workflow", "rehearse", case).code == 0
    strict = cli("workflow", "rehearse", "--strict", case)
    assert strict.code == 1
    assert "end: errors differs" in strict.out


def test_json_document(cli: Callable[..., Any]) -> None:
    result = cli("workflow", "rehearse", "--json", REHEARSALS / "deploy_wrong.yaml", PASSING[2])
    assert result.code == 1
    document = json.loads(result.out)
    assert (document["mode"], document["passed"], document["failed"]) == ("tolerant", 1, 1)
    wrong, passing = document["cases"]
    assert wrong["passed"] is False and wrong["format"] == "rehearsal"
    [problem] = wrong["problems"]
    assert problem["message"] == "task sequence differs"
    assert problem["expected"] == ["build", "unit", "smoke", "release", "continue"]
    assert problem["actual"] == ["build", "smoke", "unit", "release", "continue"]
    assert passing["passed"] is True and passing["format"] == "conformance"


def test_a_file_of_neither_format_fails(cli: Callable[..., Any], tmp_path: Path) -> None:
    stray = tmp_path / "stray.yaml"
    stray.write_text("just: a mapping\n")
    result = cli("workflow", "rehearse", stray)
    assert result.code == 1
    assert "cannot read it as a rehearsal" in result.out


def test_help_explains_both_formats(cli: Callable[..., Any]) -> None:
    result = cli("workflow", "rehearse", "--help")
    assert result.code == 0
    for words in ("conformance case", "orquesta rehearsal spec", "--strict", "workflow_state"):
        assert words in result.out
