"""``packhorse key ...``: the datastore, in StackStorm's ``st2 key`` shapes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from packhorse.cli.main import CliContext
from packhorse.cli.output import echo_json, echo_record, echo_table

if TYPE_CHECKING:
    from packhorse.cli.sources import Keys
    from packhorse.engine.datastore import DatastoreService
    from packhorse.model.datastore import KeyValue, Scope

pass_cli = click.make_pass_decorator(CliContext)

scope_option = click.option(
    "--scope",
    type=click.Choice(["system", "user", "st2kv.system", "st2kv.user"]),
    default="system",
    show_default=True,
    help="st2kv.system (global) or st2kv.user (one user's).",
)
user_option = click.option("--user", help="Owner of a user-scoped key (default: $PACKHORSE_USER).")


def _service(cli: CliContext) -> DatastoreService:
    from packhorse.bootstrap import datastore_service

    return datastore_service(cli.settings)


def _keys(cli: CliContext) -> Keys:
    """The datastore for set, get, list and delete: local, or over the API with --url."""
    from packhorse.cli import sources

    return sources.keys(cli)


def _scope_user(cli: CliContext, scope: str, user: str | None) -> tuple[Scope, str]:
    from packhorse.model.datastore import Scope

    parsed = Scope.parse(scope)
    if parsed is Scope.SYSTEM:
        return parsed, ""
    owner = user or cli.environ.get("PACKHORSE_USER", "")
    if not owner and not cli.url:  # over the API, the signed-in user's own keys
        raise click.UsageError("a user-scoped key needs --user (or $PACKHORSE_USER)")
    return parsed, owner


def _record(pair: KeyValue) -> dict[str, Any]:
    from packhorse.engine.datastore import key_record

    return key_record(pair)


@click.group()
def key() -> None:
    """Read and write the datastore (st2kv).

    Secret values are stored encrypted with the instance key and shown as ******** unless
    you ask for --decrypt.
    """


@key.command("set")
@click.argument("name")
@click.argument("value", required=False)
@click.option("--encrypt", "--secret", "secret", is_flag=True, help="Store the value encrypted.")
@click.option("--ttl", type=click.IntRange(min=1), help="Seconds until the key expires.")
@click.option("--description", default="", help="Free text shown by get and list.")
@scope_option
@user_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def set_key(
    cli: CliContext,
    name: str,
    value: str | None,
    secret: bool,
    ttl: int | None,
    description: str,
    scope: str,
    user: str | None,
    as_json: bool,
) -> None:
    """Set NAME to VALUE. Leave VALUE out to type it (hidden) or pipe it on standard input,
    which keeps secrets out of your shell history."""
    if value is None:
        if sys.stdin.isatty():
            value = click.prompt(f"Value of {name}", hide_input=secret, confirmation_prompt=secret)
        else:
            value = sys.stdin.read().removesuffix("\n")
    parsed, owner = _scope_user(cli, scope, user)
    pair = _keys(cli).set_value(
        name, value, scope=parsed, user=owner, secret=secret, ttl=ttl, description=description
    )
    if as_json:
        echo_json(_record(pair))
    else:
        echo_record(_record(pair))


@key.command("get")
@click.argument("name")
@click.option("--decrypt", is_flag=True, help="Show a secret value in clear text.")
@scope_option
@user_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def get_key(
    cli: CliContext, name: str, decrypt: bool, scope: str, user: str | None, as_json: bool
) -> None:
    """Show one key."""
    parsed, owner = _scope_user(cli, scope, user)
    pair = _keys(cli).get_value(name, scope=parsed, user=owner, decrypt=decrypt)
    if as_json:
        echo_json(_record(pair))
    else:
        echo_record(_record(pair))


@key.command("list")
@click.option("--prefix", help="Only keys whose name starts with this.")
@click.option(
    "--scope",
    type=click.Choice(["system", "user", "all", "st2kv.system", "st2kv.user"]),
    default="system",
    show_default=True,
)
@user_option
@click.option("--decrypt", is_flag=True, help="Show secret values in clear text.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (st2 key list -j shape).")
@pass_cli
def list_keys(
    cli: CliContext,
    prefix: str | None,
    scope: str,
    user: str | None,
    decrypt: bool,
    as_json: bool,
) -> None:
    """List keys (system scope by default; --scope all for every scope and user)."""
    from packhorse.model.datastore import Scope

    parsed = None if scope == "all" else Scope.parse(scope)
    owner = None if parsed is not Scope.USER else (user or None)
    pairs = _keys(cli).list_values(scope=parsed, user=owner, prefix=prefix, decrypt=decrypt)
    records = [_record(pair) for pair in pairs]
    if as_json:
        echo_json(records)
        return
    echo_table(
        ["name", "value", "secret", "scope", "user", "expire_timestamp"],
        [
            [
                r["name"],
                r["value"],
                r["secret"],
                r["scope"],
                r.get("user"),
                r.get("expire_timestamp"),
            ]
            for r in records
        ],
    )


@key.command("delete")
@click.argument("name")
@scope_option
@user_option
@pass_cli
def delete_key(cli: CliContext, name: str, scope: str, user: str | None) -> None:
    """Delete one key."""
    parsed, owner = _scope_user(cli, scope, user)
    _keys(cli).delete_value(name, scope=parsed, user=owner)
    click.echo(f'Resource with id "{name}" has been successfully deleted.')


@key.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-c", "--convert", is_flag=True, help="Store non-string values as JSON text.")
@click.option(
    "--st2-key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="StackStorm's datastore key file, to import values StackStorm encrypted.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def load_keys(
    cli: CliContext, file: Path, convert: bool, st2_key_file: Path | None, as_json: bool
) -> None:
    """Load keys from a JSON or YAML file in `st2 key load` / `st2 key list -j` format.

    All or nothing. Values StackStorm encrypted (secret and encrypted true) are decrypted
    with --st2-key-file and re-encrypted with this instance's key; they are never written in
    clear text.
    """
    import yaml

    from packhorse.crypto.stackstorm import parse_st2_key_file
    from packhorse.errors import ConfigurationError

    try:
        items = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"{file}: cannot read: {error}") from error
    if items is None:
        items = []
    if not isinstance(items, list):
        items = [items]
    st2_key = None
    if st2_key_file is not None:
        st2_key = parse_st2_key_file(st2_key_file.read_text(encoding="utf-8"), str(st2_key_file))
    report = _service(cli).load(items, source=str(file), convert=convert, st2_key=st2_key)
    if as_json:
        echo_json({"loaded": report.loaded, "secrets": report.secrets})
    else:
        click.echo(f"Loaded {report.loaded} keys ({report.secrets} secret, stored encrypted).")


@key.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File.")
@click.option("--prefix", help="Only keys whose name starts with this.")
@click.option(
    "--decrypt",
    is_flag=True,
    help="Write secret values in clear text (otherwise they stay encrypted).",
)
@pass_cli
def export_keys(cli: CliContext, output: Path | None, prefix: str | None, decrypt: bool) -> None:
    """Export every key (all scopes) as JSON that `packhorse key load` and `st2 key load` read.

    Secrets stay encrypted with this instance's key unless --decrypt is given.
    """
    import os

    documents = _service(cli).export(prefix=prefix, decrypt=decrypt)
    text = json.dumps(documents, indent=2, sort_keys=True) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    click.echo(f"Exported {len(documents)} keys to {output}.", err=True)


@key.command("rotate")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def rotate_keys(cli: CliContext, as_json: bool) -> None:
    """Re-encrypt every secret under a new datastore key, then retire the old key.

    Safe to interrupt: every value stays readable, and running it again finishes the job.
    """
    report = _service(cli).rotate()
    if as_json:
        echo_json(
            {
                "key_id": report.new_key_id,
                "reencrypted": report.reencrypted,
                "resumed": report.resumed,
            }
        )
        return
    resumed = " (resumed an interrupted rotation)" if report.resumed else ""
    click.echo(
        f"Rotated to key {report.new_key_id}{resumed}: {report.reencrypted} secrets re-encrypted."
    )
