"""``/api/v1/packhorse/intake`` and ``/handover`` over real HTTP, two instances on loopback
(engines running): a drained instance holds webhooks and does not start queued executions,
a handover moves them under their own ids, once, and only an admin may do any of it."""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.api.credentials import headers_for
from tests.api.serving import serving

from packhorse import bootstrap
from packhorse.engine.clock import iso_now
from packhorse.engine.ids import new_id
from packhorse.model.events import TriggerInstanceStatus
from packhorse.model.execution import Execution, Status
from packhorse.settings import Settings, load_settings
from packhorse.storage.events import InstanceFilter, SqlEventStore
from packhorse.storage.executions import ExecutionFilter, SqlExecutionStore

SIGNALS = Path(__file__).parents[1] / "fixtures" / "engine_packs" / "signals"
FLOWS = SIGNALS.with_name("flows")
INTAKE = "/api/v1/packhorse/intake"
HANDOVER = "/api/v1/packhorse/handover"
NOTHING_IN_FLIGHT = {"running": [], "parked": [], "pending_trigger_instances": 0}


class Served:
    def __init__(self, settings: Settings, url: str) -> None:
        self.settings = settings
        self.url = url
        self.admin = headers_for(settings)
        engine = bootstrap.database_engine(settings)
        self.events = SqlEventStore(engine)
        self.executions = SqlExecutionStore(engine)

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.admin, **kwargs.pop("headers", {})}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=20, **kwargs)

    def drain(self) -> dict[str, Any]:
        """Set the intake draining and wait until every process applied it."""
        changed = self.call("PUT", INTAKE, json={"state": "draining", "successor": "next"})
        assert changed.status_code == 200, changed.text
        generation = changed.json()["generation"]
        intake = wait(lambda: _applied(self.call("GET", INTAKE).json(), generation))
        assert intake["state"] == "draining"
        return intake


def _applied(intake: dict[str, Any], generation: int) -> dict[str, Any] | None:
    acks = intake["acknowledgements"]
    done = acks and not intake["waiting_for"] and all(a["generation"] >= generation for a in acks)
    return intake if done else None


def wait(condition: Callable[[], Any], timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def _instance(home: Path) -> Settings:
    shutil.copytree(SIGNALS, home / "packs" / "signals")
    shutil.copytree(FLOWS, home / "packs" / "flows")
    settings = load_settings(home)
    assert bootstrap.register_instance_packs(settings, refs=["signals", "flows"]).ok
    return settings


@pytest.fixture
def old(instance_home: Path) -> Iterator[Served]:
    settings = _instance(instance_home)
    with serving(bootstrap.create_app(settings, workers=2)) as url:
        yield Served(settings, url)


@pytest.fixture
def new(_instance_template: Path, tmp_path: Path) -> Iterator[Served]:
    home = tmp_path / "new"
    shutil.copytree(_instance_template, home)
    settings = _instance(home)
    with serving(bootstrap.create_app(settings, workers=2)) as url:
        yield Served(settings, url)


def test_only_an_admin_reads_or_changes_the_intake(old: Served) -> None:
    viewer = headers_for(old.settings, "watcher", "viewer")
    operator = headers_for(old.settings, "hooker", "operator")
    for headers in (viewer, operator):
        assert old.call("GET", INTAKE, headers=headers).status_code == 403
        refused = old.call("PUT", INTAKE, headers=headers, json={"state": "closed"})
        assert refused.status_code == 403
        assert old.call("GET", HANDOVER, headers=headers).status_code == 403
        assert old.call("POST", HANDOVER, headers=headers, json={}).status_code == 403
    assert httpx.get(f"{old.url}{INTAKE}").status_code == 401
    intake = old.call("GET", INTAKE).json()
    assert intake["state"] == "open"
    assert old.call("PUT", INTAKE, json={"state": "shut"}).status_code == 400
    assert old.call("POST", f"{HANDOVER}/done", json={"executions": []}).status_code == 400
    assert old.call("POST", HANDOVER, json={"executions": [{"id": "x"}]}).status_code == 400


def test_a_drained_instance_holds_webhooks_and_hands_them_over_once(
    old: Served, new: Served
) -> None:
    intake = old.drain()
    assert intake["in_flight"] == NOTHING_IN_FLIGHT
    posted = old.call(
        "POST", "/api/v1/webhooks/signals/in", json={"ok": "late"}, headers={"X-Source": "t"}
    )
    assert posted.status_code == 202  # the sender sees what StackStorm answers
    [held] = old.events.find(InstanceFilter(trigger_type="core.st2.webhook"))
    assert held.status is TriggerInstanceStatus.HELD
    time.sleep(0.5)  # the rules engine polls every 0.5 s at most: it must leave it alone
    assert old.executions.find(ExecutionFilter()) == []
    parcel = old.call("GET", HANDOVER).json()
    assert [i["id"] for i in parcel["trigger_instances"]] == [held.id]

    # The receiver stores it under its id and its rules run it; a second receive is a no-op.
    assert new.call("POST", HANDOVER, json=parcel).json() == {
        "trigger_instances": 1,
        "executions": 0,
    }
    assert new.call("POST", HANDOVER, json=parcel).json() == {
        "trigger_instances": 0,
        "executions": 0,
    }
    [execution] = wait(lambda: new.executions.find(ExecutionFilter(statuses=(Status.SUCCEEDED,))))
    assert execution.context["trigger_instance"]["id"] == held.id
    done = {"successor": new.url, "trigger_instances": [held.id]}
    assert old.call("POST", f"{HANDOVER}/done", json=done).json()["trigger_instances"] == 1
    assert old.call("POST", f"{HANDOVER}/done", json=done).json()["trigger_instances"] == 0
    assert old.events.get(held.id).status is TriggerInstanceStatus.HANDED_OVER  # type: ignore[union-attr]
    assert old.call("GET", HANDOVER).json() == {"trigger_instances": [], "executions": []}


def test_a_drained_instance_does_not_start_queued_executions_but_hands_them_over(
    old: Served, new: Served
) -> None:
    old.drain()
    requested = old.call(
        "POST", "/api/v1/executions", json={"action": "core.echo", "parameters": {"message": "x"}}
    )
    assert requested.status_code == 201, requested.text
    execution_id = requested.json()["id"]
    time.sleep(0.6)  # a worker polls every 0.5 s at most: it must not start it
    assert old.executions.get(execution_id).status is Status.SCHEDULED  # type: ignore[union-attr]
    parcel = old.call("GET", HANDOVER).json()
    assert [e["id"] for e in parcel["executions"]] == [execution_id]
    assert new.call("POST", HANDOVER, json=parcel).json()["executions"] == 1
    ran = wait(lambda: _completed(new.executions.get(execution_id)))
    assert ran.status is Status.SUCCEEDED
    done = {"successor": new.url, "executions": [execution_id]}
    assert old.call("POST", f"{HANDOVER}/done", json=done).json()["executions"] == 1
    left = old.executions.get(execution_id)
    assert left is not None and left.status is Status.CANCELED
    assert left.result == {"handed_over_to": new.url, "message": f"handed over to {new.url}"}

    # Reopened, the instance starts queued work again (and holds no more webhooks).
    assert old.call("PUT", INTAKE, json={"state": "open"}).status_code == 200
    wait(lambda: old.call("GET", INTAKE).json()["waiting_for"] == [])
    fresh = Execution(
        id=new_id(),
        action_ref="core.noop",
        runner_type="noop",
        status=Status.REQUESTED,
        parameters={},
        context={"user": "admin"},
        created_at=iso_now(),
    )
    old.executions.create(fresh, then=Status.SCHEDULED)
    assert wait(lambda: _completed(old.executions.get(fresh.id))).status is Status.SUCCEEDED


def test_a_drained_instance_finishes_what_runs_and_the_tasks_of_running_workflows(
    old: Served,
) -> None:
    started = old.call(
        "POST", "/api/v1/executions", json={"action": "flows.sleepy", "parameters": {"seconds": 1}}
    )
    assert started.status_code == 201, started.text
    workflow_id = started.json()["id"]
    wait(lambda: _nap_running(old, workflow_id))
    intake = old.drain()
    assert workflow_id in intake["in_flight"]["running"]
    # Its next task ("after") is requested after the drain: it runs all the same.
    done = wait(lambda: _completed(old.executions.get(workflow_id)), timeout=30)
    assert done.status is Status.SUCCEEDED
    tasks = old.executions.find(ExecutionFilter(parent_id=workflow_id))
    assert sorted(task.action_ref for task in tasks) == ["core.local", "core.noop"]
    assert old.call("GET", INTAKE).json()["in_flight"] == NOTHING_IN_FLIGHT


def _nap_running(served: Served, workflow_id: str) -> bool:
    tasks = served.executions.find(ExecutionFilter(parent_id=workflow_id))
    return any(task.status is Status.RUNNING for task in tasks)


def _completed(execution: Execution | None) -> Execution | None:
    return execution if execution is not None and execution.completed else None


class RecordingFront:
    """A front that only records where it was told to send requests."""

    def __init__(self) -> None:
        self.flips: list[str] = []

    def flip(self, to: str) -> float:
        self.flips.append(to)
        return 0.0

    def rollback(self) -> float:
        self.flips.append("back")
        return 0.0

    def reaches(self, _instance: object) -> None:
        return None


def test_a_cutover_and_a_rollback_between_two_instances_over_their_apis(
    old: Served, new: Served
) -> None:
    """The cutover steps with both instances given as URLs (client/handover.py and the CLI's
    Side over it): the queued execution and the held webhook end on the new instance, once,
    and a rollback brings back what the new one had not started."""
    from packhorse.cli.instance_arg import RemoteInstance
    from packhorse.client.http import ApiClient, Credentials
    from packhorse.migrate.cutover_wiring import HealthGate, Side

    apis: list[ApiClient] = []

    def side(served: Served) -> Side:
        credentials = Credentials(token=served.admin["X-Auth-Token"], source="test")
        apis.append(ApiClient(served.url, credentials=credentials))
        return Side(RemoteInstance(apis[-1]), gate=HealthGate(timeout=20))

    try:
        _cutover_and_back(old, new, side(old), side(new))
    finally:
        for api in apis:
            api.close()


def _cutover_and_back(old: Served, new: Served, old_side: Any, new_side: Any) -> None:
    from packhorse.migrate import cutover as steps

    clocks = steps.Clocks(time.monotonic, time.sleep)
    front = RecordingFront()
    old.call("PUT", INTAKE, json={"state": "draining"})  # so that work waits to be handed over
    wait(lambda: not old.call("GET", INTAKE).json()["waiting_for"])
    posted = old.call(
        "POST", "/api/v1/webhooks/signals/in", json={"ok": "x"}, headers={"X-Source": "t"}
    )
    assert posted.status_code == 202
    queued = old.call("POST", "/api/v1/executions", json={"action": "core.noop"}).json()["id"]

    report = steps.cutover(old_side, new_side, front, timeout=20, clocks=clocks)
    assert report.ok, report.reason
    assert front.flips == [new.url]
    assert report.handed_over.fields() == {"trigger_instances": 1, "executions": 1}
    assert report.drain_to_flip_seconds is not None and report.drain_to_flip_seconds < 5
    assert old.call("GET", INTAKE).json()["state"] == "closed"
    ran = wait(lambda: _completed(new.executions.get(queued)))
    assert ran.status is Status.SUCCEEDED
    wait(lambda: new.executions.find(ExecutionFilter(action_ref="core.echo")))

    # A rollback: the old instance reopens and gets what the new one held meanwhile.
    new.call("PUT", INTAKE, json={"state": "draining"})
    wait(lambda: not new.call("GET", INTAKE).json()["waiting_for"])
    late = new.call(
        "POST", "/api/v1/webhooks/signals/in", json={"ok": "late"}, headers={"X-Source": "t"}
    )
    assert late.status_code == 202
    back = steps.rollback(old_side, new_side, front, timeout=20, clocks=clocks)
    assert back.ok, back.reason
    assert front.flips == [new.url, "back"]
    assert back.handed_over.fields() == {"trigger_instances": 1, "executions": 0}
    assert old.call("GET", INTAKE).json()["state"] == "open"
    assert new.call("GET", INTAKE).json()["state"] == "closed"
    echoed = wait(lambda: old.executions.find(ExecutionFilter(action_ref="core.echo")))
    assert len(echoed) == 1
    assert wait(lambda: _completed(old.executions.get(echoed[0].id))).status is Status.SUCCEEDED


SECRET = "probe-secret-5b2e8f"
RECIPIENT_KEY = "/api/v1/packhorse/recipient-key"


@pytest.fixture
def stranger(tmp_path: Path) -> Iterator[Served]:
    """An instance initialised on its own: its own datastore key, as every instance has."""
    from packhorse.engine.instance import init_instance

    home = tmp_path / "stranger"
    init_instance(home)
    settings = _instance(home)
    with serving(bootstrap.create_app(settings, workers=2)) as url:
        yield Served(settings, url)


def test_secret_parameters_travel_sealed_for_the_receivers_recipient_key(
    old: Served, stranger: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    viewer = headers_for(stranger.settings, "watcher", "viewer")
    assert stranger.call("GET", RECIPIENT_KEY, headers=viewer).status_code == 403
    assert httpx.get(f"{stranger.url}{RECIPIENT_KEY}").status_code == 401
    answered = stranger.call("GET", RECIPIENT_KEY)
    assert answered.status_code == 200, answered.text
    recipient = answered.json()["recipient"]
    assert recipient.startswith("phr1:")
    assert stranger.call("GET", RECIPIENT_KEY).json() == {"recipient": recipient}

    old.drain()
    requested = old.call(
        "POST",
        "/api/v1/executions",
        json={"action": "signals.probe", "parameters": {"token": SECRET}},
    )
    assert requested.status_code == 201, requested.text
    execution_id = requested.json()["id"]
    stored_token = old.executions.get(execution_id).parameters["token"]  # type: ignore[union-attr]

    refused = old.call("GET", HANDOVER)
    assert refused.status_code == 400
    assert "recipient" in refused.json()["faultstring"] and execution_id in refused.text
    assert old.call("GET", HANDOVER, params={"recipient": "phr1:nope"}).status_code == 400
    old_viewer = headers_for(old.settings, "watcher", "viewer")
    viewed = old.call("GET", HANDOVER, headers=old_viewer, params={"recipient": recipient})
    assert viewed.status_code == 403
    answered = old.call("GET", HANDOVER, params={"recipient": recipient})
    assert answered.status_code == 200, answered.text
    assert SECRET not in answered.text and stored_token not in answered.text
    parcel = answered.json()
    sealed = parcel["executions"][0]["parameters"]["token"]
    assert sealed.startswith("phseal1:")

    # Altered on the way: refused whole, naming the execution and parameter; nothing stored.
    altered = json.loads(json.dumps(parcel))
    altered["executions"][0]["parameters"]["token"] = sealed[:-6] + (
        "AAAAAA" if not sealed.endswith("AAAAAA") else "BBBBBB"
    )
    refused = stranger.call("POST", HANDOVER, json=altered)
    assert refused.status_code == 400
    assert f"execution {execution_id}: secret parameter 'token'" in refused.json()["faultstring"]
    assert stranger.executions.get(execution_id) is None

    received = stranger.call("POST", HANDOVER, json=parcel)
    assert received.json() == {"trigger_instances": 0, "executions": 1}
    ran = wait(lambda: _completed(stranger.executions.get(execution_id)))
    assert ran.status is Status.SUCCEEDED
    token = ran.parameters["token"]
    assert token != stored_token
    assert bootstrap.datastore_service(stranger.settings).decrypt(token) == SECRET
    shown = stranger.call("GET", f"/api/v1/executions/{execution_id}")
    assert shown.status_code == 200 and SECRET not in shown.text and token not in shown.text
    assert SECRET not in caplog.text


def test_the_cutovers_handover_over_apis_reseals_secrets_for_an_instance_with_its_own_key(
    old: Served, stranger: Served
) -> None:
    """``hand_over`` with both instances given as URLs (client/handover.py through Side) asks
    the receiver for its recipient key first, then the sender's parcel sealed for it."""
    from packhorse.cli.instance_arg import RemoteInstance
    from packhorse.client.http import ApiClient, Credentials
    from packhorse.migrate import cutover as steps
    from packhorse.migrate.cutover_wiring import HealthGate, Side

    old.drain()
    requested = old.call(
        "POST",
        "/api/v1/executions",
        json={"action": "signals.probe", "parameters": {"token": SECRET}},
    )
    assert requested.status_code == 201, requested.text
    execution_id = requested.json()["id"]
    apis = [
        ApiClient(
            served.url, credentials=Credentials(token=served.admin["X-Auth-Token"], source="t")
        )
        for served in (old, stranger)
    ]
    try:
        sides = [Side(RemoteInstance(api), gate=HealthGate(timeout=20)) for api in apis]
        assert steps.hand_over(sides[0], sides[1]).fields() == {
            "trigger_instances": 0,
            "executions": 1,
        }
    finally:
        for api in apis:
            api.close()
    ran = wait(lambda: _completed(stranger.executions.get(execution_id)))
    assert ran.status is Status.SUCCEEDED
    assert bootstrap.datastore_service(stranger.settings).decrypt(ran.parameters["token"]) == SECRET
    left = old.executions.get(execution_id)
    assert left is not None and left.status is Status.CANCELED
