"""The committed format-0 bundle (``tests/golden/format-0.tgz``, from ``make_golden_format0``)
crosses the change to format 1: read and converted up front, inspected, imported into a fresh
instance, and exported again in format 1 with the same content. Unknown formats are refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from packhorse import bootstrap
from packhorse.engine.instance import init_instance
from packhorse.errors import BundleError
from packhorse.migrate import bundle_format as fmt
from packhorse.migrate.archive import read_archive
from packhorse.migrate.bundle_versions import format_0_checksum, read_bundle
from packhorse.model.datastore import Scope
from packhorse.settings import load_settings
from packhorse.storage.snapshot import open_snapshot
from tests.conftest import CliResult
from tests.migrate.conftest import SECRETS
from tests.migrate.make_golden import GOLDEN_PASSPHRASE
from tests.migrate.make_golden_format0 import CONFIG, GOLDEN_0, PACK

Run = Callable[..., CliResult]


def _format_0() -> tuple[dict[str, Any], dict[str, bytes]]:
    manifest, members = read_archive(GOLDEN_0)
    return json.loads(manifest), members


def _read(manifest: dict[str, Any], members: dict[str, bytes]) -> Any:
    return read_bundle(fmt.canonical_json(manifest), members)


def test_the_golden_bundle_is_format_0_as_documented() -> None:
    manifest, members = _format_0()
    assert manifest["format"] == 0 and "members" not in manifest
    assert manifest["checksum"] == format_0_checksum(members)
    assert fmt.RULES not in members and isinstance(json.loads(members[fmt.DATASTORE]), list)


def test_format_0_is_converted_to_format_1_up_front() -> None:
    read = _read(*_format_0())
    assert read.written_format == 0 and read.converted
    assert read.manifest.format == fmt.FORMAT_VERSION
    assert fmt.verify_members(read.manifest, read.members) == []
    items = {
        (i["scope"], i["user"], i["name"]): i
        for i in json.loads(read.members[fmt.DATASTORE])["items"]
    }
    assert set(items) == {
        ("system", "", "region"),
        ("system", "", "db_password"),
        ("user", "alice", "theme"),
        ("user", "alice", "token"),
    }
    assert items[("user", "alice", "theme")]["value"] == "dark"
    assert items[("system", "", "db_password")]["secret"] is True
    assert json.loads(read.members[fmt.RULES]) == {
        "demo_good.on_line": False,
        "demo_good.on_webhook": True,
    }
    assert read.manifest.secrets.mode == "passphrase"
    assert read.manifest.counts == {
        "packs": 1,
        "configs": 1,
        "keys": 4,
        "secret_keys": 2,
        "rules": 2,
    }


def test_a_format_1_bundle_is_read_as_it_is() -> None:
    data, members = read_archive(GOLDEN_0.parent / "format-1.tgz")
    read = read_bundle(data, members)
    assert read.written_format == 1 and not read.converted
    assert read.members == members and fmt.manifest_bytes(read.manifest) == data


def test_an_altered_format_0_member_is_refused() -> None:
    manifest, members = _format_0()
    members["configs/demo_good.yaml"] = CONFIG.replace(b"example.org", b"evil.example")
    with pytest.raises(BundleError, match="checksum does not match its members"):
        _read(manifest, members)


def test_a_format_0_key_of_an_unknown_scope_is_refused() -> None:
    manifest, members = _format_0()
    items = json.loads(members[fmt.DATASTORE])
    items[0]["scope"] = "pack:demo_good"
    members[fmt.DATASTORE] = fmt.canonical_json(items)
    manifest["checksum"] = format_0_checksum(members)
    with pytest.raises(BundleError, match="unknown scope 'pack:demo_good'"):
        _read(manifest, members)


@pytest.mark.parametrize("version", [2, -1, "1", None, True])
def test_a_format_this_packhorse_does_not_know_is_refused(version: object) -> None:
    manifest, members = _format_0()
    manifest["format"] = version
    with pytest.raises(BundleError, match=r"is not one this Packhorse reads \(formats 0 to 1\)"):
        _read(manifest, members)


def test_inspect_says_format_0_and_verifies(
    cli: Run, instance_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PACKHORSE_BUNDLE_PASSPHRASE", GOLDEN_PASSPHRASE)
    shown = cli("--home", instance_home, "bundle", "inspect", GOLDEN_0)
    assert shown.code == 0, shown.err
    assert "format        0 (read as format 1)" in shown.out
    assert "every checksum matches; every secret opens." in shown.out
    as_json = cli("--home", instance_home, "bundle", "inspect", GOLDEN_0, "--json")
    assert json.loads(as_json.out)["format"] == 0 and json.loads(as_json.out)["problems"] == []


def _content(home: Path) -> dict[str, Any]:
    """What a format-0 bundle carries, as an instance holds it (secrets in clear)."""
    settings = load_settings(home)
    datastore = bootstrap.datastore_service(settings)
    with open_snapshot(settings.database) as snapshot:
        packs = {ref: version for ref, version, _path in snapshot.packs()}
        rules = {ref: on for ref, on in snapshot.rule_states().items() if ref.startswith("demo")}
        keys = {
            (pair.scope.value, pair.user, pair.name): (
                pair.secret,
                datastore.get_value(
                    pair.name, scope=pair.scope, user=pair.user, decrypt=True
                ).value,
            )
            for pair in snapshot.key_values()
        }
    return {
        "packs": packs,
        "rules": rules,
        "keys": keys,
        "config": (home / "configs" / "demo_good.yaml").read_bytes(),
        "pack.yaml": (home / "packs" / "demo_good" / "pack.yaml").read_bytes(),
    }


def _import(cli: Run, home: Path, bundle: Path) -> None:
    bootstrap._cached_registry.cache_clear()  # each CLI command is a new process, not here
    done = cli("--home", home, "bundle", "import", bundle, "--json")
    bootstrap._cached_registry.cache_clear()
    assert done.code == 0, done.err
    assert json.loads(done.out)["applied"]


def test_format_0_imports_into_a_fresh_instance_and_exports_again_as_format_1(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PACKHORSE_BUNDLE_PASSPHRASE", GOLDEN_PASSPHRASE)
    first, second = tmp_path / "first", tmp_path / "second"
    init_instance(first)
    init_instance(second)
    _import(cli, first, GOLDEN_0)

    content = _content(first)
    assert content["packs"]["demo_good"] == "1.2.3"
    assert content["rules"] == {"demo_good.on_line": False, "demo_good.on_webhook": True}
    assert content["keys"] == {
        ("system", "", "region"): (False, "eu-west-1"),
        ("system", "", "db_password"): (True, SECRETS["db_password"]),
        ("user", "alice", "theme"): (False, "dark"),
        ("user", "alice", "token"): (True, SECRETS["alice_token"]),
    }
    assert content["config"] == CONFIG
    assert content["pack.yaml"] == (PACK / "pack.yaml").read_bytes()
    secret = bootstrap.datastore_service(load_settings(first)).get_value(
        "token", scope=Scope.USER, user="alice"
    )
    assert secret.value != SECRETS["alice_token"]  # stored sealed under this instance's key

    again = tmp_path / "again.tgz"
    exported = cli("--home", first, "bundle", "export", "-o", again)
    assert exported.code == 0, exported.err
    data, members = read_archive(again)
    assert fmt.parse_manifest(data).format == 1
    assert fmt.verify_members(fmt.parse_manifest(data), members) == []
    _import(cli, second, again)
    assert _content(second) == content
