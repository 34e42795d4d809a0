"""``packhorse front``: the stable front (serve, flip, rollback, status)."""

from __future__ import annotations

import getpass
import socket
import time
from pathlib import Path
from typing import Any

import click

from packhorse.cli.main import CliContext
from packhorse.cli.output import echo_json

pass_cli = click.make_pass_decorator(CliContext)

_TARGET_CA = click.option(
    "--target-ca",
    metavar="FILE",
    envvar="PACKHORSE_FRONT_TARGET_CA",
    default="",
    help="CA certificate(s) that https instances are verified against (default: "
    "$PACKHORSE_FRONT_TARGET_CA, else the system's).",
)

_STATE = click.option(
    "--state",
    "state_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The front's state file (JSON: active and previous target); its admin socket is "
    "FILE.sock.",
)


@click.group(invoke_without_command=True)
@click.option("--listen", metavar="HOST:PORT", help="The public address to serve on.")
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The state file: read at start, written by every flip.",
)
@click.option("--tls-cert", metavar="FILE", help="Serve HTTPS with this PEM certificate (chain).")
@click.option("--tls-key", metavar="FILE", help="The PEM private key of --tls-cert.")
@_TARGET_CA
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="warning",
    show_default=True,
)
@click.pass_context
def front(
    ctx: click.Context,
    listen: str | None,
    state_file: Path | None,
    tls_cert: str | None,
    tls_key: str | None,
    target_ca: str,
    log_level: str,
) -> None:
    """The stable front: a reverse proxy that owns the public address (API and webhooks)
    and forwards every request to the active instance.

    \b
      packhorse front --listen 0.0.0.0:9101 --state front.json   serve
      packhorse front flip --state front.json --to URL            switch to another instance
      packhorse front rollback --state front.json                 switch back
      packhorse front status --state front.json                   targets and their health

    A flip is atomic: requests in flight finish where they started, new ones go to the new
    instance. Sites that switch with DNS or a load balancer use 'flip --hook' instead.
    """
    if ctx.invoked_subcommand is not None:
        return
    if not listen or not state_file:
        raise click.UsageError("give --listen HOST:PORT and --state FILE (or a subcommand)")
    from packhorse.front.serve import serve_front

    serve_front(
        listen=listen,
        state_file=state_file.resolve(),
        tls_cert=str(Path(tls_cert).resolve()) if tls_cert else "",
        tls_key=str(Path(tls_key).resolve()) if tls_key else "",
        target_ca=target_ca,
        log_level=log_level,
    )


def _who() -> str:
    try:
        return f"{getpass.getuser()}@{socket.gethostname()}"
    except (KeyError, OSError):
        return socket.gethostname()


def _hook_command(cli: CliContext, given: str | None) -> str:
    if given:
        return given
    try:
        table = cli.settings.extra.get("front", {})
    except Exception:  # noqa: BLE001 - no instance folder here: only the flag can name it
        table = {}
    command = table.get("hook", "") if isinstance(table, dict) else ""
    if not command:
        raise click.UsageError(
            "--hook needs a command: --hook-command 'CMD {address}' or [front] hook in "
            "packhorse.toml"
        )
    return str(command)


_FLIP_OPTIONS = [
    click.option("--force", is_flag=True, help="Flip even if the target's /ready says no."),
    click.option("--by", metavar="WHO", help="Who flips, for the record (default: user@host)."),
    click.option(
        "--hook",
        "use_hook",
        is_flag=True,
        help="Run the site's command hook instead of switching this front ([front] hook).",
    ),
    click.option(
        "--hook-command", metavar="CMD", help="The hook, with {address} (default: [front] hook)."
    ),
    click.option("--json", "as_json", is_flag=True, help="Print the result as JSON."),
    _TARGET_CA,
]


def _flip_options(command: Any) -> Any:
    for option in reversed(_FLIP_OPTIONS):
        command = option(command)
    return command


@front.command("flip")
@_STATE
@click.option("--to", "to", required=True, metavar="URL", help="Base URL of the new instance.")
@_flip_options
@pass_cli
def flip(
    cli: CliContext,
    state_file: Path,
    to: str,
    force: bool,
    by: str | None,
    use_hook: bool,
    hook_command: str | None,
    as_json: bool,
    target_ca: str,
) -> None:
    """Switch the active instance to URL, after checking its /ready (unless --force)."""
    _flip(cli, state_file, to, force, by, use_hook, hook_command, as_json, target_ca)


@front.command("rollback")
@_STATE
@_flip_options
@pass_cli
def rollback(
    cli: CliContext,
    state_file: Path,
    force: bool,
    by: str | None,
    use_hook: bool,
    hook_command: str | None,
    as_json: bool,
    target_ca: str,
) -> None:
    """Switch back to the previous instance."""
    _flip(cli, state_file, None, force, by, use_hook, hook_command, as_json, target_ca)


def _flip(
    cli: CliContext,
    state_file: Path,
    to: str | None,
    force: bool,
    by: str | None,
    use_hook: bool,
    hook_command: str | None,
    as_json: bool,
    target_ca: str = "",
) -> None:
    """Flip to ``to`` (None: roll back), saying what happened; exit status 1 if refused."""
    from packhorse.errors import FlipRefused
    from packhorse.front.control import flip_front, rollback_front

    hook = _hook_command(cli, hook_command) if use_hook else None
    started = time.perf_counter()
    try:
        if to is None:
            outcome = rollback_front(
                state_file, by=by or _who(), force=force, hook=hook, ca_file=target_ca
            )
        else:
            outcome = flip_front(
                state_file, to, by=by or _who(), force=force, hook=hook, ca_file=target_ca
            )
    except FlipRefused as refused:
        if refused.hook is not None:
            _echo_hook(refused.hook, as_json, flipped=False)
        raise click.ClickException(
            refused.message + (f" ({refused.hint})" if refused.hint else "")
        ) from None
    total_ms = round((time.perf_counter() - started) * 1000, 3)
    state = outcome.state
    if as_json:
        result: dict[str, Any] = state.to_dict() | {"total_ms": total_ms}
        if outcome.flip_ms is not None:
            result |= {"flip_ms": outcome.flip_ms, "ready_ms": outcome.ready_ms}
        if outcome.hook is not None:
            result |= _hook_dict(outcome.hook, flipped=True)
        echo_json(result)
        return
    if outcome.hook is not None:
        _echo_hook(outcome.hook, as_json, flipped=True)
        click.echo(f"Flipped by the hook: the active instance is {state.active}.")
    elif outcome.flip_ms is not None:
        click.echo(f"Flipped: new requests go to {state.active} (was {state.previous or 'none'}).")
        ready = f"readiness check {outcome.ready_ms:.1f} ms, " if outcome.ready_ms else ""
        click.echo(f"  {ready}flip {outcome.flip_ms:.1f} ms, command round trip {total_ms:.1f} ms")
    else:
        click.echo(
            f"No front is running with {state_file}: recorded {state.active} as the active "
            "instance;"
        )
        click.echo("the front forwards there when it starts.")


def _hook_dict(hook: Any, *, flipped: bool) -> dict[str, Any]:
    return {
        "flipped": flipped,
        "hook": list(hook.argv),
        "exit_status": hook.exit_status,
        "output": hook.output,
    }


def _echo_hook(hook: Any, as_json: bool, *, flipped: bool) -> None:
    if as_json:
        echo_json(_hook_dict(hook, flipped=flipped))
        return
    click.echo(f"hook: {' '.join(hook.argv)}")
    for line in hook.output.rstrip("\n").splitlines():
        click.echo(f"  | {line}")
    click.echo(f"hook exit status: {hook.exit_status}")


@front.command("status")
@_STATE
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_TARGET_CA
def status(state_file: Path, as_json: bool, target_ca: str) -> None:
    """The active and previous targets, their health, and whether the front is running."""
    from packhorse.front.control import current_state, target_problem

    state, running = current_state(state_file)
    targets = {"active": state.active, "previous": state.previous}
    health = {
        role: (target_problem(url, target_ca) or "ready") if url else ""
        for role, url in targets.items()
    }
    result = state.to_dict() | {"running": running, "health": health}
    if as_json:
        echo_json(result)
        return
    click.echo(f"front:    {'running' if running else 'not running'} ({state_file})")
    for role, url in targets.items():
        click.echo(f"{role + ':':<9} {url or '(none)'}" + (f"  [{health[role]}]" if url else ""))
    if state.flipped_at:
        click.echo(f"flipped:  {state.flipped_at} by {state.flipped_by} (via {state.via})")
