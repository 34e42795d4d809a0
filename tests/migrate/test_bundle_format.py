"""The pure half of the bundle format: paths, content checksums, archives, transport cipher."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from packhorse.crypto import transport
from packhorse.errors import BundleError, DecryptionError
from packhorse.migrate import bundle_format as fmt
from packhorse.migrate.archive import read_archive, write_archive

KEY = transport.derive_key("passphrase", b"s" * 16, transport.ScryptParameters(n=2**4))


@pytest.mark.parametrize(
    "path", ["", "/etc/passwd", "../x", "packs/../../x", "a\\b", "a//b", "./a"]
)
def test_unsafe_member_paths_are_refused(path: str) -> None:
    with pytest.raises(BundleError):
        fmt.check_member_path(path)


@pytest.mark.parametrize(
    ("parts", "exported"),
    [
        (("pack.yaml",), True),
        (("actions", "x.py"), True),
        (("actions", "x.pyc"), False),
        (("actions", "__pycache__", "x.cpython-311.pyc"), False),
        ((".git", "HEAD"), False),
        ((".venv", "bin", "python"), False),
        ((".gitignore",), True),
    ],
)
def test_pack_file_rules(parts: tuple[str, ...], exported: bool) -> None:
    assert fmt.exported_pack_file(parts) is exported


def _datastore(value: str) -> bytes:
    return fmt.canonical_json(
        {"items": [{"name": "k", "secret": True, "value": value, "fingerprint": "f"}]}
    )


def test_content_view_ignores_transport_ciphertexts_only() -> None:
    assert fmt.content_view(fmt.DATASTORE, _datastore("pht1:a")) == fmt.content_view(
        fmt.DATASTORE, _datastore("pht1:b")
    )
    assert fmt.content_view(fmt.RULES, b"{}\n") == b"{}\n"


def _manifest(members: list[fmt.Member]) -> fmt.Manifest:
    return fmt.build_manifest(
        members,
        packhorse_version="0",
        python_version="3",
        instance_id="i",
        created_at="1970-01-01T00:00:00Z",
        reproducible=True,
        events_since="",
        with_executions=False,
        counts={},
        secrets=fmt.SecretsBlock(mode="omitted"),
    )


def test_archives_are_deterministic_and_round_trip(tmp_path: Path) -> None:
    members = [fmt.Member("b.json", b"{}\n"), fmt.Member("a/run.sh", b"#!/bin/sh\n", 0o755)]
    manifest = _manifest(members)
    outputs = []
    for order in (members, members[::-1]):
        buffer = io.BytesIO()
        write_archive(fmt.manifest_bytes(manifest), order, buffer)
        outputs.append(buffer.getvalue())
    assert outputs[0] == outputs[1]
    (tmp_path / "b.tgz").write_bytes(outputs[0])
    data, read = read_archive(tmp_path / "b.tgz")
    assert fmt.parse_manifest(data) == manifest
    assert read == {"a/run.sh": b"#!/bin/sh\n", "b.json": b"{}\n"}
    assert fmt.verify_members(manifest, read) == []
    assert fmt.verify_members(manifest, {**read, "c": b""}) == [
        "c: in the archive but not in the manifest"
    ]
    assert fmt.verify_members(manifest, {"b.json": b"{}\n"}) == [
        "a/run.sh: listed in the manifest but missing"
    ]


def test_archives_with_links_are_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(fmt.MANIFEST)
        archive.addfile(info, io.BytesIO(b""))
        link = tarfile.TarInfo("packs/x/evil")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
    (tmp_path / "b.tgz").write_bytes(buffer.getvalue())
    with pytest.raises(BundleError, match="not a regular file"):
        read_archive(tmp_path / "b.tgz")


def test_manifest_of_another_format_is_refused() -> None:
    with pytest.raises(BundleError, match="format 2"):
        fmt.parse_manifest(b'{"format": 2}')
    with pytest.raises(BundleError, match="invalid"):
        fmt.parse_manifest(b'{"format": 1}')


def test_transport_seal_round_trip_and_binding() -> None:
    nonce = transport.derived_nonce(KEY, b"item")
    sealed = transport.seal(KEY, "clear", associated=b"item", nonce=nonce)
    assert sealed == transport.seal(KEY, "clear", associated=b"item", nonce=nonce)
    assert transport.unseal(KEY, sealed, associated=b"item") == "clear"
    with pytest.raises(DecryptionError):
        transport.unseal(KEY, sealed, associated=b"other")
    damaged = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(DecryptionError):
        transport.unseal(KEY, damaged, associated=b"item")
    with pytest.raises(DecryptionError):
        transport.unseal(KEY, "ph1:xyz", associated=b"item")
    verifier = transport.make_verifier(KEY, nonce=b"\0" * 12)
    assert transport.check_verifier(KEY, verifier)
    other = transport.derive_key("passphrasE", b"s" * 16, transport.ScryptParameters(n=2**4))
    assert not transport.check_verifier(other, verifier)
    assert "key" not in repr(KEY).replace("TransportKey", "")


def test_transport_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="power of two"):
        transport.ScryptParameters(n=1000)
    with pytest.raises(ValueError, match="empty"):
        transport.derive_key("", b"s" * 16, transport.ScryptParameters(n=2**4))
    assert transport.derived_salt("a") != transport.derived_salt("b")
    # The same text typed in another Unicode normal form derives the same key.
    composed = transport.derive_key("caf\u00e9!", b"s" * 16, transport.ScryptParameters(n=2**4))
    decomposed = transport.derive_key("cafe\u0301!", b"s" * 16, transport.ScryptParameters(n=2**4))
    assert composed == decomposed


def test_recipient_sealing_opens_only_with_the_recipient_private_key() -> None:
    recipient = b"\x07" * 32
    public = transport.recipient_public_key(recipient)
    assert transport.parse_recipient(transport.format_recipient(public)) == public
    key, ephemeral_public = transport.seal_for_recipient(public, b"\x09" * 32)
    assert transport.open_as_recipient(recipient, ephemeral_public) == key
    assert transport.open_as_recipient(b"\x08" * 32, ephemeral_public) != key
    with pytest.raises(ValueError, match="starts with"):
        transport.parse_recipient("abc")
    with pytest.raises(ValueError, match="32 bytes"):
        transport.parse_recipient("phr1:AAAA")


def test_sealing_round_trip_and_problems() -> None:
    from packhorse.migrate import sealing

    sealer = sealing.for_passphrase(
        "passphrase",
        salt=b"s" * 16,
        parameters=transport.ScryptParameters(n=2**4),
        reproducible=True,
        random_bytes=lambda _n: pytest.fail("a reproducible sealer draws no randomness"),
    )
    identity = fmt.item_identity("system", "", "k")
    item = {"scope": "system", "user": "", "name": "k", "secret": True}
    item["value"] = sealer.seal(identity, "clear")
    key = sealing.key_from_passphrase(sealer.block, "passphrase")
    assert sealing.key_opens(sealer.block, key)
    assert sealing.unseal_item(item, key) == "clear"
    assert not sealing.key_opens(sealer.block, sealing.key_from_passphrase(sealer.block, "other"))
    moved = fmt.canonical_json({"items": [{**item, "name": "other"}]})
    assert sealing.sealed_problems(moved, key) == [
        "system key 'other': bundle transport value failed authentication: wrong passphrase,"
        " or altered"
    ]
    with pytest.raises(BundleError, match="not sealed for a recipient"):
        sealing.key_from_recipient(sealer.block, b"\x01" * 32)
    assert sealing.omitted().seal(identity, "clear") is None

    public = transport.recipient_public_key(b"\x05" * 32)
    for_target = sealing.for_recipient(
        public, ephemeral_private=b"\x06" * 32, reproducible=False, random_bytes=bytes
    )
    assert sealing.key_opens(
        for_target.block, sealing.key_from_recipient(for_target.block, b"\x05" * 32)
    )
    with pytest.raises(BundleError, match="sealed for recipient key"):
        sealing.key_from_recipient(for_target.block, b"\x04" * 32)


def test_a_manifest_that_is_not_the_first_member_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name in ("rules.json", fmt.MANIFEST):
            archive.addfile(tarfile.TarInfo(name), io.BytesIO(b""))
    (tmp_path / "b.tgz").write_bytes(buffer.getvalue())
    with pytest.raises(BundleError, match="not the first member"):
        read_archive(tmp_path / "b.tgz")
