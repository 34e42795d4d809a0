"""Pack virtualenvs on other Python versions than the engine's: the wrapper, the shims and the
warm host run on every interpreter from 3.9 (skipped when this machine lacks one)."""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from packhorse.runners.base import NullEvents, RunStatus
from packhorse.runners.datastore_channel import InMemoryDatastoreChannel
from packhorse.runners.python import PythonRunner
from tests.runners.conftest import make_request

VERSIONS = ["3.9", "3.10", "3.12", "3.13"]
ACTIONS = [
    ("inspect_self", {"secret": "s", "number": 1, "items": [], "missing": None}),
    ("datastore", {}),
    ("returns", {"mode": "datetime"}),
    ("returns", {"mode": "bad_tuple"}),
    ("classes", {}),
]


def find_python(version: str) -> str | None:
    """A working ``python<version>`` on PATH or under pyenv (whose shims may not run it)."""
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python")))
    for candidate in candidates:
        if candidate is None:
            continue
        probe = subprocess.run([candidate, "-c", "pass"], capture_output=True, check=False)
        if probe.returncode == 0:
            return candidate
    return None


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS)
def test_pack_virtualenv_on_another_python(version: str, tmp_path: Path) -> None:
    python = find_python(version)
    if python is None:
        pytest.skip(f"python{version} is not installed here")
    venv = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)

    async def scenario(warm: bool) -> list[RunStatus]:
        runner = PythonRunner(InMemoryDatastoreChannel(), warm=warm)
        try:
            statuses = []
            for action, parameters in ACTIONS:
                request = replace(make_request(action, parameters), venv_path=str(venv))
                outcome = await runner.run(request, NullEvents())
                assert outcome.status is not RunStatus.FAILED or action == "returns", outcome
                statuses.append(outcome.status)
            if warm:
                assert list(runner.hosts.host_pids()) == [str(venv / "bin" / "python")]
            return statuses
        finally:
            await runner.aclose()

    for warm in (False, True):
        statuses = asyncio.run(scenario(warm))
        assert statuses == [RunStatus.SUCCEEDED] * 3 + [RunStatus.FAILED, RunStatus.SUCCEEDED]


@pytest.mark.slow
def test_a_real_st2client_in_the_venv_does_not_break_the_datastore(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    (site_packages,) = venv.glob("lib/python3.*/site-packages")
    (site_packages / "st2client").mkdir()
    (site_packages / "st2client" / "__init__.py").write_text(
        "raise ImportError('the real st2client wants a StackStorm API')\n"
    )

    async def scenario() -> Any:
        runner = PythonRunner(InMemoryDatastoreChannel())
        try:
            request = replace(make_request("datastore"), venv_path=str(venv))
            return await runner.run(request, NullEvents())
        finally:
            await runner.aclose()

    outcome = asyncio.run(scenario())
    assert outcome.status is RunStatus.SUCCEEDED, outcome.result["stderr"]
    assert outcome.result["result"]["shared"] == "everyone"
