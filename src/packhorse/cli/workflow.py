"""``packhorse workflow validate FILE...`` and ``packhorse workflow rehearse CASE...``.

``validate`` prints what ``pack validate`` prints for a workflow entry point: one
``path:line:col: CODE: message`` line per problem (codes PH7xx in docs/diagnostics.md).

``rehearse`` runs workflows through the conductor against scripted or mocked action outcomes
(``packhorse.workflow.rehearse``); this module only reads the files.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from packhorse.cli.output import format_option, report_diagnostics
from packhorse.model.diagnostics import Diagnostic

if TYPE_CHECKING:
    from packhorse.workflow.rehearse import Outcome


@click.group("workflow")
def workflow() -> None:
    """Check Orquesta workflow definitions and rehearse them."""


@workflow.command("validate")
@click.argument(
    "files",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@format_option
def validate(files: tuple[Path, ...], output_format: str) -> None:
    """Check Orquesta workflows and action chains: every problem with file, line, column and
    code (a file with a top-level `chain` list is an action chain).

    Exits 1 when any error is found (warnings alone exit 0).
    """
    from packhorse.workflow.actionchain import parse_chain
    from packhorse.workflow.spec import parse_workflow

    diagnostics: list[Diagnostic] = []
    for path in files:
        data = path.read_bytes()
        if _is_chain(data):
            _, chain_found = parse_chain(data, str(path))
            diagnostics.extend(chain_found)
            continue
        _, found = parse_workflow(data, str(path))
        diagnostics.extend(found)
    report_diagnostics(
        diagnostics, checked=len(files), noun="workflow", output_format=output_format
    )


def _is_chain(data: bytes) -> bool:
    """An action chain has a top-level ``chain`` key (Orquesta has ``tasks``)."""
    import re

    return re.search(rb"^chain\s*:", data, re.MULTILINE) is not None


@workflow.command("rehearse")
@click.argument(
    "files",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option(
    "--strict",
    is_flag=True,
    help="Compare error messages whole and refusals by orquesta's exception name.",
)
@click.option("as_json", "--json", is_flag=True, help="Print one JSON document for scripts.")
def rehearse(files: tuple[Path, ...], strict: bool, as_json: bool) -> None:
    """Run workflows against scripted action outcomes and compare with what orquesta does.

    Each FILE is one of two formats, told apart by its keys:

    \b
    * a conformance case (shared/conformance/FORMAT.md): an inline `workflow`,
      `input`, `context`, a script of `steps` (requests, task events, queries)
      with expectations after steps, and final expectations in `expect`;
    * an orquesta rehearsal spec, as `orquesta-rehearse` reads it: `workflow` (a
      path relative to the spec), `inputs`, `mock_action_executions`,
      `expected_task_sequence`, `expected_routes`, `expected_workflow_status`,
      `expected_output`, `expected_errors`, `expected_term_tasks`. Tasks run in
      orquesta's waves; a task without a mock succeeds with a null result. Rerun
      specs (`workflow_state`, a serialized orquesta conductor) are not supported.

    By default error messages from the expression libraries need only start with the
    case's `match` head, and a refused step need not name orquesta's exception;
    --strict compares both exactly. Prints PASS or FAIL per file with the differences,
    then `N passed, M failed`; exits 1 when any failed.
    """
    outcomes: list[tuple[Path, Outcome]] = []
    for path in files:
        outcomes.append((path, _rehearse_file(path)))
    failed = sum(not _passed(outcome, strict) for _, outcome in outcomes)
    passed = len(outcomes) - failed
    if as_json:
        from packhorse.cli.output import echo_json

        echo_json(
            {
                "mode": "strict" if strict else "tolerant",
                "cases": [_case_json(path, outcome, strict) for path, outcome in outcomes],
                "passed": passed,
                "failed": failed,
            }
        )
    else:
        for path, outcome in outcomes:
            _print_outcome(path, outcome, strict)
        click.echo(f"{passed} passed, {failed} failed")
    if failed:
        raise click.exceptions.Exit(1)


def _passed(outcome: Outcome, strict: bool) -> bool:
    return outcome.passed_strict if strict else outcome.passed


def _rehearse_file(path: Path) -> Outcome:
    import yaml

    from packhorse.workflow.rehearse import Outcome, detect_format, run_case, run_rehearsal

    try:
        document = yaml.safe_load(path.read_text())
        if not isinstance(document, dict):
            raise ValueError("not a mapping")
        kind = detect_format(document)
    except (OSError, ValueError, yaml.YAMLError) as error:
        failed = Outcome(path.stem, "unknown")
        failed.unsupported = f"cannot read it as a rehearsal: {error}"
        return failed
    if kind == "conformance":
        return run_case(document)
    name = path.stem
    if "workflow_state" in document:
        return run_rehearsal(document, name=name)
    try:
        return run_rehearsal(_resolve_files(document, path.parent), name=name)
    except (OSError, ValueError, yaml.YAMLError) as error:
        failed = Outcome(name, "rehearsal")
        failed.unsupported = f"cannot read a file the spec names: {error}"
        return failed


def _resolve_files(spec: dict[str, Any], base: Path) -> dict[str, Any]:
    """The spec with its workflow path replaced by the workflow's text, and each mock's
    ``result_path`` by the result read from it (JSON, YAML, or else text)."""
    import yaml

    resolved = dict(spec)
    resolved["workflow"] = (base / str(spec.get("workflow", ""))).read_text()
    mocks = []
    for mock in spec.get("mock_action_executions") or []:
        mock = dict(mock)  # noqa: PLW2901 - a copy, not the caller's
        if "result_path" in mock:
            result_path = base / str(mock.pop("result_path"))
            text = result_path.read_text()
            if result_path.suffix == ".json":
                mock["result"] = json.loads(text)
            elif result_path.suffix in (".yaml", ".yml"):
                mock["result"] = yaml.safe_load(text)
            else:
                mock["result"] = text
        mocks.append(mock)
    resolved["mock_action_executions"] = mocks
    return resolved


def _case_json(path: Path, outcome: Outcome, strict: bool) -> dict[str, Any]:
    return {
        "path": str(path),
        "name": outcome.name,
        "format": outcome.kind,
        "passed": _passed(outcome, strict),
        "unsupported": outcome.unsupported,
        "problems": [
            {
                "where": problem.where,
                "message": problem.message,
                "strict_only": problem.strict_only,
                **(
                    {"actual": problem.actual, "expected": problem.expected}
                    if problem.has_values
                    else {}
                ),
            }
            for problem in outcome.problems
            if strict or not problem.strict_only
        ],
    }


def _print_outcome(path: Path, outcome: Outcome, strict: bool) -> None:
    ok = _passed(outcome, strict)
    click.echo(f"{'PASS' if ok else 'FAIL'}  {path} ({outcome.kind})")
    if outcome.unsupported:
        click.echo(f"      {outcome.unsupported}")
    for problem in outcome.problems:
        if problem.strict_only and not strict:
            continue
        click.echo(f"      {problem.where}: {problem.message}")
        if problem.has_values:
            for line in _diff(problem.expected, problem.actual):
                click.echo(f"        {line}")


def _diff(expected: Any, actual: Any) -> list[str]:
    """A unified diff of the two values written as indented JSON."""

    def lines(value: Any) -> list[str]:
        return json.dumps(value, indent=2, sort_keys=True, default=str).splitlines()

    return list(
        difflib.unified_diff(lines(expected), lines(actual), "expected", "actual", lineterm="", n=2)
    )
