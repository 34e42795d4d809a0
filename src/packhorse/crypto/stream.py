"""A long byte stream sealed in chunks, each one authenticated (what an instance archive is).

Pure: the key and the nonces are arguments. Each chunk is sealed with AES-256-GCM-SIV under
the transport key (:mod:`packhorse.crypto.transport`), its associated data binding it to
its place: the SHA-256 of the archive's header, the chunk's index and whether it is the last
one. So a chunk moved, dropped, repeated or taken from another archive does not open, and a
stream cut after any chunk is told apart from a whole one (its last chunk is not marked
final): the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár.

A sealed chunk is ``nonce (12 bytes) || ciphertext || tag (16 bytes)``.
"""

from __future__ import annotations

import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV

from packhorse.crypto.transport import NONCE_SIZE, TAG_SIZE, TransportKey
from packhorse.errors import DecryptionError

OVERHEAD = NONCE_SIZE + TAG_SIZE
"""Bytes a sealed chunk has more than its clear text."""


def chunk_associated_data(header_digest: bytes, index: int, *, final: bool) -> bytes:
    """What binds chunk ``index`` to its archive and place."""
    return header_digest + struct.pack(">Q?", index, final)


def seal_chunk(
    key: TransportKey,
    data: bytes,
    *,
    header_digest: bytes,
    index: int,
    final: bool,
    nonce: bytes,
) -> bytes:
    """Chunk ``index`` of the stream, sealed."""
    if len(nonce) != NONCE_SIZE:
        raise ValueError(f"a GCM-SIV nonce has {NONCE_SIZE} bytes, not {len(nonce)}")
    associated = chunk_associated_data(header_digest, index, final=final)
    return nonce + AESGCMSIV(key.cipher_key).encrypt(nonce, data, associated)


def open_chunk(
    key: TransportKey, sealed: bytes, *, header_digest: bytes, index: int, final: bool
) -> bytes:
    """The clear text of a sealed chunk; :class:`DecryptionError` when it was altered, is not
    chunk ``index``, or ``final`` is not what it was sealed with."""
    if len(sealed) < OVERHEAD:
        raise DecryptionError(f"chunk {index} is truncated")
    nonce, body = sealed[:NONCE_SIZE], sealed[NONCE_SIZE:]
    try:
        return AESGCMSIV(key.cipher_key).decrypt(
            nonce, body, chunk_associated_data(header_digest, index, final=final)
        )
    except InvalidTag:
        raise DecryptionError(f"chunk {index} failed authentication: damaged or altered") from None
