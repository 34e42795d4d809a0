"""``bundle export``: every member listed with its checksum, secrets sealed and nowhere in
clear, stable content checksums, byte-identical reproducible bundles, an untouched source."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import secrets
import tarfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from packhorse import bootstrap
from packhorse.crypto import _base64, transport
from packhorse.engine.clock import utc_now
from packhorse.engine.keyring import Keyring
from packhorse.errors import ConfigurationError, DecryptionError
from packhorse.migrate import bundle_format as fmt
from packhorse.migrate.archive import read_archive
from packhorse.migrate.export import ExportOptions, ExportReport, export_bundle
from packhorse.settings import Settings
from tests.migrate.conftest import SECRETS, Populated, populate, use_postgres

PASSPHRASE = "correct horse battery staple"
FAST = transport.ScryptParameters(n=2**10, r=8, p=1)
"""Cheap scrypt for tests; the CLI uses the defaults (2**15)."""


def export(settings: Settings, output: Path, **options: Any) -> ExportReport:
    options.setdefault("passphrase", PASSPHRASE)
    options.setdefault("scrypt", FAST)
    return export_bundle(
        settings,
        output,
        ExportOptions(**options),
        instance_keys=Keyring(settings.keys_dir).keys().readers,
        now=utc_now(),
        random_bytes=secrets.token_bytes,
        python_version="3.11.0",
    )


def datastore_items(members: dict[str, bytes]) -> dict[tuple[str, str, str], dict[str, Any]]:
    items = json.loads(members[fmt.DATASTORE])["items"]
    return {(i["scope"], i["user"], i["name"]): i for i in items}


def open_key(manifest: fmt.Manifest, passphrase: str) -> transport.TransportKey:
    kdf = manifest.secrets.kdf
    assert kdf is not None
    salt = _base64.decode(kdf.salt)
    return transport.derive_key(passphrase, salt, transport.ScryptParameters(kdf.n, kdf.r, kdf.p))


def test_manifest_lists_every_member_with_its_checksum(
    populated: Populated, tmp_path: Path
) -> None:
    report = export(populated.settings, tmp_path / "b.tgz")
    data, members = read_archive(tmp_path / "b.tgz")
    manifest = fmt.parse_manifest(data)
    assert manifest == report.manifest
    assert [e.path for e in manifest.members] == sorted(members)
    for entry in manifest.members:
        assert entry.sha256 == hashlib.sha256(members[entry.path]).hexdigest()
        assert entry.size == len(members[entry.path])
    assert fmt.verify_members(manifest, members) == []
    assert manifest.instance_id == populated.settings.instance_id
    assert manifest.format == 1 and manifest.secrets.mode == "passphrase"

    paths = set(members)
    assert "packs/demo_good/pack.yaml" in paths and "packs/examples/pack.yaml" in paths
    assert not any(p.startswith("packs/core/") for p in paths)  # ships with Packhorse
    assert not any("__pycache__" in p or "/.git/" in p or p.endswith(".pyc") for p in paths)
    assert "configs/demo_good.yaml" in paths and fmt.PACK_SOURCES in paths
    assert fmt.EXECUTIONS not in paths  # only with --with-executions
    assert json.loads(members[fmt.RULES])["demo_good.on_line"] is False
    assert json.loads(members[fmt.RULES])["demo_good.on_webhook"] is True
    users = {u["name"]: u for u in json.loads(members[fmt.USERS])}
    assert users["alice"]["role"] == "operator"
    assert users["alice"]["password_hash"].startswith("scrypt")
    (api_key,) = json.loads(members[fmt.API_KEYS])
    assert api_key["user"] == "alice" and api_key["metadata"] == {"by": "test"}
    lines = members[fmt.TRIGGER_INSTANCES].decode().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [populated.recent_instance]
    enforcements = members[fmt.RULE_ENFORCEMENTS].decode().splitlines()
    assert [json.loads(line)["trigger_instance_id"] for line in enforcements] == ["ti-recent"]
    assert manifest.counts == {
        "packs": 2,
        "configs": 1,
        "keys": 5,
        "secret_keys": 2,
        "rules": manifest.counts["rules"],
        "users": 2,
        "api_keys": 1,
        "trigger_instances": 1,
        "rule_enforcements": 1,
    }
    # Modes normalised, times and owners fixed, the manifest first.
    with tarfile.open(tmp_path / "b.tgz") as archive:
        infos = archive.getmembers()
    assert infos[0].name == fmt.MANIFEST
    assert {i.mode for i in infos} <= {0o644, 0o755}
    assert {(i.mtime, i.uid, i.gid, i.uname, i.gname) for i in infos} == {(0, 0, 0, "", "")}
    modes = {i.name: i.mode for i in infos}
    assert modes["packs/demo_good/actions/copy.sh"] == (
        0o755
        if (populated.settings.packs_dir / "demo_good/actions/copy.sh").stat().st_mode & 0o111
        else 0o644
    )
    assert (tmp_path / "b.tgz").stat().st_mode & 0o777 == 0o600


def test_no_secret_in_clear_anywhere_in_the_bundle(populated: Populated, tmp_path: Path) -> None:
    export(populated.settings, tmp_path / "b.tgz", with_executions=True)
    raw = gzip.decompress((tmp_path / "b.tgz").read_bytes())
    instance_key = Keyring(populated.settings.keys_dir).keys().writer.key
    for clear in [*SECRETS.values(), PASSPHRASE, populated.api_key]:
        assert clear.encode() not in raw
    assert instance_key not in raw
    assert _base64.encode(instance_key).encode() not in raw
    import base64

    assert base64.b64encode(instance_key) not in raw
    # Stored ciphertexts (under the instance key, which does not travel) are not copied either.
    items = datastore_items(read_archive(tmp_path / "b.tgz")[1])
    assert items[("system", "", "db_password")]["value"].startswith(transport.TOKEN_PREFIX)
    assert b"ph1:" not in raw


def test_sealed_values_open_with_the_passphrase_and_not_another(
    populated: Populated, tmp_path: Path
) -> None:
    report = export(populated.settings, tmp_path / "b.tgz")
    members = read_archive(tmp_path / "b.tgz")[1]
    items = datastore_items(members)
    key = open_key(report.manifest, PASSPHRASE)
    assert report.manifest.secrets.verifier is not None
    assert transport.check_verifier(key, report.manifest.secrets.verifier)
    for (scope, user, name), clear in [
        (("system", "", "db_password"), SECRETS["db_password"]),
        (("user", "alice", "token"), SECRETS["alice_token"]),
    ]:
        sealed = items[(scope, user, name)]["value"]
        identity = fmt.item_identity(scope, user, name)
        assert transport.unseal(key, sealed, associated=identity) == clear
        # Bound to its item: moved to another name, it does not open.
        with pytest.raises(DecryptionError):
            transport.unseal(key, sealed, associated=fmt.item_identity(scope, user, "other"))
    assert items[("system", "", "region")]["value"] == "eu-west-1"
    assert items[("user", "alice", "theme")]["value"] == "dark"
    assert items[("system", "", "temporary")]["expires_at"]

    wrong = open_key(report.manifest, "not the passphrase")
    assert not transport.check_verifier(wrong, report.manifest.secrets.verifier)
    with pytest.raises(DecryptionError):
        transport.unseal(
            wrong,
            items[("system", "", "db_password")]["value"],
            associated=fmt.item_identity("system", "", "db_password"),
        )


def test_two_exports_with_nothing_changed_have_the_same_content_checksum(
    populated: Populated, tmp_path: Path
) -> None:
    first = export(populated.settings, tmp_path / "1.tgz")
    second = export(populated.settings, tmp_path / "2.tgz")
    assert first.manifest.content_checksum == second.manifest.content_checksum
    # ... although the sealed secrets differ (fresh salt and nonces).
    assert first.manifest.secrets.kdf != second.manifest.secrets.kdf
    assert (tmp_path / "1.tgz").read_bytes() != (tmp_path / "2.tgz").read_bytes()

    bootstrap.datastore_service(populated.settings).set_value(
        "db_password", "a new one", secret=True
    )
    third = export(populated.settings, tmp_path / "3.tgz")
    assert third.manifest.content_checksum != first.manifest.content_checksum


def test_reproducible_exports_are_byte_identical(populated: Populated, tmp_path: Path) -> None:
    first = export(populated.settings, tmp_path / "1.tgz", reproducible=True)
    second = export(populated.settings, tmp_path / "2.tgz", reproducible=True)
    assert (tmp_path / "1.tgz").read_bytes() == (tmp_path / "2.tgz").read_bytes()
    assert first.manifest.created_at == "1970-01-01T00:00:00Z"
    assert first.manifest.secrets.nonces == "derived"
    # The same content checksum as an ordinary export, and still openable.
    ordinary = export(populated.settings, tmp_path / "3.tgz")
    assert ordinary.manifest.content_checksum == second.manifest.content_checksum
    items = datastore_items(read_archive(tmp_path / "1.tgz")[1])
    key = open_key(first.manifest, PASSPHRASE)
    sealed = items[("system", "", "db_password")]["value"]
    identity = fmt.item_identity("system", "", "db_password")
    assert transport.unseal(key, sealed, associated=identity) == SECRETS["db_password"]
    dated = export(
        populated.settings, tmp_path / "4.tgz", reproducible=True, source_date_epoch=86400
    )
    assert dated.manifest.created_at == "1970-01-02T00:00:00Z"


def _tree(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.endswith(("-shm", "-wal"))
    }


def test_the_source_is_left_untouched(populated: Populated, tmp_path: Path) -> None:
    """Every file of the instance keeps its bytes and mtime; SQLite's coordination files
    (``-wal``, ``-shm``) aside, which a read-only reader of a WAL database may create."""
    home = populated.settings.home
    before = _tree(home)
    export(populated.settings, tmp_path / "b.tgz", with_executions=True)
    assert _tree(home) == before
    assert not (home / "state.db-wal").exists() or (home / "state.db-wal").stat().st_size == 0


def test_export_while_the_instance_writes(populated: Populated, tmp_path: Path) -> None:
    """Writes in another thread (as ``packhorse up`` makes them) neither break the export nor
    tear it: the bundle is one point in time, and it verifies."""
    datastore = bootstrap.datastore_service(populated.settings)
    stop = threading.Event()
    written: list[int] = []

    def write() -> None:
        count = 0
        while not stop.is_set():
            datastore.set_value(f"busy.{count:05}", "x")
            count += 1
            written.append(count)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while not written:
            stop.wait(0.001)
        reports = [export(populated.settings, tmp_path / f"{n}.tgz") for n in range(3)]
    finally:
        stop.set()
        writer.join()
    for n, report in enumerate(reports):
        manifest, members = read_archive(tmp_path / f"{n}.tgz")
        assert fmt.verify_members(fmt.parse_manifest(manifest), members) == []
        busy = sorted(k[2] for k in datastore_items(members) if k[2].startswith("busy."))
        # A prefix of the writes: nothing missing in the middle.
        assert busy == [f"busy.{i:05}" for i in range(len(busy))]
        assert report.manifest.counts["keys"] == 5 + len(busy)


def test_no_secrets_leaves_the_values_out(populated: Populated, tmp_path: Path) -> None:
    report = export(populated.settings, tmp_path / "b.tgz", passphrase=None, no_secrets=True)
    assert report.manifest.secrets == fmt.SecretsBlock(mode="omitted")
    items = datastore_items(read_archive(tmp_path / "b.tgz")[1])
    assert items[("system", "", "db_password")]["value"] is None
    # No passphrase to key a fingerprint with: none (a clear hash would allow guessing).
    assert "fingerprint" not in items[("system", "", "db_password")]
    assert items[("system", "", "region")]["value"] == "eu-west-1"
    with pytest.raises(ConfigurationError, match="passphrase"):
        export(populated.settings, tmp_path / "c.tgz", passphrase=None)


def test_executions_only_when_asked_and_secret_parameters_masked(
    populated: Populated, tmp_path: Path
) -> None:
    import sqlalchemy as sa

    from packhorse.storage import schema

    engine = bootstrap.database_engine(populated.settings)
    token = bootstrap.datastore_service(populated.settings).encrypt("param-secret-value")
    with engine.begin() as connection:
        connection.execute(
            sa.insert(schema.executions),
            {
                "id": "ex1",
                "action_ref": "core.local",
                "runner_type": "local-shell-cmd",
                "status": "succeeded",
                "parameters": json.dumps({"cmd": "true", "password": token}),
                "context": "{}",
                "result": '{"stdout": ""}',
                "attempt": 1,
                "created_at": "2026-01-01T00:00:00.000000Z",
                "pids": "[]",
            },
        )
    engine.dispose()
    report = export(populated.settings, tmp_path / "b.tgz", with_executions=True)
    members = read_archive(tmp_path / "b.tgz")[1]
    (row,) = [json.loads(line) for line in members[fmt.EXECUTIONS].splitlines()]
    assert row["parameters"] == {"cmd": "true", "password": "********"}
    assert report.manifest.counts["executions"] == 1 and report.manifest.with_executions


def test_events_window(populated: Populated, tmp_path: Path) -> None:
    report = export(populated.settings, tmp_path / "b.tgz", events_days=60)
    assert report.manifest.counts["trigger_instances"] == 2
    assert report.manifest.counts["rule_enforcements"] == 2
    assert report.manifest.events_since.endswith("T00:00:00.000000Z")


@pytest.mark.postgres
def test_export_of_an_instance_on_postgresql(
    instance_home: Path, postgres_url: str, tmp_path: Path
) -> None:
    settings = use_postgres(instance_home, postgres_url)
    populated = populate(settings.home)
    assert populated.settings.database_url == postgres_url
    first = export(populated.settings, tmp_path / "1.tgz")
    second = export(populated.settings, tmp_path / "2.tgz", reproducible=True)
    export(populated.settings, tmp_path / "3.tgz", reproducible=True)
    assert (tmp_path / "2.tgz").read_bytes() == (tmp_path / "3.tgz").read_bytes()
    assert first.manifest.content_checksum == second.manifest.content_checksum
    members = read_archive(tmp_path / "1.tgz")[1]
    items = datastore_items(members)
    key = open_key(first.manifest, PASSPHRASE)
    sealed = items[("user", "alice", "token")]["value"]
    identity = fmt.item_identity("user", "alice", "token")
    assert transport.unseal(key, sealed, associated=identity) == SECRETS["alice_token"]
    assert json.loads(members[fmt.RULES])["demo_good.on_line"] is False
    assert first.manifest.counts["trigger_instances"] == 1
    raw = gzip.decompress((tmp_path / "1.tgz").read_bytes())
    assert all(clear.encode() not in raw for clear in SECRETS.values())


@pytest.mark.postgres
def test_postgresql_snapshot_is_one_read_only_repeatable_read_transaction(
    postgres_url: str,
) -> None:
    from packhorse.storage import migrate
    from packhorse.storage.database import create_engine
    from packhorse.storage.snapshot import open_snapshot

    engine = create_engine(postgres_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    migrate.upgrade(engine)
    engine.dispose()
    with open_snapshot(postgres_url) as snapshot:
        connection = snapshot._connection
        assert connection.exec_driver_sql("SHOW transaction_isolation").scalar() == (
            "repeatable read"
        )
        assert connection.exec_driver_sql("SHOW transaction_read_only").scalar() == "on"


def test_a_pack_on_an_extra_pack_path_is_exported(instance_home: Path, tmp_path: Path) -> None:
    import shutil

    from packhorse.settings import load_settings, settings_to_toml
    from tests.migrate.conftest import FIXTURE_PACKS

    extra = tmp_path / "site-packs"
    shutil.copytree(FIXTURE_PACKS / "demo_user", extra / "demo_user")
    settings = load_settings(instance_home).with_overrides(pack_paths=(extra,))
    (instance_home / "packhorse.toml").write_text(settings_to_toml(settings))
    settings = load_settings(instance_home)
    outcome = bootstrap.register_instance_packs(settings, refs=["demo_user"])
    assert outcome.ok, [d.format() for d in outcome.diagnostics]
    bootstrap.database_engine(settings).dispose()
    export(settings, tmp_path / "b.tgz")
    members = read_archive(tmp_path / "b.tgz")[1]
    copied = {p for p in members if p.startswith("packs/demo_user/")}
    assert copied == {
        f"packs/demo_user/{p.relative_to(extra / 'demo_user').as_posix()}"
        for p in (extra / "demo_user").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda path: path.write_bytes(b"B" * 10), id="same size, other bytes"),
        pytest.param(lambda path: path.write_bytes(b"A" * 11), id="grown"),
        pytest.param(lambda path: path.write_bytes(b"A" * 9), id="shrunk"),
    ],
)
def test_a_pack_file_changed_after_it_was_hashed_fails_the_export(
    tmp_path: Path, change: Callable[[Path], object]
) -> None:
    """Pack files are hashed first (the manifest, with their checksums, comes first in the
    archive), then streamed: one that changed in between is refused, not written."""
    import io

    from packhorse.errors import BundleError
    from packhorse.migrate.archive import write_archive
    from packhorse.migrate.bundle_format import FileMember
    from packhorse.migrate.spool import file_digest

    source = tmp_path / "action.sh"
    source.write_bytes(b"A" * 10)
    size, digest = file_digest(source)
    member = FileMember("packs/demo/actions/action.sh", source, size, digest)
    change(source)
    with pytest.raises(BundleError, match="changed while the bundle was written"):
        write_archive(b"{}", [member], io.BytesIO())


def test_the_manifest_is_read_alone_from_the_first_member(
    populated: Populated, tmp_path: Path
) -> None:
    """``read_manifest`` (what ``bundle import`` and ``upgrade run`` ask before importing)
    reads the first member only: the same manifest as a full read, and a bundle whose first
    member is something else is refused."""
    from packhorse.errors import BundleError
    from packhorse.migrate.archive import manifest_bytes
    from packhorse.migrate.importing import read_manifest

    report = export(populated.settings, tmp_path / "b.tgz")
    assert read_manifest(tmp_path / "b.tgz") == report.manifest
    manifest, members = read_archive(tmp_path / "b.tgz")
    assert manifest_bytes(tmp_path / "b.tgz") == manifest
    with tarfile.open(tmp_path / "reordered.tgz", "w:gz") as tar:
        for name, data in [next(iter(members.items())), (fmt.MANIFEST, manifest)]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(BundleError, match="is not the first member"):
        read_manifest(tmp_path / "reordered.tgz")
