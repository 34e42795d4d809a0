"""``packhorse upgrade``: get packs and the instance ready for a new version."""

from __future__ import annotations

from pathlib import Path

import click

from packhorse.cli.main import CliContext
from packhorse.cli.output import echo_json
from packhorse.cli.upgrade_verify import verify

pass_cli = click.make_pass_decorator(CliContext)


@click.group()
def upgrade() -> None:
    """Check packs against this Packhorse (and its StackStorm version) before an upgrade."""


@upgrade.command("check")
@click.argument(
    "folders",
    nargs=-1,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@click.option("--fix", is_flag=True, help="Rewrite what the transforms can rewrite.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_cli
def check(cli: CliContext, folders: tuple[Path, ...], fix: bool, as_json: bool) -> None:
    """Check packs for what older StackStorm releases allowed and this one does not.

    DIR is a pack folder or a folder of packs (default: the instance's packs/ folder). Prints
    'path:line:col: TRANSFORM: message [fixable]' per finding. --fix rewrites the fixable ones
    (the fixed pack is validated in a copy first; files are replaced atomically). Exits 1 when
    findings that cannot be fixed remain. Transforms are listed in docs/upgrading.md.
    """
    from packhorse.migrate.upgrade_check import check_pack
    from packhorse.packs.discover import discover_packs, is_pack_dir

    named = bool(folders)
    if not folders:
        cli.local_only()
        folders = (cli.settings.packs_dir,)
    packs: list[tuple[Path, str]] = []
    for folder in folders:
        if is_pack_dir(folder):
            packs.append((folder, str(folder)))
        else:
            found, _ = discover_packs([folder])
            if not found and named:
                raise click.UsageError(
                    f"no pack in {folder}: a pack folder holds pack.yaml (and a folder of "
                    "packs holds such folders)"
                )
            packs.extend((Path(source.path), source.display_path) for source in found)
    results = [check_pack(folder, shown, fix=fix) for folder, shown in packs]
    findings = sum(len(r.findings) for r in results)
    unfixable = sum(len(r.unfixable) for r in results)
    refused = [r for r in results if r.refused]
    if as_json:
        echo_json(
            {
                "packs": [
                    {
                        "path": r.folder,
                        "findings": [f.to_dict() for f in r.findings],
                        "changes": [
                            {"path": c.path, "added": c.added, "removed": c.removed}
                            for c in r.changes
                        ],
                        "refused": r.refused or None,
                    }
                    for r in results
                ],
                "findings": findings,
                "unfixable": unfixable,
            }
        )
    else:
        for result in results:
            for change in result.changes:
                click.echo(
                    f"fixed {result.folder.rstrip('/')}/{change.path}: "
                    f"+{change.added} -{change.removed} lines"
                )
            if result.refused:
                click.echo(f"{result.folder}: fix refused: {result.refused}", err=True)
            for finding in result.findings:
                click.echo(finding.format(result.folder))
        fixable = findings - unfixable
        click.echo(
            f"{findings} finding{'s' * (findings != 1)} ({fixable} fixable) in "
            f"{len(results)} pack{'s' * (len(results) != 1)}"
        )
    if unfixable or refused:
        raise click.exceptions.Exit(1)


upgrade.add_command(verify)
# Subcommands defined in modules of their own register themselves on the group.
import packhorse.cli.upgrade_run  # noqa: E402, F401
