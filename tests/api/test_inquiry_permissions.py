"""Who may answer an inquiry over the API: the ``users`` and ``roles`` of its question (as
``core.ask`` takes them) are both checked; a caller refused by either gets StackStorm's 403
faultstring and the inquiry stays pending."""

from __future__ import annotations

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

API = "/api/v1"
YES = {"continue": True}


def wait_for(condition: Callable[[], Any], timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture
def served(instance_home: Path) -> Iterator[tuple[httpx.Client, Settings]]:
    settings = load_settings(instance_home)
    app = bootstrap.create_app(settings, workers=2)
    with serving(app) as url, httpx.Client(base_url=url, timeout=20) as client:
        client.headers.update(headers_for(settings))
        yield client, settings


def ask(client: httpx.Client, **question: Any) -> str:
    """Run core.ask with ``question`` and wait for its inquiry; returns the inquiry id."""
    posted = client.post(f"{API}/executions", json={"action": "core.ask", "parameters": question})
    assert posted.status_code == 201, posted.text
    inquiry_id = str(posted.json()["id"])
    wait_for(lambda: client.get(f"{API}/inquiries/{inquiry_id}").status_code == 200)
    return inquiry_id


def answer(
    client: httpx.Client, settings: Settings, inquiry_id: str, user: str, role: str
) -> httpx.Response:
    return client.put(
        f"{API}/inquiries/{inquiry_id}",
        json={"id": inquiry_id, "response": YES},
        headers=headers_for(settings, user, role),
    )


def test_a_caller_without_a_listed_role_is_refused_with_403(
    served: tuple[httpx.Client, Settings],
) -> None:
    client, settings = served
    inquiry_id = ask(client, roles=["admin"])
    assert client.get(f"{API}/inquiries/{inquiry_id}").json()["roles"] == ["admin"]
    refused = answer(client, settings, inquiry_id, "oscar", "operator")
    assert refused.status_code == 403, refused.text
    assert "'oscar' (role operator) may not answer" in refused.json()["faultstring"]
    assert client.get(f"{API}/executions/{inquiry_id}").json()["status"] == "pending"
    before = client.get("/metrics").text
    accepted = answer(client, settings, inquiry_id, "ada", "admin")
    assert accepted.status_code == 200, accepted.text
    wait_for(lambda: client.get(f"{API}/executions/{inquiry_id}").json()["status"] == "succeeded")
    # The answered inquiry is an execution that ended: the metrics count it.
    series = 'packhorse_executions_finished_total{runner="inquirer",status="succeeded"}'
    assert series not in before and f"{series} 1.0" in client.get("/metrics").text


def test_a_caller_not_among_the_listed_users_is_refused_with_403(
    served: tuple[httpx.Client, Settings],
) -> None:
    client, settings = served
    inquiry_id = ask(client, users=["alice"], roles=["operator"])
    # Listed roles do not stand in for the users list: both must pass, even for an admin.
    for user, role in (("bob", "operator"), ("root", "admin")):
        refused = answer(client, settings, inquiry_id, user, role)
        assert refused.status_code == 403, refused.text
        assert f"'{user}' may not answer" in refused.json()["faultstring"]
    assert answer(client, settings, inquiry_id, "alice", "operator").status_code == 200


def test_a_viewer_may_not_answer_even_when_listed(served: tuple[httpx.Client, Settings]) -> None:
    client, settings = served
    inquiry_id = ask(client, users=["vera"], roles=["viewer"])
    refused = answer(client, settings, inquiry_id, "vera", "viewer")
    assert refused.status_code == 403  # answering is an operator's act (the route's role)
    assert "required role" in refused.json()["faultstring"]
