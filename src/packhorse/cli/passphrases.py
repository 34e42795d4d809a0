"""Where the commands that seal files (bundles, archives) get a passphrase from."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from packhorse.cli.main import CliContext


def obtain_passphrase(
    cli: CliContext, passphrase_file: Path | None, *, confirm: bool, env: str, what: str
) -> str | None:
    """From ``passphrase_file``, else ``$env``, else a hidden prompt on a terminal (asked
    twice when ``confirm``: a new one, also checked for length); None when there is no way
    to get one. ``what`` ("bundle", "archive") names the file in the prompt and errors."""
    from packhorse.crypto.transport import MIN_PASSPHRASE_LENGTH
    from packhorse.errors import ConfigurationError

    if passphrase_file is not None:
        try:
            text = passphrase_file.read_text(encoding="utf-8").removesuffix("\n")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigurationError(f"{passphrase_file}: cannot read: {error}") from error
    elif cli.environ.get(env):
        text = cli.environ[env]
    elif sys.stdin.isatty():
        text = click.prompt(
            f"{what.capitalize()} passphrase", hide_input=True, confirmation_prompt=confirm
        )
    else:
        return None
    if confirm and len(text) < MIN_PASSPHRASE_LENGTH:
        raise ConfigurationError(
            f"the {what} passphrase is shorter than {MIN_PASSPHRASE_LENGTH} characters",
            hint=f"anyone holding the {what} can try passphrases offline: use a long one",
        )
    return text
