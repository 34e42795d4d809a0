"""``packhorse bundle export --from URL`` and ``bundle import FILE --to URL``: the same
bundles, through a remote instance's API (``/api/v1/packhorse/bundle/...``, admin only).

Secrets never travel under a passphrase here: an export from a URL seals them for the
importing instance's recipient key (``--recipient``) or leaves them out (``--no-secrets``),
and an import to a URL takes a bundle sealed for that instance's key (or without secrets).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from packhorse.cli.instance_arg import RemoteInstance, open_instance
from packhorse.cli.main import CliContext
from packhorse.cli.output import echo_json

if TYPE_CHECKING:
    from packhorse.client.http import ApiClient

RECIPIENT_HELP = (
    "use --recipient KEY: what 'packhorse bundle recipient-key' prints on the instance that "
    "imports it (or its GET /api/v1/packhorse/recipient-key), or --no-secrets"
)


def _api(cli: CliContext, url: str, option: str) -> ApiClient:
    instance = open_instance(cli, url, option=option)
    assert isinstance(instance, RemoteInstance)  # the caller checked it is a URL
    return instance.api


def export_from(
    cli: CliContext,
    url: str,
    output: Path,
    recipient: bytes | None,
    no_secrets: bool,
    with_executions: bool,
    events_days: int,
    as_json: bool,
) -> None:
    """Export the instance at ``url`` into ``output``."""
    from packhorse.client import bundles
    from packhorse.crypto.transport import format_recipient

    api = _api(cli, url, "--from")
    size = bundles.export_bundle(
        api,
        output,
        recipient=None if recipient is None else format_recipient(recipient),
        no_secrets=no_secrets,
        with_executions=with_executions,
        events_days=events_days,
    )
    secrets = "left out" if no_secrets else "sealed for the recipient key"
    if as_json:
        echo_json({"path": str(output), "size": size, "from": api.url, "secrets": secrets})
    else:
        click.echo(f"Exported {api.url} to {output} ({size} bytes; secrets {secrets}).")


def refuse_passphrase(option: str) -> None:
    raise click.UsageError(
        f"a passphrase never travels over the API ({option} is a URL): {RECIPIENT_HELP}"
    )


def import_to(
    cli: CliContext,
    url: str,
    file: Path,
    dry_run: bool,
    prune: bool,
    replace_users: bool,
    as_json: bool,
) -> None:
    """Import ``file`` into the instance at ``url``; print the plan as a local import does."""
    from packhorse.cli.bundle import print_plan
    from packhorse.client import bundles

    api = _api(cli, url, "--to")
    report = bundles.import_bundle(
        api, file, dry_run=dry_run, prune=prune, replace_users=replace_users
    )
    for warning in report.get("warnings") or ():
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        echo_json(report)
        return
    plan: dict[str, Any] = report["plan"]
    print_plan(plan)
    if report["applied"]:
        checksum = report["bundle"]["content_checksum"]
        click.echo(f"Imported {file} into {api.url} (content checksum {checksum}).")
    elif not plan["writes"]:
        click.echo(f"Nothing to do: {api.url} already holds everything in the bundle.")
    else:
        click.echo("Dry run: nothing changed.")
