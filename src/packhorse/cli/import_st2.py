"""``packhorse import-st2``: carry a StackStorm install's packs, configs, datastore and rule
states into this instance (:mod:`packhorse.migrate.import_st2`)."""

from __future__ import annotations

from pathlib import Path

import click

from packhorse.cli.bundle import print_plan
from packhorse.cli.main import CliContext
from packhorse.cli.output import echo_json, steps

pass_cli = click.make_pass_decorator(CliContext)

_FOLDER = click.Path(exists=True, file_okay=False, path_type=Path)
_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("import-st2")
@click.option(
    "--packs",
    "packs_dir",
    required=True,
    type=_FOLDER,
    help="StackStorm's packs folder (/opt/stackstorm/packs): one folder per pack.",
)
@click.option(
    "--configs",
    "configs_dir",
    type=_FOLDER,
    help="StackStorm's configs folder (/opt/stackstorm/configs).",
)
@click.option(
    "--keys", "key_dump", type=_FILE, help="What 'st2 key list -j' (or -j --decrypt) printed."
)
@click.option(
    "--st2-key-file",
    type=_FILE,
    help="StackStorm's datastore key file "
    "(/etc/st2/keys/datastore_key.json): opens the dump's encrypted values.",
)
@click.option(
    "--rules-state",
    type=_FILE,
    help="What 'st2 rule list -j' printed: each rule's live enabled state.",
)
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_cli
def import_st2(
    cli: CliContext,
    packs_dir: Path,
    configs_dir: Path | None,
    key_dump: Path | None,
    st2_key_file: Path | None,
    rules_state: Path | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Import a StackStorm install: its packs (copied, then rewritten by the upgrade
    transforms where they need it; the originals are not touched), their configs (validated
    against each pack's schema), the datastore (secrets sealed again under this instance's
    key) and the rules' enabled states. All or nothing. What cannot be carried is listed."""
    from packhorse import bootstrap
    from packhorse.engine.clock import utc_now
    from packhorse.engine.keyring import Keyring
    from packhorse.migrate.import_st2 import St2Install, import_st2
    from packhorse.migrate.importing import wire

    if st2_key_file is not None and key_dump is None:
        raise click.UsageError("--st2-key-file opens the values of a --keys dump: give --keys")
    settings = cli.settings
    install = St2Install(
        packs_dir=packs_dir,
        configs_dir=configs_dir,
        key_dump=key_dump,
        st2_key_file=st2_key_file,
        rules_state=rules_state,
    )
    with steps("import-st2", quiet=as_json) as say:
        report = import_st2(
            wire(settings),
            install,
            dry_run=dry_run,
            instance_keys=Keyring(settings.keys_dir).keys().readers,
            now=utc_now(),
            say=say,
            on_secret=bootstrap.redactor().add,
        )
    if as_json:
        echo_json(report.to_dict())
        return
    print_plan(report.plan.to_dict())
    for pack in report.packs:
        done = f"transformed by {', '.join(pack.transforms)}" if pack.transforms else "as it was"
        click.echo(f"pack    {pack.ref} {pack.version} ({done})")
        for change in pack.changes:
            click.echo(f"          {change.path}: +{change.added} -{change.removed} lines")
    for ref in report.skipped_packs:
        click.echo(f"pack    {ref}: skipped (ships with Packhorse)")
    for name in report.configs:
        click.echo(f"config  {name}")
    keys = ", ".join(f"{n} {scope}" for scope, n in sorted(report.keys.items())) or "none"
    click.echo(f"keys    {keys}")
    if report.rules:
        enabled = sum(report.rules.values())
        click.echo(
            f"rules   {len(report.rules)} enabled states carried ({enabled} enabled, "
            f"{len(report.rules) - enabled} disabled)"
        )
    if report.cannot_carry:
        click.echo(f"Cannot carry ({len(report.cannot_carry)}):")
        for line in report.cannot_carry:
            click.echo(f"  {line}")
    if report.applied:
        click.echo(f"Imported the StackStorm install of {packs_dir}.")
    elif not report.plan.writes:
        click.echo("Nothing to do: this instance already holds all of it.")
    else:
        click.echo("Dry run: nothing changed.")
