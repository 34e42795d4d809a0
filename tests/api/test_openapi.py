"""``/openapi.json`` of the app ``packhorse up`` serves: complete (every route), valid (each
operation loads), summarised; and a schemathesis fuzz run that finds no server error."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from openapi_pydantic import parse_obj
from schemathesis.checks import not_a_server_error
from tests.api.credentials import headers_for
from tests.api.serving import serving

from packhorse import bootstrap
from packhorse.settings import Settings, load_settings

# A bundle import's body is a gzip file: fuzzed as the raw bytes an octet stream is.
schemathesis.serializer.alias("application/gzip", "application/octet-stream")

#: Operations the fuzz run leaves out, with why.
NOT_FUZZED: dict[str, str] = {
    # Fuzzed bodies would only be refused for want of HTTP Basic credentials; the sign-in is
    # tested with real ones in test_auth.py.
    "POST /auth/v1/tokens": "needs HTTP Basic credentials, not the admin token",
}


def streams(path: str, operation: dict[str, Any]) -> bool:
    """An event stream (StackStorm's ``/stream/v1/...``, or an operation answering
    ``text/event-stream``) is not fuzzed: it never ends, so each call would only wait for the
    read timeout. Its own tests cover it."""
    responses = operation.get("responses", {}).values()
    return path.startswith("/stream/") or any(
        "text/event-stream" in (answer.get("content") or {}) for answer in responses
    )


#: Routes every instance must document (a sample of each group; completeness is checked
#: against the app's own route table below).
EXPECTED = {
    ("get", "/health"),
    ("get", "/metrics"),
    ("post", "/api/v1/executions"),
    ("get", "/api/v1/executions/{execution_id}"),
    ("put", "/api/v1/keys/{name}"),
    ("put", "/api/v1/inquiries/{inquiry_id}"),
    ("post", "/api/v1/webhooks/{hook}"),
    ("post", "/auth/v1/tokens"),
    ("put", "/api/v1/packhorse/intake"),
    ("post", "/api/v1/packhorse/handover"),
    ("get", "/api/v1/packhorse/recipient-key"),
}


@pytest.fixture
def served(instance_home: Path) -> Iterator[tuple[str, dict[str, str]]]:
    settings = load_settings(instance_home)
    with serving(bootstrap.create_app(settings, workers=2)) as url:
        yield url, headers_for(settings)


def test_the_document_is_complete_valid_and_summarised(
    served: tuple[str, dict[str, str]],
) -> None:
    url, _ = served
    response = httpx.get(f"{url}/openapi.json")  # open, as StackStorm's spec is
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    assert document["openapi"].startswith("3.")
    parse_obj(document)  # valid against the specification's object model (raises if not)
    operations = {
        (method, path): operation
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }
    assert operations.keys() >= EXPECTED
    ids = [operation["operationId"] for operation in operations.values()]
    assert len(ids) == len(set(ids))
    for key, operation in operations.items():
        assert operation.get("summary"), key
    # A body read by hand is described all the same.
    run = operations[("post", "/api/v1/executions")]["requestBody"]
    assert run["content"]["application/json"]["schema"]["required"] == ["action"]
    # Every operation loads (a broken schema is an InvalidSchema result here).
    schema = schemathesis.openapi.from_dict(document)
    loaded = [result.ok() for result in schema.get_all_operations()]
    assert len(loaded) == len(operations)


#: Examples per operation: the 50 operations take under a minute on two cores.
EXAMPLES = 40


def fuzzer(
    operation: Any,
    url: str,
    headers: dict[str, str],
    known: dict[str, list[str]],
    examples: int = EXAMPLES,
) -> Any:
    """A hypothesis test of ``operation``: each generated request must not answer 5xx. Half
    the cases name resources that exist (``known`` ids by path parameter): random ids would
    only ever reach the 404 branch of a route."""

    @given(case=operation.as_strategy(), data=st.data())
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any, data: st.DataObject) -> None:
        for name in list(case.path_parameters or {}):
            if name in known and data.draw(st.booleans(), label=f"known {name}"):
                case.path_parameters[name] = data.draw(st.sampled_from(known[name]), label=name)
        response = case.call(base_url=url, headers=headers, timeout=20)
        case.validate_response(response, checks=[not_a_server_error])

    return fuzz


FLOWS = Path(__file__).parents[1] / "fixtures" / "engine_packs" / "flows"


@pytest.fixture
def populated(instance_home: Path) -> Iterator[tuple[str, Settings, dict[str, list[str]]]]:
    """The app with one of each resource (an execution, a workflow waiting on an inquiry, a
    key, an API key, a trigger instance and its enforcement), and their ids by the path
    parameter names the routes use."""
    shutil.copytree(FLOWS, instance_home / "packs" / "flows")
    settings = load_settings(instance_home)
    assert bootstrap.register_instance_packs(settings, refs=["flows"]).ok
    app = bootstrap.create_app(settings, workers=2)
    with serving(app) as url, httpx.Client(base_url=url, timeout=20) as client:
        headers = headers_for(settings)
        client.headers.update(headers)
        runtime = app.state.runtime
        command = client.post(
            "/api/v1/executions", json={"action": "core.local", "parameters": {"cmd": "echo hi"}}
        ).json()["id"]
        workflow = runtime.executions.request("flows.asking", {"item": "crate"}, user="admin")
        [inquiry] = wait_for(lambda: client.get("/api/v1/inquiries").json())
        assert client.put("/api/v1/keys/fuzzed", json={"value": "v"}).status_code == 200
        api_key = client.post("/api/v1/apikeys", json={}).json()["id"]
        assert client.post("/api/v1/webhooks/greet", json={"name": "Ada"}).status_code == 202
        [enforcement] = wait_for(lambda: client.get("/api/v1/ruleenforcements").json())
        known = {
            "execution_id": [command, workflow.id, inquiry["id"]],
            "inquiry_id": [inquiry["id"]],
            "ref_or_id": [
                "core.local",
                "examples.greet_from_webhook",
                "core",
                "flows.asking",
                "examples.greet",  # an alias, as well as an action
            ],
            "name_or_id": ["local-shell-cmd", "orquesta"],
            "name": ["fuzzed"],
            "key_or_id": [api_key],
            "instance_id": [enforcement["trigger_instance_id"]],
            "enforcement_id": [enforcement["id"]],
            "hook": ["greet", "st2"],
        }
        yield url, settings, known


def wait_for(condition: Any, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("role", "examples"),
    # Mostly as an admin, who reaches every branch; a short run as a viewer, refused writes.
    [("admin", EXAMPLES), ("viewer", EXAMPLES // 4)],
)
def test_fuzzing_every_operation_finds_no_server_error(
    populated: tuple[str, Settings, dict[str, list[str]]], role: str, examples: int
) -> None:
    url, settings, known = populated
    headers = headers_for(settings, role, role)
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    failures: list[str] = []
    fuzzed = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if label in NOT_FUZZED or streams(operation.path, operation.definition.raw):
            continue
        fuzzed += 1
        try:
            fuzzer(operation, url, headers, known, examples)()
        except Exception as error:  # noqa: BLE001 - go on, to report every operation's failure
            failures.append(f"{label}: {error}")
    assert fuzzed >= len(EXPECTED) - len(NOT_FUZZED)
    assert not failures, "\n\n".join(failures)
