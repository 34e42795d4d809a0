"""The API client without a network (httpx's mock transport): error translation, the
credentials file, and StackStorm documents back into the CLI's values."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

from packhorse.client import documents
from packhorse.client.credentials import CredentialStore, StoredToken, credentials_path
from packhorse.client.http import ApiClient, Credentials, normalise_url
from packhorse.engine.shapes import execution_document
from packhorse.errors import ConfigurationError, RemoteError, Unauthenticated
from packhorse.model.execution import Execution, Status

URL = "http://ops.example:9101"


def client(answer: httpx.Response, seen: list[httpx.Request] | None = None) -> ApiClient:
    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return answer

    return ApiClient(
        URL, credentials=Credentials(token="t0ken"), transport=httpx.MockTransport(handle)
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://OPS.example:9101/", "http://ops.example:9101"),
        ("HTTPS://ops.example", "https://ops.example"),
        ("  https://ops.example/packhorse/ ", "https://ops.example/packhorse"),
    ],
)
def test_urls_are_normalised_for_the_credentials_file(given: str, expected: str) -> None:
    assert normalise_url(given) == expected


@pytest.mark.parametrize("given", ["ops.example:9101", "ftp://ops.example", "http://"])
def test_urls_without_http_and_a_host_are_refused(given: str) -> None:
    with pytest.raises(ConfigurationError, match="http:// or https://"):
        normalise_url(given)


def test_the_token_goes_in_st2_header_and_json_comes_back() -> None:
    seen: list[httpx.Request] = []
    api = client(httpx.Response(200, json=[{"id": "1"}]), seen)
    assert api.get("/api/v1/things", limit=5, decrypt=True, user=None) == [{"id": "1"}]
    assert seen[0].headers["X-Auth-Token"] == "t0ken"
    assert dict(seen[0].url.params) == {"limit": "5", "decrypt": "true"}
    api.close()


@pytest.mark.parametrize(
    ("answer", "status", "message"),
    [
        (httpx.Response(400, json={"faultstring": "no such thing"}), 400, "no such thing"),
        (httpx.Response(500, text="boom"), 500, "GET /x: HTTP 500 Internal Server Error"),
        (httpx.Response(200, json={"faultstring": "Action cannot be canceled."}), 200, "cancel"),
    ],
)
def test_faults_carry_the_servers_faultstring(
    answer: httpx.Response, status: int, message: str
) -> None:
    with pytest.raises(RemoteError, match=message) as raised:
        client(answer).get("/x")
    assert raised.value.status == status


def test_a_403_hints_at_the_role_and_a_404_can_be_none() -> None:
    with pytest.raises(RemoteError) as raised:
        client(httpx.Response(403, json={"faultstring": "nope"})).get("/x")
    assert raised.value.hint is not None and "role" in raised.value.hint
    assert client(httpx.Response(404, json={"faultstring": "gone"})).get_or_none("/x") is None


def test_a_401_says_to_log_in_again() -> None:
    with pytest.raises(Unauthenticated) as raised:
        client(httpx.Response(401, json={"faultstring": "Unauthorized - expired"})).get("/x")
    assert "Unauthorized - expired" in raised.value.message
    assert raised.value.hint == f"run 'packhorse login --url {URL}' (or set PACKHORSE_API_KEY)"


def test_credentials_file_is_private_and_keyed_by_url(tmp_path: Path) -> None:
    path = credentials_path({"XDG_CONFIG_HOME": str(tmp_path)})
    assert path == tmp_path / "packhorse" / "credentials.json"
    assert credentials_path({"HOME": "/home/ana"}) == Path(
        "/home/ana/.config/packhorse/credentials.json"
    )
    store = CredentialStore(path)
    assert store.get(URL) is None
    token = StoredToken(user="ana", token="secret", expiry="2026-11-29T12:00:00.000000Z")
    store.put(URL, token)
    store.put("https://other", StoredToken(user="bo", token="x", expiry=""))
    assert store.get(URL) == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert store.remove(URL) == token and store.get(URL) is None
    assert set(json.loads(path.read_text())["servers"]) == {"https://other"}

    path.chmod(0o644)
    with pytest.raises(ConfigurationError, match="others may read it"):
        store.get(URL)
    path.chmod(0o600)
    path.write_text("{not json")
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        store.get(URL)


def test_stored_token_expiry() -> None:
    token = StoredToken(user="ana", token="t", expiry="2026-11-29T12:00:00.000000Z")
    assert not token.expired(dt.datetime(2026, 11, 29, 11, 59, tzinfo=dt.UTC))
    assert token.expired(dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC))


def test_execution_documents_turn_back_into_the_same_execution() -> None:
    execution = Execution(
        id="e1",
        action_ref="core.local",
        runner_type="local-shell-cmd",
        status=Status.FAILED,
        parameters={"cmd": "exit 3"},
        context={"user": "ana"},
        created_at="2026-11-28T12:00:00.000000Z",
        result={"return_code": 3},
        start_timestamp="2026-11-28T12:00:00.000000Z",
        end_timestamp="2026-11-28T12:00:01.000000Z",
        parent_id="w1",
        log=({"status": "requested", "timestamp": "2026-11-28T12:00:00.000000Z"},),
    )
    document: dict[str, Any] = execution_document(execution)
    back = documents.execution(json.loads(json.dumps(document)))
    assert back == execution
    assert execution_document(back) == document
