"""``packhorse restore ARCHIVE --to FOLDER``: an archived instance back in a new folder, the
same instance (id, datastore key, database, packs, configs), its pack virtualenvs rebuilt for
this machine's interpreter.

Nothing is written under FOLDER before the whole archive has been opened and checked: it is
extracted into a temporary sibling folder (``.FOLDER.restoring-*``), every file checked
against the archive's manifest, and only then renamed to FOLDER. A wrong passphrase, a damaged
or truncated archive leaves nothing behind.

The state comes back on SQLite (the archive's ``state.db``), or, with ``database_url``, copied
into that empty PostgreSQL database (checked by counts and checksums) with the restored
instance pointed at it. An instance archived from PostgreSQL is never pointed back at the
database it ran on: that database may be in use, or hold a later state.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from packhorse.errors import ArchiveError, InstanceError, PackhorseError
from packhorse.migrate.instance_archive import (
    DATABASE,
    MANIFEST,
    ArchiveHeader,
    OpeningReader,
    archive_key,
    read_header,
)

Say = Callable[[str], None]
BuildVenvs = Callable[[Path, list[str], Say], list[str]]
"""Builds the virtualenvs of the named packs of the restored instance at the path (the packs
that had one when it was archived); returns the packs built."""


@dataclass(frozen=True, slots=True)
class RestoreReport:
    target: Path
    header: ArchiveHeader
    files: int
    venvs: tuple[str, ...]
    database: str = "sqlite"
    """Where the restored instance keeps its state: ``sqlite`` or the URL (no password)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": str(self.target),
            "instance_id": self.header.instance_id,
            "created_at": self.header.created_at,
            "archived_on": self.header.database,
            "database": self.database,
            "files": self.files,
            "venvs": list(self.venvs),
        }


def restore_archive(
    archive: Path,
    target: Path,
    *,
    passphrase: str | None,
    recipient_private: bytes | None,
    build_venvs: BuildVenvs,
    say: Say = lambda _line: None,
    database_url: str | None = None,
) -> RestoreReport:
    """Restore ``archive`` into ``target`` (new, or an empty folder); see the module doc."""
    target = target.absolute()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InstanceError(
            f"{target} exists and is not empty", hint="restore into a new or empty folder"
        )
    with archive.open("rb") as source:
        header, header_data = read_header(source, archive)
        say(f"opening the archive of instance {header.instance_id} ({header.created_at})")
        key = archive_key(
            header, archive, passphrase=passphrase, recipient_private=recipient_private
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.restoring-", dir=target.parent))
        try:
            say("decrypting and checking every file")
            files, venvs = _extract(
                OpeningReader(source, key, header_data, archive), staging, archive
            )
            database = _place_state(staging, header, database_url, say)
            if target.exists():
                target.rmdir()  # empty (checked above): the rename takes its place
            staging.rename(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    say(f"restored {files} files into {target}")
    try:
        built = build_venvs(target, venvs, say)
    except PackhorseError as error:
        raise InstanceError(
            f"{target} is restored, but a pack virtualenv could not be built: {error.message}",
            hint=f"fix it, then run 'packhorse --home {target} pack venv --all'",
        ) from error
    return RestoreReport(target, header, files, tuple(built), database)


def _place_state(staging: Path, header: ArchiveHeader, url: str | None, say: Say) -> str:
    """Point the restored settings at its state: the archive's ``state.db``, or its copy in
    the empty database at ``url``. Returns where it is (a URL without its password)."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from packhorse.settings import load_settings, write_settings
    from packhorse.storage.copy import copy_database
    from packhorse.storage.database import create_engine

    settings = load_settings(staging)
    if url:
        say("copying state.db into the database given")
        source, target = create_engine(f"sqlite:///{staging / DATABASE}"), create_engine(url)
        try:
            report = copy_database(source, target, progress=say)
        except sa.exc.SQLAlchemyError as error:
            cause = getattr(error, "orig", None) or error
            raise InstanceError(
                f"the database given cannot be written: {cause}",
                hint="give an empty database on a server that is up; nothing was restored",
            ) from None
        finally:
            source.dispose()
            target.dispose()
        say(f"copied {report.rows} rows; counts and checksums match")
        write_settings(settings.with_overrides(database_url=url))
        return make_url(url).render_as_string(hide_password=True)
    if settings.database_url:
        say(f"the instance ran on {header.database}: restored onto its SQLite copy (state.db)")
        write_settings(settings.with_overrides(database_url=""))
    return "sqlite"


def _extract(reader: OpeningReader, staging: Path, archive: Path) -> tuple[int, list[str]]:
    """Extract the payload into ``staging``, every file checked against the manifest (the
    payload's last member). Returns the number of files and the packs that had a venv."""
    seen: dict[str, tuple[int, str]] = {}
    manifest: dict[str, Any] | None = None
    try:
        with tarfile.open(fileobj=reader, mode="r|gz") as tar:
            for member in tar:
                name = _safe(member.name, archive)
                if manifest is not None:
                    raise _damaged(archive, "a member follows the manifest")
                if name == MANIFEST and member.isfile():
                    manifest = json.loads(_read(tar, member))
                elif member.isdir():
                    folder = staging / name
                    folder.mkdir(parents=True, exist_ok=True)
                    folder.chmod(member.mode & 0o777)
                elif member.isfile():
                    if name in seen:
                        raise _damaged(archive, f"{name} appears twice")
                    seen[name] = _write(tar, member, staging / name)
                else:
                    raise _damaged(archive, f"{name} is not a file or a folder")
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        raise _damaged(archive, f"the payload is not readable: {error}") from None
    if manifest is None:
        raise _damaged(archive, "no manifest at the end of the payload (truncated?)")
    expected = {
        str(entry["path"]): (int(entry["size"]), str(entry["sha256"]))
        for entry in manifest.get("files", [])
    }
    if expected != seen:
        wrong = sorted(set(expected) ^ set(seen) | {p for p in seen if seen[p] != expected.get(p)})
        raise _damaged(archive, "files do not match the manifest: " + ", ".join(wrong[:5]))
    return len(seen), [str(pack) for pack in manifest.get("venvs", [])]


def _safe(name: str, archive: Path) -> str:
    pure = PurePosixPath(name)
    if not name or pure.is_absolute() or ".." in pure.parts or "\\" in name:
        raise _damaged(archive, f"unsafe path {name!r}")
    return pure.as_posix()


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    stream = tar.extractfile(member)
    assert stream is not None
    return stream.read()


def _write(tar: tarfile.TarFile, member: tarfile.TarInfo, path: Path) -> tuple[int, str]:
    stream = tar.extractfile(member)
    assert stream is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        while block := stream.read(1 << 20):
            digest.update(block)
            size += len(block)
            file.write(block)
        file.flush()
        os.fsync(file.fileno())
    path.chmod(member.mode & 0o777)
    os.utime(path, (member.mtime, member.mtime))
    return size, digest.hexdigest()


def _damaged(archive: Path, what: str) -> ArchiveError:
    return ArchiveError(
        f"{archive}: damaged: {what}", path=str(archive), hint="nothing was written"
    )
