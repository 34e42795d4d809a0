"""A bundle is never held whole in memory: a pack holding a 300 MB file is exported and
imported by the real entry point, each in its own process, and each process's peak resident
memory stays far below the file's size (pack files are hashed by chunks and streamed into
the archive; on import, members are spooled to a temporary folder and copied from there)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from packhorse.engine.instance import init_instance
from tests.migrate.conftest import Populated

BIG = 300 << 20
PEAK_LIMIT = 150 << 20
"""Bytes of peak RSS allowed to the export and to the import (half the file)."""

# Runs one packhorse command as its only child and prints the child's peak RSS (KiB on
# Linux) last: RUSAGE_CHILDREN of a fresh process counts that command and nothing else.
MEASURE = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run([sys.executable, '-m', 'packhorse', *sys.argv[1:]])\n"
    "print('MAXRSS', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(done.returncode)\n"
)


def peak_rss(*args: object) -> int:
    """Peak RSS in bytes of ``packhorse ARGS`` run as a subprocess."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("MAXRSS ")
    return int(last.split()[1]) * 1024


def write_random(path: Path, size: int) -> str:
    """Write ``size`` random bytes (they do not compress) by chunks; their SHA-256."""
    digest = hashlib.sha256()
    with path.open("wb") as file:
        for _ in range(size // (1 << 20)):
            chunk = os.urandom(1 << 20)
            digest.update(chunk)
            file.write(chunk)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_300_mb_pack_file_is_exported_and_imported_in_bounded_memory(
    populated: Populated, tmp_path: Path
) -> None:
    source = populated.settings
    big = source.packs_dir / "demo_good" / "data" / "big.bin"
    big.parent.mkdir()
    original = write_random(big, BIG)
    passfile = tmp_path / "pass"
    passfile.write_text("large bundle passphrase\n")
    bundle = tmp_path / "big.tgz"

    exported = peak_rss(
        "--home", source.home, "bundle", "export", "-o", bundle, "--passphrase-file", passfile
    )
    assert bundle.stat().st_size > BIG  # random bytes do not compress

    target = tmp_path / "target"
    init_instance(target)
    imported = peak_rss("--home", target, "bundle", "import", bundle, "--passphrase-file", passfile)

    print(f"peak RSS: export {exported >> 20} MiB, import {imported >> 20} MiB")
    assert exported < PEAK_LIMIT, f"export peaked at {exported >> 20} MiB"
    assert imported < PEAK_LIMIT, f"import peaked at {imported >> 20} MiB"
    copied = target / "packs" / "demo_good" / "data" / "big.bin"
    assert sha256_of(copied) == original
