"""Every error the API answers is StackStorm's ``{"faultstring": ...}``: the framework's own
(validation, unknown routes, wrong methods, a crash) as well as Packhorse's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter
from tests.api.credentials import headers_for
from tests.api.serving import serving

from packhorse import bootstrap
from packhorse.api.app import create_app
from packhorse.api.errors import validation_message
from packhorse.settings import load_settings


@pytest.fixture
def client(instance_home: Path) -> Iterator[httpx.Client]:
    settings = load_settings(instance_home)
    with (
        serving(bootstrap.create_app(settings, workers=1)) as url,
        httpx.Client(base_url=url, timeout=10) as http,
    ):
        http.headers.update(headers_for(settings))
        yield http


def faultstring(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"faultstring"}, body
    return str(body["faultstring"])


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/keys?limit=many", "limit"),
        ("/api/v1/keys?offset=x", "offset"),
        ("/api/v1/keys?decrypt=perhaps", "decrypt"),
        ("/api/v1/rules?enabled=perhaps", "enabled"),
        ("/api/v1/inquiries?limit=1.5", "limit"),
    ],
)
def test_a_request_that_does_not_validate_is_a_400_naming_the_field(
    client: httpx.Client, path: str, field: str
) -> None:
    message = faultstring(client.get(path), 400)
    assert f"query parameter '{field}'" in message


@pytest.mark.parametrize("path", ["/api/v1/ruleenforcements", "/api/v1/triggerinstances"])
def test_an_offset_past_the_databases_integers_is_a_400_not_a_crash(
    client: httpx.Client, path: str
) -> None:
    # Found by the fuzz test: SQLite raised OverflowError (a 500).
    message = faultstring(client.get(path, params={"offset": 2**65}), 400)
    assert "query parameter 'offset'" in message
    assert client.get(path, params={"offset": 2**63 - 1}).json() == []


def test_an_execution_list_offset_past_the_databases_integers_is_a_400(
    client: httpx.Client,
) -> None:
    message = faultstring(client.get("/api/v1/executions", params={"offset": 2**65}), 400)
    assert "Offset" in message


def test_an_unknown_route_is_a_404_faultstring(client: httpx.Client) -> None:
    assert "/api/v1/nothing-here" in faultstring(client.get("/api/v1/nothing-here"), 404)
    assert "/nowhere" in faultstring(client.post("/nowhere", json={}), 404)


def test_a_wrong_method_is_a_405_faultstring_with_allow(client: httpx.Client) -> None:
    response = client.delete("/health")
    assert "DELETE" in faultstring(response, 405)
    assert response.headers["allow"] == "GET"


def test_a_bad_token_body_is_a_400_faultstring(client: httpx.Client) -> None:
    response = client.post("/auth/v1/tokens", json={"ttl": "soon"}, auth=("admin", "wrong"))
    assert response.status_code in (400, 401), response.text
    assert set(response.json()) == {"faultstring"}


def test_a_crash_in_a_route_is_a_500_faultstring_without_the_traceback() -> None:
    broken = APIRouter()

    @broken.get("/broken")
    def crash() -> None:
        raise RuntimeError("secret internals")

    app = create_app(instance_id="test", readiness=lambda: None, routers=[broken])
    with serving(app) as url:
        response = httpx.get(f"{url}/broken")
    assert faultstring(response, 500) == "Internal Server Error"
    assert "secret internals" not in response.text


def test_validation_messages_name_every_field() -> None:
    message = validation_message(
        [
            {"loc": ("query", "limit"), "msg": "Input should be a valid integer"},
            {"loc": ("body", "action"), "msg": "Field required"},
            {"loc": ("body",), "msg": "Field required"},
        ]
    )
    assert message == (
        "Invalid query parameter 'limit': Input should be a valid integer; "
        "Invalid body field 'action': Field required; Invalid body: Field required"
    )
