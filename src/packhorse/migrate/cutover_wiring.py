"""The cutover's two ports wired to real instances: :class:`Side` (an instance folder of
this machine, through its database, or an API URL) and :class:`FrontPort` (the front's state
file and admin socket, or the site's hook). Used by ``packhorse cutover``/``rollback`` and by
the ``cutover`` step of ``upgrade run``."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from packhorse.migrate import cutover as steps
from packhorse.migrate.instances import InstanceArg, LocalInstance
from packhorse.model.intake import IntakeState, IntakeStatus, IntakeView, Moved, Parcel

if TYPE_CHECKING:
    from packhorse.client.handover import RemoteHandover


RECORD_FORMAT = 1


def record_file(state_file: Path) -> Path:
    """The cutover record kept beside the front's state file."""
    return state_file.with_name(state_file.name + ".cutover.json")


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
    def recipient_key(self) -> str | None: ...
    def outgoing(self, *, recipient: str | None = None) -> Parcel: ...
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
            from packhorse import intake_wiring

            settings = instance.settings
            self.url = _base_url(settings.listen, tls=bool(settings.tls_cert))
            self._port = intake_wiring.handover_service(settings)
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

    def recipient_key(self) -> str | None:
        return self._port.recipient_key()

    def outgoing(self, *, recipient: str | None = None) -> Parcel:
        return self._port.outgoing(recipient=recipient)

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
        self.hook = hook
        self.by = by
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

        outcome = flip_front(self.state_file, to, by=self.by, hook=self.hook, ca_file=self._ca_file)
        return outcome.flip_ms

    def rollback(self) -> float | None:
        from packhorse.front.control import rollback_front

        outcome = rollback_front(self.state_file, by=self.by, hook=self.hook, ca_file=self._ca_file)
        return outcome.flip_ms


def write_record(state_file: Path, document: dict[str, Any]) -> None:
    """Write the cutover record (``FILE.cutover.json``) that ``rollback`` reads."""
    from packhorse.front.state import save_json

    save_json(record_file(state_file), document)


def cut_over(
    old: Side,
    new: Side,
    front: FrontPort,
    *,
    timeout: float,
    clocks: steps.Clocks,
    progress: Callable[[steps.Step], None],
) -> steps.Report:
    """Run the cutover steps and, once the front flipped, write the record beside its state
    file (what ``packhorse rollback`` undoes)."""
    report = steps.cutover(old, new, front, timeout=timeout, clocks=clocks, progress=progress)
    if report.flipped:
        write_record(
            front.state_file,
            {
                "format": RECORD_FORMAT,
                "state": "rolled-back" if report.rolled_back else "cut-over",
                "from": old.name,
                "to": new.name,
                "from_url": old.url,
                "to_url": new.url,
                "front_state": str(front.state_file),
                "hook": front.hook,
                "at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                "by": front.by,
            },
        )
    return report
