"""The command hook: for a site that switches with DNS or a load balancer, the flip runs a
command of its own (``[front] hook`` in packhorse.toml, or ``--hook-command``) with the new
address in place of ``{address}``.

The command is split like a shell would (``shlex``) but run without one, the address
substituted into each word, so an address cannot inject anything.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass

from packhorse.errors import ConfigurationError

HOOK_TIMEOUT = 300.0


@dataclass(frozen=True, slots=True)
class HookResult:
    """What the hook did."""

    argv: tuple[str, ...]
    """The command as run."""
    exit_status: int
    """Its exit status (non-zero: the flip failed)."""
    output: str
    """Standard output and standard error, interleaved as the command wrote them."""


def hook_argv(command: str, address: str) -> tuple[str, ...]:
    """The hook's words with ``{address}`` replaced; :class:`ConfigurationError` when the
    command is empty, does not parse, or does not mention ``{address}``."""
    try:
        words = shlex.split(command)
    except ValueError as error:
        raise ConfigurationError(f"the front hook {command!r} does not parse: {error}") from None
    if not words:
        raise ConfigurationError("the front hook is empty")
    if not any("{address}" in word for word in words):
        raise ConfigurationError(
            f"the front hook {command!r} does not mention {{address}}",
            hint='write it as e.g. hook = "switch-lb --to {address}"',
        )
    return tuple(word.replace("{address}", address) for word in words)


def run_hook(command: str, address: str, timeout: float = HOOK_TIMEOUT) -> HookResult:
    """Run the hook for ``address`` and return what it did (never raises for its failure)."""
    argv = hook_argv(command, address)
    try:
        done = subprocess.run(  # the site's own command, no shell
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        return HookResult(argv, 127, f"{argv[0]}: command not found")
    except subprocess.TimeoutExpired as expired:
        output = expired.output if isinstance(expired.output, str) else ""
        return HookResult(argv, 124, output + f"\n(timed out after {timeout:g} s)")
    return HookResult(argv, done.returncode, done.stdout)
