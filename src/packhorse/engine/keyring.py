"""The datastore keys of an instance, read from ``keys/``.

``datastore.key`` is the current key. During a key rotation ``datastore.key.next`` also
exists: it is the key new values are written with, and values not yet re-encrypted are still
read with the old one. Every token names its key (``ph1:<key id>:...``), so each value is
readable with exactly one of the files at any moment, whatever point a rotation died at.
The folder is read on every use (two ``stat`` calls), so a rotation done by another process
is seen at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from packhorse.crypto.keys import DatastoreKey, parse_key_file, render_key_file
from packhorse.errors import ConfigurationError

CURRENT = "datastore.key"
NEXT = "datastore.key.next"


@dataclass(frozen=True, slots=True)
class KeySet:
    """The keys in force: the one to write with, and every one that may be read."""

    writer: DatastoreKey
    readers: dict[str, DatastoreKey]
    rotating: bool


class Keyring:
    """Reads the key files of one instance; caches parsed keys by file identity."""

    def __init__(self, keys_dir: Path) -> None:
        self._dir = keys_dir
        self._cache: dict[tuple[str, int, int], DatastoreKey] = {}

    def _read(self, name: str) -> DatastoreKey | None:
        path = self._dir / name
        try:
            info = path.stat()
        except FileNotFoundError:
            return None
        identity = (name, info.st_ino, info.st_mtime_ns)
        cached = self._cache.get(identity)
        if cached is None:
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as error:
                raise ConfigurationError(
                    f"{path}: cannot read the datastore key: {error}"
                ) from error
            cached = parse_key_file(text, str(path))
            self._cache[identity] = cached
        return cached

    def keys(self) -> KeySet:
        current = self._read(CURRENT)
        upcoming = self._read(NEXT)
        if current is None and upcoming is None:
            raise ConfigurationError(
                f"no datastore key in {self._dir}",
                hint="restore keys/datastore.key from a backup; without it secrets cannot be read",
            )
        readers = {k.key_id: k for k in (current, upcoming) if k is not None}
        writer = upcoming or current
        assert writer is not None
        return KeySet(writer=writer, readers=readers, rotating=upcoming is not None)

    def begin_rotation(self, new_key: DatastoreKey) -> DatastoreKey:
        """Install ``new_key`` as the next key, or return the next key a crashed rotation left."""
        existing = self._read(NEXT)
        if existing is not None:
            return existing
        _write_private(self._dir / NEXT, render_key_file(new_key))
        return new_key

    def finish_rotation(self) -> None:
        """Make the next key the current one (one atomic rename); the old key is gone."""
        os.replace(self._dir / NEXT, self._dir / CURRENT)
        _fsync_dir(self._dir)


def _write_private(path: Path, text: str) -> None:
    """Write a 0600 file durably: temp file, fsync, rename, fsync the folder."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
