"""The datastore service on a real SQLite file: encryption at rest, TTL, scopes, expressions,
StackStorm's JSON formats and StackStorm-encrypted imports."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from packhorse import bootstrap
from packhorse.crypto.stackstorm import parse_st2_key_file
from packhorse.engine.datastore import MASK, DatastoreService
from packhorse.engine.keyring import Keyring
from packhorse.errors import ConfigurationError, DecryptionError, NotFound
from packhorse.expr import Datastore, render_template
from packhorse.model.datastore import Scope
from packhorse.settings import load_settings
from packhorse.storage.datastore import SqlDatastore

KNOWN_ANSWERS = json.loads(
    (Path(__file__).parents[1] / "crypto" / "data" / "st2_known_answers.json").read_text()
)


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(instance_home: Path, clock: Clock) -> DatastoreService:
    settings = load_settings(instance_home)
    store = SqlDatastore(bootstrap.database_engine(settings))
    return DatastoreService(store, Keyring(settings.keys_dir), clock=clock)


def database_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.glob("state.db*"))


def test_secrets_are_encrypted_at_rest_and_masked_unless_decrypted(
    service: DatastoreService, instance_home: Path
) -> None:
    shown = service.set_value("db.password", "hunter2-clear", secret=True)
    assert shown.value == MASK
    assert b"hunter2-clear" not in database_bytes(instance_home)
    assert service.get_value("db.password").value == MASK
    assert service.get_value("db.password", decrypt=True).value == "hunter2-clear"
    assert [p.value for p in service.list_values()] == [MASK]
    assert [p.value for p in service.list_values(decrypt=True)] == ["hunter2-clear"]


def test_ttl_expires_with_the_clock(service: DatastoreService, clock: Clock) -> None:
    service.set_value("temp", "x", ttl=30)
    clock.now += dt.timedelta(seconds=29)
    assert service.get_value("temp").value == "x"
    clock.now += dt.timedelta(seconds=1)
    with pytest.raises(NotFound):
        service.get_value("temp")
    assert service.purge_expired() == 1


def test_scopes_and_errors(service: DatastoreService) -> None:
    service.set_value("k", "system value")
    service.set_value("k", "alice value", scope=Scope.USER, user="alice")
    assert service.get_value("k", scope=Scope.USER, user="alice").value == "alice value"
    with pytest.raises(NotFound, match="user key 'k' not found"):
        service.get_value("k", scope=Scope.USER, user="bob")
    with pytest.raises(ConfigurationError, match="needs a user"):
        service.set_value("k", "v", scope=Scope.USER)
    with pytest.raises(ConfigurationError, match="invalid key name"):
        service.set_value(" padded", "v")
    service.delete_value("k")
    with pytest.raises(NotFound):
        service.delete_value("k")


def test_expressions_read_values_and_decrypt_only_on_request(service: DatastoreService) -> None:
    service.set_value("greeting", "hello")
    service.set_value("api.token", "tok-123", secret=True)
    service.set_value("mine", "bob's", scope=Scope.USER, user="bob")
    context = {"st2kv": Datastore(service.lookup, user="bob", decrypt=service.decrypt)}
    assert render_template("{{ st2kv.system.greeting }}", context) == "hello"
    assert render_template("{{ st2kv.user.mine }}", context) == "bob's"
    stored = render_template("{{ st2kv.system.api.token }}", context)
    assert stored.startswith("ph1:") and "tok-123" not in stored
    assert render_template("{{ st2kv.system.api.token | decrypt_kv }}", context) == "tok-123"


def test_load_stackstorm_encrypted_values_with_their_key_file(
    service: DatastoreService, instance_home: Path
) -> None:
    st2_key = parse_st2_key_file(KNOWN_ANSWERS["key_file"], "st2.key")
    items = [
        {"name": f"v{i}", "value": v["ciphertext"], "secret": True, "encrypted": True}
        for i, v in enumerate(KNOWN_ANSWERS["vectors"])
    ] + [{"name": "plain", "value": "p", "scope": "st2kv.system"}]
    report = service.load(items, source="dump.json", st2_key=st2_key)
    assert (report.loaded, report.secrets) == (len(items), len(items) - 1)
    stored = database_bytes(instance_home)
    for i, vector in enumerate(KNOWN_ANSWERS["vectors"]):
        assert service.get_value(f"v{i}", decrypt=True).value == vector["plaintext"]
        if len(vector["plaintext"]) > 3:
            assert vector["plaintext"].encode() not in stored


def test_load_is_all_or_nothing_and_names_the_item(service: DatastoreService) -> None:
    items = [
        {"name": "good", "value": "x"},
        {"name": "secret", "value": "30303030", "secret": True, "encrypted": True},
    ]
    with pytest.raises(ConfigurationError, match=r"dump\.json: key 'secret'") as caught:
        service.load(items, source="dump.json")
    assert caught.value.hint is not None and "--st2-key-file" in caught.value.hint
    assert service.list_values() == []
    with pytest.raises(ConfigurationError, match="not a string"):
        service.load([{"name": "n", "value": 3}], source="f")
    service.load([{"name": "n", "value": {"a": 1}}], source="f", convert=True)
    assert json.loads(service.get_value("n").value) == {"a": 1}


def test_export_then_load_round_trips_on_the_same_instance_only(
    service: DatastoreService, tmp_path: Path, clock: Clock
) -> None:
    service.set_value("a", "1", description="first")
    service.set_value("s", "shh", secret=True, ttl=3600)
    service.set_value("u", "2", scope=Scope.USER, user="carol")
    dump = service.export()
    assert {d["name"] for d in dump} == {"a", "s", "u"}
    secret = next(d for d in dump if d["name"] == "s")
    assert secret["encrypted"] is True and "shh" not in json.dumps(dump)
    assert secret["expire_timestamp"].startswith("2026-01-01T01:00:00")
    for pair in service.list_values(scope=None):
        service.delete_value(pair.name, scope=pair.scope, user=pair.user)
    service.load(dump, source="dump")
    assert service.get_value("s", decrypt=True).value == "shh"
    assert service.get_value("u", scope=Scope.USER, user="carol").value == "2"
    assert service.get_value("a").description == "first"
    clear = service.export(decrypt=True)
    assert next(d for d in clear if d["name"] == "s")["value"] == "shh"

    other_home = tmp_path / "other"
    from packhorse.engine.instance import init_instance

    other = init_instance(other_home).settings
    foreign = DatastoreService(
        SqlDatastore(bootstrap.database_engine(other)), Keyring(other.keys_dir), clock=clock
    )
    with pytest.raises(DecryptionError, match="this instance lacks"):
        foreign.load(dump, source="dump")
