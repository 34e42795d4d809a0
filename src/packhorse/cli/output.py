"""How commands print: plain aligned tables for people, JSON for scripts.

A small table renderer of our own instead of Rich keeps list commands fast to start; Rich is
used where it earns its import time (progress bars, prompts).
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from packhorse.model.diagnostics import Diagnostic


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True, default=str))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value).replace("\n", " ")


def echo_table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], *, max_width: int = 60
) -> None:
    """Print rows under headers, columns aligned, long cells cut with an ellipsis."""
    cells = [[_cell(v) for v in row] for row in rows]
    cells = [[c if len(c) <= max_width else c[: max_width - 1] + "…" for c in row] for row in cells]
    if not cells:
        click.echo("(none)")
        return
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    line = "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))
    click.echo(line.rstrip())
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def echo_record(record: dict[str, Any]) -> None:
    """Print one resource as ``key: value`` lines, nested values as indented YAML-like JSON."""
    width = max((len(k) for k in record), default=0)
    for key, value in record.items():
        if isinstance(value, dict | list) and value:
            text = json.dumps(value, indent=2, sort_keys=True, default=str)
            click.echo(f"{key.ljust(width)}:")
            for line in text.splitlines():
                click.echo(f"  {line}")
        else:
            click.echo(f"{key.ljust(width)}: {_cell(value)}")


def report_diagnostics(
    diagnostics: Sequence[Diagnostic],
    *,
    checked: int,
    noun: str,
    output_format: str,
    extra: dict[str, Any] | None = None,
) -> None:
    """Print diagnostics sorted by place, then ``N errors, M warnings in K <noun>s`` (or one
    JSON document); exit 1 when any is an error. What every ``validate`` command prints."""
    ordered = sorted(diagnostics, key=lambda d: (d.path, d.line, d.col, d.code, d.message))
    errors = sum(1 for d in ordered if d.is_error)
    warnings = len(ordered) - errors
    summary = (
        f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)} "
        f"in {checked} {noun}{'s' * (checked != 1)}"
    )
    if output_format == "json":
        echo_json(
            {
                **(extra or {}),
                "diagnostics": [d.to_dict() for d in ordered],
                "errors": errors,
                "warnings": warnings,
                "summary": summary,
            }
        )
    else:
        for diagnostic in ordered:
            click.echo(diagnostic.format())
        click.echo(summary)
    if errors:
        raise click.exceptions.Exit(1)


format_option = click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: one line per problem; json: a document for scripts.",
)


@contextlib.contextmanager
def steps(title: str, *, quiet: bool = False) -> Iterator[Callable[[str], None]]:
    """Report the steps of long work: a Rich progress line (spinner, step, elapsed time) on
    a terminal, one line per step on stderr otherwise; nothing when ``quiet`` (``--json``).
    Yields ``say(step)``."""
    if quiet:
        yield lambda _line: None
        return
    if not sys.stderr.isatty():
        yield lambda line: click.echo(f"{title}: {line}", err=True)
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.fields[title]}[/bold] {task.description}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as progress:
        task = progress.add_task("", title=title, total=None)
        done: list[str] = []

        def say(line: str) -> None:
            if done:
                progress.console.print(f"  [green]✓[/green] {done[-1]}")
            done.append(line)
            progress.update(task, description=line)

        yield say
        if done:
            progress.console.print(f"  [green]✓[/green] {done[-1]}")
        progress.update(task, description="done", completed=1, total=1)
