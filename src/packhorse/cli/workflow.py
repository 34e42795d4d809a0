"""``packhorse workflow validate FILE...``: check Orquesta workflow files without a pack.

Prints what ``pack validate`` prints for a workflow entry point: one
``path:line:col: CODE: message`` line per problem (codes PH7xx in docs/diagnostics.md).
"""

from __future__ import annotations

from pathlib import Path

import click

from packhorse.cli.output import format_option, report_diagnostics
from packhorse.model.diagnostics import Diagnostic


@click.group("workflow")
def workflow() -> None:
    """Check Orquesta workflow definitions."""


@workflow.command("validate")
@click.argument(
    "files",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@format_option
def validate(files: tuple[Path, ...], output_format: str) -> None:
    """Check Orquesta workflows: every problem with file, line, column and code.

    Exits 1 when any error is found (warnings alone exit 0).
    """
    from packhorse.workflow.spec import parse_workflow

    diagnostics: list[Diagnostic] = []
    for path in files:
        _, found = parse_workflow(path.read_bytes(), str(path))
        diagnostics.extend(found)
    report_diagnostics(
        diagnostics, checked=len(files), noun="workflow", output_format=output_format
    )
