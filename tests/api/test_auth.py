"""Authentication through the app ``packhorse up`` serves: tokens from HTTP Basic, API keys,
the credentials every /api/v1 route asks for, and roles."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from tests.api.serving import serving

from packhorse import bootstrap
from packhorse.api import security, v1
from packhorse.api.security import Principal, require
from packhorse.engine.auth import AuthService, api_key_hash, token_hash
from packhorse.engine.clock import iso
from packhorse.engine.passwords import hash_password
from packhorse.settings import Settings, load_settings, settings_to_toml
from packhorse.storage import schema

Client = httpx.Client

T0 = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


def probe_router() -> APIRouter:
    """Stands for the v1 routes of the others: one read and one operator route."""
    routes = APIRouter()

    @routes.get("/api/v1/probe")
    def read(principal: Principal = Depends(require("viewer"))) -> dict[str, str]:  # noqa: B008
        return {"user": principal.user, "role": principal.role}

    @routes.post("/api/v1/probe")
    def run(principal: Principal = Depends(require("operator"))) -> dict[str, str]:  # noqa: B008
        return {"user": principal.user}

    @routes.get("/api/v1/unprotected-by-its-author")
    def forgot() -> dict[str, bool]:
        return {"reached": True}

    return routes


def add_user(settings: Settings, name: str, password: str, role: str) -> None:
    bootstrap.user_store(settings).add_user(name, hash_password(password), role, now=iso(T0))


@pytest.fixture
def settings(instance_home: Path) -> Settings:
    settings = load_settings(instance_home)
    add_user(settings, "vera", "viewer-pw", "viewer")
    add_user(settings, "otto", "operator-pw", "operator")
    return settings


@pytest.fixture
def clock() -> Clock:
    return Clock()


def build(settings: Settings, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    monkeypatch.setattr(v1, "routers", lambda: [probe_router()])
    app = bootstrap.create_app(settings, workers=1)
    service: AuthService = app.state.auth
    app.state.auth = AuthService(service.users, service.store, clock=clock)
    return app


@contextlib.contextmanager
def served(app: FastAPI) -> Iterator[httpx.Client]:
    """``app`` over real HTTP on loopback, with its lifespan, and a client for it."""
    with serving(app) as url, httpx.Client(base_url=url) as client:
        yield client


@pytest.fixture
def client(
    settings: Settings, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[httpx.Client]:
    with served(build(settings, clock, monkeypatch)) as client:
        yield client


def admin_password(settings: Settings) -> str:
    return (settings.home / ".admin-password").read_text()


def sign_in(client: Client, user: str, password: str, **body: Any) -> dict[str, Any]:
    response = client.post("/auth/v1/tokens", auth=(user, password), json=body or None)
    assert response.status_code == 201, response.text
    return dict(response.json())


# Tokens


def test_basic_auth_gives_a_token_in_stackstorms_shape(client: Client, settings: Settings) -> None:
    body = sign_in(client, "admin", admin_password(settings))
    assert set(body) == {"id", "user", "token", "expiry", "metadata"}
    assert body["user"] == "admin" and body["metadata"] == {}
    assert body["expiry"] == "2026-11-29T12:00:00.000000Z"  # 24 hours, StackStorm's format
    assert len(body["token"]) == 32


def test_ttl_is_honoured_and_bounded_by_the_maximum(client: Client) -> None:
    body = sign_in(client, "otto", "operator-pw", ttl=60)
    assert body["expiry"] == "2026-11-28T12:01:00.000000Z"
    too_long = client.post("/auth/v1/tokens", auth=("otto", "operator-pw"), json={"ttl": 86401})
    assert too_long.status_code == 400
    assert too_long.json() == {
        "faultstring": "TTL specified 86401 is greater than max allowed 86400."
    }


@pytest.mark.parametrize(
    "auth", [("otto", "wrong"), ("nobody", "operator-pw"), None], ids=["password", "user", "none"]
)
def test_bad_or_missing_credentials_get_401(client: Client, auth: tuple[str, str] | None) -> None:
    response = client.post("/auth/v1/tokens", auth=auth)
    assert response.status_code == 401
    assert response.json() == {"faultstring": "Invalid or missing credentials"}


def test_tokens_are_stored_only_as_their_hash(client: Client, settings: Settings) -> None:
    token = sign_in(client, "otto", "operator-pw")["token"]
    with bootstrap.database_engine(settings).connect() as connection:
        rows = [dict(r) for r in connection.execute(schema.tokens.select()).mappings()]
    assert [r["token_hash"] for r in rows] == [token_hash(token)]
    assert token not in repr(rows)


def test_validate_says_whether_a_token_is_valid_until_it_expires(
    client: Client, clock: Clock
) -> None:
    token = sign_in(client, "otto", "operator-pw", ttl=60)["token"]
    validate = "/auth/v1/tokens/validate"
    assert client.post(validate, json={"token": token}).json() == {"valid": True}
    assert client.post(validate, json={"token": "nope"}).json() == {"valid": False}
    clock.now = T0 + dt.timedelta(seconds=60)
    assert client.post(validate, json={"token": token}).json() == {"valid": False}
    assert client.post(validate, json={}).status_code == 400


# Credentials on protected routes


def test_protected_routes_refuse_callers_without_credentials(client: Client) -> None:
    response = client.get("/api/v1/probe")
    assert response.status_code == 401
    assert response.json() == {"faultstring": "Unauthorized - One of Token or API key required."}
    # A route whose author forgot require() is still behind the router's guard.
    assert client.get("/api/v1/unprotected-by-its-author").status_code == 401


def test_health_and_ready_need_no_credentials(client: Client) -> None:
    assert client.get("/health").status_code == 200
    assert client.get("/ready").status_code == 200


def test_a_token_works_in_header_query_and_cookie(client: Client) -> None:
    token = sign_in(client, "otto", "operator-pw")["token"]
    expected = {"user": "otto", "role": "operator"}
    assert client.get("/api/v1/probe", headers={"X-Auth-Token": token}).json() == expected
    assert client.get("/api/v1/probe", params={"x-auth-token": token}).json() == expected
    client.cookies.set("auth-token", token)
    assert client.get("/api/v1/probe").json() == expected


def test_an_expired_or_unknown_token_is_refused(client: Client, clock: Clock) -> None:
    token = sign_in(client, "otto", "operator-pw", ttl=10)["token"]
    clock.now = T0 + dt.timedelta(seconds=10)
    expired = client.get("/api/v1/probe", headers={"X-Auth-Token": token})
    assert expired.status_code == 401
    assert expired.json() == {"faultstring": "Unauthorized - Token has expired."}
    unknown = client.get("/api/v1/probe", headers={"X-Auth-Token": "0" * 32})
    assert unknown.json() == {"faultstring": "Unauthorized - Token is not found."}


def test_a_viewer_may_read_but_not_run(client: Client) -> None:
    token = sign_in(client, "vera", "viewer-pw")["token"]
    headers = {"X-Auth-Token": token}
    assert client.get("/api/v1/probe", headers=headers).status_code == 200
    refused = client.post("/api/v1/probe", headers=headers)
    assert refused.status_code == 403
    assert refused.json() == {"faultstring": 'User "vera" doesn\'t have required role "operator"'}
    operator = sign_in(client, "otto", "operator-pw")["token"]
    ran = client.post("/api/v1/probe", headers={"X-Auth-Token": operator})
    assert ran.json() == {"user": "otto"}


def test_auth_can_be_turned_off_for_local_development(
    settings: Settings, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    (settings.home / "packhorse.toml").write_text(
        settings_to_toml(settings.with_overrides(auth_enabled=False))
    )
    open_settings = load_settings(settings.home)
    assert open_settings.auth_enabled is False
    with served(build(open_settings, clock, monkeypatch)) as client:
        assert client.post("/api/v1/probe").json() == {"user": "admin"}


def test_a_test_app_with_require_alone_answers_with_faults(settings: Settings) -> None:
    """What the others' route tests need: require() on a bare app with install()."""
    app = FastAPI()
    app.state.auth = bootstrap.auth_service(settings)
    app.state.auth_enabled = True
    security.install(app)
    app.include_router(probe_router())
    with served(app) as client:
        assert client.get("/api/v1/probe").status_code == 401


# API keys


def create_key(client: Client, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/apikeys", headers=headers, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture
def admin(client: Client, settings: Settings) -> dict[str, str]:
    return {"X-Auth-Token": sign_in(client, "admin", admin_password(settings))["token"]}


def test_an_api_key_is_shown_once_and_stored_hashed(
    client: Client, admin: dict[str, str], settings: Settings
) -> None:
    created = create_key(client, admin, metadata={"purpose": "ci"})
    assert set(created) == {"id", "uid", "user", "key", "metadata", "created_at", "enabled"}
    assert created["user"] == "admin" and created["enabled"] is True
    assert created["metadata"] == {"purpose": "ci"}
    assert created["created_at"] == "2026-11-28T12:00:00.000000Z"
    key = created["key"]

    listed = client.get("/api/v1/apikeys", headers=admin)
    assert listed.headers["X-Total-Count"] == "1"
    [shown] = listed.json()
    assert key not in listed.text
    assert shown == {
        "id": created["id"],
        "uid": "api_key:********",
        "user": "admin",
        "key_hash": "********",
        "metadata": {"purpose": "ci"},
        "created_at": created["created_at"],
        "enabled": True,
    }
    secrets = client.get("/api/v1/apikeys", headers=admin, params={"show_secrets": "true"})
    assert secrets.json()[0]["key_hash"] == api_key_hash(key)
    with bootstrap.database_engine(settings).connect() as connection:
        assert key not in repr(list(connection.execute(schema.api_keys.select())))


def test_an_api_key_signs_in_as_its_user_in_header_or_query(
    client: Client, admin: dict[str, str]
) -> None:
    key = create_key(client, admin, user="otto")["key"]
    expected = {"user": "otto", "role": "operator"}
    assert client.get("/api/v1/probe", headers={"St2-Api-Key": key}).json() == expected
    assert client.get("/api/v1/probe", params={"st2-api-key": key}).json() == expected
    unknown = client.get("/api/v1/probe", headers={"St2-Api-Key": "not-a-key"})
    assert unknown.json() == {"faultstring": "Unauthorized - API key is not found."}


def test_get_put_and_delete_by_id_or_key(client: Client, admin: dict[str, str]) -> None:
    created = create_key(client, admin, user="otto")
    key, key_id = created["key"], created["id"]
    assert client.get(f"/api/v1/apikeys/{key_id}", headers=admin).json()["user"] == "otto"
    assert client.get(f"/api/v1/apikeys/{key}", headers=admin).json()["id"] == key_id

    disabled = client.put(
        f"/api/v1/apikeys/{key_id}",
        headers=admin,
        json={"user": "otto", "key_hash": "********", "enabled": False},
    )
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    refused = client.get("/api/v1/probe", headers={"St2-Api-Key": key})
    assert refused.json() == {"faultstring": "Unauthorized - API key is disabled."}
    rehash = client.put(f"/api/v1/apikeys/{key_id}", headers=admin, json={"key_hash": "x"})
    assert rehash.json() == {"faultstring": "Update of key_hash is not allowed."}

    assert client.delete(f"/api/v1/apikeys/{key_id}", headers=admin).status_code == 204
    missing = client.get(f"/api/v1/apikeys/{key_id}", headers=admin)
    assert missing.status_code == 404
    assert client.get("/api/v1/apikeys", headers=admin).json() == []


def test_non_admins_see_and_manage_only_their_own_keys(
    client: Client, admin: dict[str, str]
) -> None:
    admins_key = create_key(client, admin)["id"]
    vera = {"X-Auth-Token": sign_in(client, "vera", "viewer-pw")["token"]}
    own = create_key(client, vera)
    assert own["user"] == "vera"
    assert [k["id"] for k in client.get("/api/v1/apikeys", headers=vera).json()] == [own["id"]]
    shown = client.get("/api/v1/apikeys", headers=vera, params={"show_secrets": "true"})
    assert shown.json()[0]["key_hash"] == "********"  # show_secrets is for admins
    assert client.get(f"/api/v1/apikeys/{admins_key}", headers=vera).status_code == 404
    assert client.delete(f"/api/v1/apikeys/{admins_key}", headers=vera).status_code == 404
    for_other = client.post("/api/v1/apikeys", headers=vera, json={"user": "otto"})
    assert for_other.status_code == 403


def test_a_stackstorm_key_hash_can_be_imported(client: Client, admin: dict[str, str]) -> None:
    created = create_key(client, admin, user="otto", key_hash=api_key_hash("from-st2"))
    assert created["key"] is None
    assert client.get("/api/v1/probe", headers={"St2-Api-Key": "from-st2"}).status_code == 200


def test_secrets_never_reach_the_logs(
    client: Client, admin: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = admin["X-Auth-Token"]
    key = create_key(client, admin)["key"]
    client.get("/api/v1/probe", headers={"St2-Api-Key": key})
    client.get("/api/v1/probe", headers={"X-Auth-Token": token})
    assert key not in caplog.text and token not in caplog.text


def test_query_credentials_are_masked_in_the_access_log(
    settings: Settings, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build(settings, clock, monkeypatch)  # installs the filter
    access = logging.getLogger("uvicorn.access")
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    access.addHandler(handler)
    level = access.level
    access.setLevel(logging.INFO)
    try:
        access.info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5000",
            "GET",
            "/api/v1/probe?limit=5&x-auth-token=tok123&St2-Api-Key=key456",
            "1.1",
            200,
        )
    finally:
        access.setLevel(level)
        access.removeHandler(handler)
    assert app.state.auth_enabled
    assert lines == [
        '127.0.0.1:5000 - "GET /api/v1/probe?limit=5&x-auth-token=********'
        '&St2-Api-Key=******** HTTP/1.1" 200'
    ]
