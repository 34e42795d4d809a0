"""``packhorse cutover`` and ``packhorse rollback``: move a site from one instance to another
behind the front, and back (the steps: ``migrate/cutover.py``).

Each instance is a folder on this machine (its intake and work are changed in its database,
which every one of its ``packhorse up`` processes follows; its address is its ``[server]
listen``) or the URL of its API (signed in as an admin). A cutover writes a record next to the
front's state file, ``FILE.cutover.json``, which ``rollback`` reads to know what to undo.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import click

from packhorse.cli.instance_arg import InstanceArg, LocalInstance, open_instance
from packhorse.cli.main import CliContext
from packhorse.cli.output import echo_json
from packhorse.migrate import cutover as steps
from packhorse.model.intake import IntakeState, IntakeStatus, IntakeView, Moved, Parcel

if TYPE_CHECKING:
    from packhorse.client.handover import RemoteHandover

pass_cli = click.make_pass_decorator(CliContext)

RECORD_FORMAT = 1


def record_file(state_file: Path) -> Path:
    return state_file.with_name(state_file.name + ".cutover.json")


# -- the two ports, for a folder or a URL ---------------------------------------------------


def _base_url(listen: str, *, tls: bool) -> str:
    from packhorse.engine.runtime import public_api_url

    return public_api_url(listen, tls=tls).removesuffix("/v1")


class HandoverPort(Protocol):
    """An instance's intake and handover: :class:`~packhorse.engine.intake.HandoverService`
    on its database, or :class:`~packhorse.client.handover.RemoteHandover` over its API."""

    def view(self) -> IntakeView: ...
    def set_intake(
        self, status: IntakeStatus, *, successor: str | None, reason: str | None
    ) -> IntakeState: ...
    def outgoing(self) -> Parcel: ...
    def receive(self, parcel: Parcel) -> Moved: ...
    def release(self) -> int: ...
    def hand_over(
        self, instance_ids: list[str], execution_ids: list[str], *, successor: str
    ) -> Moved: ...


@dataclass
class HealthGate:
    """What a new instance must pass before the front flips to it."""

    action: str | None = None
    parameters: dict[str, Any] | None = None
    timeout: float = 60.0


class Side:
    """One instance as the cutover steps see it (:class:`steps.Instance`)."""

    def __init__(self, instance: InstanceArg, *, gate: HealthGate, ca_file: str = "") -> None:
        self._instance = instance
        self._gate = gate
        self._ca_file = ca_file
        self._remote: RemoteHandover | None = None
        self._port: HandoverPort
        if isinstance(instance, LocalInstance):
            from packhorse import bootstrap

            settings = instance.settings
            self.url = _base_url(settings.listen, tls=bool(settings.tls_cert))
            self._port = bootstrap.handover_service(settings)
        else:
            from packhorse.client.handover import RemoteHandover

            self.url = instance.api.url.rstrip("/")
            self._port = self._remote = RemoteHandover(instance.api)
        self.name = instance.name

    def ready(self) -> str | None:
        from packhorse.front.control import target_problem

        return target_problem(self.url, self._ca_file)

    def health(self) -> str | None:
        if self._gate.action is not None:
            return self._run_gate_action(self._gate.action, self._gate.parameters or {})
        try:
            if self._remote is not None:
                self._remote.api.get("/api/v1/actions", limit=1)
            else:
                from packhorse import bootstrap

                assert isinstance(self._instance, LocalInstance)
                bootstrap.registry_reader(self._instance.settings).list_packs()
        except Exception as error:  # noqa: BLE001 - any failure fails the gate, saying why
            return f"the registry does not answer: {error}"
        return None

    def _run_gate_action(self, ref: str, parameters: dict[str, Any]) -> str | None:
        from packhorse.errors import PackhorseError
        from packhorse.model.execution import Status

        deadline = time.monotonic() + self._gate.timeout
        try:
            if self._remote is not None:
                from packhorse.client.remote import RemoteExecutions

                executions = RemoteExecutions(self._remote.api)
                execution = executions.request(ref, parameters, user=None)
                get = executions.get
            else:
                from packhorse.engine.runtime import build_runtime

                assert isinstance(self._instance, LocalInstance)
                runtime = build_runtime(self._instance.settings, slots=1, warm_python=False)
                execution = runtime.executions.request(ref, parameters, user="packhorse-cutover")
                get = runtime.executions.get
            # The instance's own workers run it: this proves them, not this process.
            while not execution.completed:
                if time.monotonic() > deadline:
                    return (
                        f"health action {ref} (execution {execution.id}) did not finish"
                        f" within {self._gate.timeout:g} s: {execution.status.value}"
                    )
                time.sleep(0.1)
                execution = get(execution.id)
        except PackhorseError as error:
            return f"health action {ref} could not run: {error.message}"
        if execution.status is not Status.SUCCEEDED:
            return f"health action {ref} (execution {execution.id}) {execution.status.value}"
        return None

    def intake(self) -> IntakeView:
        return self._port.view()

    def set_intake(
        self, status: IntakeStatus, *, successor: str | None, reason: str | None
    ) -> IntakeState:
        return self._port.set_intake(status, successor=successor, reason=reason)

    def outgoing(self) -> Parcel:
        return self._port.outgoing()

    def receive(self, parcel: Parcel) -> Moved:
        return self._port.receive(parcel)

    def release(self) -> int:
        return self._port.release()

    def hand_over(
        self, instance_ids: list[str], execution_ids: list[str], *, successor: str
    ) -> Moved:
        return self._port.hand_over(instance_ids, execution_ids, successor=successor)


class FrontPort:
    """The front (its state file and admin socket) or the site's hook (:class:`steps.Front`)."""

    def __init__(
        self,
        state_file: Path,
        *,
        hook: str | None,
        by: str,
        ca_file: str,
        public_url: str | None = None,
    ) -> None:
        self.state_file = state_file
        self._hook = hook
        self._by = by
        self._ca_file = ca_file
        self._public_url = public_url.rstrip("/") if public_url else None

    def reaches(self, instance: steps.Instance) -> str | None:
        """The front's state names ``instance``; with ``--front-url``, a request through the
        front is answered by the same instance (``/ready`` names it) as ``instance`` is."""
        from packhorse.errors import PackhorseError
        from packhorse.front.control import current_state, serving_instance

        state, _ = current_state(self.state_file)
        if state.active != instance.url:
            return f"the front sends requests to {state.active or 'no instance'}"
        if self._public_url is None:
            return None
        try:
            behind = serving_instance(self._public_url, self._ca_file)
            expected = serving_instance(instance.url, self._ca_file)
        except PackhorseError as error:
            return error.message
        if behind != expected:
            return f"{self._public_url} is answered by instance {behind}, not {expected}"
        return None

    def flip(self, to: str) -> float | None:
        from packhorse.front.control import flip_front

        outcome = flip_front(
            self.state_file, to, by=self._by, hook=self._hook, ca_file=self._ca_file
        )
        return outcome.flip_ms

    def rollback(self) -> float | None:
        from packhorse.front.control import rollback_front

        outcome = rollback_front(
            self.state_file, by=self._by, hook=self._hook, ca_file=self._ca_file
        )
        return outcome.flip_ms


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


def _write_record(state_file: Path, document: dict[str, Any]) -> None:
    from packhorse.front.state import save_json

    save_json(record_file(state_file), document)


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
    report = steps.cutover(
        old, new, front, timeout=timeout, clocks=_clocks(), progress=_progress(as_json)
    )
    if report.flipped:
        _write_record(
            state_file,
            {
                "format": RECORD_FORMAT,
                "state": "rolled-back" if report.rolled_back else "cut-over",
                "from": old.name,
                "to": new.name,
                "from_url": old.url,
                "to_url": new.url,
                "front_state": str(state_file),
                "hook": hook_command,
                "at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                "by": _who(),
            },
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
        _write_record(state_file, {**record, "state": "rolled-back"})
    _finish(report, as_json)
