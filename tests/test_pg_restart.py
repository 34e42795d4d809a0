"""A restarted PostgreSQL server is survived: ``packhorse up`` on a private cluster that the
test starts with ``initdb`` and ``pg_ctl`` on a port of its own (never the shared server on
5432) keeps running executions after the server is restarted under it, losing and doubling
none.

The instance moves onto the private cluster with ``packhorse db migrate-to``. Skips, saying
why, where PostgreSQL's server binaries are not installed."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.test_up import free_port, wait_for

pytestmark = pytest.mark.slow

BATCH = 15


def _as_cluster_owner() -> list[str]:
    """How to run the server's tools: initdb and postgres refuse to run as root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no 'postgres' user to run a cluster as")
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip("running as root without runuser to start a cluster as 'postgres'")
    return [runuser, "-u", "postgres", "--"]


@contextlib.contextmanager
def private_cluster() -> Iterator[tuple[str, list[str]]]:
    """A PostgreSQL cluster of this test only: (URL of its database 'packhorse', the
    ``pg_ctl`` command line to restart it with)."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL's initdb and pg_ctl are not installed")
    owner = _as_cluster_owner()
    folder = Path(tempfile.mkdtemp(prefix="packhorse-pg-"))
    if owner:
        shutil.chown(folder, "postgres", "postgres")
    data, port = folder / "data", free_port()
    subprocess.run(
        [*owner, initdb, "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
    control = [*owner, pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w"]
    subprocess.run([*control, "start"], check=True, capture_output=True)
    try:
        admin = sa.create_engine(
            f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres",
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as connection:
            connection.exec_driver_sql("CREATE DATABASE packhorse")
        admin.dispose()
        yield f"postgresql://postgres@127.0.0.1:{port}/packhorse", control
    finally:
        subprocess.run([*control, "-m", "immediate", "stop"], capture_output=True, check=False)
        shutil.rmtree(folder, ignore_errors=True)


def _run_batch(base: str, headers: dict[str, str]) -> list[str]:
    ids = []
    for _ in range(BATCH):
        response = httpx.post(
            f"{base}/api/v1/executions",
            json={"action": "core.noop", "parameters": {}},
            headers=headers,
            timeout=10,
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def _statuses(url: str) -> dict[str, tuple[str, int]]:
    """Each execution's status and how many times it reached it."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT e.id, e.status, (SELECT count(*) FROM execution_log l "
                    "WHERE l.execution_id = e.id AND l.status = 'succeeded') FROM executions e"
                )
            ).all()
    finally:
        engine.dispose()
    return {str(i): (str(s), int(n)) for i, s, n in rows}


def test_up_survives_a_postgresql_restart(instance_home: Path) -> None:
    with private_cluster() as (url, control):
        moved = subprocess.run(
            [
                sys.executable,
                "-m",
                "packhorse",
                "--home",
                str(instance_home),
                "db",
                "migrate-to",
                url,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert moved.returncode == 0, moved.stderr
        key = subprocess.run(
            [
                sys.executable,
                "-m",
                "packhorse",
                "--home",
                str(instance_home),
                "apikey",
                "create",
                "--json",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        headers = {"St2-Api-Key": json.loads(key.stdout)["key"]}
        port = free_port()
        log = (instance_home / "up.log").open("w")  # what up said, to read when this fails
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "packhorse",
                "--home",
                str(instance_home),
                "up",
                "--listen",
                f"127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            assert wait_for(f"{base}/ready", server, timeout=30).status_code == 200
            first = _run_batch(base, headers)

            subprocess.run([*control, "-m", "fast", "restart"], check=True, capture_output=True)

            # The server is back: the API and the engine reconnect on their own.
            deadline = time.monotonic() + 30
            while httpx.get(f"{base}/ready", timeout=5).status_code != 200:
                assert time.monotonic() < deadline, "not ready again after the restart"
                time.sleep(0.2)
            second = _run_batch(base, headers)

            deadline = time.monotonic() + 60
            while True:
                statuses = _statuses(url)
                done = [i for i in first + second if statuses.get(i, ("", 0))[0] == "succeeded"]
                if len(done) == len(first + second):
                    break
                assert time.monotonic() < deadline, {
                    i: statuses.get(i) for i in first + second if i not in done
                }
                time.sleep(0.2)
            assert server.poll() is None, "packhorse up died with the database restart"
            assert all(statuses[i][1] == 1 for i in first + second), "an execution ran twice"
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
