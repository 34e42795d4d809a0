"""``packhorse workflow validate FILE...``: check Orquesta workflow files without a pack.

Prints what ``pack validate`` prints for a workflow entry point: one
``path:line:col: CODE: message`` line per problem (codes PH7xx in docs/diagnostics.md).
"""

from __future__ import annotations

from pathlib import Path

import click

from packhorse.cli.output import echo_json
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
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: one line per problem; json: a document for scripts.",
)
def validate(files: tuple[Path, ...], output_format: str) -> None:
    """Check Orquesta workflows: every problem with file, line, column and code.

    Exits 1 when any error is found (warnings alone exit 0).
    """
    from packhorse.workflow.spec import parse_workflow

    diagnostics: list[Diagnostic] = []
    for path in files:
        _, found = parse_workflow(path.read_bytes(), str(path))
        diagnostics.extend(found)
    diagnostics.sort(key=lambda d: (d.path, d.line, d.col, d.code, d.message))
    errors = sum(1 for d in diagnostics if d.is_error)
    warnings = len(diagnostics) - errors
    summary = (
        f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)} "
        f"in {len(files)} workflow{'s' * (len(files) != 1)}"
    )
    if output_format == "json":
        echo_json(
            {
                "diagnostics": [d.to_dict() for d in diagnostics],
                "errors": errors,
                "warnings": warnings,
                "summary": summary,
            }
        )
    else:
        for diagnostic in diagnostics:
            click.echo(diagnostic.format())
        click.echo(summary)
    if errors:
        raise click.exceptions.Exit(1)
