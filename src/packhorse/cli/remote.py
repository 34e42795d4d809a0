"""``packhorse login`` / ``logout``, and how commands reach a remote Packhorse (``--url``).

Credentials, first found wins: ``--api-key`` / ``$PACKHORSE_API_KEY``, ``$PACKHORSE_TOKEN``,
then the token ``packhorse login`` stored for that URL (refused here, before any request,
once it has expired). Without any, requests go unsigned: enough for a server whose
``[auth]`` is off; otherwise the server's 401 comes back with the hint to sign in.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import TYPE_CHECKING

import click

from packhorse.cli.main import CliContext

if TYPE_CHECKING:
    from packhorse.client.credentials import CredentialStore
    from packhorse.client.http import ApiClient

pass_cli = click.make_pass_decorator(CliContext)

#: What to do instead of a command that works on the instance folder only.
_INSTEAD = {
    "init": "run 'packhorse init' on the machine that is to hold the instance",
    "up": "run 'packhorse up' on the server; --url then reaches it from anywhere",
    "user": "run 'packhorse user ...' on the server; here, sign in with 'packhorse login --url'",
    "pack register": "put the pack in the server's packs/ folder and run "
    "'packhorse pack register' there",
    "pack validate": "run 'packhorse pack validate DIR' without --url: it checks folders on "
    "this machine",
    "workflow": "run it without --url: it reads workflow files on this machine",
}


def refuse_remote(cli: CliContext) -> None:
    """Raise the error for a local-only command run with ``--url``."""
    from packhorse.errors import ConfigurationError

    context = click.get_current_context(silent=True)
    words = context.command_path.split()[1:] if context is not None else []
    if context is not None and context.invoked_subcommand:
        words.append(context.invoked_subcommand)
    command = " ".join(words) or "this command"
    hint = next(
        (text for name, text in _INSTEAD.items() if " ".join(words).startswith(name)),
        "run it on the server, without --url (or with --home FOLDER)",
    )
    raise ConfigurationError(
        f"'packhorse {command}' works on a local instance folder, not over the API "
        f"(--url {cli.url})",
        hint=hint,
    )


def _store(cli: CliContext) -> CredentialStore:
    from packhorse.client.credentials import CredentialStore, credentials_path

    return CredentialStore(credentials_path(cli.environ))


def connect(cli: CliContext) -> ApiClient:
    """The API client for ``cli.url`` with the credentials that apply (see the module)."""
    assert cli.url
    return connect_to(cli, cli.url)


def connect_to(cli: CliContext, target: str) -> ApiClient:
    """The API client for the server at ``target`` with the credentials that apply to it:
    ``--api-key``, ``$PACKHORSE_TOKEN``, then the token ``packhorse login`` kept for it."""
    from packhorse.client.http import ApiClient, Credentials, normalise_url
    from packhorse.errors import Unauthenticated

    url = normalise_url(target)
    stored = _store(cli).get(url)
    token = cli.environ.get("PACKHORSE_TOKEN") or None
    if cli.api_key:
        credentials = Credentials(api_key=cli.api_key, source="the API key")
    elif token:
        credentials = Credentials(token=token, source="$PACKHORSE_TOKEN")
    elif stored is not None:
        if stored.expired(dt.datetime.now(dt.UTC)):
            raise Unauthenticated(
                f"the token for {url} (user {stored.user}) expired at {stored.expiry}",
                hint=f"run 'packhorse login --url {url}'",
            )
        credentials = Credentials(token=stored.token, source=f"the login of {stored.user}")
    else:
        credentials = Credentials()
    ca_file = cli.ca_file or (stored.ca_file if stored is not None else None)
    return ApiClient(url, credentials=credentials, ca_file=ca_file)


@click.command()
@click.option("--url", "url_option", metavar="URL", help="The server (default: the global --url).")
@click.option("--user", metavar="NAME", help="Who signs in (default: $PACKHORSE_USER, or asked).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--ttl", type=click.IntRange(min=1), help="Seconds the token lives (server default).")
@click.option(
    "--ca-file",
    type=click.Path(dir_okay=False, exists=True),
    help="CA certificate(s) of an https server; kept for later commands.",
)
@pass_cli
def login(
    cli: CliContext,
    url_option: str | None,
    user: str | None,
    password_stdin: bool,
    ttl: int | None,
    ca_file: str | None,
) -> None:
    """Sign in to a remote Packhorse and keep the token for later '--url URL' commands.

    The token goes to ~/.config/packhorse/credentials.json (or $XDG_CONFIG_HOME), readable
    by you only, under the server's URL. The password is not stored.
    """
    from packhorse.client.credentials import StoredToken
    from packhorse.client.http import ApiClient, normalise_url
    from packhorse.errors import RemoteError, Unauthenticated

    target = url_option or cli.url
    if not target:
        raise click.UsageError("name the server: packhorse login --url https://HOST:PORT")
    url = normalise_url(target)
    name = user or cli.environ.get("PACKHORSE_USER") or click.prompt("User")
    if password_stdin:
        password = sys.stdin.readline().removesuffix("\n")
    else:
        password = click.prompt(f"Password for {name} at {url}", hide_input=True)
    ca = ca_file or cli.ca_file
    api = ApiClient(url, ca_file=ca)
    try:
        answer = api.request(
            "POST", "/auth/v1/tokens", json={"ttl": ttl} if ttl else {}, auth=(name, password)
        )
    except Unauthenticated:
        raise Unauthenticated(
            f"{url} refused the user name or password of {name!r}",
            hint="check them; users are added on the server with 'packhorse user add'",
        ) from None
    finally:
        api.close()
    if not isinstance(answer, dict) or not isinstance(answer.get("token"), str):
        raise RemoteError(f"{url} answered the sign-in without a token", status=None, url=url)
    stored = StoredToken(
        user=str(answer.get("user") or name),
        token=answer["token"],
        expiry=str(answer.get("expiry") or ""),
        ca_file=ca,
    )
    _store(cli).put(url, stored)
    click.echo(f"Logged in to {url} as {stored.user}; the token expires at {stored.expiry}.")


@click.command()
@click.option("--url", "url_option", metavar="URL", help="The server (default: the global --url).")
@pass_cli
def logout(cli: CliContext, url_option: str | None) -> None:
    """Forget the token kept for a server (it stays valid there until it expires)."""
    from packhorse.client.http import normalise_url

    target = url_option or cli.url
    if not target:
        raise click.UsageError("name the server: packhorse logout --url https://HOST:PORT")
    url = normalise_url(target)
    forgotten = _store(cli).remove(url)
    if forgotten is None:
        click.echo(f"No token kept for {url}.")
    else:
        click.echo(f"Logged out of {url} (forgot the token of {forgotten.user}).")
