"""``packhorse archive`` / ``restore``: the same instance comes back; a wrong passphrase or a
damaged file writes nothing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from packhorse import bootstrap
from packhorse.migrate.instance_archive import MAGIC
from packhorse.settings import load_settings
from tests.conftest import CliResult
from tests.migrate.conftest import SECRETS, Populated

Run = Callable[..., CliResult]
PASSPHRASE = "correct horse battery staple"


def passphrase_file(tmp_path: Path, text: str = PASSPHRASE) -> Path:
    path = tmp_path / f"pass-{len(text)}"
    path.write_text(text + "\n")
    return path


def observed(cli: Run, home: Path) -> dict[str, object]:
    """What a restore must bring back, read through the CLI."""
    bootstrap._cached_registry.cache_clear()
    keys = {}
    for name in ("db_password", "region"):
        got = cli("--home", home, "key", "get", name, "--decrypt", "--json")
        assert got.code == 0, got.err
        keys[name] = json.loads(got.out)["value"]
    executions = cli("--home", home, "execution", "list", "--json")
    packs = cli("--home", home, "pack", "list", "--json")
    rules = cli("--home", home, "rule", "list", "--json")
    assert executions.code == packs.code == rules.code == 0
    return {
        "instance": load_settings(home).instance_id,
        "keys": keys,
        "executions": sorted((e["id"], e["status"]) for e in json.loads(executions.out)),
        "packs": sorted((p["ref"], p["version"]) for p in json.loads(packs.out)),
        "rules": sorted((r["ref"], r["enabled"]) for r in json.loads(rules.out)),
    }


def chunk_offsets(path: Path) -> list[int]:
    """Where each sealed chunk of an archive starts."""
    data = path.read_bytes()
    (length,) = struct.unpack(">I", data[len(MAGIC) : len(MAGIC) + 4])
    offset = len(MAGIC) + 4 + length
    offsets = []
    while offset < len(data):
        offsets.append(offset)
        (size,) = struct.unpack(">I", data[offset : offset + 4])
        offset += 4 + size
    return offsets


@pytest.fixture
def archived(
    cli: Run, populated: Populated, tmp_path: Path
) -> tuple[Path, Path, dict[str, object]]:
    """The populated instance with a pack virtualenv, an execution and a 2.5 MB log (so the
    archive has several chunks), archived; with what it held."""
    home = populated.settings.home
    assert cli("--home", home, "pack", "venv", "demo_good").code == 0
    ran = cli("--home", home, "run", "core.local", "cmd=echo archived", "--json")
    assert ran.code == 0, ran.err
    (home / "logs" / "big.log").write_bytes(os.urandom(2_500_000))
    before = observed(cli, home)
    archive = tmp_path / "old.phar"
    done = cli("archive", home, "--output", archive, "--passphrase-file", passphrase_file(tmp_path))
    assert done.code == 0, done.err
    return home, archive, before


def test_restore_brings_back_the_same_instance(
    cli: Run, archived: tuple[Path, Path, dict[str, object]], tmp_path: Path
) -> None:
    home, archive, before = archived
    data = archive.read_bytes()
    for clear in [*SECRETS.values(), (home / "keys" / "datastore.key").read_text().strip()]:
        assert clear.encode() not in data
    assert len(chunk_offsets(archive)) >= 3

    inspected = cli("archive", "inspect", archive, "--json")
    assert inspected.code == 0, inspected.err
    header = json.loads(inspected.out)
    assert header["instance_id"] == before["instance"]
    assert header["encryption"]["mode"] == "passphrase"

    target = tmp_path / "restored"
    target.mkdir()  # an empty folder is accepted
    done = cli("restore", archive, "--to", target, "--passphrase-file", passphrase_file(tmp_path))
    assert done.code == 0, done.err
    assert f"Restored instance {before['instance']}" in done.out
    for clear in SECRETS.values():
        assert clear not in done.out + done.err
    assert observed(cli, target) == before
    assert (target / "venvs" / "demo_good").is_symlink()
    assert (target / "logs" / "big.log").read_bytes() == (home / "logs" / "big.log").read_bytes()
    assert (target / "keys" / "datastore.key").stat().st_mode & 0o077 == 0
    assert not (target / ".archive-manifest.json").exists()
    with sqlite3.connect(target / "state.db") as database:
        assert database.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_wrong_passphrase_damage_and_truncation_write_nothing(
    cli: Run, archived: tuple[Path, Path, dict[str, object]], tmp_path: Path
) -> None:
    _, archive, _ = archived
    good = passphrase_file(tmp_path)
    target = tmp_path / "restored"

    wrong = cli("restore", archive, "--to", target, "--passphrase-file", passphrase_file(
        tmp_path, "not the passphrase"))  # fmt: skip
    assert wrong.code == 2 and "wrong passphrase" in wrong.err

    data = archive.read_bytes()
    offsets = chunk_offsets(archive)
    flipped = bytearray(data)
    flipped[offsets[1] + 40] ^= 1
    created = json.loads(cli("archive", "inspect", archive, "--json").out)["created_at"]
    altered = data.replace(created.encode(), created.replace("20", "19", 1).encode(), 1)
    assert altered != data
    damaged = {
        "an altered header": altered,
        "at a chunk boundary": data[: offsets[-1]],
        "inside a chunk": data[: offsets[1] + 1000],
        "in the header": data[:20],
        "a flipped byte": bytes(flipped),
        "a chunk dropped": data[: offsets[1]] + data[offsets[2] :],
    }
    for what, content in damaged.items():
        broken = tmp_path / "broken.phar"
        broken.write_bytes(content)
        done = cli("restore", broken, "--to", target, "--passphrase-file", good)
        assert done.code == 2, (what, done.err)
        said = done.err
        assert any(word in said for word in ("truncated", "damaged", "authentication")), said
        assert not target.exists(), what
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [], what


def test_restore_refuses_a_folder_that_is_not_empty(
    cli: Run, archived: tuple[Path, Path, dict[str, object]], tmp_path: Path
) -> None:
    _, archive, _ = archived
    target = tmp_path / "busy"
    target.mkdir()
    (target / "something").write_text("mine")
    done = cli("restore", archive, "--to", target, "--passphrase-file", passphrase_file(tmp_path))
    assert done.code == 2 and "is not empty" in done.err
    assert [p.name for p in target.iterdir()] == ["something"]


def test_archive_for_a_recipient_and_while_the_instance_writes(
    cli: Run, populated: Populated, instance_home: Path, tmp_path: Path
) -> None:
    source = populated.settings.home
    keeper = tmp_path / "keeper"
    shutil.copytree(source, keeper)
    public = tmp_path / "keeper.pub"
    assert cli("--home", keeper, "bundle", "recipient-key", "-o", public).code == 0

    datastore = bootstrap.datastore_service(populated.settings)
    stop = threading.Event()

    def write() -> None:
        n = 0
        while not stop.is_set():
            datastore.set_value(f"busy{n % 50}", str(n))
            n += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        archive = tmp_path / "busy.phar"
        done = cli("archive", source, "-o", archive, "--recipient", public)
    finally:
        stop.set()
        writer.join()
    assert done.code == 0, done.err

    no_key = cli("restore", archive, "--to", tmp_path / "r0")
    assert no_key.code == 2 and "sealed for recipient key" in no_key.err
    target = tmp_path / "r1"
    restored = cli(
        "restore", archive, "--to", target,
        "--key-file", keeper / "keys" / "bundle-recipient.key",
    )  # fmt: skip
    assert restored.code == 0, restored.err
    with sqlite3.connect(target / "state.db") as database:
        assert database.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    got = cli("--home", target, "key", "get", "db_password", "--decrypt", "--json")
    assert json.loads(got.out)["value"] == SECRETS["db_password"]


def test_archive_refuses_a_url_a_short_passphrase_and_a_database_it_cannot_read(
    cli: Run, instance_home: Path, tmp_path: Path
) -> None:
    url = cli("archive", "http://127.0.0.1:9", "-o", tmp_path / "a.phar",
              "--passphrase-file", passphrase_file(tmp_path))  # fmt: skip
    assert url.code == 2 and "is a URL" in url.err
    short = cli("archive", instance_home, "-o", tmp_path / "a.phar",
                "--passphrase-file", passphrase_file(tmp_path, "short"))  # fmt: skip
    assert short.code == 2 and "shorter than" in short.err
    inside = cli("archive", instance_home, "-o", instance_home / "logs" / "a.phar",
                 "--passphrase-file", passphrase_file(tmp_path))  # fmt: skip
    assert inside.code == 2 and "cannot be written inside" in inside.err
    settings = (instance_home / "packhorse.toml").read_text()
    (instance_home / "packhorse.toml").write_text(
        settings.replace('url = ""', 'url = "postgresql://nobody@127.0.0.1:9/none"')
    )
    postgres = cli("archive", instance_home, "-o", tmp_path / "a.phar",
                   "--passphrase-file", passphrase_file(tmp_path))  # fmt: skip
    assert postgres.code == 2 and "its PostgreSQL database cannot be read" in postgres.err
    assert "Traceback" not in postgres.err
    assert not (tmp_path / "a.phar").exists()


def start(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    from tests.test_up import free_port, wait_for

    url = f"http://127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        [sys.executable, "-m", "packhorse", "--home", str(home), "up", "--listen", url[7:]],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert wait_for(f"{url}/health", process).status_code == 200
    return process, url


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr.decode()


@pytest.mark.slow
def test_a_running_instance_is_archived_and_the_restored_one_starts_as_it(
    cli: Run, populated: Populated, tmp_path: Path
) -> None:
    import httpx

    home = populated.settings.home
    process, _ = start(home)
    try:
        archive = tmp_path / "running.phar"
        done = cli("archive", home, "-o", archive, "--passphrase-file", passphrase_file(tmp_path))
        assert done.code == 0, done.err
    finally:
        stop(process)
    target = tmp_path / "restored"
    restored = cli("restore", archive, "--to", target, "--passphrase-file",
                   passphrase_file(tmp_path))  # fmt: skip
    assert restored.code == 0, restored.err
    process, url = start(target)
    try:
        health = httpx.get(f"{url}/health", timeout=5).json()
        assert health["instance"] == populated.settings.instance_id
    finally:
        stop(process)
    got = cli("--home", target, "key", "get", "db_password", "--decrypt", "--json")
    assert json.loads(got.out)["value"] == SECRETS["db_password"]
