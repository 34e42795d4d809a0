"""Hostile bundle archives are refused while reading, before anything is written: paths that
escape, links, devices, oversized members and compressed bombs."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from packhorse.errors import BundleError
from packhorse.migrate.archive import open_archive, read_archive


def _archive(path: Path, *entries: tuple[tarfile.TarInfo, bytes]) -> Path:
    with gzip.open(path, "wb") as compressed, tarfile.open(fileobj=compressed, mode="w") as tar:
        manifest = tarfile.TarInfo("manifest.json")
        manifest.size = 3
        tar.addfile(manifest, io.BytesIO(b"{}\n"))
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data else None)
    return path


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _special(name: str, kind: bytes, target: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, b""


HOSTILE: dict[str, Callable[[], tuple[tarfile.TarInfo, bytes]]] = {
    "dot-dot": lambda: _file("packs/../../etc/passwd"),
    "absolute": lambda: _file("/etc/passwd"),
    "backslash": lambda: _file("packs\\..\\x"),
    "not normal": lambda: _file("packs//x"),
    "symlink out": lambda: _special("packs/p/link", tarfile.SYMTYPE, "/etc/passwd"),
    "symlink in": lambda: _special("packs/p/link", tarfile.SYMTYPE, "pack.yaml"),
    "hard link": lambda: _special("packs/p/link", tarfile.LNKTYPE, "/etc/passwd"),
    "character device": lambda: _special("packs/p/dev", tarfile.CHRTYPE),
    "block device": lambda: _special("packs/p/dev", tarfile.BLKTYPE),
    "fifo": lambda: _special("packs/p/fifo", tarfile.FIFOTYPE),
    "folder": lambda: _special("packs/p", tarfile.DIRTYPE),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_member_is_refused(tmp_path: Path, case: str) -> None:
    bundle = _archive(tmp_path / "hostile.tgz", HOSTILE[case]())
    with pytest.raises(BundleError):
        read_archive(bundle)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hostile.tgz"]


def test_member_over_the_size_cap_is_refused(tmp_path: Path) -> None:
    bundle = _archive(tmp_path / "big.tgz", _file("packs/p/big.bin", b"0" * 5000))
    with pytest.raises(BundleError, match="too large"):
        read_archive(bundle, max_member_bytes=4096)
    assert read_archive(bundle, max_member_bytes=5000)[1]["packs/p/big.bin"] == b"0" * 5000


def test_compressed_bomb_is_stopped_while_reading(tmp_path: Path) -> None:
    """64 MiB of zeros compress to about 64 KiB; the reader stops after its cap of 1 MiB,
    having decompressed little more than that (it does not inflate everything first)."""
    path = tmp_path / "bomb.tgz"
    size = 64 << 20
    with gzip.open(path, "wb") as compressed, tarfile.open(fileobj=compressed, mode="w") as tar:
        info = tarfile.TarInfo("packs/p/zeros")
        info.size = size
        tar.addfile(info, io.BytesIO(bytes(size)))
    assert path.stat().st_size < 1 << 20
    read: list[int] = []
    original = gzip.GzipFile.read

    def counting(self: gzip.GzipFile, length: int | None = -1) -> bytes:
        data = original(self, length)
        read.append(len(data))
        return data

    gzip.GzipFile.read = counting  # type: ignore[method-assign]
    try:
        with pytest.raises(BundleError, match="decompressed"):
            read_archive(path, max_total_bytes=1 << 20)
    finally:
        gzip.GzipFile.read = original  # type: ignore[method-assign]
    assert sum(read) < 2 << 20


def test_member_appearing_twice_is_refused(tmp_path: Path) -> None:
    bundle = _archive(tmp_path / "twice.tgz", _file("datastore.json"), _file("datastore.json"))
    with pytest.raises(BundleError, match="twice"):
        read_archive(bundle)


def test_not_gzip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plain.tgz"
    path.write_bytes(b"not a bundle at all")
    with pytest.raises(BundleError, match="not a readable bundle"):
        read_archive(path)


# -- the spool: an import reads members to a private temporary folder, never kept ---------------


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_refused_bundle_leaves_no_spool_folder(tmp_path: Path, case: str) -> None:
    bundle = _archive(tmp_path / "hostile.tgz", _file("packs/p/ok", b"ok"), HOSTILE[case]())
    spool = tmp_path / "spool"
    spool.mkdir()
    with pytest.raises(BundleError), open_archive(bundle, spool_in=spool):
        pytest.fail("a hostile bundle was opened")
    assert list(spool.iterdir()) == []


def test_a_bomb_and_a_member_over_the_cap_leave_no_spool_folder(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    bundle = _archive(tmp_path / "big.tgz", _file("a", b"0" * 100), _file("b", b"0" * 5000))
    with (
        pytest.raises(BundleError, match="too large"),
        open_archive(bundle, max_member_bytes=4096, spool_in=spool),
    ):
        pass
    with (
        pytest.raises(BundleError, match="decompressed"),
        open_archive(bundle, max_total_bytes=4096, spool_in=spool),
    ):
        pass
    assert list(spool.iterdir()) == []


def test_members_are_spooled_privately_read_on_access_and_removed(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    data = os.urandom(300_000)
    bundle = _archive(tmp_path / "b.tgz", _file("packs/p/big.bin", data), _file("rules.json"))
    with open_archive(bundle, spool_in=spool) as (manifest, members):
        (folder,) = spool.iterdir()
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert manifest == b"{}\n" and sorted(members) == ["packs/p/big.bin", "rules.json"]
        assert members.digest("packs/p/big.bin") == (len(data), hashlib.sha256(data).hexdigest())
        assert members.source("packs/p/big.bin").read_bytes() == data
        assert members["rules.json"] == b"x" and "nope" not in members
    assert list(spool.iterdir()) == []


def test_an_error_inside_the_block_removes_the_spool_folder(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    bundle = _archive(tmp_path / "b.tgz", _file("rules.json"))
    with pytest.raises(RuntimeError), open_archive(bundle, spool_in=spool):
        raise RuntimeError("the import failed later")
    assert list(spool.iterdir()) == []
