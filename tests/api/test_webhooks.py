"""Webhooks over real HTTP on loopback, against the app ``packhorse up`` serves (engine
running in its lifespan): the trigger instance is stored before the answer, rules fire, and
StackStorm's shapes and errors hold."""

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
from packhorse.settings import Settings, load_settings
from packhorse.storage.events import EnforcementFilter, InstanceFilter, SqlEventStore
from packhorse.storage.executions import SqlExecutionStore

SIGNALS = Path(__file__).parents[1] / "fixtures" / "engine_packs" / "signals"


class Served:
    def __init__(self, settings: Settings, url: str) -> None:
        self.settings = settings
        self.url = url
        self.credentials = headers_for(settings, "hooker", "operator")
        engine = bootstrap.database_engine(settings)
        self.events = SqlEventStore(engine)
        self.executions = SqlExecutionStore(engine)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        """POST to ``/api/v1/webhooks/<path>`` as an operator."""
        headers = {**self.credentials, **kwargs.pop("headers", {})}
        return httpx.post(f"{self.url}/api/v1/webhooks/{path}", headers=headers, **kwargs)

    def wait(self, condition: Callable[[], Any], timeout: float = 15) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.02)
        raise AssertionError("condition not met in time")


@pytest.fixture
def served(instance_home: Path) -> Iterator[Served]:
    shutil.copytree(SIGNALS, instance_home / "packs" / "signals")
    settings = load_settings(instance_home)
    assert bootstrap.register_instance_packs(settings, refs=["signals"]).ok
    with serving(bootstrap.create_app(settings, workers=2)) as url:
        yield Served(settings, url)


def test_a_webhook_post_stores_the_instance_first_and_fires_the_rule(served: Served) -> None:
    body = {"ok": "yes", "n": 1}
    response = served.post(
        "signals/in",
        json=body,
        headers={"X-Source": "ci", "St2-Trace-Tag": "t-1"},  # the token: served.post
    )
    assert response.status_code == 202
    assert response.json() == body  # StackStorm echoes the body
    # Durable before the answer: the instance is there the moment the answer is.
    [instance] = served.events.find(InstanceFilter(trigger_type="core.st2.webhook"))
    payload = instance.payload
    assert payload["body"] == body
    assert payload["headers"]["X-Source"] == "ci"
    assert payload["headers_lower"]["x-source"] == "ci"
    assert "X-Auth-Token" not in payload["headers"]  # credentials never reach the payload
    assert instance.trace_tag == "t-1"
    [enforcement] = served.wait(
        lambda: served.events.enforcements(EnforcementFilter(trigger_instance_id=instance.id))
    )
    assert enforcement.rule == "signals.hook"
    execution_id = enforcement.execution_id
    assert execution_id is not None
    done = served.wait(
        lambda: (e := served.executions.get(execution_id)) is not None and e.completed and e
    )
    assert done.result["stdout"] == "yes from ci"


def test_the_generic_webhook_fires_any_trigger(served: Served) -> None:
    body = {"trigger": "signals.alert", "payload": {"service": "web", "severity": "low"}}
    response = served.post("st2", json=body)
    assert response.status_code == 202, response.text
    [instance] = served.events.find(InstanceFilter(trigger="signals.alert"))
    assert instance.payload == body["payload"]
    [enforcement] = served.wait(
        lambda: served.events.enforcements(EnforcementFilter(trigger_instance_id=instance.id))
    )
    assert enforcement.rule == "signals.everything_else"


@pytest.mark.parametrize(
    ("path", "kwargs", "status", "fault"),
    [
        ("nowhere", {"json": {}}, 404, "Webhook nowhere not registered with st2"),
        ("st2", {"json": {"payload": {}}}, 400, "Trigger not specified."),
        ("st2", {"json": [1]}, 400, "Webhook body needs to be an object, got: array"),
        (
            "st2",
            {"json": {"trigger": "signals.alert", "payload": {"service": "web"}}},
            400,
            "severity",
        ),
        ("st2", {"json": {"trigger": "nope.nothing", "payload": {}}}, 400, "nope.nothing"),
        (
            "signals/in",
            {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
            400,
            "Failed to parse request body",
        ),
    ],
)
def test_refusals_are_stackstorm_shaped_and_store_nothing(
    served: Served, path: str, kwargs: dict[str, Any], status: int, fault: str
) -> None:
    response = served.post(path, **kwargs)
    assert response.status_code == status
    assert fault in response.json()["faultstring"]
    assert served.events.find(InstanceFilter()) == []


def test_form_bodies_arrive_as_stackstorm_parses_them(served: Served) -> None:
    response = served.post("signals/in", data={"ok": "1"})
    assert response.status_code == 202
    [instance] = served.events.find(InstanceFilter())
    assert instance.payload["body"] == {"ok": ["1"]}


def test_the_webhook_list_shows_rule_urls(served: Served) -> None:
    hooks = httpx.get(f"{served.url}/api/v1/webhooks", headers=served.credentials).json()
    assert [hook["url"] for hook in hooks] == ["greet", "signals/in"]  # examples: greet


def test_a_webhook_needs_an_operator_or_its_own_secret(served: Served) -> None:
    body = {"ok": "yes"}
    anonymous = httpx.post(f"{served.url}/api/v1/webhooks/signals/in", json=body)
    assert anonymous.status_code == 401
    assert anonymous.json()["faultstring"].startswith("Unauthorized")
    viewer = headers_for(served.settings, "vera", "viewer")
    refused = httpx.post(f"{served.url}/api/v1/webhooks/signals/in", json=body, headers=viewer)
    assert refused.status_code == 403
    assert served.events.find(InstanceFilter()) == []

    # Senders that cannot log in (a SaaS webhook) give the webhook's own secret instead.
    from packhorse.model.datastore import Scope

    datastore = bootstrap.datastore_service(served.settings)
    datastore.set_value("webhook_secret:signals/in", "s3cret-hook", scope=Scope.SYSTEM, secret=True)
    url = f"{served.url}/api/v1/webhooks/signals/in"
    wrong = httpx.post(url, json=body, headers={"St2-Webhook-Secret": "nope"})
    assert wrong.status_code == 401 and "secret" in wrong.json()["faultstring"]
    other = httpx.post(
        f"{served.url}/api/v1/webhooks/st2",
        json={"trigger": "signals.alert", "payload": {"service": "x", "severity": "low"}},
        headers={"St2-Webhook-Secret": "s3cret-hook"},
    )
    assert other.status_code == 401  # a secret opens its own webhook only
    by_header = httpx.post(url, json=body, headers={"St2-Webhook-Secret": "s3cret-hook"})
    assert by_header.status_code == 202
    by_query = httpx.post(url, json=body, params={"st2-webhook-secret": "s3cret-hook"})
    assert by_query.status_code == 202
    stored = served.events.find(InstanceFilter())
    assert len(stored) == 2
    assert all("St2-Webhook-Secret" not in i.payload["headers"] for i in stored)
