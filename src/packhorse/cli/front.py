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
        log_level=log_level,
    )


def _who() -> str:
    try:
        return f"{getpass.getuser()}@{socket.gethostname()}"
    except (KeyError, OSError):
        return socket.gethostname()


def _admin_call(state_file: Path, method: str, path: str, body: Any = None) -> Any | None:
    """The running front's answer, or None when no front runs with this state file."""
    from packhorse.front.control import admin_call

    answered = admin_call(state_file, method, path, body)
    if answered is None:
        return None
    status, answer = answered
    if status != 200:
        raise click.ClickException(str(answer.get("faultstring", answer)))
    return answer


def _ready_problem(url: str) -> str | None:
    from packhorse.front.control import target_problem

    return target_problem(url)


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
) -> None:
    """Switch the active instance to URL, after checking its /ready (unless --force)."""
    _flip(cli, state_file, to, force, by, use_hook, hook_command, as_json)


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
) -> None:
    """Switch back to the previous instance."""
    from packhorse.front.state import load_state

    running = _admin_call(state_file, "GET", "/state")
    previous = running["previous"] if running else load_state(state_file).previous
    if not previous:
        raise click.ClickException("nothing to roll back to: the front has no previous target")
    _flip(cli, state_file, previous, force, by, use_hook, hook_command, as_json)


def _flip(
    cli: CliContext,
    state_file: Path,
    to: str,
    force: bool,
    by: str | None,
    use_hook: bool,
    hook_command: str | None,
    as_json: bool,
) -> None:
    from packhorse.front.admin import utc_now
    from packhorse.front.state import flipped, load_state, save_state, target_url

    to = target_url(to)
    by = by or _who()
    if use_hook:
        command = _hook_command(cli, hook_command)
        _flip_with_hook(state_file, to, command, force=force, by=by, as_json=as_json)
        return
    started = time.perf_counter()
    answer = _admin_call(state_file, "POST", "/flip", {"to": to, "force": force, "by": by})
    if answer is not None:
        total_ms = round((time.perf_counter() - started) * 1000, 3)
        if as_json:
            echo_json(answer | {"total_ms": total_ms})
            return
        click.echo(f"Flipped: new requests go to {answer['active']} (was {answer['previous']}).")
        click.echo(
            f"  readiness check {answer['ready_ms']:.1f} ms, flip {answer['flip_ms']:.1f} ms, "
            f"whole command round trip {total_ms:.1f} ms"
        )
        return
    # No front runs with this state file: record the flip; the front reads it at start.
    if not force:
        problem = _ready_problem(to)
        if problem is not None:
            raise click.ClickException(f"not flipped: {problem} (--force flips anyway)")
    state = flipped(load_state(state_file), to, by=by, at=utc_now(), via="file")
    save_state(state_file, state)
    if as_json:
        echo_json(state.to_dict())
        return
    click.echo(f"No front is running with {state_file}: recorded {to} as the active instance;")
    click.echo("the front forwards there when it starts.")


def _flip_with_hook(
    state_file: Path, to: str, command: str, *, force: bool, by: str, as_json: bool
) -> None:
    from packhorse.front.admin import utc_now
    from packhorse.front.hook import run_hook
    from packhorse.front.state import flipped, load_state, save_state

    if not force:
        problem = _ready_problem(to)
        if problem is not None:
            raise click.ClickException(f"not flipped: {problem} (--force flips anyway)")
    result = run_hook(command, to)
    state = load_state(state_file)
    if result.exit_status == 0:
        state = flipped(state, to, by=by, at=utc_now(), via="hook")
        save_state(state_file, state)
    if as_json:
        echo_json(
            {
                "flipped": result.exit_status == 0,
                "hook": list(result.argv),
                "exit_status": result.exit_status,
                "output": result.output,
            }
            | state.to_dict()
        )
    else:
        click.echo(f"hook: {' '.join(result.argv)}")
        for line in result.output.rstrip("\n").splitlines():
            click.echo(f"  | {line}")
        click.echo(f"hook exit status: {result.exit_status}")
    if result.exit_status != 0:
        raise click.ClickException(
            f"flip failed: the hook exited with status {result.exit_status}; state unchanged "
            f"(active: {state.active or 'none'})"
        )
    if not as_json:
        click.echo(f"Flipped by the hook: the active instance is {to}.")


@front.command("status")
@_STATE
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def status(state_file: Path, as_json: bool) -> None:
    """The active and previous targets, their health, and whether the front is running."""
    from packhorse.front.state import load_state

    running = _admin_call(state_file, "GET", "/state")
    state = load_state(state_file)
    targets = {"active": state.active, "previous": state.previous}
    health = {
        role: (_ready_problem(url) or "ready") if url else "" for role, url in targets.items()
    }
    result = state.to_dict() | {"running": running is not None, "health": health}
    if as_json:
        echo_json(result)
        return
    click.echo(f"front:    {'running' if running else 'not running'} ({state_file})")
    for role, url in targets.items():
        click.echo(f"{role + ':':<9} {url or '(none)'}" + (f"  [{health[role]}]" if url else ""))
    if state.flipped_at:
        click.echo(f"flipped:  {state.flipped_at} by {state.flipped_by} (via {state.via})")
