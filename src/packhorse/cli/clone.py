"""``packhorse clone``: a copy of an instance in a new folder (bundle export + init +
import in one step)."""

from __future__ import annotations

from pathlib import Path

import click

from packhorse.cli.main import CliContext
from packhorse.cli.output import echo_json, steps

pass_cli = click.make_pass_decorator(CliContext)


@click.command()
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path, resolve_path=True),
    help="The instance folder to clone.",
)
@click.option(
    "--to",
    "target",
    required=True,
    type=click.Path(file_okay=False, path_type=Path, resolve_path=True),
    help="The new instance folder (must not exist, or be empty).",
)
@click.option(
    "--passphrase-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Seal the temporary bundle's secrets with this passphrase instead of a random one.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@pass_cli
def clone(
    cli: CliContext, source: Path, target: Path, passphrase_file: Path | None, as_json: bool
) -> None:
    """Clone an instance into a new folder: its packs (virtualenvs rebuilt for this
    interpreter), configs, datastore (secrets sealed again under the clone's own key), rule
    states, users, API keys, trigger instances and finished executions. The bundle travels
    through a private temporary file under a random passphrase held only in memory."""
    import platform
    import secrets

    from packhorse import bootstrap
    from packhorse.cli.bundle import read_passphrase
    from packhorse.engine.clock import utc_now
    from packhorse.migrate.clone import clone_instance

    passphrase = None if passphrase_file is None else read_passphrase(cli, passphrase_file)
    with steps("clone", quiet=as_json) as say:
        report = clone_instance(
            source,
            target,
            now=utc_now(),
            random_bytes=secrets.token_bytes,
            python_version=platform.python_version(),
            passphrase=passphrase,
            say=say,
            on_secret=bootstrap.redactor().add,
        )
    if as_json:
        echo_json(
            {
                "target": str(report.target),
                "content_checksum": report.exported.manifest.content_checksum,
                "counts": report.exported.manifest.counts,
                "plan": report.imported.plan.to_dict()["counts"],
                "warnings": list(report.exported.warnings),
            }
        )
        return
    counts = report.exported.manifest.counts
    click.echo(
        f"Cloned {source} into {target}: {counts.get('packs', 0)} packs, "
        f"{counts.get('configs', 0)} configs, {counts.get('keys', 0)} keys, "
        f"{counts.get('users', 0)} users (sign in as on the source)."
    )
