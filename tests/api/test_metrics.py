"""``GET /metrics`` of the app ``packhorse up`` serves: real executions and webhooks go
through the engine over HTTP, and the scraped series move by exactly what was done."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from tests.api.credentials import headers_for
from tests.api.serving import serving

from packhorse import bootstrap
from packhorse.api.metrics import PrometheusObserver
from packhorse.model.execution import Status
from packhorse.settings import Settings, load_settings

API = "/api/v1"
ENDED = {"succeeded", "failed", "canceled", "timeout"}


def wait_for(condition: Callable[[], Any], timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


class Scrape:
    """One scrape of /metrics, parsed."""

    def __init__(self, text: str) -> None:
        self.samples = [
            sample for family in text_string_to_metric_families(text) for sample in family.samples
        ]

    def value(self, name: str, **labels: str) -> float:
        """The sample's value (0 when the series does not exist yet)."""
        for sample in self.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
        return 0.0


@pytest.fixture
def served(instance_home: Path) -> Iterator[tuple[httpx.Client, Settings]]:
    settings = load_settings(instance_home)
    app = bootstrap.create_app(settings, workers=2)
    with serving(app) as url, httpx.Client(base_url=url, timeout=20) as client:
        client.headers.update(headers_for(settings))
        yield client, settings


def scrape(client: httpx.Client) -> Scrape:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return Scrape(response.text)


def run_to_end(client: httpx.Client, action: str, **parameters: Any) -> dict[str, Any]:
    posted = client.post(f"{API}/executions", json={"action": action, "parameters": parameters})
    assert posted.status_code == 201, posted.text
    execution_id = posted.json()["id"]

    def ended() -> dict[str, Any] | None:
        document = dict(client.get(f"{API}/executions/{execution_id}").json())
        return document if document["status"] in ENDED else None

    return dict(wait_for(ended))


def test_executions_move_the_counters_and_histograms_by_exactly_their_number(
    served: tuple[httpx.Client, Settings],
) -> None:
    client, _ = served
    before = scrape(client)
    noops, commands = 3, 2
    for _ in range(noops):
        assert run_to_end(client, "core.noop")["status"] == "succeeded"
    for _ in range(commands):
        assert run_to_end(client, "core.local", cmd="true")["status"] == "succeeded"
    assert run_to_end(client, "core.local", cmd="exit 3")["status"] == "failed"
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    finished = "packhorse_executions_finished_total"
    assert moved(finished, runner="noop", status="succeeded") == noops
    assert moved(finished, runner="local-shell-cmd", status="succeeded") == commands
    assert moved(finished, runner="local-shell-cmd", status="failed") == 1
    latency = "packhorse_action_duration_seconds_count"
    assert moved(latency, runner="noop") == noops
    assert moved(latency, runner="local-shell-cmd") == commands + 1
    assert moved("packhorse_action_duration_seconds_sum", runner="local-shell-cmd") > 0
    # The gauges are read from the database at the scrape.
    assert moved("packhorse_executions", status="succeeded") == noops + commands
    assert moved("packhorse_executions", status="failed") == 1
    assert after.value("packhorse_queue_depth") == 0
    assert after.value("packhorse_queue_oldest_age_seconds") == 0
    # Requests are counted by route template, not by path.
    assert (
        moved(
            "packhorse_http_requests_total",
            method="GET",
            route="/api/v1/executions/{execution_id}",
            status="200",
        )
        >= noops + commands + 1
    )


def test_made_up_paths_and_methods_add_no_series(served: tuple[httpx.Client, Settings]) -> None:
    client, _ = served
    for n in range(3):
        assert client.get(f"/nothing/{n}").status_code == 404
        client.request(f"BREW{n}", "/health")
    requests = [s for s in scrape(client).samples if s.name == "packhorse_http_requests_total"]
    routes = {s.labels["route"] for s in requests}
    assert "unmatched" in routes and not any(route.startswith("/nothing") for route in routes)
    assert not any(s.labels["method"].startswith("BREW") for s in requests)
    assert any(s.labels["method"] == "OTHER" for s in requests)


def test_a_workflow_counts_once_and_its_tasks_in_the_task_histogram(
    served: tuple[httpx.Client, Settings],
) -> None:
    client, _ = served
    before = scrape(client)
    chain = run_to_end(client, "examples.hello_chain", name="Ada")
    assert chain["status"] == "succeeded", chain
    children = client.get(f"{API}/executions/{chain['id']}/children").json()
    assert len(children) == 3  # greet, measure, shout
    after = scrape(client)
    finished = "packhorse_executions_finished_total"
    labels = {"runner": "action-chain", "status": "succeeded"}
    assert after.value(finished, **labels) - before.value(finished, **labels) == 1

    def tasks(scrape: Scrape) -> float:
        name = "packhorse_workflow_task_duration_seconds_count"
        return sum(sample.value for sample in scrape.samples if sample.name == name)

    assert tasks(after) - tasks(before) == len(children)


def test_rule_matches_and_enforcements_move_by_the_matches(
    served: tuple[httpx.Client, Settings],
) -> None:
    client, settings = served
    runtime_events = bootstrap.event_service(settings).store
    rule = "examples.greet_from_webhook"
    before = scrape(client)
    # Two match (a name is given); one does not (the rule's criteria ask for a name).
    for body in ({"name": "Ada"}, {"name": "Grace"}, {"nobody": True}):
        assert client.post(f"{API}/webhooks/greet", json=body).status_code == 202
    wait_for(lambda: not runtime_events.pending(limit=10))
    wait_for(
        lambda: (
            scrape(client).value("packhorse_rule_enforcements_total", rule=rule)
            - before.value("packhorse_rule_enforcements_total", rule=rule)
            >= 2
        )
    )
    after = scrape(client)
    assert (
        after.value("packhorse_rule_matches_total", rule=rule)
        - before.value("packhorse_rule_matches_total", rule=rule)
        == 2
    )
    assert (
        after.value("packhorse_rule_enforcements_total", rule=rule, outcome="requested")
        - before.value("packhorse_rule_enforcements_total", rule=rule, outcome="requested")
        == 2
    )


def test_metrics_ask_for_credentials_unless_metrics_auth_is_off(instance_home: Path) -> None:
    settings = load_settings(instance_home)
    assert settings.metrics_auth is True
    with serving(bootstrap.create_app(settings, workers=1)) as url:
        refused = httpx.get(f"{url}/metrics")
        assert refused.status_code == 401
        assert "faultstring" in refused.json()
        viewer = headers_for(settings, "watcher", "viewer")
        assert httpx.get(f"{url}/metrics", headers=viewer).status_code == 200
        # As Prometheus sends it (scrape_configs params): an API key in the query.
        headers_for(settings, "prometheus", "viewer")  # the user, with the viewer role
        key = bootstrap.auth_service(settings).create_api_key("prometheus").key
        assert httpx.get(f"{url}/metrics", params={"st2-api-key": key}).status_code == 200
    opened = settings.with_overrides(metrics_auth=False)
    with serving(bootstrap.create_app(opened, workers=1)) as url:
        assert httpx.get(f"{url}/metrics").status_code == 200
        # Only /metrics is opened: the API still asks.
        assert httpx.get(f"{url}{API}/executions").status_code == 401


def test_each_app_counts_in_a_registry_of_its_own(instance_home: Path) -> None:
    settings = load_settings(instance_home)
    first, second = CollectorRegistry(), CollectorRegistry()
    PrometheusObserver(first).execution_finished("noop", Status.SUCCEEDED, 0.01, workflow_task=True)
    PrometheusObserver(second)
    labels = {"runner": "noop", "status": "succeeded"}
    assert first.get_sample_value("packhorse_executions_finished_total", labels) == 1
    assert (
        first.get_sample_value("packhorse_workflow_task_duration_seconds_count", {"runner": "noop"})
        == 1
    )
    assert second.get_sample_value("packhorse_executions_finished_total", labels) is None
    # Two apps in one process register their series apart (no duplicate-series error).
    bootstrap.create_app(settings, workers=1)
    bootstrap.create_app(settings, workers=1)
