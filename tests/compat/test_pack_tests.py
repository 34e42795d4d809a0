"""Pack tests written for StackStorm (st2tests base classes) run against our shims."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import packhorse
from packhorse.compat import SITE_DIR, pack_test_command, pack_test_pythonpath

DEMO = Path(__file__).parent / "packs" / "compat_demo"
EXAMPLES = Path(packhorse.__file__).parent / "bundled_packs" / "examples"


def run_pack_tests(pack: Path, *extra_path: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([*extra_path, pack_test_pythonpath(pack)])
    command = pack_test_command(
        sys.executable, "-q", "-p", "no:cacheprovider", "-p", "no:xdist", str(pack / "tests")
    )
    return subprocess.run(
        command, cwd=pack, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.slow
@pytest.mark.parametrize(("pack", "count"), [(DEMO, 9), (EXAMPLES, 8)], ids=["demo", "examples"])
def test_pack_tests_pass_on_the_shims(pack: Path, count: int) -> None:
    done = run_pack_tests(pack)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{count} passed" in done.stdout


def test_shims_are_not_on_packhorse_path() -> None:
    assert SITE_DIR not in sys.path
    done = subprocess.run(
        [sys.executable, "-c", "import st2common"], capture_output=True, text=True, check=False
    )
    assert "ModuleNotFoundError" in done.stderr


def test_a_real_package_wins_over_its_shim(tmp_path: Path) -> None:
    real = tmp_path / "real"
    (real / "eventlet").mkdir(parents=True)
    (real / "eventlet" / "__init__.py").write_text("REAL = True\n")
    env = dict(os.environ, PYTHONPATH=str(real))
    probe = f"import sys; sys.path.append({SITE_DIR!r}); import eventlet; print(eventlet.REAL)"
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False
    )
    assert done.stdout.strip() == "True", done.stderr
