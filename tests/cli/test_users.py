"""``packhorse user`` and ``packhorse apikey`` through the real entry point: roles stored,
passwords and keys never printed except the one-time display of a new key."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from packhorse import bootstrap
from packhorse.engine.auth import api_key_hash
from packhorse.errors import Unauthenticated
from packhorse.settings import load_settings
from tests.conftest import CliResult

Run = Callable[..., CliResult]


def add(cli: Run, home: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> CliResult:
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret-pw\n"))
    return cli("--home", home, "user", "add", *args, "--password-stdin")


def test_user_add_list_and_sign_in(
    cli: Run, instance_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    added = add(cli, instance_home, monkeypatch, "otto", "--role", "operator")
    assert added.code == 0 and added.out == "Added user otto (operator).\n"
    assert "s3cret-pw" not in added.out + added.err

    listed = cli("--home", instance_home, "user", "list", "--json")
    roles = {u["name"]: u["role"] for u in json.loads(listed.out)}
    assert roles == {"admin": "admin", "otto": "operator"}
    auth = bootstrap.auth_service(load_settings(instance_home))
    assert auth.check_password("otto", "s3cret-pw")
    assert not auth.check_password("otto", "wrong")

    table = cli("--home", instance_home, "user", "list")
    assert "otto" in table.out and "operator" in table.out and "scrypt" not in table.out


def test_user_defaults_to_viewer_and_names_are_unique(
    cli: Run, instance_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert add(cli, instance_home, monkeypatch, "vera").out == "Added user vera (viewer).\n"
    again = add(cli, instance_home, monkeypatch, "vera")
    assert again.code == 2 and "already exists" in again.err


def test_user_remove_takes_its_keys_and_tokens_along(
    cli: Run, instance_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add(cli, instance_home, monkeypatch, "otto", "--role", "operator")
    auth = bootstrap.auth_service(load_settings(instance_home))
    key = auth.create_api_key("otto").key
    token = auth.issue_token("otto", 60).token

    removed = cli("--home", instance_home, "user", "remove", "otto")
    assert removed.code == 0
    for credentials in ({"api_key": key}, {"token": token}):
        with pytest.raises(Unauthenticated):
            auth.authenticate(**credentials)
    missing = cli("--home", instance_home, "user", "remove", "otto")
    assert missing.code == 2 and "user 'otto' not found" in missing.err


def test_apikey_is_printed_once_and_listed_without_secrets(
    cli: Run, instance_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add(cli, instance_home, monkeypatch, "otto", "--role", "operator")
    created = cli("--home", instance_home, "apikey", "create", "--user", "otto", "--json")
    assert created.code == 0
    record = json.loads(created.out)
    key, key_id = record["key"], record["id"]
    assert record["user"] == "otto" and record["enabled"] is True
    auth = bootstrap.auth_service(load_settings(instance_home))
    assert auth.authenticate(api_key=key).user == "otto"

    for listing in (
        cli("--home", instance_home, "apikey", "list", "--json"),
        cli("--home", instance_home, "apikey", "list"),
    ):
        assert key_id in listing.out
        assert key not in listing.out and api_key_hash(key) not in listing.out
    [listed] = json.loads(cli("--home", instance_home, "apikey", "list", "--json").out)
    assert set(listed) == {"id", "user", "enabled", "created_at", "metadata"}

    human = cli("--home", instance_home, "apikey", "create")
    assert "key" in human.out and "shown only now" in human.err

    assert cli("--home", instance_home, "apikey", "delete", key_id).code == 0
    with pytest.raises(Unauthenticated):
        auth.authenticate(api_key=key)
    again = cli("--home", instance_home, "apikey", "delete", key_id)
    assert again.code == 2 and "not found" in again.err


def test_apikey_for_an_unknown_user_is_refused(cli: Run, instance_home: Path) -> None:
    result = cli("--home", instance_home, "apikey", "create", "--user", "ghost")
    assert result.code == 2 and "user 'ghost' not found" in result.err
