"""The whole upgrade switch, real processes on loopback: two ``packhorse up`` instances, the
front, and a load generator posting webhooks through the front without a pause while
``packhorse cutover`` moves the site to the new instance and ``packhorse rollback`` moves it
back. Every webhook answered gives exactly one execution across the two instances (none lost,
none doubled), and no request fails."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from packhorse import bootstrap
from packhorse.model.events import TriggerInstanceStatus
from packhorse.model.execution import Status
from packhorse.model.intake import is_handed_over
from packhorse.settings import Settings, load_settings, write_settings
from packhorse.storage.events import InstanceFilter, SqlEventStore
from packhorse.storage.executions import ExecutionFilter, SqlExecutionStore
from packhorse.storage.intake import SqlIntakeStore
from tests.front.upstream import packhorse, running_front
from tests.test_up import free_port, wait_for

pytestmark = pytest.mark.slow

RELAY = {
    "pack.yaml": "ref: relay\nname: relay\ndescription: Webhooks to executions.\n"
    "version: 1.0.0\nauthor: tests\nemail: tests@example.com\n",
    "actions/take.yaml": "name: take\nrunner_type: noop\nenabled: true\nentry_point: ''\n"
    "description: Takes one webhook's id.\nparameters:\n  id:\n    type: string\n"
    "    required: true\n",
    "rules/take.yaml": "name: take\npack: relay\nenabled: true\n"
    "description: Every webhook to relay/in runs relay.take with its id.\n"
    "trigger:\n  type: core.st2.webhook\n  parameters:\n    url: relay/in\n"
    "action:\n  ref: relay.take\n  parameters:\n    id: '{{ trigger.body.id }}'\n",
}


def _instance(home: Path, *, auth: bool = False) -> Settings:
    """``home`` with the relay pack, serving on a port of its own, authentication off unless
    asked (the load generator posts through the front to whichever instance is active)."""
    for name, text in RELAY.items():
        path = home / "packs" / "relay" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    settings = load_settings(home).with_overrides(
        listen=f"127.0.0.1:{free_port()}", auth_enabled=auth
    )
    write_settings(settings)
    settings = load_settings(home)
    assert bootstrap.register_instance_packs(settings, refs=["relay"]).ok
    return settings


@contextlib.contextmanager
def up(settings: Settings) -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "packhorse", "--home", str(settings.home), "up"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://{settings.listen}"
    try:
        wait_for(f"{url}/ready", process)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr.decode()


class Load:
    """Posts webhooks with unique ids through the front, back to back, from two threads."""

    def __init__(
        self,
        front: str,
        clients: int = 2,
        headers: dict[str, str] | None = None,
        path: str = "relay/in",
        body: Callable[[str], dict[str, str]] = lambda id_: {"id": id_},
    ) -> None:
        self.front = front
        self.headers = headers or {}
        self.path = path
        self.body = body
        self.answered: list[str] = []
        self.failed: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._post, daemon=True) for _ in range(clients)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _post(self) -> None:
        with httpx.Client(base_url=self.front, timeout=30, headers=self.headers) as client:
            while not self._stop.is_set():
                id_ = uuid.uuid4().hex
                try:
                    answer = client.post(f"/api/v1/webhooks/{self.path}", json=self.body(id_))
                except httpx.HTTPError as error:
                    self.failed.append(f"{id_}: {error!r}")
                    continue
                if 200 <= answer.status_code < 300:
                    self.answered.append(id_)
                else:
                    self.failed.append(f"{id_}: {answer.status_code} {answer.text}")

    def sent_for(self, seconds: float) -> None:
        """Let the load run ``seconds`` longer (and check it makes progress)."""
        before = len(self.answered)
        time.sleep(seconds)
        assert len(self.answered) > before, self.failed[-3:]


def _runs(settings: Settings) -> list[tuple[str, Status]]:
    """(webhook id, status) of each relay.take execution of an instance that ran, or may
    still run, there (those it handed over are the other instance's). The id is read from
    the trigger instance the execution carries: its ``id`` parameter is rendered from it
    when the action runs."""
    store = SqlExecutionStore(bootstrap.database_engine(settings))
    executions = store.find(ExecutionFilter(action_ref="relay.take", limit=1_000_000))
    return [
        (str(e.context["trigger_instance"]["payload"]["body"]["id"]), e.status)
        for e in executions
        if not (e.status is Status.CANCELED and is_handed_over(e.result))
    ]


def _waiting(settings: Settings) -> int:
    """Trigger instances the instance has not processed or handed over yet."""
    events = SqlEventStore(bootstrap.database_engine(settings))
    return events.count(
        InstanceFilter(statuses=(TriggerInstanceStatus.PENDING, TriggerInstanceStatus.HELD))
    )


def _json(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr + done.stdout
    report: dict[str, Any] = json.loads(done.stdout)
    return report


@pytest.mark.timeout(300)
def test_webhooks_sent_through_a_cutover_and_a_rollback_run_exactly_once(
    instance_home: Path, _instance_template: Path, tmp_path: Path
) -> None:
    home_new = tmp_path / "new"
    shutil.copytree(_instance_template, home_new)
    old, new = _instance(instance_home), _instance(home_new)
    state = tmp_path / "front.json"
    with up(old) as old_url, up(new) as new_url, running_front(state) as front:
        packhorse("front", "flip", "--state", str(state), "--to", old_url)
        with Load(front) as load:
            load.sent_for(1.0)
            cutover = _json(
                packhorse(
                    "cutover",
                    "--from",
                    str(old.home),
                    "--to",
                    str(new.home),
                    "--front-state",
                    str(state),
                    "--timeout",
                    "30",
                    "--health-action",
                    "core.noop",
                    "--front-url",
                    front,
                    "--json",
                )
            )
            load.sent_for(1.5)
            rollback = _json(packhorse("rollback", "--front-state", str(state), "--json"))
            load.sent_for(1.0)
        # Requests that reached an instance after it was closed are held there: hand them
        # over (what 'packhorse rollback --handover-only' is for), until nothing waits.
        deadline = time.monotonic() + 90
        while _waiting(old) or _waiting(new) or _unfinished(old, new):
            assert time.monotonic() < deadline, (_waiting(old), _waiting(new))
            packhorse("rollback", "--front-state", str(state), "--handover-only")
            time.sleep(0.5)
        runs = _runs(old) + _runs(new)

    print(
        f"\ncutover: drain to flip {cutover['drain_to_flip_seconds']:.3f} s,"
        f" handed over {cutover['handed_over']};"
        f" rollback flip {rollback['flip_ms']} ms, handed over {rollback['handed_over']},"
        f" released {rollback['released']}; {len(load.answered)} webhooks"
        f" ({len(_runs(old))} run on the old instance, {len(_runs(new))} on the new)"
    )
    assert load.failed == []
    assert cutover["ok"] and rollback["ok"]
    assert [step["step"] for step in cutover["steps"]] == [
        "check",
        "drain",
        "open",
        "finish",
        "flip",
        "handover",
        "verify",
    ]
    assert cutover["drain_to_flip_seconds"] < 5
    assert rollback["flip_ms"] < 100
    counts = Counter(id_ for id_, _ in runs)
    lost = set(load.answered) - counts.keys()
    doubled = {id_: n for id_, n in counts.items() if n > 1}
    assert not lost, f"{len(lost)} webhooks without an execution"
    assert not doubled, f"webhooks run more than once: {doubled}"
    assert counts.keys() == set(load.answered)
    assert {status for _, status in runs} == {Status.SUCCEEDED}
    assert len(_runs(new)) > 0 and len(_runs(old)) > 0  # both instances took part
    assert cutover["to"] == str(new.home) and new_url.endswith(new.listen)


def _unfinished(*instances: Settings) -> bool:
    return any(status is not Status.SUCCEEDED for s in instances for _, status in _runs(s))


@pytest.mark.timeout(120)
def test_a_failing_health_gate_leaves_the_old_instance_active_and_says_why(
    instance_home: Path, _instance_template: Path, tmp_path: Path
) -> None:
    home_new = tmp_path / "new"
    shutil.copytree(_instance_template, home_new)
    old, new = _instance(instance_home), _instance(home_new)
    state = tmp_path / "front.json"
    with up(old) as old_url, up(new), running_front(state) as front:
        packhorse("front", "flip", "--state", str(state), "--to", old_url)
        refused = packhorse(
            "cutover",
            "--from",
            str(old.home),
            "--to",
            str(new.home),
            "--front-state",
            str(state),
            "--health-action",
            "core.local",
            "--health-params",
            '{"cmd": "exit 3"}',
            check=False,
        )
        assert refused.returncode == 1
        assert "failed its health gate, nothing changed: health action core.local" in (
            refused.stderr
        )
        assert "failed" in refused.stderr.rsplit("core.local", 1)[1]
        assert json.loads(state.read_text())["active"] == old_url
        assert not state.with_name("front.json.cutover.json").exists()
        assert SqlIntakeStore(bootstrap.database_engine(old)).read().open
        # The old instance still takes webhooks in and runs them.
        posted = httpx.post(f"{front}/api/v1/webhooks/relay/in", json={"id": "after"})
        assert posted.status_code == 202
        deadline = time.monotonic() + 30
        while ("after", Status.SUCCEEDED) not in _runs(old):
            assert time.monotonic() < deadline, _runs(old)
            time.sleep(0.1)
        assert _runs(new) == []
