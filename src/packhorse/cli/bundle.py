"""``packhorse bundle ...``: move everything a site built between instances (the export half,
and ``inspect`` to check a bundle file). The format: ``docs/bundle-format.md``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from packhorse.cli.main import CliContext
from packhorse.cli.output import echo_json, steps
from packhorse.cli.passphrases import obtain_passphrase

if TYPE_CHECKING:
    from collections.abc import Mapping

    from packhorse.crypto.transport import TransportKey
    from packhorse.migrate.bundle_format import Manifest

pass_cli = click.make_pass_decorator(CliContext)

PASSPHRASE_ENV = "PACKHORSE_BUNDLE_PASSPHRASE"  # noqa: S105 - the variable's name


@click.group()
def bundle() -> None:
    """Export an instance into one bundle file, and inspect bundles.

    A bundle holds the packs (never their virtualenvs), their configs, the datastore
    (secret values sealed under a passphrase or for the target instance's recipient key),
    rule states, users, API key hashes and the recent trigger instances, with a manifest of
    checksums. Format: docs/bundle-format.md.
    """


def _passphrase(cli: CliContext, passphrase_file: Path | None, *, confirm: bool) -> str | None:
    """The bundle's passphrase: --passphrase-file, else ${PASSPHRASE_ENV}, else asked (see
    :func:`~packhorse.cli.passphrases.obtain_passphrase`)."""
    return obtain_passphrase(
        cli, passphrase_file, confirm=confirm, env=PASSPHRASE_ENV, what="bundle"
    )


def read_passphrase(cli: CliContext, passphrase_file: Path) -> str:
    """The passphrase of ``passphrase_file``, checked as export checks it."""
    passphrase = _passphrase(cli, passphrase_file, confirm=True)
    assert passphrase is not None  # a file always gives one
    return passphrase


@bundle.command("export")
@click.option(
    "--from",
    "source",
    metavar="URL",
    help="Export the instance at this Packhorse API URL (admin sign-in) instead of --home; "
    "secrets then need --recipient or --no-secrets.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The bundle file to write (a .tar.gz).",
)
@click.option(
    "--passphrase-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=f"File holding the passphrase that seals secrets (else ${PASSPHRASE_ENV}, else asked).",
)
@click.option(
    "--recipient",
    metavar="KEY|FILE",
    help="Seal secrets for the target instance's public key (what 'packhorse bundle "
    "recipient-key' prints there, or a file holding it) instead of a passphrase.",
)
@click.option("--no-secrets", is_flag=True, help="Leave secret values out of the bundle.")
@click.option(
    "--reproducible",
    is_flag=True,
    help="Byte-identical output when nothing changed: fixed time ($SOURCE_DATE_EPOCH or "
    "1970), salt and nonces derived instead of drawn.",
)
@click.option("--with-executions", is_flag=True, help="Include the execution history.")
@click.option(
    "--events-days",
    type=click.IntRange(min=0),
    default=7,
    show_default=True,
    help="Trigger instances (with their rule enforcements) of the last N days, for replay.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@pass_cli
def export(
    cli: CliContext,
    source: str | None,
    output: Path,
    passphrase_file: Path | None,
    recipient: str | None,
    no_secrets: bool,
    reproducible: bool,
    with_executions: bool,
    events_days: int,
    as_json: bool,
) -> None:
    """Export this instance into one bundle file. Read-only on the instance, and safe while
    it runs (the database is read from a consistent snapshot)."""
    import platform
    import secrets

    from packhorse import bootstrap
    from packhorse.engine.clock import utc_now
    from packhorse.engine.keyring import Keyring
    from packhorse.errors import ConfigurationError
    from packhorse.migrate.export import ExportOptions, export_bundle

    if sum([no_secrets, passphrase_file is not None, recipient is not None]) > 1:
        raise click.UsageError("give one of --passphrase-file, --recipient and --no-secrets")
    recipient_key = None if recipient is None else _recipient(recipient)
    if source is not None:
        _check_export_from(source, recipient_key, no_secrets, reproducible, passphrase_file)
        from packhorse.cli.bundle_remote import export_from

        export_from(
            cli, source, output, recipient_key, no_secrets, with_executions, events_days, as_json
        )
        return
    settings = cli.settings
    sealed_otherwise = no_secrets or recipient_key is not None
    passphrase = None if sealed_otherwise else _passphrase(cli, passphrase_file, confirm=True)
    if passphrase is None and not sealed_otherwise:
        raise ConfigurationError(
            "a passphrase is needed to export secret values",
            hint=f"give --passphrase-file or ${PASSPHRASE_ENV}, or leave secrets out with "
            "--no-secrets",
        )
    epoch = cli.environ.get("SOURCE_DATE_EPOCH")
    options = ExportOptions(
        passphrase=passphrase,
        recipient=recipient_key,
        no_secrets=no_secrets,
        reproducible=reproducible,
        with_executions=with_executions,
        events_days=events_days,
        source_date_epoch=int(epoch) if epoch and epoch.isdigit() else None,
    )
    with steps("bundle export", quiet=as_json) as say:
        report = export_bundle(
            settings,
            output,
            options,
            instance_keys=Keyring(settings.keys_dir).keys().readers,
            now=utc_now(),
            random_bytes=secrets.token_bytes,
            python_version=platform.python_version(),
            say=say,
            on_secret=bootstrap.redactor().add,
        )
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        echo_json(report.to_dict())
        return
    counts = report.manifest.counts
    lines = [
        f"packs {counts.get('packs', 0)}",
        f"configs {counts.get('configs', 0)}",
        f"keys {counts.get('keys', 0)} ({counts.get('secret_keys', 0)} secret"
        + (", left out)" if no_secrets else ")"),
        f"rules {counts.get('rules', 0)}",
        f"users {counts.get('users', 0)}",
        f"api keys {counts.get('api_keys', 0)}",
        f"trigger instances {counts.get('trigger_instances', 0)}",
    ]
    if with_executions:
        lines.append(f"executions {counts.get('executions', 0)}")
    click.echo(f"Exported to {report.path} ({_size(report.size)}): " + ", ".join(lines) + ".")
    click.echo(f"Content checksum: {report.manifest.content_checksum}")


def _check_export_from(
    source: str,
    recipient: bytes | None,
    no_secrets: bool,
    reproducible: bool,
    passphrase_file: Path | None,
) -> None:
    """Refuse what an export from a URL cannot do."""
    from packhorse.cli.bundle_remote import RECIPIENT_HELP, refuse_passphrase
    from packhorse.cli.instance_arg import is_url

    if not is_url(source):
        raise click.BadParameter(f"{source} is not an http(s):// URL", param_hint="--from")
    if passphrase_file is not None:
        refuse_passphrase("--from")
    if recipient is None and not no_secrets:
        raise click.UsageError(
            f"an export from a URL needs a way to seal its secrets: {RECIPIENT_HELP}"
        )
    if reproducible:
        raise click.UsageError("--reproducible works on a local instance only (--home)")


def _recipient(value: str) -> bytes:
    from packhorse.crypto.transport import RECIPIENT_PREFIX, parse_recipient
    from packhorse.errors import ConfigurationError

    text = value
    if not value.startswith(RECIPIENT_PREFIX):
        try:
            text = Path(value).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigurationError(
                f"--recipient {value}: neither a recipient key nor a readable file ({error})"
            ) from None
    try:
        return parse_recipient(text)
    except ValueError as error:
        raise ConfigurationError(
            f"--recipient: not a recipient key: {error}",
            hint="run 'packhorse bundle recipient-key' on the target instance and pass what "
            "it prints",
        ) from None


@bundle.command("recipient-key")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write it to FILE."
)
@pass_cli
def recipient_key(cli: CliContext, output: Path | None) -> None:
    """Print this instance's public recipient key (created the first time), for
    'bundle export --recipient' on a source instance: secrets then travel sealed for this
    instance alone, with no passphrase to share."""
    import secrets

    from packhorse.crypto.transport import format_recipient
    from packhorse.migrate.recipient import RECIPIENT_KEY_FILE, ensure_recipient_key

    settings = cli.settings
    public, created = ensure_recipient_key(settings.keys_dir, secrets.token_bytes)
    if created:
        click.echo(f"Created {settings.keys_dir / RECIPIENT_KEY_FILE} (keep it private).", err=True)
    if output is None:
        click.echo(format_recipient(public))
    else:
        output.write_text(format_recipient(public) + "\n", encoding="utf-8")
        click.echo(f"Wrote the recipient key to {output}.", err=True)


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024 / 1024:.1f} MiB"


@bundle.command("inspect")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--passphrase-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=f"Also check the passphrase opens every sealed secret (or use ${PASSPHRASE_ENV}).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the manifest and the problems as JSON."
)
@pass_cli
def inspect(cli: CliContext, file: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Print a bundle's manifest and verify every member's checksum (exit 1 on a problem)."""
    from packhorse.migrate.archive import open_archive
    from packhorse.migrate.bundle_format import verify_members
    from packhorse.migrate.bundle_versions import read_bundle

    with open_archive(file) as archived:  # spooled to a temporary folder, removed after
        read = read_bundle(*archived)  # an older format converted up front
        manifest, members = read.manifest, read.members
        problems = verify_members(manifest, members)
        secrets_checked = None
        if not problems:
            key, problem = _transport_key(cli, manifest, passphrase_file)
            if problem:
                problems.append(problem)
            elif key is not None:
                problems += _check_secrets(members, key)
                secrets_checked = not problems
    if as_json:
        echo_json(
            {
                "format": read.written_format,
                "manifest": manifest.model_dump(mode="json"),
                "problems": problems,
                "secrets_ok": secrets_checked,
            }
        )
    else:
        _print_manifest(manifest, read.written_format)
        for problem in problems:
            click.echo(f"problem: {problem}")
        verdict = "every checksum matches" if not problems else f"{len(problems)} problems"
        if secrets_checked:
            verdict += "; every secret opens"
        click.echo(f"{file}: {verdict}.")
    if problems:
        raise click.exceptions.Exit(1)


def _transport_key(
    cli: CliContext, manifest: Manifest, passphrase_file: Path | None
) -> tuple[TransportKey | None, str | None]:
    """The key that opens the bundle's secrets, when the caller can give it: a passphrase
    (file or environment), or this instance's recipient key. ``(None, None)``: no check."""
    from packhorse.errors import BundleError
    from packhorse.migrate import sealing

    block = manifest.secrets
    try:
        if block.mode == "passphrase":
            if passphrase_file is None and not cli.environ.get(PASSPHRASE_ENV):
                return None, None
            passphrase = _passphrase(cli, passphrase_file, confirm=False)
            assert passphrase is not None
            key = sealing.key_from_passphrase(block, passphrase)
            wrong = "wrong passphrase (the verifier does not open)"
        elif block.mode == "recipient":
            private = _local_recipient_key(cli)
            if private is None:
                return None, None
            key = sealing.key_from_recipient(block, private)
            wrong = "the verifier does not open: the manifest was altered"
        else:
            return None, None
    except BundleError as error:
        return None, error.message
    return (key, None) if sealing.key_opens(block, key) else (None, wrong)


def _local_recipient_key(cli: CliContext) -> bytes | None:
    from packhorse.errors import InstanceError
    from packhorse.migrate.recipient import load_private_key

    try:
        return load_private_key(cli.settings.keys_dir)
    except InstanceError:  # no instance here: nothing to check with
        return None


def _check_secrets(members: Mapping[str, bytes], key: TransportKey) -> list[str]:
    from packhorse.migrate.bundle_format import DATASTORE
    from packhorse.migrate.sealing import sealed_problems

    data = members.get(DATASTORE)
    return [] if data is None else [f"{DATASTORE}: {p}" for p in sealed_problems(data, key)]


def _print_manifest(manifest: Manifest, written_format: int) -> None:
    shown: object = written_format
    if written_format != manifest.format:
        shown = f"{written_format} (read as format {manifest.format})"
    rows: list[tuple[str, Any]] = [
        ("format", shown),
        ("packhorse", manifest.packhorse_version),
        ("python", manifest.python_version),
        ("instance", manifest.instance_id),
        ("created at", manifest.created_at),
        ("reproducible", "yes" if manifest.reproducible else "no"),
        ("events since", manifest.events_since),
        ("secrets", manifest.secrets.mode),
        ("members", len(manifest.members)),
        ("content", manifest.content_checksum),
    ]
    rows += [(name.replace("_", " "), value) for name, value in sorted(manifest.counts.items())]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        click.echo(f"{name.ljust(width)}  {value}")


@bundle.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--to",
    "target",
    metavar="URL",
    help="Import into the instance at this Packhorse API URL (admin sign-in) instead of "
    "--home; the bundle must be sealed for its recipient key, or hold no secrets.",
)
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
@click.option(
    "--passphrase-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=f"File holding the passphrase that opens the secrets (else ${PASSPHRASE_ENV}, else "
    "asked).",
)
@click.option("--prune", is_flag=True, help="Remove the packs the bundle does not hold.")
@click.option(
    "--replace-users",
    is_flag=True,
    help="Overwrite users and API keys this instance holds with other contents.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the plan and outcome as JSON.")
@pass_cli
def import_(
    cli: CliContext,
    file: Path,
    target: str | None,
    dry_run: bool,
    passphrase_file: Path | None,
    prune: bool,
    replace_users: bool,
    as_json: bool,
) -> None:
    """Import a bundle into this instance: verify it, print the plan, install the packs
    (virtualenvs built here), write configs, datastore (secrets sealed again under this
    instance's key), rule states, users, API keys and trigger instances. All or nothing;
    importing the same bundle again changes nothing."""
    from packhorse import bootstrap
    from packhorse.engine.keyring import Keyring
    from packhorse.migrate.importing import ImportOptions, import_bundle, read_manifest, wire
    from packhorse.migrate.recipient import load_private_key

    if target is not None:
        from packhorse.cli.bundle_remote import import_to, refuse_passphrase
        from packhorse.cli.instance_arg import is_url

        if not is_url(target):
            raise click.BadParameter(f"{target} is not an http(s):// URL", param_hint="--to")
        if passphrase_file is not None:
            refuse_passphrase("--to")
        import_to(cli, target, file, dry_run, prune, replace_users, as_json)
        return
    settings = cli.settings
    passphrase = None
    if passphrase_file is not None or cli.environ.get(PASSPHRASE_ENV):
        passphrase = _passphrase(cli, passphrase_file, confirm=False)
    elif sys.stdin.isatty():
        manifest = read_manifest(file)
        if manifest.secrets.mode == "passphrase":
            passphrase = _passphrase(cli, None, confirm=False)
    options = ImportOptions(
        passphrase=passphrase, dry_run=dry_run, prune=prune, replace_users=replace_users
    )
    with steps("bundle import", quiet=as_json) as say:
        report = import_bundle(
            wire(settings),
            file,
            options,
            instance_keys=Keyring(settings.keys_dir).keys().readers,
            recipient_private=load_private_key(settings.keys_dir),
            say=say,
            on_secret=bootstrap.redactor().add,
        )
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        echo_json(report.to_dict())
        return
    print_plan(report.plan.to_dict())
    if report.applied:
        click.echo(f"Imported {file} (content checksum {report.manifest.content_checksum}).")
    elif not report.plan.writes:
        click.echo("Nothing to do: this instance already holds everything in the bundle.")
    else:
        click.echo("Dry run: nothing changed.")


def print_plan(plan: dict[str, Any]) -> None:
    """The plan (``ImportPlan.to_dict()``, as an import's report holds it) as a table: one
    line per kind with its counts, then a line per change of the packs, configs, keys,
    rules, users and API keys (events only counted)."""
    from packhorse.migrate.import_plan import Action, Kind

    counts: dict[str, dict[str, int]] = plan["counts"]
    width = max((len(kind) for kind in counts), default=4)
    for kind in Kind:
        if kind.value in counts:
            shown = ", ".join(f"{n} {a}" for a, n in sorted(counts[kind.value].items()))
            click.echo(f"{kind.value.replace('_', ' ').ljust(width)}  {shown}")
    events = {Kind.TRIGGER_INSTANCE.value, Kind.RULE_ENFORCEMENT.value, Kind.EXECUTION.value}
    for change in plan["changes"]:
        if change["kind"] in events or change["action"] == Action.UNCHANGED.value:
            continue
        detail = f" ({change['detail']})" if change["detail"] else ""
        click.echo(f"  {change['action']:<9} {change['kind']} {change['name']}{detail}")
