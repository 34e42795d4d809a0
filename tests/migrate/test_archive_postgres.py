"""``packhorse archive`` of an instance on PostgreSQL and its ``restore``: the database is
copied into the archive's ``state.db`` as of one moment (checked by counts and checksums); the
instance comes back on SQLite, or with ``--database`` in another, empty PostgreSQL database,
never pointed at the one it ran on. Against the real server at 127.0.0.1:5432."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from packhorse import bootstrap
from packhorse.settings import load_settings
from packhorse.storage import migrate
from packhorse.storage.copy import copy_database, postgres_snapshot
from packhorse.storage.database import create_engine
from tests.conftest import CliResult, private_database

Run = Callable[..., CliResult]
PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def databases() -> Iterator[tuple[str, str]]:
    """Two empty PostgreSQL databases: the one the instance runs on, and one to restore into."""
    with private_database("packhorse_ran") as ran, private_database("packhorse_back") as back:
        yield ran, back


def test_an_instance_on_postgresql_is_archived_and_restored_on_sqlite_or_postgresql(
    cli: Run, instance_home: Path, databases: tuple[str, str], tmp_path: Path
) -> None:
    ran_on, restore_into = databases
    home = str(instance_home)
    assert cli("--home", home, "db", "migrate-to", ran_on).code == 0
    run = cli("--home", home, "run", "core.local", "cmd=echo on postgresql", "--json")
    assert run.code == 0, run.err
    execution_id = json.loads(run.out)["id"]
    assert cli("--home", home, "key", "set", "token", "s3cret", "--encrypt").code == 0
    passphrase = tmp_path / "passphrase"
    passphrase.write_text(PASSPHRASE + "\n")
    archive = tmp_path / "old.phar"

    done = cli("archive", home, "-o", archive, "--passphrase-file", passphrase)
    assert done.code == 0, done.err
    assert b"s3cret" not in archive.read_bytes()
    inspected = json.loads(cli("archive", "inspect", archive, "--json").out)
    assert inspected["database"] == "postgresql"

    def holds_the_state(restored: Path) -> None:
        bootstrap._cached_registry.cache_clear()  # each CLI command is a new process, not here
        listed = cli("--home", restored, "execution", "list", "--json")
        assert execution_id in {e["id"] for e in json.loads(listed.out)}
        got = cli("--home", restored, "key", "get", "token", "--decrypt", "--json")
        assert json.loads(got.out)["value"] == "s3cret"
        again = cli("--home", restored, "run", "core.local", "cmd=echo restored", "--json")
        assert again.code == 0, again.err
        assert json.loads(again.out)["result"]["stdout"].strip() == "restored"

    on_sqlite = tmp_path / "on-sqlite"
    back = cli("restore", archive, "--to", on_sqlite, "--passphrase-file", passphrase)
    assert back.code == 0, back.err
    assert "restored onto SQLite" in back.out and "db migrate-to" in back.out
    assert load_settings(on_sqlite).database_url == ""  # not the database it ran on
    holds_the_state(on_sqlite)

    on_postgres = tmp_path / "on-postgresql"
    back = cli("restore", archive, "--to", on_postgres, "--passphrase-file", passphrase,
               "--database", restore_into, "--json")  # fmt: skip
    assert back.code == 0, back.err
    report = json.loads(back.out)
    assert (report["archived_on"], report["database"]) == ("postgresql", restore_into)
    assert load_settings(on_postgres).database_url == restore_into
    holds_the_state(on_postgres)

    # A database that is not empty is refused, and nothing is written.
    refused = tmp_path / "refused"
    again = cli("restore", archive, "--to", refused, "--passphrase-file", passphrase,
                "--database", restore_into)  # fmt: skip
    assert again.code != 0 and "not empty" in again.err
    assert not refused.exists()
    assert not list(tmp_path.glob(".refused.restoring-*"))


def test_the_action_trigger_cursor_is_carried_to_sqlite_log_ids(tmp_path: Path) -> None:
    """On PostgreSQL the cursor is a transaction id; in the SQLite copy it is the id of the
    last log row it had read, and ``tx`` is empty, as SQLite leaves it."""
    with private_database("packhorse_cursor") as url:
        source = create_engine(url)
        migrate.upgrade(source)
        ids = []
        for status in ("succeeded", "failed"):  # two transactions
            with source.begin() as connection:
                ids.append(
                    connection.execute(
                        sa.text(
                            "INSERT INTO execution_log (execution_id, status, timestamp)"
                            " VALUES ('e', :status, 't') RETURNING id, tx"
                        ),
                        {"status": status},
                    ).one()
                )
        (read_id, _), (_, unread_tx) = ids
        with source.begin() as connection:  # the first row read, the second not yet
            connection.execute(
                sa.text("INSERT INTO event_cursors (name, position) VALUES (:n, :p)"),
                {"n": "execution-triggers", "p": unread_tx},
            )
        target = create_engine(f"sqlite:///{tmp_path / 'copy.db'}")
        try:
            with postgres_snapshot(source) as snapshot:
                copy_database(snapshot, target)
            with target.connect() as connection:
                position = connection.execute(
                    sa.text("SELECT position FROM event_cursors WHERE name = 'execution-triggers'")
                ).scalar_one()
                tracked = connection.execute(
                    sa.text("SELECT count(*) FROM execution_log WHERE tx IS NOT NULL")
                ).scalar_one()
        finally:
            source.dispose()
            target.dispose()
    assert position == read_id
    assert tracked == 0
