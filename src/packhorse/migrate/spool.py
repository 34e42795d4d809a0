"""A bundle's members spooled to a private temporary folder as the archive is read.

The archive is read once, as a stream; each member is written to its own file in a folder
only this user can open (mode 0700), and hashed by chunks on the way. What the reader returns
is a read-only mapping whose values are read from disk when asked for, so memory stays bounded
by the largest member a caller chooses to read (the small JSON ones), not by the bundle.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

CHUNK = 1 << 16
"""Bytes copied or hashed at a time (small: a bomb is stopped close to its cap)."""


@dataclass(frozen=True, slots=True)
class SpooledFile:
    path: Path
    size: int
    sha256: str
    """Hex SHA-256, computed while the member was spooled."""


class SpooledMembers(Mapping[str, bytes]):
    """Members by path; ``members[path]`` reads the file (meant for the small members),
    :meth:`source` names it for copying, :meth:`digest` gives its size and checksum without
    reading it again. Valid while the spool folder exists (see ``archive.open_archive``)."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._files: dict[str, SpooledFile] = {}

    def __getitem__(self, path: str) -> bytes:
        return self._files[path].path.read_bytes()

    def __contains__(self, path: object) -> bool:
        return path in self._files

    def __iter__(self) -> Iterator[str]:
        return iter(self._files)

    def __len__(self) -> int:
        return len(self._files)

    def source(self, path: str) -> Path:
        """The spooled file of member ``path`` (read it, copy it; never write it)."""
        return self._files[path].path

    def digest(self, path: str) -> tuple[int, str]:
        """(size, hex SHA-256) of member ``path``, as computed while spooling."""
        spooled = self._files[path]
        return spooled.size, spooled.sha256

    def spool(self, path: str, stream: IO[bytes]) -> None:
        """Copy ``stream`` into a new file of the spool folder, hashing it by chunks."""
        # Files are numbered, not named after the member: a member path never becomes a
        # path on this disk, whatever it holds.
        target = self._folder / f"{len(self._files):08d}"
        digest = hashlib.sha256()
        size = 0
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                file.write(chunk)
        self._files[path] = SpooledFile(target, size, digest.hexdigest())


def file_digest(path: Path) -> tuple[int, str]:
    """(size, hex SHA-256) of the file at ``path``, read by chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def remove_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
