"""``packhorse archive``: a whole instance folder in one encrypted file, to bring it back
exactly (``packhorse restore``, :mod:`packhorse.migrate.restore`). Format:
``docs/upgrading.md``, "Archive and restore".

The file is a clear header (magic, length, canonical JSON: what it is, which instance, when,
how it is sealed) followed by the payload, a gzip-compressed tar stream of the folder, sealed
in chunks (:mod:`packhorse.crypto.stream`) under a key derived from a passphrase (scrypt) or
for a recipient's X25519 key, exactly as bundle secrets are (:mod:`packhorse.migrate.sealing`).
The archive is written and read as a stream: a chunk at a time is in memory, not the whole.

What goes in: every file and folder of the instance but ``venvs/`` (rebuilt on restore) and
the live database files; the database goes in as ``state.db``, a copy taken with SQLite's
online backup, or, for an instance on PostgreSQL, its database copied into that SQLite file in
one read-only transaction and checked table by table (counts and checksums,
:mod:`packhorse.storage.copy`): consistent either way, even while the instance runs. The
last member, ``.archive-manifest.json``, lists every file with its size and SHA-256; restore
checks them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import struct
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, ValidationError

from packhorse import __version__
from packhorse.crypto import stream, transport
from packhorse.errors import ArchiveError, BundleError, ConfigurationError, DecryptionError
from packhorse.migrate import sealing
from packhorse.migrate.archive import write_private_file
from packhorse.migrate.bundle_format import SecretsBlock, canonical_json
from packhorse.settings import Settings
from packhorse.storage.snapshot import backup_sqlite

MAGIC = b"PHARCHV\n"
FORMAT_VERSION = 1
KIND: Literal["packhorse-instance-archive"] = "packhorse-instance-archive"
CHUNK_SIZE = 1 << 20
MANIFEST = ".archive-manifest.json"
DATABASE = "state.db"
SKIPPED_TOP = frozenset({"venvs", "state.db", "state.db-wal", "state.db-shm", "state.db-journal"})
"""Top-level entries never archived: virtualenvs (rebuilt), and the live database (its
consistent copy goes in instead)."""
MAX_HEADER = 64 * 1024
MAX_CHUNK = 16 << 20
Say = Callable[[str], None]


class ArchiveHeader(BaseModel):
    """The clear header: readable without the passphrase (``packhorse archive inspect``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["packhorse-instance-archive"] = KIND
    format: int = FORMAT_VERSION
    instance_id: str
    created_at: str
    """ISO-8601 UTC."""
    packhorse_version: str
    python_version: str
    database: Literal["sqlite", "postgresql"] = "sqlite"
    """What the instance ran on; its state is in the payload's ``state.db`` either way."""
    chunk_size: int = CHUNK_SIZE
    """Clear bytes per sealed chunk (the last one may be shorter)."""
    encryption: SecretsBlock
    """The key: ``passphrase`` (scrypt parameters) or ``recipient`` (X25519 key id), with
    the verifier that tells a wrong passphrase from damaged data."""


@dataclass(frozen=True, slots=True)
class ArchiveReport:
    path: Path
    size: int
    sha256: str
    """Of the whole archive file."""
    files: int
    clear_bytes: int
    header: ArchiveHeader

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "size": self.size,
            "sha256": self.sha256,
            "files": self.files,
            "clear_bytes": self.clear_bytes,
            "instance_id": self.header.instance_id,
            "created_at": self.header.created_at,
            "encryption": self.header.encryption.mode,
        }


@dataclass(frozen=True, slots=True)
class Sealing:
    """How to seal an archive: a passphrase or a recipient's public key."""

    passphrase: str | None = field(default=None, repr=False)
    recipient: bytes | None = None
    scrypt: transport.ScryptParameters = field(default_factory=transport.ScryptParameters)


def create_archive(
    settings: Settings,
    output: Path,
    sealing_with: Sealing,
    *,
    now: dt.datetime,
    random_bytes: Callable[[int], bytes],
    python_version: str,
    say: Say = lambda _line: None,
) -> ArchiveReport:
    """Write the archive of ``settings``' instance to ``output`` (mode 0600, through a
    temporary file and a rename)."""
    database = _dialect(settings)
    sealer = _sealer(sealing_with, random_bytes)
    key = sealer.key
    assert key is not None
    header = ArchiveHeader(
        instance_id=settings.instance_id,
        created_at=now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        packhorse_version=__version__,
        python_version=python_version,
        database=database,
        encryption=sealer.block,
    )
    header_data = canonical_json(header.model_dump(mode="json", exclude_none=True))
    digest = hashlib.sha256(header_data).digest()
    entries: list[dict[str, Any]] = []
    home = settings.home.resolve()
    if output.resolve().is_relative_to(home):
        raise ConfigurationError(f"{output}: the archive cannot be written inside {home}")

    def write(file: BinaryIO) -> None:
        file.write(MAGIC + struct.pack(">I", len(header_data)) + header_data)
        writer = _SealingWriter(file, key, digest, random_bytes, header.chunk_size)
        with (
            tempfile.TemporaryDirectory(prefix="packhorse-archive-") as scratch,
            tarfile.open(fileobj=writer, mode="w|gz", format=tarfile.PAX_FORMAT) as tar,
        ):
            copy = Path(scratch) / DATABASE
            _copy_database(settings, copy, say)
            entries.append(_add_file(tar, copy, DATABASE, 0o600))
            say(f"archiving {home} (without venvs/)")
            for relative, path, is_dir in _walk(home):
                if is_dir:
                    _add_folder(tar, path, relative)
                else:
                    entries.append(_add_file(tar, path, relative, path.stat().st_mode & 0o777))
            manifest = canonical_json(
                {"format": FORMAT_VERSION, "files": entries, "venvs": _venvs(settings.venvs_dir)}
            )
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(manifest)
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(manifest))
        writer.finish()
        say(f"sealed {writer.index} chunks")

    write_private_file(output, write)
    return ArchiveReport(
        output,
        output.stat().st_size,
        file_sha256(output),
        len(entries),
        sum(int(e["size"]) for e in entries),
        header,
    )


def _dialect(settings: Settings) -> Literal["sqlite", "postgresql"]:
    if not settings.database_url:
        return "sqlite"
    if settings.database_url.startswith("postgresql"):
        return "postgresql"
    raise ConfigurationError(
        f"{settings.home}: archive takes instances on their own SQLite file or on PostgreSQL,"
        f" not on {settings.database_url.partition(':')[0]}"
    )


def _copy_database(settings: Settings, copy: Path, say: Say) -> None:
    """The instance's state into the new SQLite file ``copy``, as of one moment."""
    if not settings.database_url:
        say("copying the database (online backup)")
        backup_sqlite(settings.state_db, copy)
        return
    from packhorse.storage.copy import copy_database, postgres_snapshot
    from packhorse.storage.database import create_engine

    say("copying the PostgreSQL database into state.db (one read-only transaction)")
    source, target = create_engine(settings.database), create_engine(f"sqlite:///{copy}")
    try:
        with postgres_snapshot(source) as snapshot:
            report = copy_database(snapshot, target, progress=say)
    except sa.exc.SQLAlchemyError as error:
        cause = getattr(error, "orig", None) or error
        raise ConfigurationError(
            f"{settings.home}: its PostgreSQL database cannot be read: {cause}",
            hint="check [database] url in packhorse.toml and that the server is up",
        ) from None
    finally:
        source.dispose()
        target.dispose()
    say(f"copied {report.rows} rows; counts and checksums match")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _sealer(sealing_with: Sealing, random_bytes: Callable[[int], bytes]) -> sealing.Sealer:
    if (sealing_with.passphrase is None) == (sealing_with.recipient is None):
        raise ConfigurationError("give a passphrase or a recipient key to seal the archive")
    if sealing_with.recipient is not None:
        return sealing.for_recipient(
            sealing_with.recipient,
            ephemeral_private=random_bytes(transport.RECIPIENT_KEY_SIZE),
            reproducible=False,
            random_bytes=random_bytes,
        )
    assert sealing_with.passphrase is not None
    return sealing.for_passphrase(
        sealing_with.passphrase,
        salt=random_bytes(transport.SALT_SIZE),
        parameters=sealing_with.scrypt,
        reproducible=False,
        random_bytes=random_bytes,
    )


def _venvs(venvs_dir: Path) -> list[str]:
    """The packs that have a virtualenv (a link ``venvs/<pack>``): rebuilt on restore."""
    if not venvs_dir.is_dir():
        return []
    return sorted(entry.name for entry in venvs_dir.iterdir() if entry.is_symlink())


def _walk(home: Path) -> Iterator[tuple[str, Path, bool]]:
    """``(relative path, path, is a folder)`` of what is archived, sorted; links to files
    are archived as the file, links to folders, sockets and fifos are not."""
    for root, folders, files in os.walk(home):
        here = Path(root)
        top = here == home
        folders[:] = sorted(
            f for f in folders if not (top and f in SKIPPED_TOP) and not (here / f).is_symlink()
        )
        for name in folders:
            yield (here / name).relative_to(home).as_posix(), here / name, True
        for name in sorted(files):
            path = here / name
            if (top and name in SKIPPED_TOP) or not path.is_file():
                continue
            yield path.relative_to(home).as_posix(), path, False


def _add_folder(tar: tarfile.TarFile, path: Path, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = path.stat().st_mode & 0o777
    tar.addfile(info)


def _add_file(tar: tarfile.TarFile, path: Path, name: str, mode: int) -> dict[str, Any]:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        size = os.fstat(source.fileno()).st_size
        info = tarfile.TarInfo(name)
        info.size = size
        info.mode = mode
        info.mtime = int(path.stat().st_mtime)
        tar.addfile(info, _Hashing(source, digest, size))
    return {"path": name, "size": size, "sha256": digest.hexdigest(), "mode": mode}


class _Hashing(io.RawIOBase):
    """A file read through a digest; gives exactly ``size`` bytes (a file that grows while
    it is archived is cut at the size it had, one that shrinks is refused)."""

    def __init__(self, source: BinaryIO, digest: Any, size: int) -> None:
        self._source = source
        self._digest = digest
        self._left = size

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        want = self._left if size < 0 else min(size, self._left)
        data = self._source.read(want)
        if len(data) < want and want:
            raise ArchiveError(
                f"{self._source.name}: the file shrank while it was archived",
                path=str(self._source.name),
                hint="archive again (stop what is writing it)",
            )
        self._left -= len(data)
        self._digest.update(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _SealingWriter(io.RawIOBase):
    """Takes the payload's bytes, writes them sealed, a chunk at a time. A chunk is written
    once more bytes follow it, so that the last one can be marked final by :meth:`finish`."""

    def __init__(
        self,
        target: BinaryIO,
        key: transport.TransportKey,
        header_digest: bytes,
        random_bytes: Callable[[int], bytes],
        chunk_size: int,
    ) -> None:
        self._target = target
        self._key = key
        self._digest = header_digest
        self._random = random_bytes
        self._size = chunk_size
        self._buffer = bytearray()
        self.index = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._buffer += data
        while len(self._buffer) > self._size:
            self._emit(bytes(self._buffer[: self._size]), final=False)
            del self._buffer[: self._size]
        return len(data)

    def finish(self) -> None:
        self._emit(bytes(self._buffer), final=True)
        self._buffer.clear()

    def close(self) -> None:  # tarfile closes its fileobj only if it opened it; keep ours
        pass

    def _emit(self, data: bytes, *, final: bool) -> None:
        sealed = stream.seal_chunk(
            self._key,
            data,
            header_digest=self._digest,
            index=self.index,
            final=final,
            nonce=self._random(transport.NONCE_SIZE),
        )
        self._target.write(struct.pack(">I", len(sealed)) + sealed)
        self.index += 1


def read_header(source: BinaryIO, path: Path) -> tuple[ArchiveHeader, bytes]:
    """The header of the archive open in ``source`` (left at the first chunk) and its bytes."""
    lead = source.read(len(MAGIC) + 4)
    if len(lead) < len(MAGIC) + 4 or not lead.startswith(MAGIC):
        raise ArchiveError(
            f"{path}: not a Packhorse instance archive", path=str(path), hint="see archive inspect"
        )
    (length,) = struct.unpack(">I", lead[len(MAGIC) :])
    if length > MAX_HEADER:
        raise ArchiveError(f"{path}: the header is too long ({length} bytes)", path=str(path))
    data = source.read(length)
    if len(data) != length:
        raise ArchiveError(f"{path}: truncated in its header", path=str(path))
    try:
        document = json.loads(data)
        if isinstance(document, dict) and document.get("format") != FORMAT_VERSION:
            raise ArchiveError(
                f"{path}: archive format {document.get('format')!r}; this Packhorse reads "
                f"format {FORMAT_VERSION}",
                path=str(path),
            )
        return ArchiveHeader.model_validate(document), data
    except (ValueError, ValidationError) as error:
        raise ArchiveError(f"{path}: the header is damaged: {error}", path=str(path)) from None


def header_of(path: Path) -> ArchiveHeader:
    """The clear header of the archive at ``path``."""
    with path.open("rb") as source:
        return read_header(source, path)[0]


def archive_key(
    header: ArchiveHeader,
    path: Path,
    *,
    passphrase: str | None,
    recipient_private: bytes | None,
) -> transport.TransportKey:
    """The key that opens the archive, checked against its verifier: a wrong passphrase (or
    recipient key) is an :class:`ArchiveError` saying so."""
    block = header.encryption
    try:
        if block.mode == "passphrase":
            if passphrase is None:
                raise ArchiveError(
                    f"{path} is sealed under a passphrase",
                    path=str(path),
                    hint="give --passphrase-file or $PACKHORSE_ARCHIVE_PASSPHRASE",
                )
            key = sealing.key_from_passphrase(block, passphrase)
        else:
            if recipient_private is None:
                raise ArchiveError(
                    f"{path} is sealed for recipient key "
                    f"{block.recipient.key_id if block.recipient else '?'}",
                    path=str(path),
                    hint="give --key-file with that instance's keys/bundle-recipient.key",
                )
            key = sealing.key_from_recipient(block, recipient_private)
    except ArchiveError:
        raise
    except ValueError as error:
        raise ArchiveError(f"{path}: {error}", path=str(path)) from None
    except BundleError as error:  # sealed for another recipient key
        raise ArchiveError(f"{path}: {error.message}", path=str(path)) from None
    if not sealing.key_opens(block, key):
        raise ArchiveError(
            f"{path}: wrong passphrase (the verifier does not open)"
            if block.mode == "passphrase"
            else f"{path}: the verifier does not open: the header was altered",
            path=str(path),
            hint="nothing was written",
        )
    return key


class OpeningReader(io.RawIOBase):
    """The payload of an archive, opened chunk by chunk as it is read. A damaged chunk, a
    stream that ends before its final chunk, or bytes after it are :class:`ArchiveError`."""

    def __init__(
        self, source: BinaryIO, key: transport.TransportKey, header_data: bytes, path: Path
    ) -> None:
        self._source = source
        self._key = key
        self._digest = hashlib.sha256(header_data).digest()
        self._path = path
        self._buffer = b""
        self._index = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._buffer and not self._done:
            self._next_chunk()
        count = min(len(buffer), len(self._buffer))
        buffer[:count] = self._buffer[:count]
        self._buffer = self._buffer[count:]
        return count

    def _fail(self, what: str) -> ArchiveError:
        return ArchiveError(
            f"{self._path}: {what}", path=str(self._path), hint="nothing was written"
        )

    def _next_chunk(self) -> None:
        lead = self._source.read(4)
        if len(lead) < 4:
            raise self._fail(f"truncated: the archive ends after chunk {self._index - 1}")
        (length,) = struct.unpack(">I", lead)
        if length > MAX_CHUNK:
            raise self._fail(f"chunk {self._index} is damaged (length {length})")
        sealed = self._source.read(length)
        if len(sealed) < length:
            raise self._fail(f"truncated in chunk {self._index}")
        following = self._source.read(1)
        final = not following
        try:
            self._buffer = stream.open_chunk(
                self._key, sealed, header_digest=self._digest, index=self._index, final=final
            )
        except DecryptionError as error:
            if final:
                raise self._fail(
                    f"truncated or damaged: chunk {self._index} is the last one in the file "
                    "and was not sealed as the last"
                ) from None
            raise self._fail(error.message) from None
        if not final:
            self._source.seek(-1, os.SEEK_CUR)
        self._index += 1
        self._done = final
