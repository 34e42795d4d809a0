"""What the sensor container should run, as data: which sensors, with which triggers, what to
tell a running sensor when rules change, and what to do when a sensor process ends.

Nothing here starts a process or reads the clock; :mod:`packhorse.engine.sensors` does.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from packhorse.engine.events import rule_trigger
from packhorse.model.content import Kind, RegisteredPack, RegistryState, Resource, digest_of
from packhorse.model.events import Trigger

TriggerDocument = Mapping[str, Any]
"""A trigger as a sensor's ``add_trigger`` gets it: ``id, uid, ref, name, pack, type,
parameters`` (StackStorm's ``TriggerAPI`` as a dict)."""


class SensorState(StrEnum):
    """What ``packhorse sensor list`` shows for a sensor."""

    STARTING = "starting"
    """Its process is starting: loading the class, ``setup()``, the first triggers."""
    RUNNING = "running"
    """``run()`` is running."""
    BACKOFF = "backoff"
    """It failed and waits to be restarted."""
    FAILED = "failed"
    """It failed too many times in a row; not restarted until the next reload."""
    STOPPED = "stopped"
    """Stopped by the container, disabled, removed, or its ``run()`` returned."""


TRANSITIONS: Mapping[SensorState, frozenset[SensorState]] = {
    SensorState.STARTING: frozenset(
        {SensorState.RUNNING, SensorState.BACKOFF, SensorState.FAILED, SensorState.STOPPED}
    ),
    SensorState.RUNNING: frozenset({SensorState.BACKOFF, SensorState.FAILED, SensorState.STOPPED}),
    SensorState.BACKOFF: frozenset({SensorState.STARTING, SensorState.STOPPED}),
    SensorState.FAILED: frozenset({SensorState.STARTING, SensorState.STOPPED}),
    SensorState.STOPPED: frozenset({SensorState.STARTING}),
}
"""Allowed moves. ``failed`` leaves only through a reload (or the sensor's removal);
``stopped`` only when the sensor is started again (a reload, its pack re-registered)."""


@dataclass(frozen=True, slots=True)
class SensorSettings:
    """How the container supervises sensors. Times are in seconds."""

    restart_delay: float = 1.0
    """Delay before the first restart; it doubles with each failure in a row..."""
    max_restart_delay: float = 60.0
    """...up to this."""
    max_failures: int = 10
    """Failures in a row after which the sensor is left ``failed`` (until a reload)."""
    stable_after: float = 60.0
    """A process that ran this long before failing starts a new count of failures."""
    stop_grace: float = 5.0
    """Time ``cleanup()`` gets after a stop before the process group is killed
    (StackStorm's ``PROCESS_EXIT_TIMEOUT``)."""
    watch_interval: float = 1.0
    """How often the registry is checked for changed sensors and rules."""
    validate_payload: bool = True
    """StackStorm's ``[system] validate_trigger_payload``: an invalid payload is dropped with
    a warning; when False it is dispatched anyway (still with the warning)."""
    log_level: str = "INFO"
    """Records below this level are not sent by sensor processes."""
    common_libs: bool = False
    """Put the pack's ``lib/`` first on the path (StackStorm's ``[packs] enable_common_libs``)."""


@dataclass(frozen=True, slots=True)
class SensorSpec:
    """One enabled sensor, as the container runs it."""

    ref: str
    pack: str
    class_name: str
    pack_path: str
    """Absolute folder of the pack."""
    entry_point: str
    """Absolute path of the sensor's Python file."""
    poll_interval: float | None
    trigger_types: tuple[str, ...]
    triggers: Mapping[str, TriggerDocument] = field(default_factory=dict, compare=False)
    """By ref: the triggers of its types that enabled rules use."""
    identity: str = ""
    """Digest of what a running process was started from (the sensor, its pack and the
    pack's config): when it changes, the process is restarted."""


def plan_sensors(
    sensors: Iterable[Resource],
    rules: Iterable[Resource],
    packs: Mapping[str, RegisteredPack],
    state: RegistryState,
    *,
    home: Path,
    only: Collection[str] | None = None,
) -> dict[str, SensorSpec]:
    """The sensors to run, by ref: enabled ones of registered packs (and in ``only``)."""
    rules = list(rules)
    planned: dict[str, SensorSpec] = {}
    for sensor in sensors:
        pack = packs.get(sensor.pack)
        if not sensor.enabled or pack is None or (only is not None and sensor.ref not in only):
            continue
        pack_path = Path(pack.path) if Path(pack.path).is_absolute() else home / pack.path
        folder = posixpath.dirname(sensor.metadata_file) or "sensors"
        entry_point = str(sensor.body.get("entry_point") or "")
        poll_interval = sensor.body.get("poll_interval")
        types = tuple(str(ref) for ref in sensor.body.get("trigger_types") or ())
        config = [
            state.resources.get((kind, sensor.pack)) for kind in (Kind.CONFIG_SCHEMA, Kind.CONFIG)
        ]
        planned[sensor.ref] = SensorSpec(
            ref=sensor.ref,
            pack=sensor.pack,
            class_name=str(sensor.body.get("class_name") or sensor.name),
            pack_path=str(pack_path),
            entry_point=str(pack_path / folder / entry_point) if entry_point else "",
            poll_interval=float(poll_interval) if poll_interval else None,
            trigger_types=types,
            triggers=sensor_triggers(types, rules),
            identity=digest_of([sensor.digest, pack.digest, config]),
        )
    return planned


def sensor_triggers(
    trigger_types: Collection[str], rules: Iterable[Resource]
) -> dict[str, TriggerDocument]:
    """The triggers of ``trigger_types`` that enabled rules use, by ref: one per type and
    distinct parameters."""
    found: dict[str, TriggerDocument] = {}
    for rule in rules:
        if not rule.enabled:
            continue
        trigger = rule_trigger(rule)
        if trigger.type in trigger_types and trigger.ref not in found:
            found[trigger.ref] = trigger_document(trigger)
    return dict(sorted(found.items()))


def trigger_document(trigger: Trigger) -> dict[str, Any]:
    """StackStorm's trigger dict. A parameterless trigger is named after its type; a
    parameterised one ``<uuid>`` (its ref is ``<pack>.<uuid>``). ``uid`` is StackStorm's
    ``trigger:<pack>:<name>:<md5 of the parameters>``; ``id`` is stable across restarts."""
    ref = trigger.ref
    pack, _, name = ref.partition(".")
    parameters = dict(trigger.parameters)
    hashed = hashlib.md5(  # StackStorm's uid format, not a security measure
        json.dumps(parameters, sort_keys=True).encode(), usedforsecurity=False
    ).hexdigest()
    return {
        "id": hashlib.sha256(ref.encode()).hexdigest()[:24],
        "uid": f"trigger:{pack}:{name}:{hashed}",
        "ref": ref,
        "name": name,
        "pack": pack,
        "type": trigger.type,
        "parameters": parameters,
    }


class TriggerOp(StrEnum):
    """The sensor callback a trigger change calls (also the control message's ``op``)."""

    ADD = "add_trigger"
    UPDATE = "update_trigger"
    REMOVE = "remove_trigger"


@dataclass(frozen=True, slots=True)
class TriggerChange:
    op: TriggerOp
    trigger: TriggerDocument


def trigger_changes(
    before: Mapping[str, TriggerDocument], after: Mapping[str, TriggerDocument]
) -> list[TriggerChange]:
    """What to tell a sensor that knows ``before`` so that it knows ``after``: removals
    first, then additions and updates, each in ref order."""
    changes = [
        TriggerChange(TriggerOp.REMOVE, before[ref]) for ref in sorted(before) if ref not in after
    ]
    for ref in sorted(after):
        if ref not in before:
            changes.append(TriggerChange(TriggerOp.ADD, after[ref]))
        elif before[ref] != after[ref]:
            changes.append(TriggerChange(TriggerOp.UPDATE, after[ref]))
    return changes


@dataclass(frozen=True, slots=True)
class AfterExit:
    """What to do once a sensor process has ended on its own."""

    state: SensorState
    """``backoff`` (restart after ``delay``), ``failed`` or ``stopped``."""
    failures: int
    """Failures in a row, this one included."""
    delay: float = 0.0


def after_exit(
    settings: SensorSettings, *, failed: bool, failures: int, ran_for: float
) -> AfterExit:
    """A process that ``failed`` (a start error or a non-zero exit) is restarted after
    ``restart_delay * 2**(n-1)`` seconds (capped) for its n-th failure in a row, and left
    ``failed`` at ``max_failures``; one that ran ``stable_after`` seconds starts a new count.
    One that exited 0 (its ``run()`` returned) is ``stopped``, as StackStorm does not
    respawn it either."""
    if not failed:
        return AfterExit(SensorState.STOPPED, 0)
    count = 1 if ran_for >= settings.stable_after else failures + 1
    if count >= settings.max_failures:
        return AfterExit(SensorState.FAILED, count)
    delay = min(settings.restart_delay * 2 ** (count - 1), settings.max_restart_delay)
    return AfterExit(SensorState.BACKOFF, count, delay)
