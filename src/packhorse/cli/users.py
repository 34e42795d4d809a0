"""``packhorse user ...`` and ``packhorse apikey ...``: who may use the API, on the local
instance. Passwords are read hidden (or from standard input) and API keys are printed once;
neither is ever stored in clear."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from packhorse.cli.main import CliContext
from packhorse.cli.output import echo_json, echo_record, echo_table

if TYPE_CHECKING:
    from packhorse.engine.auth import AuthService
    from packhorse.model.auth import ApiKeyRecord

pass_cli = click.make_pass_decorator(CliContext)
ROLES = (
    "viewer",
    "operator",
    "admin",
)  # as packhorse.api.security.ROLES, without importing FastAPI


def _auth(cli: CliContext) -> AuthService:
    from packhorse.bootstrap import auth_service

    return auth_service(cli.settings)


@click.group()
def user() -> None:
    """Add, list and remove users who may sign in to the API (st2 login).

    Roles: viewer (read only), operator (also run, cancel, respond), admin (everything).
    """


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_cli
def add_user(cli: CliContext, name: str, role: str, password_stdin: bool) -> None:
    """Add user NAME; the password is asked for (hidden) unless --password-stdin."""
    from packhorse.engine.clock import iso_now
    from packhorse.engine.passwords import hash_password

    if password_stdin:
        password = sys.stdin.readline().removesuffix("\n")
    else:
        password = click.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)
    if not password:
        raise click.UsageError("the password must not be empty")
    _auth(cli).users.add_user(name, hash_password(password), role, now=iso_now())
    click.echo(f"Added user {name} ({role}).")


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def list_users(cli: CliContext, as_json: bool) -> None:
    """List users and their roles."""
    users = _auth(cli).users.list_users()
    if as_json:
        echo_json([{"name": n, "role": r, "created_at": c} for n, r, c in users])
    else:
        echo_table(["NAME", "ROLE", "CREATED"], users)


@user.command("remove")
@click.argument("name")
@pass_cli
def remove_user(cli: CliContext, name: str) -> None:
    """Remove user NAME with its tokens and API keys."""
    from packhorse.errors import NotFound

    if not _auth(cli).users.remove_user(name):
        raise NotFound("user", name)
    click.echo(f"Removed user {name}, with its tokens and API keys.")


def _record(key: ApiKeyRecord) -> dict[str, Any]:
    return {
        "id": key.id,
        "user": key.user,
        "enabled": key.enabled,
        "created_at": key.created_at,
        "metadata": dict(key.metadata),
    }


@click.group()
def apikey() -> None:
    """Create, list and delete API keys (the St2-Api-Key header); a key acts as its user."""


@apikey.command("create")
@click.option(
    "--user",
    "owner",
    help="Who the key acts as (default: admin; with --url, the signed-in user).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (StackStorm's shape).")
@pass_cli
def create_key(cli: CliContext, owner: str | None, as_json: bool) -> None:
    """Create a key and print it, once: only its hash is kept."""
    from packhorse.cli import sources

    issued, key = sources.api_keys(cli).create(owner)
    record = {**_record(issued), "key": key}
    if as_json:
        echo_json(record)
    else:
        echo_record(record)
        click.echo("The key is shown only now; store it safely.", err=True)


@apikey.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def list_keys(cli: CliContext, as_json: bool) -> None:
    """List API keys (never the keys themselves); with --url, yours (an admin's: all)."""
    from packhorse.cli import sources

    keys = sources.api_keys(cli).list()
    if as_json:
        echo_json([_record(k) for k in keys])
    else:
        echo_table(
            ["ID", "USER", "ENABLED", "CREATED"],
            [(k.id, k.user, k.enabled, k.created_at) for k in keys],
        )


@apikey.command("delete")
@click.argument("key_id", metavar="ID")
@pass_cli
def delete_key(cli: CliContext, key_id: str) -> None:
    """Delete the API key with this ID."""
    from packhorse.cli import sources
    from packhorse.errors import NotFound

    if not sources.api_keys(cli).delete(key_id):
        raise NotFound("API key", key_id)
    click.echo(f"Deleted API key {key_id}.")
