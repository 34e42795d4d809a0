"""Packs, actions and executions over StackStorm's v1 API, against the app ``packhorse up``
serves (engine running in its lifespan): runs go through the real queue and worker."""

from __future__ import annotations

import json
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
from packhorse.settings import load_settings

SIGNALS = Path(__file__).parents[1] / "fixtures" / "engine_packs" / "signals"
API = "/api/v1"


@pytest.fixture
def served_url(instance_home: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """``packhorse up``'s app on loopback (the signals test pack registered)."""
    shutil.copytree(SIGNALS, instance_home / "packs" / "signals")
    settings = load_settings(instance_home)
    assert bootstrap.register_instance_packs(settings, refs=["signals"]).ok
    with serving(bootstrap.create_app(settings, workers=2)) as url:
        yield url, headers_for(settings)


@pytest.fixture
def client(served_url: tuple[str, dict[str, str]]) -> Iterator[httpx.Client]:
    url, headers = served_url
    with httpx.Client(base_url=url, headers=headers, timeout=10) as http:
        yield http


def wait_for(condition: Callable[[], Any], timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def run(client: httpx.Client, action: str, **parameters: Any) -> dict[str, Any]:
    response = client.post(f"{API}/executions", json={"action": action, "parameters": parameters})
    assert response.status_code == 201, response.text
    return dict(response.json())


def finished(client: httpx.Client, execution_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        document = client.get(f"{API}/executions/{execution_id}").json()
        ended = document["status"] in {"succeeded", "failed", "canceled", "timeout"}
        return dict(document) if ended else None

    return dict(wait_for(done))


def test_st2_run_flow_post_then_poll_until_succeeded_with_stdout(client: httpx.Client) -> None:
    created = run(client, "core.local", cmd="echo hi")
    assert created["status"] in {"requested", "scheduled", "running"}
    assert created["action"]["ref"] == "core.local"
    assert created["action"]["runner_type"] == "local-shell-cmd"
    assert created["runner"]["name"] == "local-shell-cmd"
    assert created["liveaction"]["id"] == created["id"]
    assert created["context"]["user"] == "admin"
    assert created["parameters"] == {"cmd": "echo hi"}

    done = finished(client, created["id"])
    assert done["status"] == "succeeded"
    assert done["result"]["stdout"] == "hi"
    assert done["result"]["return_code"] == 0
    assert done["start_timestamp"].endswith("Z") and done["end_timestamp"].endswith("Z")
    assert done["elapsed_seconds"] >= 0
    assert [entry["status"] for entry in done["log"]][-1] == "succeeded"

    output = client.get(f"{API}/executions/{created['id']}/output")
    assert output.status_code == 200
    assert output.headers["content-type"].startswith("text/plain")
    assert output.text == "hi\n"
    stderr = client.get(f"{API}/executions/{created['id']}/output?output_type=stderr")
    assert stderr.text == ""


def test_list_pages_with_total_count_and_filters(client: httpx.Client) -> None:
    ids = [run(client, "core.noop")["id"] for _ in range(3)]
    failing = run(client, "core.local", cmd="exit 3")["id"]
    for execution_id in [*ids, failing]:
        finished(client, execution_id)

    page = client.get(f"{API}/executions", params={"limit": 2, "offset": 1})
    assert page.status_code == 200
    assert page.headers["X-Total-Count"] == "4"
    assert [e["id"] for e in page.json()] == [ids[2], ids[1]]  # newest first, one skipped

    noops = client.get(f"{API}/executions/", params={"action": "core.noop", "parent": "null"})
    assert noops.headers["X-Total-Count"] == "3"
    assert {e["id"] for e in noops.json()} == set(ids)

    failed = client.get(f"{API}/executions", params={"status": "failed"}).json()
    assert [e["id"] for e in failed] == [failing]

    oldest = client.get(f"{API}/executions", params={"sort_asc": "True", "limit": 1}).json()
    assert [e["id"] for e in oldest] == [ids[0]]

    mine = client.get(f"{API}/executions", params={"user": "admin"})
    assert mine.headers["X-Total-Count"] == "4"
    assert client.get(f"{API}/executions", params={"user": "nobody"}).json() == []

    slim = client.get(
        f"{API}/executions",
        params={"include_attributes": "id,status,action.ref,context.user", "limit": 1},
    ).json()
    assert slim == [
        {"id": failing, "status": "failed", "action": {"ref": "core.local"},
         "context": {"user": "admin"}}
    ]  # fmt: skip
    without = client.get(f"{API}/executions/{failing}?exclude_attributes=result,log").json()
    assert "result" not in without and "log" not in without and without["status"] == "failed"


def test_cancel_a_running_command(client: httpx.Client) -> None:
    created = run(client, "core.local", cmd="sleep 5")
    wait_for(lambda: client.get(f"{API}/executions/{created['id']}").json()["status"] == "running")
    response = client.delete(f"{API}/executions/{created['id']}")
    assert response.status_code == 200
    assert response.json()["status"] in {"canceling", "canceled"}
    assert finished(client, created["id"])["status"] == "canceled"

    again = client.delete(f"{API}/executions/{created['id']}")
    assert again.status_code == 200 and again.json()["status"] == "canceled"

    succeeded = run(client, "core.noop")["id"]
    finished(client, succeeded)
    late = client.delete(f"{API}/executions/{succeeded}")
    assert late.status_code == 200
    assert late.json() == {"faultstring": "Action cannot be canceled. State = succeeded."}


def test_errors_are_stackstorm_shaped(client: httpx.Client) -> None:
    missing = client.get(f"{API}/executions/nope")
    assert missing.status_code == 404
    assert missing.json() == {"faultstring": "Execution with id nope not found."}
    assert client.delete(f"{API}/executions/nope").status_code == 404
    assert client.get(f"{API}/executions/nope/output").status_code == 404

    unknown = client.post(f"{API}/executions", json={"action": "core.nothing"})
    assert unknown.status_code == 400
    assert unknown.json() == {"faultstring": 'Action "core.nothing" cannot be found.'}

    for body, fragment in [
        (b"not json", "not valid JSON"),
        (b"[1]", "must be a JSON object"),
        (b"{}", "'action' is required"),
        (b'{"action": "core.local", "parameters": [1]}', "'parameters' must be an object"),
    ]:
        bad = client.post(f"{API}/executions", content=body)
        assert bad.status_code == 400, body
        assert fragment in bad.json()["faultstring"]

    required = client.post(f"{API}/executions", json={"action": "core.local"})
    assert required.status_code == 400
    assert "cmd" in required.json()["faultstring"]

    assert client.get(f"{API}/executions?limit=0").status_code == 400
    assert client.get(f"{API}/executions?limit=x").json()["faultstring"]
    assert "unknown status" in client.get(f"{API}/executions?status=bogus").json()["faultstring"]

    assert client.get(f"{API}/actions/core.nothing").status_code == 404
    assert client.get(f"{API}/packs/nothing").json()["faultstring"]

    done = run(client, "core.noop")["id"]
    finished(client, done)
    pause = client.put(f"{API}/executions/{done}", json={"status": "pausing"})
    assert pause.status_code == 400
    assert pause.json() == {"faultstring": "Execution is already in completed state."}
    weird = client.put(f"{API}/executions/{done}", json={"status": "exploded"})
    assert weird.status_code == 400 and "'status' must be one of" in weird.text
    rerun = client.post(f"{API}/executions/{done}/re_run", json={"tasks": [], "reset": ["x"]})
    assert rerun.status_code == 400
    assert "reset does not match" in rerun.json()["faultstring"]


def test_secret_parameters_are_masked(client: httpx.Client) -> None:
    created = run(client, "signals.probe", token="hunter2")
    assert created["parameters"] == {"token": "********"}
    done = finished(client, created["id"])
    assert done["parameters"] == {"token": "********"}
    assert done["liveaction"]["parameters"] == {"token": "********"}
    listed = client.get(f"{API}/executions").text
    assert "hunter2" not in listed


def test_re_run_uses_the_same_parameters_with_overrides(client: httpx.Client) -> None:
    first = run(client, "core.local", cmd="echo one")["id"]
    finished(client, first)
    again = client.post(f"{API}/executions/{first}/re_run", json={"parameters": {}})
    assert again.status_code == 201
    assert finished(client, again.json()["id"])["result"]["stdout"] == "one"
    other = client.post(
        f"{API}/executions/{first}/re_run", json={"parameters": {"cmd": "echo two"}}
    )
    rerun = finished(client, other.json()["id"])
    assert rerun["result"]["stdout"] == "two"
    assert rerun["context"]["re-run"] == {"ref": first}


def test_re_run_keeps_a_secret_parameter_encrypted_once(
    client: httpx.Client, instance_home: Path
) -> None:
    first = run(client, "signals.probe", token="hunter2")["id"]
    finished(client, first)
    again = client.post(f"{API}/executions/{first}/re_run", json={"parameters": {}})
    assert again.status_code == 201
    assert again.json()["parameters"] == {"token": "********"}
    finished(client, again.json()["id"])
    settings = load_settings(instance_home)
    with bootstrap.database_engine(settings).connect() as connection:
        row = connection.exec_driver_sql(
            "SELECT parameters FROM executions WHERE id = ?", (again.json()["id"],)
        ).one()
    token = json.loads(row[0])["token"]
    assert bootstrap.datastore_service(settings).decrypt(token) == "hunter2"


def test_a_workflow_lists_its_children(client: httpx.Client) -> None:
    created = run(client, "examples.greet_team")
    done = finished(client, created["id"])
    assert done["status"] == "succeeded", done.get("result")
    children = client.get(f"{API}/executions/{created['id']}/children?depth=-1")
    assert children.status_code == 200
    tasks = children.json()
    assert tasks and all(task["parent"] == created["id"] for task in tasks)
    assert {task["id"] for task in tasks} == set(done["children"])
    top = client.get(f"{API}/executions", params={"parent": "null"}).json()
    assert [e["id"] for e in top] == [created["id"]]
    below = client.get(f"{API}/executions", params={"parent": created["id"]})
    assert below.headers["X-Total-Count"] == str(len(tasks))


def test_actions_packs_and_runner_types(client: httpx.Client) -> None:
    listed = client.get(f"{API}/actions", params={"pack": "core", "limit": 2})
    assert listed.status_code == 200
    total = int(listed.headers["X-Total-Count"])
    assert total > 2 and len(listed.json()) == 2
    assert all(action["pack"] == "core" for action in listed.json())

    local = client.get(f"{API}/actions/core.local").json()
    assert local["ref"] == "core.local" and local["runner_type"] == "local-shell-cmd"
    assert local["uid"] == "action:core:local"
    assert "cmd" in local["parameters"]
    by_id = client.get(f"{API}/actions/{local['id']}").json()
    assert by_id["ref"] == "core.local"
    named = client.get(f"{API}/actions", params={"name": "local", "pack": "core"}).json()
    assert [a["ref"] for a in named] == ["core.local"]

    view = client.get(f"{API}/actions/views/parameters/core.local").json()
    assert view["parameters"]["cmd"]["required"] is True
    assert "sudo" in view["parameters"]  # the runner's parameters too
    overview = client.get(f"{API}/actions/views/overview/core.local").json()
    assert overview["ref"] == "core.local"

    runners = client.get(f"{API}/runnertypes/", params={"name": "local-shell-cmd"}).json()
    assert [r["name"] for r in runners] == ["local-shell-cmd"]
    assert "cmd" in runners[0]["runner_parameters"]

    packs = client.get(f"{API}/packs")
    assert {"core", "examples", "signals"} <= {p["ref"] for p in packs.json()}
    assert packs.headers["X-Total-Count"] == str(len(packs.json()))
    core = client.get(f"{API}/packs/core").json()
    assert core["ref"] == "core" and core["uid"] == "pack:core" and core["version"]
