"""Key rotation is crash-safe: SIGKILL a real rotation at several points; every secret stays
readable with exactly one key file, and running it again finishes the job."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from packhorse import bootstrap
from packhorse.crypto.cipher import DATASTORE_ASSOCIATED_DATA, decrypt, key_id_of
from packhorse.crypto.keys import parse_key_file
from packhorse.engine.keyring import CURRENT, NEXT
from packhorse.settings import load_settings

SECRETS = {f"secret.{i}": f"value-{i}" for i in range(6)}

ROTATE_AND_DIE = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from packhorse import bootstrap
    from packhorse.settings import load_settings

    kill_after = int(sys.argv[2])

    def on_batch(done):
        if done >= kill_after:
            os.kill(os.getpid(), 9)

    service = bootstrap.datastore_service(load_settings(Path(sys.argv[1])))
    service.rotate(batch=1, on_batch=on_batch)
    """
)


def stored_tokens(home: Path) -> dict[str, str]:
    import sqlite3

    with sqlite3.connect(home / "state.db") as connection:
        rows = connection.execute("SELECT name, value FROM kv_pairs WHERE secret = 1")
        return dict(rows.fetchall())


@pytest.mark.parametrize("kill_after", [1, 3, len(SECRETS)])
def test_a_killed_rotation_leaves_everything_readable_and_a_rerun_finishes(
    instance_home: Path, tmp_path: Path, kill_after: int
) -> None:
    settings = load_settings(instance_home)
    service = bootstrap.datastore_service(settings)
    for name, value in SECRETS.items():
        service.set_value(name, value, secret=True)
    service.set_value("plain", "not secret")
    old = parse_key_file((settings.keys_dir / CURRENT).read_text(), "current")

    script = tmp_path / "rotate.py"
    script.write_text(ROTATE_AND_DIE)
    killed = subprocess.run(
        [sys.executable, str(script), str(instance_home), str(kill_after)],
        capture_output=True,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    # Mid-rotation: both key files exist and each value opens with exactly the key it names.
    new = parse_key_file((settings.keys_dir / NEXT).read_text(), "next")
    keys = {old.key_id: old, new.key_id: new}
    tokens = stored_tokens(instance_home)
    moved = [name for name, token in tokens.items() if key_id_of(token) == new.key_id]
    assert len(moved) == kill_after
    for name, token in tokens.items():
        opened = [k for k in keys.values() if _opens(k, token)]
        assert [k.key_id for k in opened] == [key_id_of(token)]
        assert decrypt(keys, token, associated=DATASTORE_ASSOCIATED_DATA) == SECRETS[name]
    # ...and the running service reads them all meanwhile, writing new values with the new key.
    assert service.get_value("secret.0", decrypt=True).value == "value-0"
    service.set_value("during", "rotation", secret=True)
    assert key_id_of(stored_tokens(instance_home)["during"]) == new.key_id

    report = service.rotate()
    assert report.resumed and report.new_key_id == new.key_id
    assert not (settings.keys_dir / NEXT).exists()
    assert parse_key_file((settings.keys_dir / CURRENT).read_text(), "k").key_id == new.key_id
    assert {key_id_of(t) for t in stored_tokens(instance_home).values()} == {new.key_id}
    for name, value in SECRETS.items():
        assert service.get_value(name, decrypt=True).value == value
    assert service.get_value("plain").value == "not secret"


def _opens(key: object, token: str) -> bool:
    from packhorse.errors import DecryptionError

    try:
        decrypt(key, token, associated=DATASTORE_ASSOCIATED_DATA)  # type: ignore[arg-type]
    except DecryptionError:
        return False
    return True


def test_a_completed_rotation_retires_the_old_key(instance_home: Path) -> None:
    settings = load_settings(instance_home)
    service = bootstrap.datastore_service(settings)
    service.set_value("s", "v", secret=True)
    before = stored_tokens(instance_home)["s"]
    report = service.rotate()
    assert not report.resumed and report.reencrypted == 1
    after = stored_tokens(instance_home)["s"]
    assert key_id_of(after) == report.new_key_id != key_id_of(before)
    assert sorted(p.name for p in settings.keys_dir.iterdir()) == [CURRENT]
    assert (settings.keys_dir / CURRENT).stat().st_mode & 0o777 == 0o600
