"""Live reload with ``packhorse up`` as a real process: registering a pack or enabling a rule
from another process takes effect within 2 seconds, without a restart."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from packhorse import bootstrap
from packhorse.model.execution import Status
from packhorse.settings import load_settings
from packhorse.storage.events import EnforcementFilter, SqlEventStore
from packhorse.storage.executions import SqlExecutionStore
from tests.api.credentials import headers_for
from tests.test_up import free_port, wait_for

pytestmark = pytest.mark.slow
SIGNALS = Path(__file__).parent / "fixtures" / "engine_packs" / "signals"
RELOAD_SECONDS = 2.0


def packhorse(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "packhorse", "--home", str(home), *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )


def within(seconds: float, attempt: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = attempt()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


@pytest.fixture
def served(instance_home: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "packhorse",
            "--home",
            str(instance_home),
            "up",
            "--listen",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/ready", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 0, stderr.decode()


def test_registering_a_pack_and_enabling_a_rule_take_effect_while_up_runs(
    instance_home: Path, served: str
) -> None:
    hook = f"{served}/api/v1/webhooks/signals/in"
    settings = load_settings(instance_home)
    credentials = headers_for(settings)
    assert httpx.post(hook, json={"ok": 1}, headers=credentials).status_code == 404

    shutil.copytree(SIGNALS, instance_home / "packs" / "signals")
    packhorse(instance_home, "pack", "register", "signals")
    registered = time.monotonic()
    headers = {"X-Source": "test", **credentials}
    answered = within(
        RELOAD_SECONDS, lambda: httpx.post(hook, json={"ok": 1}, headers=headers).status_code == 202
    )
    assert answered, "the new webhook was not served within 2 s"
    assert time.monotonic() - registered <= RELOAD_SECONDS + 0.5

    store = SqlEventStore(bootstrap.database_engine(settings))

    def fired(rule: str) -> bool:
        return any(e.rule == rule for e in store.enforcements(EnforcementFilter(limit=500)))

    assert within(5, lambda: fired("signals.hook")), packhorse(
        instance_home, "trigger-instance", "list"
    ).stdout

    packhorse(instance_home, "rule", "enable", "signals.quiet")
    enabled = time.monotonic()
    generic = f"{served}/api/v1/webhooks/st2"

    def quiet_fires() -> bool:
        alert = {"trigger": "signals.alert", "payload": {"service": "db-1", "severity": "low"}}
        assert httpx.post(generic, json=alert, headers=credentials).status_code == 202
        return bool(within(0.3, lambda: fired("signals.quiet")))

    assert within(RELOAD_SECONDS, quiet_fires), "the enabled rule did not fire within 2 s"
    assert time.monotonic() - enabled <= RELOAD_SECONDS + 1


SENSORPACK = Path(__file__).parent / "fixtures" / "engine_packs" / "sensorpack"


def test_a_sensor_process_dispatches_into_a_rule_that_runs_an_action(
    instance_home: Path, served: str
) -> None:
    """The echo sensor dispatches to each trigger it is given; enabling the rule on its
    trigger gives it one: sensor process -> trigger instance -> rule -> core.noop."""
    keep = {"pack.yaml", "config.schema.yaml", "echo_sensor.py", "echo_sensor.yaml", "alpha.yaml"}
    shutil.copytree(
        SENSORPACK,
        instance_home / "packs" / "sensorpack",
        ignore=lambda _folder, names: [n for n in names if "." in n and n not in keep],
    )
    packhorse(instance_home, "pack", "register", "sensorpack")
    packhorse(instance_home, "rule", "enable", "sensorpack.alpha")
    settings = load_settings(instance_home)
    store = SqlEventStore(bootstrap.database_engine(settings))
    executions = SqlExecutionStore(bootstrap.database_engine(settings))

    def ran() -> bool:
        for enforcement in store.enforcements(EnforcementFilter(rule="sensorpack.alpha")):
            if enforcement.execution_id is None:
                continue
            execution = executions.get(enforcement.execution_id)
            if execution is not None and execution.status is Status.SUCCEEDED:
                instance = store.get(enforcement.trigger_instance_id)
                assert instance is not None
                assert instance.source == "sensor:sensorpack.EchoSensor"
                assert instance.payload["phase"] == "add"
                return True
        return False

    assert within(15, ran), packhorse(
        instance_home, "trigger-instance", "list", "--trigger-type", "sensorpack.echo", "--json"
    ).stdout
    listed = packhorse(instance_home, "sensor", "list", "--json").stdout
    assert '"running"' in listed


TIMED = Path(__file__).parent / "fixtures" / "engine_packs" / "timed"


def test_an_interval_timer_enabled_while_up_runs_fires_its_rule(
    instance_home: Path, served: str
) -> None:
    shutil.copytree(TIMED, instance_home / "packs" / "timed")
    packhorse(instance_home, "pack", "register", "timed")
    packhorse(instance_home, "rule", "enable", "timed.every_second")
    settings = load_settings(instance_home)
    store = SqlEventStore(bootstrap.database_engine(settings))
    executions = SqlExecutionStore(bootstrap.database_engine(settings))

    def ran_twice() -> bool:
        done = []
        for enforcement in store.enforcements(EnforcementFilter(rule="timed.every_second")):
            execution = executions.get(enforcement.execution_id or "")
            if execution is not None and execution.status is Status.SUCCEEDED:
                instance = store.get(enforcement.trigger_instance_id)
                assert instance is not None and instance.source == "timer"
                done.append(instance.payload["executed_at"])
        return len(set(done)) >= 2

    assert within(6, ran_twice)
