"""Acceptance of pack management: public StackStorm Exchange packs that need no external
service install from a local clone and their own tests pass under ``packhorse pack test``.

Their files are not in this repository: the test uses clones on this machine
(``$PACKHORSE_EXCHANGE_CLONES``, default the tool library's mirror folder) and skips, saying
so, where there are none. pytest, mock and the packs' requirements come from the package
index."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult

CLONES = Path(os.environ.get("PACKHORSE_EXCHANGE_CLONES", "/work/.mirror"))


def clone_of(name: str) -> Path:
    for candidate in (CLONES / f"StackStorm-Exchange+stackstorm-{name}" / "repo", CLONES / name):
        if candidate.is_dir():
            return candidate
    pytest.skip(f"no clone of StackStorm-Exchange/stackstorm-{name} under {CLONES}")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["csv", "networking_utils"])
def test_an_exchange_pack_installs_and_its_tests_pass(
    name: str, instance_home: Path, cli: Callable[..., CliResult]
) -> None:
    repo = clone_of(name)
    installed = cli("--home", instance_home, "pack", "install", f"file://{repo}", "--json")
    assert installed.code == 0, installed.err
    # pytest runs in a process of its own: read its output from a process of ours.
    tested = subprocess.run(
        [sys.executable, "-m", "packhorse", "--home", str(instance_home), "pack", "test", name],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert re.search(r"\d+ passed", tested.stdout)
    assert "failed" not in tested.stdout
