"""The bundle archive: tar + gzip, written so that the same members give the same bytes.

Members are sorted by path after ``manifest.json`` (always first, so a reader learns what
follows before it reads it); every header has mtime 0, uid and gid 0, empty owner names and a
normalised mode; the gzip header has mtime 0 and no file name; the compression level is fixed.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from packhorse.errors import BundleError
from packhorse.migrate.bundle_format import (
    MANIFEST,
    AnyMember,
    FileMember,
    Member,
    check_member_path,
    file_mode,
)
from packhorse.migrate.spool import SpooledMembers, remove_folder

COMPRESSION_LEVEL = 6
MAX_MEMBER_BYTES = 1 << 30
"""A member larger than this is refused when reading (a bundle is not a disk image)."""


def write_archive(manifest: bytes, members: Sequence[AnyMember], target: BinaryIO) -> None:
    """Write the archive to ``target`` (a binary file open for writing). A
    :class:`FileMember` is streamed from its file, which must still hold what was hashed."""
    with (
        gzip.GzipFile(
            filename="", mode="wb", fileobj=target, mtime=0, compresslevel=COMPRESSION_LEVEL
        ) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        _add(archive, Member(MANIFEST, manifest))
        for member in sorted(members, key=lambda m: m.path):
            _add(archive, member)


def _add(archive: tarfile.TarFile, member: AnyMember) -> None:
    info = tarfile.TarInfo(check_member_path(member.path))
    info.size = len(member.data) if isinstance(member, Member) else member.size
    info.mode = member.mode
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    if isinstance(member, Member):
        archive.addfile(info, io.BytesIO(member.data))
        return
    try:
        with Path(member.source).open("rb") as file:
            hashing = _Hashing(file)
            archive.addfile(info, hashing)
            changed = hashing.digest.hexdigest() != member.sha256 or file.read(1) != b""
    except OSError as error:  # tarfile's own "unexpected end of data" is an OSError too
        if not _shrunk(member):
            raise BundleError(f"{member.source}: cannot read: {error}; nothing written") from error
        changed = True
    if changed:
        raise BundleError(
            f"{member.source}: changed while the bundle was written; nothing written",
            hint="export again once the pack folder is left alone",
        )


def _shrunk(member: FileMember) -> bool:
    """The file is now shorter than when it was hashed (the tar stream ran out of data)."""
    try:
        return Path(member.source).stat().st_size < member.size
    except OSError:
        return False


class _Hashing:
    """A file read through, hashed on the way (to prove it is what the manifest says)."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(size)
        self.digest.update(data)
        return data


MAX_TOTAL_BYTES = 8 << 30
"""Decompressed bytes read from one bundle at most (headers included): a compressed bomb is
stopped while it is being read, not after it has filled the memory or the disk."""
MAX_MEMBERS = 1_000_000


class _Counted(io.RawIOBase):
    """The decompressed stream, refusing to give more than ``limit`` bytes in all."""

    def __init__(self, stream: io.BufferedIOBase, limit: int, path: Path) -> None:
        self._stream = stream
        self._limit = limit
        self._path = path
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(self._limit - self.count + 1 if size < 0 else size)
        self.count += len(data)
        if self.count > self._limit:
            raise BundleError(
                f"{self._path}: more than {self._limit} bytes once decompressed; refused "
                "(a compressed bomb, or a bundle larger than this reader allows)"
            )
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def read_archive(
    path: Path,
    *,
    max_member_bytes: int = MAX_MEMBER_BYTES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    modes: dict[str, int] | None = None,
) -> tuple[bytes, dict[str, bytes]]:
    """The manifest's bytes and every other member's, by path, in memory: for small bundles
    and tests. An import uses :func:`open_archive`, whose memory does not grow with the
    bundle; the refusals are the same."""
    with open_archive(
        path, max_member_bytes=max_member_bytes, max_total_bytes=max_total_bytes, modes=modes
    ) as (manifest, members):
        return manifest, dict(members)


def manifest_bytes(path: Path, *, max_member_bytes: int = MAX_MEMBER_BYTES) -> bytes:
    """The manifest's bytes alone: the first member of every bundle, read without reading
    (or spooling) the rest. :class:`BundleError` when the first member is not it."""
    try:
        with (
            gzip.open(path, "rb") as compressed,
            tarfile.open(mode="r|", fileobj=compressed) as tar,
        ):
            info = tar.next()
            if info is None or check_member_path(info.name) != MANIFEST or not info.isreg():
                raise BundleError(f"{path}: {MANIFEST} is not the first member")
            if info.size > max_member_bytes:
                raise BundleError(f"{path}: member {MANIFEST!r} is too large ({info.size} bytes)")
            extracted = tar.extractfile(info)
            assert extracted is not None  # a regular file always has content
            return extracted.read()
    except (tarfile.TarError, OSError, EOFError, gzip.BadGzipFile) as error:
        raise BundleError(f"{path}: not a readable bundle archive: {error}") from error


@contextlib.contextmanager
def open_archive(
    path: Path,
    *,
    max_member_bytes: int = MAX_MEMBER_BYTES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    modes: dict[str, int] | None = None,
    spool_in: Path | None = None,
) -> Iterator[tuple[bytes, SpooledMembers]]:
    """The manifest's bytes and the other members, spooled to a private temporary folder
    (mode 0700, under ``spool_in`` or the system's temporary folder) that is removed when
    the block ends, whatever happens. Refuses anything but regular files with safe relative
    paths (links, devices, fifos and ``..`` never reach an import), members over
    ``max_member_bytes``, more than ``max_total_bytes`` decompressed in all (counted as the
    stream is read), more than ``MAX_MEMBERS`` members, a member twice and a manifest that
    is not first. ``modes``, when given, receives each member's mode (0755 or 0644)."""
    folder = Path(tempfile.mkdtemp(prefix="packhorse-bundle-", dir=spool_in))  # mode 0700
    try:
        members = SpooledMembers(folder)
        manifest = _spool(path, members, max_member_bytes, max_total_bytes, modes)
        yield manifest, members
    finally:
        remove_folder(folder)


def _spool(
    path: Path,
    members: SpooledMembers,
    max_member_bytes: int,
    max_total_bytes: int,
    modes: dict[str, int] | None,
) -> bytes:
    manifest: bytes | None = None
    try:
        with (
            gzip.open(path, "rb") as compressed,
            tarfile.open(mode="r|", fileobj=_Counted(compressed, max_total_bytes, path)) as archive,
        ):
            for index, info in enumerate(archive):
                name = check_member_path(info.name)
                if not info.isreg():
                    raise BundleError(f"{path}: member {name!r} is not a regular file")
                if info.size > max_member_bytes:
                    raise BundleError(f"{path}: member {name!r} is too large ({info.size} bytes)")
                if index >= MAX_MEMBERS:
                    raise BundleError(f"{path}: more than {MAX_MEMBERS} members; refused")
                if name in members or (name == MANIFEST and manifest is not None):
                    raise BundleError(f"{path}: member {name!r} appears twice")
                extracted = archive.extractfile(info)
                assert extracted is not None  # a regular file always has content
                if name == MANIFEST:
                    if index != 0:
                        raise BundleError(f"{path}: {MANIFEST} is not the first member")
                    manifest = extracted.read()
                    continue
                members.spool(name, extracted)
                if modes is not None:
                    modes[name] = file_mode(bool(info.mode & 0o111))
    except (tarfile.TarError, OSError, EOFError, gzip.BadGzipFile) as error:
        raise BundleError(f"{path}: not a readable bundle archive: {error}") from error
    if manifest is None:
        raise BundleError(f"{path}: no {MANIFEST}; not a Packhorse bundle")
    return manifest


def write_private_file(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Create ``path`` (mode 0600: it holds sealed secrets) through a temporary file and a
    rename, so a failed export never leaves half a bundle under the final name.
    ``write`` is called with the open binary file."""
    temporary = path.with_name(f".{path.name}.partial")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
