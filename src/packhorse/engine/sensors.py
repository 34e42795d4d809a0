"""The sensor container: every enabled sensor in a process of its own, supervised.

Each sensor class runs in its own process on its pack's interpreter (see
:mod:`packhorse.engine.sensor_process` and the pack-side ``_packhorse_pack.sensor``). The
container

* passes each the pack's resolved config, its ``poll_interval`` and the triggers of its own
  trigger types that enabled rules use (one per distinct parameters);
* turns its dispatches into trigger instances through :meth:`EventService.emit` (source
  ``sensor:<ref>``), dropping an invalid payload or an unknown trigger with a warning, as
  StackStorm does;
* watches the registry (its digests, every ``watch_interval``): when rules change it sends
  ``add_trigger`` / ``update_trigger`` / ``remove_trigger`` to the running sensors; a sensor
  whose definition, pack or pack config changed is restarted, a disabled or removed one
  stopped;
* restarts a sensor that fails (a start error or a non-zero exit) after a delay that doubles
  with each failure in a row, and leaves it ``failed`` after ``max_failures`` of them until the
  next :meth:`SensorContainer.reload`;
* stores each sensor's state, pid, restarts and last error (``packhorse sensor list``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from packhorse.engine.clock import iso_now
from packhorse.engine.events import EventService, InvalidPayload, TriggerIndex
from packhorse.engine.observer import NO_OBSERVER, Observer
from packhorse.engine.sensor_plan import (
    TRANSITIONS,
    SensorSettings,
    SensorSpec,
    SensorState,
    TriggerDocument,
    after_exit,
    plan_sensors,
    trigger_changes,
)
from packhorse.engine.sensor_process import (
    Dispatch,
    Failed,
    Log,
    ProcessExit,
    Ready,
    SensorMessage,
    SensorProcess,
    StartFailed,
    tail,
)
from packhorse.errors import NotFound, PackhorseError
from packhorse.model.content import Kind, RegistryState
from packhorse.model.events import SensorStatus, Trigger
from packhorse.runners.base import RunRequest
from packhorse.runners.datastore_channel import DatastoreChannel, NoDatastore
from packhorse.runners.environment import pack_environment, pack_interpreter
from packhorse.storage.events import SqlEventStore
from packhorse.storage.ports import RegistryReader

__all__ = ["SensorContainer", "SensorSettings", "SensorState", "list_statuses"]

LOG = logging.getLogger("packhorse.sensors")
SPAWN_TRIGGER = "core.st2.sensor.process_spawn"
EXIT_TRIGGER = "core.st2.sensor.process_exit"
CONTAINER_SOURCE = "sensor-container"
_LIVE = frozenset({SensorState.STARTING, SensorState.RUNNING, SensorState.BACKOFF})


def list_statuses(store: SqlEventStore) -> list[SensorStatus]:
    """What the container last stored about each sensor, by ref (any process may ask)."""
    return store.sensor_statuses()


class SensorContainer:
    """Runs the enabled sensors of ``registry`` until the ``stop`` given to :meth:`run` is set.

    ``config_for(pack)`` resolves a pack's config (``bootstrap.config_resolver``);
    ``datastore`` answers the sensors' datastore calls, made as ``system_user``;
    ``venv_for(pack)`` gives a pack's virtualenv ("" runs Packhorse's own interpreter);
    ``only`` limits the container to these sensor refs (None: every enabled sensor);
    ``clock`` (monotonic seconds) times restarts, ``now`` stamps statuses;
    ``hold(refs)`` (blocking; None: all of them) says which of the sensors to run this process
    holds, when several processes share a database (see ``storage/singletons.py``): asked at
    every ``watch_interval``, so a sensor whose holder died is taken over within seconds.
    """

    def __init__(
        self,
        events: EventService,
        registry: RegistryReader,
        store: SqlEventStore,
        *,
        config_for: Callable[[str], Mapping[str, Any]],
        datastore: DatastoreChannel | None = None,
        venv_for: Callable[[str], str] = lambda pack: "",
        home: Path | None = None,
        system_user: str = "stanley",
        settings: SensorSettings | None = None,
        only: Collection[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], str] = iso_now,
        observer: Observer = NO_OBSERVER,
        hold: Callable[[Collection[str]], Collection[str]] | None = None,
    ) -> None:
        self._events = events
        self.observer = observer
        self._registry = registry
        self._store = store
        self._config_for = config_for
        self._datastore: DatastoreChannel = datastore if datastore is not None else NoDatastore()
        self._venv_for = venv_for
        self._home = home or Path.cwd()
        self._system_user = system_user
        self.settings = settings or SensorSettings()
        self._only = None if only is None else frozenset(only)
        self._clock = clock
        self._now = now
        self._supervisors: dict[str, _Supervisor] = {}
        self._state: RegistryState | None = None
        self._rule_versions: tuple[tuple[str, str, bool], ...] = ()
        self._index: TriggerIndex | None = None
        self._wakeup = asyncio.Event()
        self._reload = True
        self._hold = hold
        self._planned: dict[str, SensorSpec] = {}
        self.intake_open: Callable[[], bool] = lambda: True
        """False while a cutover drains the instance: every sensor is stopped."""
        self._paused = False

    # -- public surface -----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Run the sensors until ``stop`` is set, then stop them all (each gets
        ``stop_grace`` seconds for its ``cleanup()``)."""
        relay = asyncio.create_task(self._relay(stop))
        try:
            while not stop.is_set():
                reload, self._reload = self._reload, False
                try:
                    await self._reconcile(retry_failed=reload)
                except PackhorseError:
                    LOG.exception("reading the registry failed; will retry")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self.settings.watch_interval)
                self._wakeup.clear()
        finally:
            relay.cancel()
            supervisors, self._supervisors = list(self._supervisors.values()), {}
            await asyncio.gather(*(s.stop() for s in supervisors), return_exceptions=True)

    def reload(self) -> None:
        """Read the registry again now and restart sensors left ``failed`` (call it from the
        event loop's thread)."""
        self._reload = True
        self._wakeup.set()

    def wake(self) -> None:
        """Look at the intake and the registry now (from the event loop's thread)."""
        self._wakeup.set()

    def statuses(self) -> list[SensorStatus]:
        return list_statuses(self._store)

    # -- reconciling with the registry --------------------------------------------------------

    async def _relay(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wakeup.set()

    async def _reconcile(self, *, retry_failed: bool) -> None:
        state = self._registry.state()
        # Digests do not change when a rule is only enabled or disabled: compare those too.
        rule_versions = self._store.rule_versions()
        changed = state != self._state or rule_versions != self._rule_versions or retry_failed
        paused = not self.intake_open()
        changed, self._paused = changed or paused != self._paused, paused
        if not changed and self._hold is None:
            return
        if changed:
            first, self._state, self._rule_versions = self._state is None, state, rule_versions
            self._index = self._events.index()
            self._planned = plan_sensors(
                self._registry.list_resources(Kind.SENSOR),
                self._registry.list_resources(Kind.RULE),
                {pack.ref: pack for pack in self._registry.list_packs()},
                state,
                home=self._home,
                only=self._only,
            )
            if first:  # all planned ones: those another process holds are not leftovers
                self._settle_leftovers(self._planned)
        wanted = {} if paused else self._planned
        if self._hold is not None and wanted:
            held = await asyncio.to_thread(self._hold, sorted(wanted))
            wanted = {ref: spec for ref, spec in wanted.items() if ref in held}
            if not changed and wanted.keys() == self._supervisors.keys():
                return
        leaving: list[_Supervisor] = []
        for ref, supervisor in list(self._supervisors.items()):
            spec = wanted.get(ref)
            if (
                spec is None
                or spec.identity != supervisor.spec.identity
                or (retry_failed and supervisor.state is SensorState.FAILED)
            ):
                leaving.append(self._supervisors.pop(ref))
            else:
                supervisor.set_triggers(spec.triggers)
        if leaving:
            await asyncio.gather(*(s.stop() for s in leaving))
        for ref, spec in wanted.items():
            if ref not in self._supervisors:
                self._supervisors[ref] = _Supervisor(self, spec)

    def _settle_leftovers(self, wanted: Mapping[str, SensorSpec]) -> None:
        """Statuses a previous container left live (it was killed) for sensors this one will
        not run: ``stopped``, so that ``sensor list`` does not show a dead process running."""
        try:
            statuses = self._store.sensor_statuses()
        except PackhorseError:
            LOG.exception("could not read the sensor statuses")
            return
        for status in statuses:
            in_scope = self._only is None or status.ref in self._only
            if in_scope and status.ref not in wanted and status.state in _LIVE:
                self.record(
                    replace(
                        status, state=SensorState.STOPPED.value, pid=None, updated_at=self._now()
                    )
                )

    # -- what supervisors call back -----------------------------------------------------------

    def dispatch(self, spec: SensorSpec, message: Dispatch) -> None:
        """Store a sensor's dispatch as a trigger instance, or drop it with a warning."""
        trigger = trigger_ref_of(message.trigger)
        if trigger is None:
            LOG.warning(
                "[%s] dispatched with an unusable trigger %r: dropped", spec.ref, message.trigger
            )
            return
        payload = message.payload
        if payload is not None and not isinstance(payload, Mapping):
            LOG.warning(
                "[%s] dispatched %s with a payload that is not an object (%s): dropped",
                spec.ref,
                trigger,
                type(payload).__name__,
            )
            return
        source = f"sensor:{spec.ref}"
        try:
            self._events.emit(
                trigger, payload, source=source, trace_tag=message.trace_tag, index=self._index
            )
        except InvalidPayload as error:
            if self.settings.validate_payload:
                LOG.warning("[%s] dropped a dispatch of %s: %s", spec.ref, trigger, error.message)
                return
            LOG.warning("[%s] dispatching anyway: %s", spec.ref, error.message)
            self._emit_quietly(trigger, payload, source, message.trace_tag, validate=False)
        except NotFound:
            LOG.warning(
                "[%s] dropped a dispatch of %s: no such trigger type or trigger (is the pack "
                "registered, and does an enabled rule use these parameters?)",
                spec.ref,
                trigger,
            )
        except PackhorseError:
            LOG.exception("[%s] could not store a dispatch of %s", spec.ref, trigger)

    def announce(self, trigger: str, payload: Mapping[str, Any]) -> None:
        """Emit one of the container's own triggers (process spawn and exit), when a rule
        listens to it (StackStorm stores every one; nobody could match them)."""
        if trigger not in self._events.index().listened:
            return
        self._emit_quietly(trigger, payload, CONTAINER_SOURCE, None, validate=True)

    def _emit_quietly(
        self,
        trigger: str,
        payload: Mapping[str, Any] | None,
        source: str,
        trace_tag: str | None,
        *,
        validate: bool,
    ) -> None:
        try:
            self._events.emit(
                trigger,
                payload,
                source=source,
                trace_tag=trace_tag,
                validate=validate,
                index=self._index,
            )
        except NotFound:
            LOG.debug("trigger %s is not registered; not emitted", trigger)
        except PackhorseError:
            LOG.exception("could not store an instance of %s", trigger)

    def record(self, status: SensorStatus) -> None:
        try:
            self._store.put_sensor_status(status)
        except PackhorseError:
            LOG.exception("[%s] could not store its status", status.ref)

    def now(self) -> str:
        return self._now()

    def elapsed(self) -> float:
        return self._clock()

    async def spawn(
        self,
        spec: SensorSpec,
        triggers: Mapping[str, TriggerDocument],
        on_message: Callable[[SensorMessage], None],
    ) -> SensorProcess:
        """Start ``spec``'s process, which adds ``triggers`` after ``setup()``; raises on what
        prevents it (no virtualenv, a config that does not resolve, no interpreter)."""
        venv = self._venv_for(spec.pack)
        if venv and not os.path.isdir(venv):
            raise StartFailed(
                f'Virtual environment ({venv}) for pack "{spec.pack}" does not exist. '
                "Install the pack again to rebuild it."
            )
        if not spec.entry_point:
            raise StartFailed(f'Sensor "{spec.ref}" has no entry_point')
        config = dict(self._config_for(spec.pack))
        user_info = {
            "username": self._system_user,
            "authentication": {"method": "authentication token", "location": "header"},
            "rbac": {"enabled": False, "is_admin": False, "roles": []},
        }
        request = {
            "pack": spec.pack,
            "pack_path": spec.pack_path,
            "ref": spec.ref,
            "class_name": spec.class_name,
            "entry_point": spec.entry_point,
            "poll_interval": spec.poll_interval,
            "config": config,
            "triggers": [dict(trigger) for trigger in triggers.values()],
            "log_level": self.settings.log_level,
            "common_libs": self.settings.common_libs,
            "user_info": user_info,
        }
        caller = RunRequest(
            execution_id="",
            action_ref=spec.ref,
            pack=spec.pack,
            runner_type="sensor",
            pack_path=spec.pack_path,
            entry_point=spec.entry_point,
            runner_parameters={},
            action_parameters={},
            parameter_schema={},
            context={"user": self._system_user},
            venv_path=venv,
            system_user=self._system_user,
        )
        return await SensorProcess.start(
            spec.ref,
            pack_interpreter(venv),
            request,
            env=pack_environment(venv),
            datastore=self._datastore,
            caller=caller,
            on_message=on_message,
        )


def trigger_ref_of(trigger: Any) -> str | None:
    """The ref a sensor dispatched to: a ref string, or a trigger dict (its ``ref``; else
    its ``type`` bound to its ``parameters``; else ``<pack>.<name>``), as StackStorm
    resolves them."""
    if isinstance(trigger, str):
        return trigger or None
    if not isinstance(trigger, Mapping):
        return None
    if isinstance(trigger.get("ref"), str) and trigger["ref"]:
        return str(trigger["ref"])
    if isinstance(trigger.get("type"), str) and trigger["type"]:
        parameters = trigger.get("parameters")
        return Trigger(
            trigger["type"], dict(parameters) if isinstance(parameters, Mapping) else {}
        ).ref
    pack, name = trigger.get("pack"), trigger.get("name")
    if isinstance(pack, str) and isinstance(name, str) and pack and name:
        return f"{pack}.{name}"
    return None


class _Supervisor:
    """Keeps one sensor running: starts it, restarts it after failures, stops it."""

    def __init__(self, container: SensorContainer, spec: SensorSpec) -> None:
        self._container = container
        self.spec = spec
        self.state: SensorState | None = None
        self._triggers: Mapping[str, TriggerDocument] = spec.triggers
        self._known: Mapping[str, TriggerDocument] = {}
        """What the running process has been told."""
        self._process: SensorProcess | None = None
        self._pid: int | None = None
        self._started_at: str | None = None
        self._restarts = 0
        self._failures = 0
        self._last_error: str | None = None
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._loop(), name=f"sensor {spec.ref}")

    def set_triggers(self, triggers: Mapping[str, TriggerDocument]) -> None:
        """The triggers rules use now; a running sensor is told what changed."""
        self._triggers = triggers
        process = self._process
        if process is None or not process.alive:
            return
        for change in trigger_changes(self._known, triggers):
            LOG.info("[%s] %s %s", self.spec.ref, change.op.value, change.trigger["ref"])
            process.send(change)
        self._known = triggers

    async def stop(self) -> None:
        """Stop the sensor (its ``cleanup()`` runs) and the supervision."""
        self._stopping.set()
        await asyncio.gather(self._task, return_exceptions=True)
        if self.state is not SensorState.STOPPED:
            self._set(SensorState.STOPPED)

    async def _loop(self) -> None:
        try:
            while not self._stopping.is_set():
                failed, ran_for = await self._run_once()
                if self._stopping.is_set():
                    break
                step = after_exit(
                    self._container.settings,
                    failed=failed,
                    failures=self._failures,
                    ran_for=ran_for,
                )
                self._failures = step.failures
                self._set(step.state)
                if step.state is not SensorState.BACKOFF:
                    if step.state is SensorState.FAILED:
                        LOG.error(
                            "[%s] failed %d times in a row: not restarted until a reload",
                            self.spec.ref,
                            step.failures,
                        )
                    return
                LOG.warning("[%s] restarting in %.3gs", self.spec.ref, step.delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), step.delay)
                if not self._stopping.is_set():
                    self._restarts += 1
                    self._container.observer.sensor_restarted(self.spec.ref)
        finally:
            if self.state in (SensorState.STARTING, SensorState.RUNNING, SensorState.BACKOFF):
                self._set(SensorState.STOPPED)

    async def _run_once(self) -> tuple[bool, float]:
        """Start the process and wait for its end (or stop it); ``(failed, ran_for)``."""
        container = self._container
        started = container.elapsed()
        self._started_at = container.now()
        self._set(SensorState.STARTING)
        triggers = self._triggers
        try:
            process = await container.spawn(self.spec, triggers, self._received)
        except Exception as error:  # noqa: BLE001 - whatever prevents a start is a failure to report
            reason = error.message if isinstance(error, PackhorseError) else str(error)
            self._fail(f"cannot start: {reason}")
            return True, 0.0
        self._process, self._pid, self._known = process, process.pid, triggers
        self._set(SensorState.STARTING)
        self.set_triggers(self._triggers)  # rules changed while it was starting
        container.announce(SPAWN_TRIGGER, self._payload(pid=process.pid, cmd=process.command))
        waiter = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait({process.exited, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            if not process.exited.done():
                await process.stop(container.settings.stop_grace)
        ended = process.exited.result()
        self._process, self._pid = None, None
        if self._stopping.is_set():
            return False, 0.0
        container.announce(EXIT_TRIGGER, self._payload(exit_code=ended.code))
        return self._ended(ended), container.elapsed() - started

    def _ended(self, ended: ProcessExit) -> bool:
        if ended.code == 0:
            LOG.info("[%s] run() returned: the sensor stopped", self.spec.ref)
            return False
        self._fail(ended.describe())
        return True

    def _fail(self, reason: str) -> None:
        self._last_error = tail(reason)
        LOG.error("[%s] failed: %s", self.spec.ref, reason)

    def _received(self, message: SensorMessage) -> None:
        ref = self.spec.ref
        match message:
            case Dispatch():
                self._container.dispatch(self.spec, message)
            case Log(level=level, logger=logger, message=text):
                LOG.log(level, "[%s] %s", ref, text, extra={"sensor": ref, "sensor_logger": logger})
            case Ready():
                self._set(SensorState.RUNNING)
            case Failed():
                pass  # kept by the process for its exit

    def _set(self, state: SensorState) -> None:
        previous = self.state
        if previous is not None and state is not previous and state not in TRANSITIONS[previous]:
            raise AssertionError(f"sensor {self.spec.ref}: {previous} -> {state}")
        self.state = state
        live = state in (SensorState.STARTING, SensorState.RUNNING)
        self._container.record(
            SensorStatus(
                ref=self.spec.ref,
                state=state.value,
                pid=self._pid if live else None,
                restarts=self._restarts,
                last_error=self._last_error,
                started_at=self._started_at,
                updated_at=self._container.now(),
            )
        )

    def _payload(self, **values: Any) -> dict[str, Any]:
        # StackStorm's payload (``id`` is the class name) plus the ref.
        return {
            "id": self.spec.class_name,
            "ref": self.spec.ref,
            "timestamp": int(time.time()),
            **values,
        }
