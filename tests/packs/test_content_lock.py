"""One content change at a time: a pack install, removal or bundle import is refused while
another process changes the same instance, and nothing is changed by the refused one."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from packhorse.errors import InstanceError
from packhorse.packs.content_lock import content_lock
from tests.conftest import CliResult
from tests.packs.test_install import write_pack


@contextmanager
def held_elsewhere(home: Path) -> Iterator[None]:
    """Another process holding the lock, as a long import would."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from packhorse.packs.content_lock import content_lock
        with content_lock(Path({str(home)!r}), what="a bundle import"):
            print("held", flush=True)
            sys.stdin.readline()
        """
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield
    finally:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()
        holder.wait(timeout=10)
        holder.stdout.close()


def test_an_install_is_refused_while_another_process_changes_the_instance(
    instance_home: Path, tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    write_pack(tmp_path / "src" / "late", "late", "1.0.0")
    with held_elsewhere(instance_home):
        refused = cli("--home", instance_home, "pack", "install", tmp_path / "src" / "late")
        assert refused.code == 2
        assert "being changed by pid" in refused.err
        assert "(a bundle import)" in refused.err
        assert "a pack install cannot run at the same time" in refused.err
        assert not (instance_home / "packs" / "late").exists()
        removal = cli("--home", instance_home, "pack", "remove", "examples")
        assert removal.code == 2 and "a pack removal cannot run" in removal.err
    # Once the other one is done, the same commands go through.
    assert cli("--home", instance_home, "pack", "install", tmp_path / "src" / "late").code == 0
    assert (instance_home / "packs" / "late" / "pack.yaml").exists()


def test_the_lock_is_reentrant_in_one_process_and_released_after(tmp_path: Path) -> None:
    with content_lock(tmp_path, what="outer"), content_lock(tmp_path, what="inner"):
        assert "outer" in (tmp_path / ".content.lock").read_text()
    refused = pytest.raises(InstanceError, match="outer again cannot run")
    with held_elsewhere(tmp_path), refused, content_lock(tmp_path, what="outer again"):
        pass  # pragma: no cover - refused before
