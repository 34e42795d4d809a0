"""``packhorse pack validate DIR...``: check packs without an instance.

Each DIR is a pack folder (it holds pack.yaml) or a folder of packs. All packs named on one
command line are validated together, so rules may use trigger types and actions of each
other; the bundled core pack (system triggers such as ``core.st2.webhook``) is known too.
"""

from __future__ import annotations

from pathlib import Path

import click

from packhorse.cli.output import format_option, report_diagnostics
from packhorse.model.diagnostics import Diagnostic
from packhorse.packs.discover import default_context, discover_packs, is_pack_dir, read_pack
from packhorse.packs.source import PackSource
from packhorse.packs.validate import validate_packs
from packhorse.packs.validate.codes import severity_of


def _sources(folders: tuple[Path, ...]) -> tuple[list[PackSource], list[Diagnostic]]:
    sources: list[PackSource] = []
    diagnostics: list[Diagnostic] = []
    for folder in folders:
        shown = str(folder)
        if is_pack_dir(folder):
            sources.append(read_pack(folder, shown))
            continue
        found, shadowed = discover_packs([folder])
        diagnostics.extend(shadowed)
        if found:
            sources.extend(found)
        else:
            diagnostics.append(
                Diagnostic(
                    "PH100",
                    severity_of("PH100"),
                    "no pack here: a pack folder holds pack.yaml (and a folder of packs holds "
                    "such folders)",
                    f"{shown.rstrip('/')}/pack.yaml",
                )
            )
    return sources, diagnostics


@click.command("validate")
@click.argument(
    "folders",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@format_option
def validate(folders: tuple[Path, ...], output_format: str) -> None:
    """Check packs: every problem with file, line, column and code.

    DIR is a pack folder or a folder of packs. Exits 1 when any error is found (warnings
    alone exit 0). Codes are explained in docs/diagnostics.md.
    """
    sources, diagnostics = _sources(folders)
    results = validate_packs(sources, default_context())
    for result in results:
        diagnostics.extend(result.diagnostics)
    report_diagnostics(
        diagnostics,
        checked=len(results),
        noun="pack",
        output_format=output_format,
        extra={
            "packs": [
                {
                    "path": result.source.display_path,
                    "ref": result.pack.ref if result.pack else None,
                    "valid": result.ok,
                    "resources": len(result.pack.resources) if result.pack else 0,
                }
                for result in results
            ]
        },
    )
