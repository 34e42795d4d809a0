"""``packhorse key ...`` through the real entry point, in StackStorm's shapes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult

Cli = Callable[..., CliResult]


def test_set_get_list_delete(instance_home: Path, cli: Cli) -> None:
    home = ("--home", instance_home)
    assert cli(*home, "key", "set", "greeting", "hello").code == 0
    result = cli(*home, "key", "set", "db.password", "pa55-word", "--encrypt", "--json")
    assert result.code == 0 and "pa55-word" not in result.out
    assert json.loads(result.out) == {
        "name": "db.password",
        "value": "********",
        "secret": True,
        "encrypted": True,
        "scope": "st2kv.system",
    }
    listed = cli(*home, "key", "list")
    assert "pa55-word" not in listed.out and "********" in listed.out and "hello" in listed.out
    shown = json.loads(cli(*home, "key", "get", "db.password", "--decrypt", "--json").out)
    assert shown["value"] == "pa55-word" and shown["encrypted"] is False
    deleted = cli(*home, "key", "delete", "greeting")
    assert deleted.code == 0 and "successfully deleted" in deleted.out
    missing = cli(*home, "key", "get", "greeting")
    assert missing.code == 2 and "system key 'greeting' not found" in missing.err


def test_user_scope_needs_a_user(
    instance_home: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = ("--home", instance_home)
    usage = cli(*home, "key", "set", "k", "v", "--scope", "user")
    assert usage.code == 2 and "--user" in usage.err
    assert cli(*home, "key", "set", "k", "v", "--scope", "user", "--user", "dana").code == 0
    monkeypatch.setenv("PACKHORSE_USER", "dana")
    got = json.loads(cli(*home, "key", "get", "k", "--scope", "st2kv.user", "--json").out)
    assert got["user"] == "dana" and got["scope"] == "st2kv.user"
    listed = json.loads(cli(*home, "key", "list", "--scope", "all", "--json").out)
    assert [(k["name"], k.get("user")) for k in listed] == [("k", "dana")]


def test_secret_value_read_from_standard_input(
    instance_home: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("from-stdin\n"))
    result = cli("--home", instance_home, "key", "set", "piped", "--encrypt")
    assert result.code == 0 and "from-stdin" not in result.out
    got = cli("--home", instance_home, "key", "get", "piped", "--decrypt", "--json")
    assert json.loads(got.out)["value"] == "from-stdin"


def test_export_and_load_round_trip_keeps_secrets_encrypted(
    instance_home: Path, tmp_path: Path, cli: Cli
) -> None:
    home = ("--home", instance_home)
    cli(*home, "key", "set", "plain", "p")
    cli(*home, "key", "set", "secret", "top-secret-value", "--encrypt")
    dump = tmp_path / "dump.json"
    exported = cli(*home, "key", "export", "-o", dump)
    assert exported.code == 0 and "Exported 2 keys" in exported.err
    assert dump.stat().st_mode & 0o777 == 0o600
    assert "top-secret-value" not in dump.read_text()
    cli(*home, "key", "delete", "secret")
    cli(*home, "key", "delete", "plain")
    loaded = cli(*home, "key", "load", dump)
    assert loaded.code == 0 and "Loaded 2 keys (1 secret" in loaded.out
    got = cli(*home, "key", "get", "secret", "--decrypt", "--json")
    assert json.loads(got.out)["value"] == "top-secret-value"


def test_load_reads_yaml_and_refuses_bad_files_clearly(
    instance_home: Path, tmp_path: Path, cli: Cli
) -> None:
    good = tmp_path / "keys.yaml"
    good.write_text("- name: a\n  value: '1'\n- name: b\n  value: [1, 2]\n")
    refused = cli("--home", instance_home, "key", "load", good)
    assert refused.code == 2 and "key 'b': value is not a string" in refused.err
    assert "--convert" in refused.err
    assert cli("--home", instance_home, "key", "list", "--json").out.strip() == "[]"
    converted = cli("--home", instance_home, "key", "load", good, "--convert")
    assert converted.code == 0
    got = json.loads(cli("--home", instance_home, "key", "get", "b", "--json").out)
    assert got["value"] == "[1, 2]"


def test_rotate_keeps_every_value(instance_home: Path, cli: Cli) -> None:
    home = ("--home", instance_home)
    cli(*home, "key", "set", "s", "still-here", "--encrypt")
    rotated = cli(*home, "key", "rotate", "--json")
    assert rotated.code == 0 and json.loads(rotated.out)["reencrypted"] == 1
    got = cli(*home, "key", "get", "s", "--decrypt", "--json")
    assert json.loads(got.out)["value"] == "still-here"
