"""``packhorse db migrate-to``: an instance's state copied from SQLite to a real PostgreSQL
database, checked, and the instance switched to it; a target that is not empty is refused."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from packhorse.settings import load_settings
from tests.conftest import CliResult, private_database


@pytest.fixture
def empty_database() -> Iterator[str]:
    """A new empty PostgreSQL database on the test server, dropped afterwards."""
    with private_database("packhorse_copy") as url:
        yield url


def test_an_instance_moves_to_postgresql_and_goes_on_there(
    instance_home: Path, empty_database: str, cli: Callable[..., CliResult]
) -> None:
    home = str(instance_home)
    ran = cli("--home", home, "run", "core.local", "cmd=echo before", "--json")
    assert ran.code == 0, ran.err
    before_id = json.loads(ran.out)["id"]
    assert cli("--home", home, "key", "set", "greeting", "hello").code == 0
    assert cli("--home", home, "key", "set", "token", "s3cret", "--encrypt").code == 0
    for name in ("a_b", "aB", "AB", "a-b"):  # orders differ under PostgreSQL's collations
        assert cli("--home", home, "key", "set", name, name).code == 0

    moved = cli("--home", home, "db", "migrate-to", empty_database, "--json")
    assert moved.code == 0, moved.err
    report = json.loads(moved.out)
    assert report["switched"] and report["rows"] > 0
    counted = {t["table"]: t["rows"] for t in report["tables"]}
    assert counted["executions"] >= 1 and counted["kv_pairs"] >= 6
    assert load_settings(instance_home).database_url == empty_database

    # The instance now reads and writes PostgreSQL: the history is there, new work runs and
    # its log rows get ids after the copied ones.
    listed = cli("--home", home, "execution", "list", "--json")
    assert before_id in {e["id"] for e in json.loads(listed.out)}
    secret = cli("--home", home, "key", "get", "token", "--decrypt", "--json")
    assert json.loads(secret.out)["value"] == "s3cret"
    after = cli("--home", home, "run", "core.local", "cmd=echo after", "--json")
    assert after.code == 0, after.err
    assert json.loads(after.out)["result"]["stdout"].strip() == "after"
    engine = sa.create_engine(empty_database.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as connection:
        statuses = connection.execute(
            sa.text("SELECT count(*) FROM execution_log WHERE execution_id = :id"),
            {"id": json.loads(after.out)["id"]},
        ).scalar_one()
        # The log's readers follow transaction ids on PostgreSQL: none is left without one.
        untracked = connection.execute(
            sa.text("SELECT count(*) FROM execution_log WHERE tx IS NULL")
        ).scalar_one()
    engine.dispose()
    assert statuses >= 3
    assert untracked == 0


def test_a_target_that_is_not_empty_is_refused_and_left_alone(
    instance_home: Path, empty_database: str, cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    home = str(instance_home)
    assert cli("--home", home, "db", "migrate-to", empty_database, "--copy-only").code == 0
    assert load_settings(instance_home).database_url == ""  # --copy-only: not switched
    again = cli("--home", home, "db", "migrate-to", empty_database)
    assert again.code != 0 and "not empty" in again.err
    assert load_settings(instance_home).database_url == ""
