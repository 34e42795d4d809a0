"""``packhorse pack test``: a pack's ``tests/`` run by pytest on the pack's own interpreter,
with StackStorm's test base classes from our shims, as ``st2-run-pack-tests`` runs them.

The tests run in a virtualenv of their own, ``venvs/<ref>.tests``: the pack's requirements
and the baseline (as in its venv) plus pytest, mock and the pack's ``requirements-tests.txt``,
so that the venv actions run in never holds test tools. It is reused like the pack's venv."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from packhorse.compat import pack_test_command, pack_test_pythonpath
from packhorse.errors import PackhorseError
from packhorse.packs.venvs import Progress, VenvBuilder, VenvOutcome

TEST_REQUIREMENTS = ("pytest", "mock")
"""What StackStorm's pack test runner gave pack tests (it used nose, then pytest)."""
TESTS_REQUIREMENTS_FILE = "requirements-tests.txt"


class PackTestError(PackhorseError):
    """The pack's tests could not be run (not whether they passed)."""


def tests_venv(
    builder: VenvBuilder, pack: str, pack_dir: Path, *, progress: Progress | None = None
) -> VenvOutcome:
    """The pack's test virtualenv, built or reused."""
    extra = [*TEST_REQUIREMENTS]
    if (pack_dir / TESTS_REQUIREMENTS_FILE).is_file():
        extra += ["-r", str(pack_dir / TESTS_REQUIREMENTS_FILE)]
    return builder.ensure(pack, pack_dir, extra=extra, name=f"{pack}.tests", progress=progress)


def run_pack_tests(
    venv: Path, pack_dir: Path, pytest_args: Sequence[str] = (), *, capture: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run pytest on the pack's ``tests/`` with ``venv``'s interpreter; pytest's exit code.
    ``capture``: return the output instead of letting it through."""
    tests = pack_dir / "tests"
    if not tests.is_dir():
        raise PackTestError(
            f"{pack_dir} has no tests/ folder", hint="a pack's tests live in tests/"
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACKHORSE_")}
    env["PYTHONPATH"] = pack_test_pythonpath(pack_dir)
    command = pack_test_command(
        str(venv / "bin" / "python"), "-p", "no:cacheprovider", *pytest_args, str(tests)
    )
    return subprocess.run(
        command, cwd=pack_dir, env=env, text=True, capture_output=capture, check=False
    )
