"""``packhorse archive OLD --output FILE`` / ``archive inspect FILE`` / ``restore ARCHIVE --to
FOLDER``: a whole instance in one encrypted file, and back. Format: docs/upgrading.md."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from packhorse.cli.main import CliContext
from packhorse.cli.output import echo_json, steps
from packhorse.cli.passphrases import obtain_passphrase

if TYPE_CHECKING:
    from packhorse.settings import Settings

pass_cli = click.make_pass_decorator(CliContext)

PASSPHRASE_ENV = "PACKHORSE_ARCHIVE_PASSPHRASE"  # noqa: S105 - the variable's name


class _ArchiveGroup(click.Group):
    """``archive OLD ...`` creates; ``archive inspect FILE`` inspects."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["create", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_ArchiveGroup)
def archive() -> None:
    """Pack an instance folder into one encrypted file that 'packhorse restore' brings back
    exactly (virtualenvs excluded: rebuilt on restore).

    \b
      packhorse archive OLD --output FILE [--passphrase-file F | --recipient KEY]
      packhorse archive inspect FILE
    """


def passphrase_from(cli: CliContext, passphrase_file: Path | None, *, confirm: bool) -> str | None:
    """The archive's passphrase: --passphrase-file, else ${PASSPHRASE_ENV}, else asked (see
    :func:`~packhorse.cli.passphrases.obtain_passphrase`)."""
    return obtain_passphrase(
        cli, passphrase_file, confirm=confirm, env=PASSPHRASE_ENV, what="archive"
    )


@archive.command("create", hidden=True)
@click.argument("old")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The archive file to write.",
)
@click.option(
    "--passphrase-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=f"File holding the passphrase (else ${PASSPHRASE_ENV}, else asked).",
)
@click.option(
    "--recipient",
    metavar="KEY|FILE",
    help="Seal for an instance's public recipient key ('packhorse bundle recipient-key').",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@pass_cli
def create(
    cli: CliContext,
    old: str,
    output: Path,
    passphrase_file: Path | None,
    recipient: str | None,
    as_json: bool,
) -> None:
    """Archive the instance folder OLD into FILE."""
    import platform
    import secrets

    from packhorse.cli.bundle import _recipient
    from packhorse.cli.instance_arg import is_url, local_only, open_instance
    from packhorse.engine.clock import utc_now
    from packhorse.errors import ConfigurationError
    from packhorse.migrate.instance_archive import Sealing, create_archive

    if passphrase_file is not None and recipient is not None:
        raise click.UsageError("give --passphrase-file or --recipient, not both")
    why = "an archive copies the instance's files"
    if is_url(old):  # refused before anything signs in
        raise click.BadParameter(
            f"{old} is a URL, and {why}: give the instance folder", param_hint="OLD"
        )
    settings = local_only(
        open_instance(cli, old, option="OLD"),
        option="OLD",
        why=why,
    )
    recipient_key = None if recipient is None else _recipient(recipient)
    passphrase = None
    if recipient_key is None:
        passphrase = passphrase_from(cli, passphrase_file, confirm=True)
        if passphrase is None:
            raise ConfigurationError(
                "a passphrase is needed to seal the archive",
                hint=f"give --passphrase-file, ${PASSPHRASE_ENV} or --recipient",
            )
    with steps("archive", quiet=as_json) as say:
        report = create_archive(
            settings,
            output,
            Sealing(passphrase=passphrase, recipient=recipient_key),
            now=utc_now(),
            random_bytes=secrets.token_bytes,
            python_version=platform.python_version(),
            say=say,
        )
    if as_json:
        echo_json(report.to_dict())
        return
    click.echo(
        f"Archived {settings.home} into {report.path}: {report.files} files, "
        f"{report.size} bytes, sha256 {report.sha256}."
    )
    click.echo(f"Restore with: packhorse restore {report.path} --to FOLDER")


@archive.command("inspect")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the header as JSON.")
def inspect(file: Path, as_json: bool) -> None:
    """Print an archive's clear header (no passphrase needed)."""
    from packhorse.migrate.instance_archive import file_sha256, header_of

    header = header_of(file)
    document: dict[str, Any] = header.model_dump(mode="json", exclude_none=True)
    document["size"] = file.stat().st_size
    document["sha256"] = file_sha256(file)
    if as_json:
        echo_json(document)
        return
    block = header.encryption
    sealed = str(block.mode)
    if block.recipient is not None:
        sealed = f"{sealed} (key {block.recipient.key_id})"
    rows = [
        ("format", header.format),
        ("instance", header.instance_id),
        ("created at", header.created_at),
        ("packhorse", header.packhorse_version),
        ("python", header.python_version),
        ("database", header.database),
        ("sealed", f"{sealed}, {block.cipher}"),
        ("size", document["size"]),
        ("sha256", document["sha256"]),
    ]
    for name, value in rows:
        click.echo(f"{name.ljust(10)}  {value}")


@click.command()
@click.argument("archive_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--to",
    "target",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder to restore into (must not exist, or be empty).",
)
@click.option(
    "--passphrase-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=f"File holding the passphrase (else ${PASSPHRASE_ENV}, else asked).",
)
@click.option(
    "--key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="For an archive sealed for a recipient: that instance's keys/bundle-recipient.key.",
)
@click.option(
    "--database",
    "database_url",
    metavar="URL",
    help="Put the state into this empty PostgreSQL database (postgresql://user@host/db), "
    "checked by counts and checksums, and point the instance at it; else it comes back on "
    "SQLite (state.db), whatever it ran on.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@pass_cli
def restore(
    cli: CliContext,
    archive_file: Path,
    target: Path,
    passphrase_file: Path | None,
    key_file: Path | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Restore an archive into a new folder: the same instance (id, datastore key, database,
    packs, configs), its packs' virtualenvs rebuilt. Nothing is written when the passphrase
    is wrong or the archive damaged.

    An instance archived from PostgreSQL comes back on SQLite, or with --database in an empty
    PostgreSQL database; never on the database it ran on."""
    from packhorse.migrate.instance_archive import header_of
    from packhorse.migrate.recipient import read_private_key_file
    from packhorse.migrate.restore import restore_archive

    header = header_of(archive_file)
    passphrase = None
    private = None
    if header.encryption.mode == "passphrase":
        passphrase = passphrase_from(cli, passphrase_file, confirm=False)
    elif key_file is not None:
        private = read_private_key_file(key_file)
    with steps("restore", quiet=as_json) as say:
        report = restore_archive(
            archive_file,
            target,
            passphrase=passphrase,
            recipient_private=private,
            build_venvs=build_venvs,
            say=say,
            database_url=database_url,
        )
    if as_json:
        echo_json(report.to_dict())
        return
    if report.header.database != "sqlite" and report.database == "sqlite":
        click.echo(
            f"It ran on {report.header.database}; it is restored onto SQLite. To move it to an "
            f"empty database: packhorse --home {report.target} db migrate-to URL"
        )
    click.echo(
        f"Restored instance {report.header.instance_id} into {report.target}: "
        f"{report.files} files, virtualenvs of {len(report.venvs)} packs rebuilt."
    )
    click.echo(f"Start it with: packhorse --home {report.target} up")


def build_venvs(home: Path, packs: list[str], say: Any) -> list[str]:
    """The virtualenvs of ``packs`` (those that had one), built for this interpreter with the
    builder 'pack install' and 'bundle import' use."""
    from packhorse import bootstrap
    from packhorse.packs.install import SYSTEM_PACKS
    from packhorse.settings import load_settings

    settings: Settings = load_settings(home)
    builder = bootstrap.venv_builder(settings)
    built = []
    for pack in bootstrap.registry_reader(settings).list_packs():
        if pack.ref in SYSTEM_PACKS or pack.ref not in packs:
            continue
        say(f"{pack.ref}: virtualenv")
        builder.ensure(pack.ref, settings.home / pack.path, progress=say)
        built.append(pack.ref)
    bootstrap.database_engine(settings).dispose()
    return built
