"""Import shims for pack code: st2common, st2reactor, st2tests and a small st2client.

The shims live in :data:`SITE_DIR` (``compat/site/``), a folder that pack processes get
**last** on their ``sys.path`` and that Packhorse's own code never imports from. It also
holds ``_packhorse_pack``, the pack-side half of the python-script runner.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["SITE_DIR", "pack_test_command", "pack_test_pythonpath"]

SITE_DIR = str(Path(__file__).resolve().parent / "site")
"""The folder put on the path of pack processes (never on Packhorse's own)."""


def pack_test_pythonpath(pack_path: str | os.PathLike[str]) -> str:
    """``PYTHONPATH`` for running a pack's tests as ``st2-run-pack-tests`` does.

    The pack's ``actions/``, ``actions/lib``, ``sensors/`` and ``lib/`` folders come first (pack
    tests import action modules by file name). The shims are not in it: see
    :func:`pack_test_command`, which appends them after site-packages.
    """
    pack = Path(pack_path).resolve()
    folders = [pack / "actions", pack / "actions" / "lib", pack / "sensors", pack / "lib"]
    return os.pathsep.join(str(folder) for folder in folders)


def pack_test_command(python: str, *pytest_args: str) -> list[str]:
    """Run pytest on ``python`` with the shims appended to ``sys.path`` (after the venv's)."""
    boot = (
        f"import sys; sys.path.append({SITE_DIR!r}); import pytest; "
        "sys.exit(pytest.main(sys.argv[1:]))"
    )
    return [python, "-c", boot, *pytest_args]
