"""Keys, rules, rule enforcements, trigger types, triggers, trigger instances, sensors and
inquiries over StackStorm's v1 API, against the app ``packhorse up`` serves (engine running
in its lifespan): shapes, filters, paging, errors, and that the engine sees what was done."""

from __future__ import annotations

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
from packhorse.engine.runtime import Runtime
from packhorse.settings import Settings, load_settings

FLOWS = Path(__file__).parents[1] / "fixtures" / "engine_packs" / "flows"
ALERT = {
    "service": "web-frontend",
    "severity": "critical",
    "message": "down",
    "tags": ["production"],
}


def wait(condition: Callable[[], Any], timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


class Api(httpx.Client):
    """A client of the served app, with the runtime behind it (to check what the engine saw)."""

    runtime: Runtime
    settings: Settings


@pytest.fixture
def client(instance_home: Path) -> Iterator[Api]:
    shutil.copytree(FLOWS, instance_home / "packs" / "flows")
    settings = load_settings(instance_home)
    assert bootstrap.register_instance_packs(settings, refs=["flows"]).ok
    app = bootstrap.create_app(settings, workers=2)
    with serving(app) as url:
        headers = headers_for(settings)
        with Api(base_url=url, headers=headers, timeout=20) as api:
            api.runtime = app.state.runtime
            api.settings = settings
            yield api


def as_user(client: Api, user: str, role: str) -> None:
    """Make every further request come from ``user`` with ``role`` (a token of theirs)."""
    client.headers.update(headers_for(client.settings, user, role))


# -- keys -------------------------------------------------------------------------------------


def test_key_round_trip_with_a_masked_secret(client: Api) -> None:
    put = client.put(
        "/api/v1/keys/db.password", json={"name": "db.password", "value": "s3cret", "secret": True}
    )
    assert put.status_code == 200, put.text
    assert put.json() | {"id": "-"} == {
        "id": "-",
        "uid": "key_value_pair:st2kv.system:db.password",
        "name": "db.password",
        "value": "********",
        "secret": True,
        "encrypted": True,
        "scope": "st2kv.system",
    }
    assert client.put("/api/v1/keys/db.host", json={"value": "10.0.0.1"}).status_code == 200

    masked = client.get("/api/v1/keys/db.password").json()
    assert masked["value"] == "********" and masked["encrypted"] is True
    clear = client.get("/api/v1/keys/db.password", params={"decrypt": "true", "scope": "system"})
    assert clear.json()["value"] == "s3cret" and clear.json()["encrypted"] is False

    listed = client.get("/api/v1/keys", params={"prefix": "db.", "limit": 1})
    assert listed.headers["X-Total-Count"] == "2"
    assert [k["name"] for k in listed.json()] == ["db.host"]
    page2 = client.get("/api/v1/keys", params={"prefix": "db.", "limit": 1, "offset": 1})
    assert [(k["name"], k["value"]) for k in page2.json()] == [("db.password", "********")]
    decrypted = client.get("/api/v1/keys", params={"prefix": "db.", "decrypt": "true"}).json()
    assert {k["name"]: k["value"] for k in decrypted} == {
        "db.host": "10.0.0.1",
        "db.password": "s3cret",
    }
    # The engine reads what the API wrote.
    runtime = client.runtime
    assert runtime.datastore.get_value("db.host").value == "10.0.0.1"

    assert client.delete("/api/v1/keys/db.host").status_code == 204
    gone = client.get("/api/v1/keys/db.host")
    assert gone.status_code == 404 and "db.host" in gone.json()["faultstring"]
    assert client.delete("/api/v1/keys/db.host").status_code == 404


def test_a_key_with_a_ttl_carries_its_expiry_and_goes(client: Api) -> None:
    put = client.put("/api/v1/keys/short", json={"value": "v", "ttl": 1})
    assert put.status_code == 200
    assert put.json()["expire_timestamp"].endswith("Z")
    assert client.get("/api/v1/keys/short").status_code == 200
    wait(lambda: client.get("/api/v1/keys/short").status_code == 404, timeout=5)
    assert client.get("/api/v1/keys", params={"prefix": "short"}).json() == []


def test_user_scoped_keys_belong_to_the_caller(client: Api) -> None:
    put = client.put(
        "/api/v1/keys/token", json={"value": "mine", "scope": "st2kv.user", "secret": True}
    )
    assert put.status_code == 200, put.text
    assert put.json()["scope"] == "st2kv.user" and put.json()["user"] == "admin"
    assert put.json()["uid"] == "key_value_pair:st2kv.user:admin:token"
    # Not in the system scope.
    assert client.get("/api/v1/keys/token").status_code == 404
    mine = client.get("/api/v1/keys/token", params={"scope": "user", "decrypt": "true"})
    assert mine.json()["value"] == "mine"
    client.put("/api/v1/keys/shared", json={"value": "all"})
    every = client.get("/api/v1/keys", params={"scope": "all"}).json()
    assert {(k["name"], k["scope"]) for k in every} == {
        ("shared", "st2kv.system"),
        ("token", "st2kv.user"),
    }
    assert [k["name"] for k in client.get("/api/v1/keys", params={"scope": "user"}).json()] == [
        "token"
    ]
    # An admin reaches another user's keys with user=.
    other = client.put("/api/v1/keys/theirs", json={"value": "x", "scope": "user", "user": "ada"})
    assert other.json()["user"] == "ada"
    assert client.get("/api/v1/keys/theirs", params={"user": "ada"}).json()["value"] == "x"
    assert client.get("/api/v1/keys/theirs", params={"scope": "user"}).status_code == 404
    assert (
        client.delete("/api/v1/keys/theirs", params={"scope": "user", "user": "ada"}).status_code
        == 204
    )


def test_a_viewer_reads_but_may_not_write_or_decrypt_system_keys(
    client: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.put("/api/v1/keys/pw", json={"value": "p", "secret": True})
    as_user(client, "vic", "viewer")
    assert client.get("/api/v1/keys/pw").json()["value"] == "********"
    refused = client.get("/api/v1/keys/pw", params={"decrypt": "true"})
    assert refused.status_code == 403 and "admin" in refused.json()["faultstring"]
    assert client.put("/api/v1/keys/pw", json={"value": "q"}).status_code == 403
    assert client.get("/api/v1/keys", params={"user": "admin"}).status_code == 403
    as_user(client, "olga", "operator")
    assert client.put("/api/v1/keys/own", json={"value": "o", "scope": "user"}).status_code == 200
    assert client.put("/api/v1/keys/pw", json={"value": "q"}).status_code == 403


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "'value' is required"),
        ({"value": 3}, "'value' is required"),
        ({"value": "v", "ttl": -1}, "'ttl' must be a positive"),
        ({"value": "v", "colour": "red"}, "Additional properties"),
        ({"value": "v", "scope": "galaxy"}, "scope must be"),
        ({"value": "v", "name": "other"}, "differs"),
        ({"value": "v", "expire_timestamp": "2000-01-01T00:00:00Z"}, "in the past"),
    ],
)
def test_bad_key_bodies_get_a_400_faultstring(client: Api, body: Any, message: str) -> None:
    answer = client.put("/api/v1/keys/k", json=body)
    assert answer.status_code == 400
    assert message in answer.json()["faultstring"]


def test_a_body_that_is_not_json_is_a_400(client: Api) -> None:
    answer = client.put(
        "/api/v1/keys/k", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400 and "not valid JSON" in answer.json()["faultstring"]


# -- rules and enforcements -------------------------------------------------------------------


def test_rules_list_and_get_in_stackstorms_shape(client: Api) -> None:
    listed = client.get("/api/v1/rules", params={"pack": "examples"})
    assert listed.headers["X-Total-Count"] == "3"
    refs = [r["ref"] for r in listed.json()]
    assert refs == [
        "examples.greet_every_minute",
        "examples.greet_from_webhook",
        "examples.page_on_critical_alert",
    ]
    enabled = client.get("/api/v1/rules", params={"pack": "examples", "enabled": "false"}).json()
    assert [r["ref"] for r in enabled] == ["examples.greet_every_minute"]
    slim = client.get(
        "/api/v1/rules", params={"include_attributes": "ref,pack,description,enabled", "limit": 1}
    ).json()
    assert set(slim[0]) == {"id", "ref", "pack", "description", "enabled"}

    rule = client.get("/api/v1/rules/examples.greet_from_webhook").json()
    assert rule["uid"] == "rule:examples:greet_from_webhook"
    assert rule["trigger"]["type"] == "core.st2.webhook"
    assert rule["trigger"]["parameters"] == {"url": "greet"}
    assert rule["trigger"]["ref"].startswith("core.")  # a parameterised trigger: <pack>.<uuid>
    assert rule["action"] == {
        "ref": "examples.greet",
        "parameters": {"name": "{{ trigger.body.name }}"},
    }
    assert rule["criteria"] == {"trigger.body.name": {"type": "exists"}}
    assert rule["type"] == {"ref": "standard", "parameters": {}}
    assert rule["enabled"] is True
    assert client.get(f"/api/v1/rules/{rule['id']}").json()["ref"] == rule["ref"]
    missing = client.get("/api/v1/rules/examples.nope")
    assert missing.status_code == 404 and "examples.nope" in missing.json()["faultstring"]


def _alert(client: Api) -> str:
    posted = client.post(
        "/api/v1/webhooks/st2", json={"trigger": "examples.service_alert", "payload": ALERT}
    )
    assert posted.status_code == 202, posted.text
    runtime = client.runtime
    store = runtime.events.store
    from packhorse.storage.events import InstanceFilter

    instance = wait(lambda: store.find(InstanceFilter(trigger="examples.service_alert", limit=1)))[
        0
    ]
    wait(lambda: store.get(instance.id).status.value != "pending")
    return str(instance.id)


def test_disabling_a_rule_with_put_stops_it_firing_and_enabling_restores_it(
    client: Api,
) -> None:
    ref = "examples.page_on_critical_alert"
    rule = client.get(f"/api/v1/rules/{ref}").json()
    # st2 rule disable: the whole rule back with enabled flipped, to /rules/<id>.
    put = client.put(f"/api/v1/rules/{rule['id']}", json={**rule, "enabled": False})
    assert put.status_code == 200, put.text
    assert put.json()["enabled"] is False
    assert client.get(f"/api/v1/rules/{ref}").json()["enabled"] is False

    quiet = _alert(client)
    enforced = client.get("/api/v1/ruleenforcements", params={"trigger_instance": quiet})
    assert enforced.json() == [] and enforced.headers["X-Total-Count"] == "0"

    assert (
        client.put(f"/api/v1/rules/{ref}", json={**rule, "enabled": True}).json()["enabled"] is True
    )
    fired = _alert(client)
    enforcements = wait(
        lambda: client.get("/api/v1/ruleenforcements", params={"trigger_instance": fired}).json()
    )
    [enforcement] = enforcements
    assert enforcement["rule"]["ref"] == ref and enforcement["rule"]["id"] == rule["id"]
    assert enforcement["status"] == "succeeded" and enforcement["execution_id"]
    assert enforcement["trigger_instance_id"] == fired
    one = client.get(f"/api/v1/ruleenforcements/{enforcement['id']}").json()
    assert one == enforcement
    by_rule = client.get("/api/v1/ruleenforcements", params={"rule_ref": ref})
    assert by_rule.headers["X-Total-Count"] == "1"
    assert client.get("/api/v1/ruleenforcements/nope").status_code == 404


def test_put_may_change_only_enabled(client: Api) -> None:
    rule = client.get("/api/v1/rules/examples.page_on_critical_alert").json()
    changed = client.put(
        "/api/v1/rules/examples.page_on_critical_alert",
        json={**rule, "criteria": {}, "enabled": False},
    )
    assert changed.status_code == 400 and "only 'enabled'" in changed.json()["faultstring"]
    assert client.put("/api/v1/rules/examples.page_on_critical_alert", json={}).status_code == 400
    assert client.put("/api/v1/rules/examples.nope", json={"enabled": True}).status_code == 404
    assert client.get("/api/v1/rules/examples.page_on_critical_alert").json()["enabled"] is True


# -- trigger types, triggers, trigger instances, sensors --------------------------------------


def test_trigger_types_and_triggers(client: Api) -> None:
    types = client.get("/api/v1/triggertypes").json()
    by_ref = {t["ref"]: t for t in types}
    alert = by_ref["examples.service_alert"]
    assert alert["uid"] == "trigger_type:examples:service_alert"
    assert alert["pack"] == "examples" and alert["name"] == "service_alert"
    assert alert["payload_schema"]["properties"]["severity"]["required"] is True
    assert "core.st2.webhook" in by_ref
    assert client.get("/api/v1/triggertypes/examples.service_alert").json() == alert
    assert client.get(f"/api/v1/triggertypes/{alert['id']}").json() == alert
    assert client.get("/api/v1/triggertypes", params={"pack": "examples"}).headers[
        "X-Total-Count"
    ] == str(len([t for t in types if t["pack"] == "examples"]))

    triggers = {t["ref"]: t for t in client.get("/api/v1/triggers").json()}
    plain = triggers["examples.service_alert"]
    assert plain["type"] == "examples.service_alert" and plain["parameters"] == {}
    rule = client.get("/api/v1/rules/examples.greet_from_webhook").json()
    bound = triggers[rule["trigger"]["ref"]]
    assert bound["type"] == "core.st2.webhook" and bound["parameters"] == {"url": "greet"}
    assert bound["uid"].startswith(f"trigger:core:{bound['name']}:")
    assert client.get(f"/api/v1/triggers/{bound['ref']}").json() == bound
    webhooks = client.get("/api/v1/triggers", params={"type": "core.st2.webhook"}).json()
    assert bound["ref"] in {t["ref"] for t in webhooks}
    assert client.get("/api/v1/triggers/nope.nope").status_code == 404
    assert client.get("/api/v1/triggertypes/nope.nope").status_code == 404


def test_trigger_instances_list_get_and_re_emit(client: Api) -> None:
    first = _alert(client)
    second = _alert(client)
    listed = client.get(
        "/api/v1/triggerinstances", params={"trigger": "examples.service_alert", "limit": 1}
    )
    assert listed.headers["X-Total-Count"] == "2"
    [newest] = listed.json()
    assert newest["id"] == second
    assert newest["payload"] == ALERT and newest["status"] == "processed"
    assert newest["occurrence_time"].endswith("Z")
    older = client.get(
        "/api/v1/triggerinstances", params={"trigger": "examples.service_alert", "offset": 1}
    )
    assert [i["id"] for i in older.json()] == [first]
    assert (
        client.get(f"/api/v1/triggerinstances/{first}").json()["trigger"]
        == "examples.service_alert"
    )
    assert client.get("/api/v1/triggerinstances/nope").status_code == 404

    again = client.post(f"/api/v1/triggerinstances/{first}/re_emit")
    assert again.status_code == 200, again.text
    assert again.json()["payload"] == ALERT and first in again.json()["message"]
    copy = client.get(f"/api/v1/triggerinstances/{again.json()['id']}").json()
    assert copy["source"] == f"re-emit:{first}" and copy["payload"] == ALERT
    assert client.post("/api/v1/triggerinstances/nope/re_emit").status_code == 404


def test_sensor_types(client: Api) -> None:
    sensors = client.get("/api/v1/sensortypes", params={"pack": "examples"}).json()
    [load] = sensors
    assert load["ref"] == "examples.LoadSensor" and load["uid"] == "sensor_type:examples:LoadSensor"
    assert load["trigger_types"] == ["examples.load_changed"] and load["enabled"] is True
    assert load["entry_point"] == "load_sensor.py"
    assert client.get("/api/v1/sensortypes/examples.LoadSensor").json()["id"] == load["id"]
    assert client.get("/api/v1/sensortypes/nope").status_code == 404


# -- inquiries --------------------------------------------------------------------------------


def test_answering_an_inquiry_over_the_api_resumes_the_workflow(client: Api) -> None:
    runtime = client.runtime
    workflow = runtime.executions.request("flows.asking", {"item": "crate"}, user="admin")
    pending = wait(lambda: client.get("/api/v1/inquiries").json())
    [inquiry] = pending
    assert inquiry["parent"] == workflow.id and inquiry["route"] == "approvals"
    assert inquiry["schema"]["properties"]["continue"]["type"] == "boolean"
    assert client.get(f"/api/v1/inquiries/{inquiry['id']}").json()["id"] == inquiry["id"]

    bad = client.put(
        f"/api/v1/inquiries/{inquiry['id']}",
        json={"id": inquiry["id"], "response": {"continue": "yes"}},
    )
    assert bad.status_code == 400 and "schema" in bad.json()["faultstring"]
    not_object = client.put(f"/api/v1/inquiries/{inquiry['id']}", json={"response": 3})
    assert not_object.status_code == 400

    answered = client.put(
        f"/api/v1/inquiries/{inquiry['id']}",
        json={"id": inquiry["id"], "response": {"continue": True}},
    )
    assert answered.status_code == 200, answered.text
    assert answered.json() == {"id": inquiry["id"], "response": {"continue": True}}

    from packhorse.model.execution import Status

    done = wait(lambda: (e := runtime.executions.get(workflow.id)).status is Status.SUCCEEDED and e)
    assert done.result["output"] == {"said": "shipping crate approved=True"}
    assert client.get("/api/v1/inquiries").json() == []
    again = client.put(f"/api/v1/inquiries/{inquiry['id']}", json={"response": {"continue": True}})
    assert again.status_code == 400 and "not pending" in again.json()["faultstring"]
    assert client.get("/api/v1/inquiries/nope").status_code == 404
    assert client.put("/api/v1/inquiries/nope", json={"response": {}}).status_code == 404
