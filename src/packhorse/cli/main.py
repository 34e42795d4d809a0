"""Entry point of the ``packhorse`` command.

Subcommands live in their own modules and are imported only when invoked, so that
``packhorse --help`` and ``packhorse pack list`` start in well under 300 ms.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from packhorse import __version__

if TYPE_CHECKING:
    from packhorse.client.http import ApiClient
    from packhorse.settings import Settings


class LazyGroup(click.Group):
    """A group whose subcommands are ``module:attribute`` strings, imported on first use."""

    def __init__(
        self, *args: Any, lazy: dict[str, tuple[str, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        #: name -> (import path "module:attr", one-line help shown in the listing)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module_name, _, attribute = self.lazy[cmd_name][0].partition(":")
            command = getattr(importlib.import_module(module_name), attribute)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Listing help must not import every command module: use the short help given here.
        rows = [(name, self.lazy[name][1]) for name in sorted(self.lazy)]
        rows += [
            (name, command.get_short_help_str())
            for name, command in sorted(self.commands.items())
            if name not in self.lazy and not command.hidden
        ]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(sorted(rows))


@dataclass
class CliContext:
    """What every command receives: where the instance is (a folder, or a remote Packhorse
    under ``--url``), and how to print."""

    home: Path
    environ: dict[str, str] = field(default_factory=dict)
    _settings: Settings | None = None
    url: str | None = None
    """A remote Packhorse (``--url`` or ``$PACKHORSE_URL``): commands go over its API."""
    api_key: str | None = None
    ca_file: str | None = None
    _api: ApiClient | None = None

    def local_only(self) -> None:
        """Refuse, saying what to do instead, when the command runs under ``--url``."""
        if self.url:
            from packhorse.cli.remote import refuse_remote

            refuse_remote(self)

    def api(self) -> ApiClient:
        """The API client for ``--url``, signed in as ``packhorse login`` left it."""
        if self._api is None:
            from packhorse.cli.remote import connect

            self._api = connect(self)
        return self._api

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None

    @property
    def settings(self) -> Settings:
        self.local_only()
        if self._settings is None:
            from packhorse.settings import load_settings

            self._settings = load_settings(self.home)
        return self._settings


COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("packhorse.cli.instance:init", "Create a new instance folder and its database."),
    "up": ("packhorse.cli.instance:up", "Start Packhorse: API, engine and everything else."),
    "db": ("packhorse.cli.instance:db", "Database maintenance (migrations)."),
    "pack": (
        "packhorse.cli.packs:pack",
        "Install, validate, register, test and inspect packs.",
    ),
    "action": ("packhorse.cli.content:action", "List and show registered actions."),
    "alias": (
        "packhorse.cli.aliases:alias",
        "List action aliases; match a chat command to one, and run it.",
    ),
    "rule": (
        "packhorse.cli.rules:rule",
        "List, show, enable, disable and dry-run rules; explain what they did.",
    ),
    "rule-enforcement": (
        "packhorse.cli.events:rule_enforcement",
        "What rules did: the executions they requested, or why not.",
    ),
    "trigger-instance": (
        "packhorse.cli.events:trigger_instance",
        "List, show and re-emit trigger instances (what fired).",
    ),
    "trigger": ("packhorse.cli.content:trigger", "List and show trigger types."),
    "sensor": ("packhorse.cli.content:sensor", "List registered sensors."),
    "run": ("packhorse.cli.executions:run", "Run an action and print its result."),
    "execution": (
        "packhorse.cli.executions:execution",
        "List, show, tail, pause, resume, cancel and re-run executions.",
    ),
    "inquiry": (
        "packhorse.cli.inquiries:inquiry",
        "List, show and answer inquiries (core.ask) that workflows wait on.",
    ),
    "upgrade": (
        "packhorse.cli.upgrade:upgrade",
        "Check packs before an upgrade; --fix rewrites what can be rewritten.",
    ),
    "gc": ("packhorse.cli.gc:gc", "Delete old completed executions ([retention] settings)."),
    "key": ("packhorse.cli.keys:key", "Read and write the datastore (st2kv), secrets encrypted."),
    "user": ("packhorse.cli.users:user", "Add, list and remove API users and their roles."),
    "apikey": ("packhorse.cli.users:apikey", "Create, list and delete API keys."),
    "workflow": (
        "packhorse.cli.workflow:workflow",
        "Check Orquesta workflow definitions and rehearse them.",
    ),
    "bundle": (
        "packhorse.cli.bundle:bundle",
        "Export the instance into one bundle file (packs, configs, datastore...); import one.",
    ),
    "clone": (
        "packhorse.cli.clone:clone",
        "Copy an instance into a new folder (bundle export + init + import).",
    ),
    "archive": (
        "packhorse.cli.archive:archive",
        "Pack an instance folder into one encrypted file ('archive inspect FILE' reads it).",
    ),
    "restore": (
        "packhorse.cli.archive:restore",
        "Bring an archived instance back into a new folder, virtualenvs rebuilt.",
    ),
    "front": (
        "packhorse.cli.front:front",
        "The stable front: a proxy on the public address; flip it to another instance.",
    ),
    "import-st2": (
        "packhorse.cli.import_st2:import_st2",
        "Import a StackStorm install: packs (transformed), configs, datastore, rule states.",
    ),
    "cutover": (
        "packhorse.cli.cutover:cutover",
        "Move the site to a new instance: drain the old one, flip the front, hand over.",
    ),
    "rollback": (
        "packhorse.cli.cutover:rollback",
        "Undo the last cutover: reopen the old instance, flip back, hand over.",
    ),
    "login": ("packhorse.cli.remote:login", "Sign in to a remote Packhorse (--url), keep a token."),
    "logout": ("packhorse.cli.remote:logout", "Forget the token of a remote Packhorse."),
}

#: Commands that work on the instance folder only: refused under ``--url``.
LOCAL_ONLY = frozenset(
    {
        "init",
        "up",
        "db",
        "gc",
        "user",
        "workflow",
        "bundle",
        "clone",
        "import-st2",
        "archive",
        "restore",
    }
)


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    help="Instance folder. Default: $PACKHORSE_HOME, else ~/.packhorse.",
)
@click.option(
    "--url",
    metavar="URL",
    help="Work on a remote Packhorse over its API (default: $PACKHORSE_URL); "
    "sign in first with 'packhorse login --url URL'.",
)
@click.option(
    "--api-key",
    metavar="KEY",
    help="API key for --url (prefer $PACKHORSE_API_KEY: arguments show in 'ps').",
)
@click.option(
    "--ca-file",
    type=click.Path(dir_okay=False, exists=True),
    help="CA certificate(s) to trust for an https --url (default: $PACKHORSE_CA_FILE).",
)
@click.version_option(__version__, prog_name="packhorse")
@click.pass_context
def cli(
    ctx: click.Context,
    home: Path | None,
    url: str | None,
    api_key: str | None,
    ca_file: str | None,
) -> None:
    """Packhorse: event-driven automation that runs StackStorm packs unchanged.

    Sensors, webhooks and timers emit triggers; rules match them; actions and workflows
    run. Everything you build lives in portable packs.

    \b
    Start here:
      packhorse init                 create an instance folder (~/.packhorse)
      packhorse up                   run it (API on http://127.0.0.1:9101)
      packhorse pack validate DIR    check a pack before you register it
      packhorse login --url URL      sign in to a remote one; then packhorse --url URL ...
    """
    from packhorse.settings import resolve_home

    environ = dict(os.environ)
    if url and home:
        raise click.UsageError("give --home (a local instance) or --url (a remote one), not both")
    # An explicit --home wins over $PACKHORSE_URL.
    url = url or (None if home else environ.get("PACKHORSE_URL") or None)
    ctx.obj = CliContext(
        home=resolve_home(home, environ),
        environ=environ,
        url=url,
        api_key=api_key or environ.get("PACKHORSE_API_KEY") or None,
        ca_file=ca_file or environ.get("PACKHORSE_CA_FILE") or None,
    )
    ctx.call_on_close(ctx.obj.close)
    if url and ctx.invoked_subcommand in LOCAL_ONLY:
        ctx.obj.local_only()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: maps our errors to a message, a hint and exit code 2."""
    from packhorse.errors import PackhorseError

    try:
        # Outside standalone mode click returns the code of a click.exceptions.Exit instead
        # of raising it: without this, commands that exit 1 on errors would exit 0.
        code = cli.main(args=argv, prog_name="packhorse", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except PackhorseError as error:
        click.echo(f"error: {error.message}", err=True)
        if error.hint:
            click.echo(f"hint: {error.hint}", err=True)
        sys.exit(2)
