"""The official ``st2`` command line client (PyPI ``st2client``), installed once per test
session into a venv of its own; skipped, saying why, when pip cannot install it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from packhorse import bootstrap
from packhorse.engine.clock import iso_now
from packhorse.engine.passwords import hash_password
from packhorse.settings import Settings

St2 = Callable[..., str]


@pytest.fixture(scope="session")
def st2_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("st2client") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    installed = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "st2client"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if installed.returncode != 0:
        reason = f"pip could not install st2client: {installed.stderr.strip()[-500:]}"
        print(reason, file=sys.stderr)
        pytest.skip(reason)
    return venv / "bin" / "st2"


def st2_logged_in(st2_bin: Path, base_url: str, settings: Settings, home: Path) -> St2:
    """``st2`` pointed at ``base_url`` with ``home`` as its home, after ``st2 login`` as an
    admin user made for it (the token goes where st2 keeps it, ``~/.st2``)."""
    base = base_url.rstrip("/")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "ST2_BASE_URL": base,
        "ST2_API_URL": f"{base}/api/v1",
        "ST2_AUTH_URL": f"{base}/auth/v1",
        "ST2_STREAM_URL": f"{base}/stream/v1",
    }

    def run(*args: str) -> str:
        done = subprocess.run(
            [str(st2_bin), *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, f"st2 {' '.join(args)}: {done.stdout}\n{done.stderr}"
        assert "ERROR" not in done.stdout, (args, done.stdout)
        return done.stdout

    users = bootstrap.user_store(settings)
    users.add_user("st2cli", hash_password("st2cli-password"), "admin", now=iso_now())
    logged = run("login", "st2cli", "--password", "st2cli-password")
    assert "Logged in as st2cli" in logged, logged
    return run
