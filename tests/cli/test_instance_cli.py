"""``packhorse init``, ``db`` and the registry commands, through the real entry point."""

from __future__ import annotations

import json
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

from tests.conftest import CliResult

Cli = Callable[..., CliResult]


def test_init_lays_out_the_instance_folder(tmp_path: Path, cli: Cli) -> None:
    home = tmp_path / "new"
    result = cli("--home", home, "init", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["home"] == str(home)
    assert set(report["packs"]) == {"core", "examples"}
    for folder in ("packs", "configs", "keys", "venvs", "archive", "logs"):
        assert (home / folder).is_dir()
    assert (home / "packs" / "examples" / "pack.yaml").is_file()
    assert not (home / "packs" / "core").exists()  # core is served from the package
    assert stat.S_IMODE((home / "keys" / "datastore.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "keys").stat().st_mode) == 0o700
    key = json.loads((home / "keys" / "datastore.key").read_text())
    assert key["algorithm"] == "AES-256-GCM" and len(key["key"]) == 44
    toml = (home / "packhorse.toml").read_text()
    assert report["instance_id"] in toml

    with sqlite3.connect(home / "state.db") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        [(name, stored, role)] = connection.execute("SELECT name, password_hash, role FROM users")
    assert (name, role) == ("admin", "admin")
    password = report["admin_password"]
    assert password not in stored and stored.startswith("scrypt$")
    for file in home.rglob("*"):
        if file.is_file():
            assert password.encode() not in file.read_bytes(), file


def test_init_prints_the_password_once_and_the_next_step(tmp_path: Path, cli: Cli) -> None:
    result = cli("--home", tmp_path / "h", "init")
    assert result.code == 0, result.err
    assert result.out.count("password:") == 1
    assert "packhorse --home" in result.out and "up" in result.out


def test_init_refuses_an_existing_instance_or_a_non_empty_folder(
    instance_home: Path, tmp_path: Path, cli: Cli
) -> None:
    result = cli("--home", instance_home, "init")
    assert result.code == 2 and "already a Packhorse instance" in result.err
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    result = cli("--home", busy, "init")
    assert result.code == 2 and "not empty" in result.err
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]


def test_commands_on_a_folder_that_is_no_instance_say_how_to_fix(tmp_path: Path, cli: Cli) -> None:
    result = cli("--home", tmp_path, "pack", "list")
    assert result.code == 2
    assert "not a Packhorse instance" in result.err and "hint:" in result.err


def test_home_from_environment(instance_home: Path, cli: Cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PACKHORSE_HOME", str(instance_home))
    result = cli("pack", "list")
    assert result.code == 0 and "examples" in result.out


def test_db_status_and_upgrade_on_a_current_instance(instance_home: Path, cli: Cli) -> None:
    status = cli("--home", instance_home, "db", "status", "--json")
    assert status.code == 0 and json.loads(status.out)["at_head"] is True
    upgrade = cli("--home", instance_home, "db", "upgrade")
    assert upgrade.code == 0 and "already at the current schema" in upgrade.out


def test_db_upgrade_migrates_an_old_database(instance_home: Path, cli: Cli) -> None:
    with sqlite3.connect(instance_home / "state.db") as connection:
        tables = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        for (table,) in tables.fetchall():
            connection.execute(f"DROP TABLE {table}")
    status = cli("--home", instance_home, "db", "status")
    assert "packhorse db upgrade" in status.out
    upgrade = cli("--home", instance_home, "db", "upgrade")
    assert upgrade.code == 0 and "upgraded from empty" in upgrade.out
    assert json.loads(cli("--home", instance_home, "db", "status", "--json").out)["at_head"]


def test_init_standby_starts_with_the_intake_closed(tmp_path: Path, cli: Cli) -> None:
    from packhorse import bootstrap
    from packhorse.settings import load_settings
    from packhorse.storage.intake import SqlIntakeStore

    done = cli("--home", tmp_path / "new", "init", "--standby", "--json")
    assert done.code == 0, done.err
    assert json.loads(done.out)["standby"] is True
    intake = SqlIntakeStore(bootstrap.database_engine(load_settings(tmp_path / "new"))).read()
    assert not intake.open and intake.reason is not None and "standby" in intake.reason
    plain = cli("--home", tmp_path / "plain", "init", "--json")
    assert json.loads(plain.out)["standby"] is False
    assert SqlIntakeStore(bootstrap.database_engine(load_settings(tmp_path / "plain"))).read().open
