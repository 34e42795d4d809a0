"""The instances upgrade commands take (``--from``, ``--to``, ``--baseline``,
``--candidate``): a folder on this machine, or the URL of a Packhorse API.

A URL is signed in to like ``--url``: ``--api-key`` / ``$PACKHORSE_API_KEY``,
``$PACKHORSE_TOKEN``, else the token ``packhorse login --url URL`` kept for it. A folder must
be an instance folder (``packhorse init`` made it).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from packhorse.cli.main import CliContext
from packhorse.migrate.instances import InstanceArg, LocalInstance, RemoteInstance

if TYPE_CHECKING:
    from packhorse.settings import Settings


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def open_instance(cli: CliContext, text: str, *, option: str) -> InstanceArg:
    """The instance ``text`` names; ``option`` (e.g. ``--from``) names it in errors. A remote
    instance's client is closed with the command."""
    if is_url(text):
        from packhorse.cli.remote import connect_to

        api = connect_to(cli, text)
        context = click.get_current_context(silent=True)
        if context is not None:
            context.call_on_close(api.close)
        return RemoteInstance(api)
    from packhorse.settings import load_settings

    folder = Path(text).expanduser()
    if not folder.is_dir():
        raise click.BadParameter(
            f"{text} is neither an instance folder nor an http(s):// URL",
            param_hint=option,
        )
    return LocalInstance(load_settings(folder.resolve()))


def local_only(instance: InstanceArg, *, option: str, why: str) -> Settings:
    """The settings of a local instance; a remote one is refused, saying ``why``."""
    if isinstance(instance, RemoteInstance):
        raise click.BadParameter(
            f"{instance.name} is a URL, and {why}: give the instance folder", param_hint=option
        )
    return instance.settings


__all__ = [
    "InstanceArg",
    "LocalInstance",
    "RemoteInstance",
    "is_url",
    "local_only",
    "open_instance",
]
