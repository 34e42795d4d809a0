"""The chunked stream cipher: a chunk opens only at its index, with its final mark, under its
archive's header."""

from __future__ import annotations

import pytest

from packhorse.crypto import stream
from packhorse.crypto.transport import ScryptParameters, TransportKey, derive_key
from packhorse.errors import DecryptionError

KEY = derive_key("a long passphrase", b"0123456789abcdef", ScryptParameters(n=2**4))
OTHER = derive_key("another passphrase", b"0123456789abcdef", ScryptParameters(n=2**4))
HEADER = b"h" * 32
NONCE = b"n" * 12


def sealed(index: int = 3, *, final: bool = False) -> bytes:
    return stream.seal_chunk(
        KEY, b"payload", header_digest=HEADER, index=index, final=final, nonce=NONCE
    )


def test_a_chunk_opens_where_it_was_sealed() -> None:
    chunk = sealed()
    assert len(chunk) == len(b"payload") + stream.OVERHEAD
    assert stream.open_chunk(KEY, chunk, header_digest=HEADER, index=3, final=False) == b"payload"


@pytest.mark.parametrize(
    ("key", "header", "index", "final"),
    [
        (OTHER, HEADER, 3, False),  # another passphrase
        (KEY, b"x" * 32, 3, False),  # another archive (or an altered header)
        (KEY, HEADER, 4, False),  # moved
        (KEY, HEADER, 3, True),  # the stream cut after it
    ],
)
def test_a_chunk_does_not_open_anywhere_else(
    key: TransportKey, header: bytes, index: int, final: bool
) -> None:
    with pytest.raises(DecryptionError, match="chunk"):
        stream.open_chunk(key, sealed(), header_digest=header, index=index, final=final)


def test_a_damaged_or_short_chunk_does_not_open() -> None:
    chunk = bytearray(sealed())
    chunk[-1] ^= 1
    with pytest.raises(DecryptionError, match="authentication"):
        stream.open_chunk(KEY, bytes(chunk), header_digest=HEADER, index=3, final=False)
    with pytest.raises(DecryptionError, match="truncated"):
        stream.open_chunk(KEY, b"short", header_digest=HEADER, index=3, final=False)
