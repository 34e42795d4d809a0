"""``packhorse cutover`` and ``packhorse rollback``: move a site from one instance to another
behind the front, and back (the steps: ``migrate/cutover.py``).

Each instance is a folder on this machine (its intake and work are changed in its database,
which every one of its ``packhorse up`` processes follows; its address is its ``[server]
listen``) or the URL of its API (signed in as an admin). A cutover writes a record next to the
front's state file, ``FILE.cutover.json``, which ``rollback`` reads to know what to undo.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from packhorse.cli.instance_arg import open_instance
from packhorse.cli.main import CliContext
from packhorse.cli.output import echo_json
from packhorse.migrate import cutover as steps
from packhorse.migrate.cutover_wiring import (
    RECORD_FORMAT,
    FrontPort,
    HealthGate,
    Side,
    cut_over,
    record_file,
    write_record,
)

if TYPE_CHECKING:
    pass

pass_cli = click.make_pass_decorator(CliContext)

# -- the commands -----------------------------------------------------------------------------


_FRONT_STATE = click.option(
    "--front-state",
    "state_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The front's state file (packhorse front --state); the cutover record is kept "
    "beside it, in FILE.cutover.json.",
)
_HOOK = click.option(
    "--hook",
    "hook_command",
    metavar="CMD",
    help="Flip with the site's command (DNS, load balancer) instead of the front: "
    "'CMD {address}' (see packhorse front flip --hook).",
)
_TIMEOUT = click.option(
    "--timeout",
    default=60.0,
    show_default=True,
    help="Seconds to wait for the processes to apply a drain, and for what runs to finish.",
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print a JSON report.")
_TARGET_CA = click.option(
    "--target-ca",
    metavar="FILE",
    envvar="PACKHORSE_FRONT_TARGET_CA",
    default="",
    help="CA certificate(s) that https instances are verified against.",
)


def _who() -> str:
    from packhorse.cli.front import _who as who

    return who()


def _progress(as_json: bool) -> Any:
    def show(step: steps.Step) -> None:
        click.echo(f"{step.name:<9} {step.seconds:7.3f} s  {step.detail}", err=as_json)

    return show


def _clocks() -> steps.Clocks:
    return steps.Clocks(time.monotonic, time.sleep)


def _finish(report: steps.Report, as_json: bool) -> None:
    if as_json:
        echo_json(report.fields())
    elif report.ok:
        click.echo(_summary(report))
    if not report.ok:
        if as_json:
            raise click.exceptions.Exit(1)
        raise click.ClickException(report.reason or f"{report.action} failed")


def _summary(report: steps.Report) -> str:
    lines = [
        f"{report.action} done: {report.source} -> {report.target}",
        f"handed over: {report.handed_over.instances} trigger instances,"
        f" {report.handed_over.executions} queued executions",
    ]
    if report.drain_to_flip_seconds is not None:
        lines.append(f"drain to flip: {report.drain_to_flip_seconds:.3f} s")
    if report.flip_ms is not None:
        lines.append(f"flip: {report.flip_ms:.1f} ms")
    if report.still_running or report.parked:
        lines.append(
            f"still on {report.source}: {len(report.still_running)} running,"
            f" {len(report.parked)} paused or pending (keep it up until they end)"
        )
    return "\n".join(lines)


def _read_record(state_file: Path) -> dict[str, Any]:
    path = record_file(state_file)
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise click.ClickException(
            f"no cutover recorded beside {state_file} ({path} is missing): nothing to roll back"
        ) from None
    if not isinstance(document, dict) or document.get("format") != RECORD_FORMAT:
        raise click.ClickException(f"{path} is not a cutover record this Packhorse reads")
    return document


@click.command()
@click.option("--from", "source", required=True, metavar="OLD", help="The instance to leave.")
@click.option("--to", "target", required=True, metavar="NEW", help="The instance to move to.")
@_FRONT_STATE
@_HOOK
@_TIMEOUT
@click.option(
    "--health-action",
    metavar="REF",
    help="An action or workflow that must succeed on NEW before the flip (default: NEW "
    "answers /ready and its registry answers).",
)
@click.option(
    "--health-params", metavar="JSON", default="{}", help="Parameters of --health-action."
)
@click.option(
    "--handover-only",
    is_flag=True,
    help="Only hand OLD's held and queued work (webhooks that reached it after the cutover) "
    "over to NEW again.",
)
@click.option(
    "--front-url",
    metavar="URL",
    help="The front's public address: after the flip, a request through it must reach NEW.",
)
@_TARGET_CA
@_JSON
@pass_cli
def cutover(
    cli: CliContext,
    source: str,
    target: str,
    state_file: Path,
    hook_command: str | None,
    timeout: float,
    health_action: str | None,
    health_params: str,
    handover_only: bool,
    front_url: str | None,
    target_ca: str,
    as_json: bool,
) -> None:
    """Move the site from OLD to NEW (each an instance folder or an API URL).

    \b
    1. check: NEW is ready and passes its health gate (else nothing changes, exit 1);
    2. drain: OLD's sensors and timers stop, webhooks reaching it are kept (held), queued
       executions wait; every process of OLD acknowledges it;
    3. finish: what runs on OLD ends, up to --timeout (the rest finishes there);
    4. flip: the front (or --hook) sends requests to NEW;
    5. handover: OLD's held webhooks and queued executions go to NEW, each exactly once;
    6. verify: NEW is ready and the front names it (--front-url: a request through the
       front reaches it); if not, everything is rolled back.

    OLD stays up, closed: 'packhorse rollback --front-state FILE' goes back to it.
    """
    try:
        parameters = json.loads(health_params)
    except ValueError as error:
        raise click.BadParameter(f"not JSON: {error}", param_hint="--health-params") from None
    if not isinstance(parameters, dict):
        raise click.BadParameter("a JSON object is expected", param_hint="--health-params")
    gate = HealthGate(health_action, parameters, timeout)
    old = Side(open_instance(cli, source, option="--from"), gate=gate, ca_file=target_ca)
    new = Side(open_instance(cli, target, option="--to"), gate=gate, ca_file=target_ca)
    if handover_only:
        _handover_only(old, new, as_json)
        return
    front = FrontPort(
        state_file, hook=hook_command, by=_who(), ca_file=target_ca, public_url=front_url
    )
    report = cut_over(
        old, new, front, timeout=timeout, clocks=_clocks(), progress=_progress(as_json)
    )
    _finish(report, as_json)


def _handover_only(sender: Side, receiver: Side, as_json: bool) -> None:
    started = time.monotonic()
    moved = steps.hand_over(sender, receiver)
    seconds = time.monotonic() - started
    if as_json:
        echo_json({"handed_over": moved.fields(), "seconds": round(seconds, 3)})
        return
    click.echo(
        f"handed over from {sender.name} to {receiver.name}: {moved.instances} trigger"
        f" instances, {moved.executions} queued executions ({seconds:.3f} s)"
    )


@click.command()
@_FRONT_STATE
@_TIMEOUT
@click.option(
    "--handover-only",
    is_flag=True,
    help="Only hand what reached the new instance after the rollback back to the old one.",
)
@_TARGET_CA
@_JSON
@pass_cli
def rollback(
    cli: CliContext,
    state_file: Path,
    timeout: float,
    handover_only: bool,
    target_ca: str,
    as_json: bool,
) -> None:
    """Undo the last 'packhorse cutover' recorded beside the front's state file.

    \b
    1. reopen the old instance (its sensors, timers and queued executions start again);
    2. flip the front back to it (a flip of the running front takes milliseconds);
    3. drain the new instance, let what runs there finish (up to --timeout);
    4. hand its held webhooks and queued executions to the old one, each exactly once.
    """
    record = _read_record(state_file)
    gate = HealthGate(timeout=timeout)
    previous = Side(
        open_instance(cli, str(record["from"]), option="--from"), gate=gate, ca_file=target_ca
    )
    current = Side(
        open_instance(cli, str(record["to"]), option="--to"), gate=gate, ca_file=target_ca
    )
    if handover_only:
        _handover_only(current, previous, as_json)
        return
    if record.get("state") == "rolled-back":
        raise click.ClickException(
            f"the cutover to {record['to']} was rolled back already"
            " (--handover-only hands over what reached it since)"
        )
    from packhorse.front.control import current_state

    front_state, _ = current_state(state_file)
    if record.get("hook") is None and front_state.previous != previous.url:
        raise click.ClickException(
            f"the front's previous instance is {front_state.previous or 'none'}, not"
            f" {previous.url}: it was flipped since the cutover; flip it yourself"
            " (packhorse front flip)"
        )
    hook = record.get("hook")
    front = FrontPort(state_file, hook=str(hook) if hook else None, by=_who(), ca_file=target_ca)
    report = steps.rollback(
        previous, current, front, timeout=timeout, clocks=_clocks(), progress=_progress(as_json)
    )
    if report.flipped:
        write_record(state_file, {**record, "state": "rolled-back"})
    _finish(report, as_json)
