"""The sensor container's decisions as data: which sensors run with which triggers, what a
running sensor is told when rules change, what follows a process's end, and how control
messages and dispatched triggers are read."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from packhorse.engine.sensor_plan import (
    TRANSITIONS,
    AfterExit,
    SensorSettings,
    SensorState,
    TriggerChange,
    TriggerOp,
    after_exit,
    plan_sensors,
    sensor_triggers,
    trigger_changes,
    trigger_document,
)
from packhorse.engine.sensor_process import (
    Dispatch,
    Failed,
    Log,
    ProcessExit,
    Ready,
    parse_message,
)
from packhorse.engine.sensors import trigger_ref_of
from packhorse.model.content import Kind, RegisteredPack, RegistryState, Resource
from packhorse.model.events import Trigger

HOME = Path("/srv/home")


def rule(name: str, trigger: dict[str, Any], *, enabled: bool = True) -> Resource:
    return Resource(
        kind=Kind.RULE,
        ref=f"p.{name}",
        pack="p",
        name=name,
        metadata_file=f"rules/{name}.yaml",
        body={"trigger": trigger},
        enabled=enabled,
    )


def sensor(name: str, *, enabled: bool = True, **body: Any) -> Resource:
    return Resource(
        kind=Kind.SENSOR,
        ref=f"p.{name}",
        pack="p",
        name=name,
        metadata_file=f"sensors/{name.lower()}.yaml",
        body={"class_name": name, "entry_point": f"{name.lower()}.py", **body},
        enabled=enabled,
    )


def pack(path: str = "packs/p", digest: str = "d1") -> RegisteredPack:
    return RegisteredPack("p", "1.0.0", path, digest, {}, (), "2026-01-01T00:00:00Z")


STATE = RegistryState({"p": "d1"}, {})


def test_enabled_rules_give_one_trigger_per_type_and_distinct_parameters() -> None:
    rules = [
        rule("a", {"type": "p.watch", "parameters": {"path": "/x"}}),
        rule("b", {"type": "p.watch", "parameters": {"path": "/x"}}),  # same trigger
        rule("c", {"type": "p.watch", "parameters": {"path": "/y"}}),
        rule("d", {"type": "p.watch", "parameters": {"path": "/z"}}, enabled=False),
        rule("e", {"type": "p.plain"}),
        rule("f", {"type": "p.other", "parameters": {"path": "/x"}}),  # not this sensor's type
    ]
    found = sensor_triggers(("p.watch", "p.plain"), rules)
    expected = [
        Trigger("p.watch", {"path": "/x"}),
        Trigger("p.watch", {"path": "/y"}),
        Trigger("p.plain"),
    ]
    assert found == {t.ref: trigger_document(t) for t in sorted(expected, key=lambda t: t.ref)}
    assert list(found) == sorted(found)


def test_trigger_documents_have_stackstorms_shape() -> None:
    plain = trigger_document(Trigger("p.plain"))
    assert {k: v for k, v in plain.items() if k != "id"} == {
        "uid": "trigger:p:plain:" + hashlib.md5(b"{}", usedforsecurity=False).hexdigest(),
        "ref": "p.plain",
        "name": "plain",
        "pack": "p",
        "type": "p.plain",
        "parameters": {},
    }
    bound = Trigger("p.watch", {"path": "/x"})
    document = trigger_document(bound)
    parameters = json.dumps({"path": "/x"}, sort_keys=True).encode()
    assert document["ref"] == bound.ref == f"p.{document['name']}"
    assert document["uid"] == (
        f"trigger:p:{document['name']}:{hashlib.md5(parameters, usedforsecurity=False).hexdigest()}"
    )
    assert len(document["id"]) == 24 and document == trigger_document(bound)  # stable
    assert document["id"] != plain["id"]


def test_plan_runs_enabled_sensors_of_registered_packs_with_their_paths() -> None:
    sensors = [
        sensor("Watcher", trigger_types=["p.watch"], poll_interval=5),
        sensor("Off", enabled=False),
        sensor("Elsewhere"),
    ]
    rules = [rule("a", {"type": "p.watch", "parameters": {"path": "/x"}})]
    plan = plan_sensors(sensors, rules, {"p": pack()}, STATE, home=HOME)
    assert set(plan) == {"p.Watcher", "p.Elsewhere"}
    watcher = plan["p.Watcher"]
    assert watcher.pack_path == "/srv/home/packs/p"
    assert watcher.entry_point == "/srv/home/packs/p/sensors/watcher.py"
    assert watcher.poll_interval == 5.0 and plan["p.Elsewhere"].poll_interval is None
    assert list(watcher.triggers) == [Trigger("p.watch", {"path": "/x"}).ref]
    assert plan_sensors(sensors, rules, {}, STATE, home=HOME) == {}  # pack not registered
    only = plan_sensors(sensors, rules, {"p": pack()}, STATE, home=HOME, only={"p.Elsewhere"})
    assert set(only) == {"p.Elsewhere"}


def test_a_sensor_restarts_when_its_definition_pack_or_config_changes_not_its_rules() -> None:
    def identity(
        resource: Resource, registered: RegisteredPack, state: RegistryState, rules: list[Resource]
    ) -> str:
        return plan_sensors([resource], rules, {"p": registered}, state, home=HOME)[
            resource.ref
        ].identity

    base = identity(sensor("S"), pack(), STATE, [])
    assert identity(sensor("S"), pack(), STATE, [rule("a", {"type": "p.t"})]) == base
    assert identity(sensor("S", description="new"), pack(), STATE, []) != base
    assert identity(sensor("S"), pack(digest="d2"), STATE, []) != base
    configured = RegistryState({"p": "d1"}, {(Kind.CONFIG, "p"): ("p", "c1")})
    assert identity(sensor("S"), pack(), configured, []) != base


def test_trigger_changes_remove_then_add_and_update() -> None:
    one, two, three = (trigger_document(Trigger("p.t", {"n": n})) for n in (1, 2, 3))
    before = {one["ref"]: one, two["ref"]: two}
    changed = {**two, "parameters": {"n": 2, "extra": True}}
    after = {two["ref"]: changed, three["ref"]: three}
    assert trigger_changes(before, after) == [
        TriggerChange(TriggerOp.REMOVE, one),
        *sorted(
            [TriggerChange(TriggerOp.ADD, three), TriggerChange(TriggerOp.UPDATE, changed)],
            key=lambda c: str(c.trigger["ref"]),
        ),
    ]
    assert trigger_changes(after, after) == []


SETTINGS = SensorSettings(
    restart_delay=1.0, max_restart_delay=60.0, max_failures=10, stable_after=60.0
)


@pytest.mark.parametrize(
    ("failed", "failures", "ran_for", "expected"),
    [
        (False, 3, 5.0, AfterExit(SensorState.STOPPED, 0)),  # run() returned: not respawned
        (True, 0, 0.5, AfterExit(SensorState.BACKOFF, 1, 1.0)),
        (True, 1, 0.5, AfterExit(SensorState.BACKOFF, 2, 2.0)),
        (True, 2, 0.5, AfterExit(SensorState.BACKOFF, 3, 4.0)),
        (True, 6, 0.5, AfterExit(SensorState.BACKOFF, 7, 60.0)),  # 64 s, capped
        (True, 8, 0.5, AfterExit(SensorState.BACKOFF, 9, 60.0)),
        (True, 9, 0.5, AfterExit(SensorState.FAILED, 10)),
        (True, 9, 60.0, AfterExit(SensorState.BACKOFF, 1, 1.0)),  # ran stably: a new count
    ],
)
def test_after_exit(failed: bool, failures: int, ran_for: float, expected: AfterExit) -> None:
    assert after_exit(SETTINGS, failed=failed, failures=failures, ran_for=ran_for) == expected


@pytest.mark.parametrize(("start", "end"), [(a, b) for a in SensorState for b in SensorState])
def test_state_table(start: SensorState, end: SensorState) -> None:
    allowed = {
        (SensorState.STARTING, SensorState.RUNNING),
        (SensorState.STARTING, SensorState.BACKOFF),
        (SensorState.STARTING, SensorState.FAILED),
        (SensorState.STARTING, SensorState.STOPPED),
        (SensorState.RUNNING, SensorState.BACKOFF),
        (SensorState.RUNNING, SensorState.FAILED),
        (SensorState.RUNNING, SensorState.STOPPED),
        (SensorState.BACKOFF, SensorState.STARTING),
        (SensorState.BACKOFF, SensorState.STOPPED),
        (SensorState.FAILED, SensorState.STARTING),  # a reload
        (SensorState.FAILED, SensorState.STOPPED),  # disabled or removed
        (SensorState.STOPPED, SensorState.STARTING),
    }
    assert (end in TRANSITIONS[start]) == ((start, end) in allowed)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b'{"op": "ready", "args": {}}', Ready()),
        (
            b'{"op": "dispatch", "args": {"trigger": {"pack": "p", "name": "t"}, '
            b'"payload": {"a": 1}, "trace_tag": "tag"}}',
            Dispatch({"pack": "p", "name": "t"}, {"a": 1}, "tag"),
        ),
        (b'{"op": "dispatch", "args": {"trigger": "p.t"}}', Dispatch("p.t", None, None)),
        (
            b'{"op": "log", "args": {"level": 30, "logger": "x", "message": "m"}}',
            Log(30, "x", "m"),
        ),
        (b'{"op": "log", "args": {"level": "loud", "message": "m"}}', Log(logging.INFO, "", "m")),
        (b'{"op": "failed", "args": {"error": "boom"}}', Failed("boom")),
        (b'{"op": "dance"}', None),
        (b"[1, 2]", None),
        (b"not json", None),
    ],
)
def test_control_messages_are_parsed_into_tagged_values(line: bytes, message: object) -> None:
    assert parse_message(line) == message


@pytest.mark.parametrize(
    ("trigger", "ref"),
    [
        ("p.t", "p.t"),
        ({"ref": "p.abc", "type": "p.t", "parameters": {"n": 1}}, "p.abc"),
        ({"type": "p.t", "parameters": {"n": 1}}, Trigger("p.t", {"n": 1}).ref),
        ({"type": "p.t"}, "p.t"),
        ({"pack": "p", "name": "t"}, "p.t"),
        ({"name": "t"}, None),
        ("", None),
        (42, None),
    ],
)
def test_dispatched_triggers_resolve_as_stackstorm_does(trigger: object, ref: str | None) -> None:
    assert trigger_ref_of(trigger) == ref


def test_exit_descriptions() -> None:
    assert ProcessExit(1, "Traceback...\nValueError: x").describe().endswith("ValueError: x")
    assert ProcessExit(3, None).describe() == "exited with code 3"
    assert ProcessExit(-9, None).describe() == "killed by signal 9"
    assert ProcessExit(1, "x" * 5000).describe().startswith("…")
