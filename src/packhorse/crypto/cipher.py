"""Packhorse's datastore cipher: AES-256-GCM, stored as a text token.

A token reads ``ph1:<key id>:<payload>``:

- ``ph1`` names this format (version 1), so a later format can live beside it;
- ``<key id>`` is the 16 hex digit id of the :class:`DatastoreKey` that encrypted it;
- ``<payload>`` is unpadded URL-safe base64 of ``nonce (12 bytes) || ciphertext || tag (16)``.

The GCM associated data is ``b"ph1:<key id>:" + associated``. The caller's ``associated``
bytes say where the value belongs (:data:`DATASTORE_ASSOCIATED_DATA` for datastore values),
so a token copied to another key name or scope fails to decrypt instead of leaking there.
The nonce is an argument: the shell draws 12 random bytes for every encryption and must never
reuse one with the same key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from packhorse.crypto import _base64
from packhorse.crypto.keys import KEY_ID_LENGTH, DatastoreKey
from packhorse.errors import DecryptionError

TOKEN_PREFIX = "ph1"  # noqa: S105 - a format name, not a password
"""First field of every token this module writes."""
NONCE_SIZE = 12
"""Bytes of GCM nonce the caller passes to :func:`encrypt`."""
TAG_SIZE = 16

_TOKEN = re.compile(
    rf"{TOKEN_PREFIX}:(?P<key_id>[0-9a-f]{{{KEY_ID_LENGTH}}}):(?P<payload>[A-Za-z0-9_-]+)"
)


DATASTORE_ASSOCIATED_DATA = b'["datastore"]'
"""Associated data of every datastore value. Part of the stored format.

A value is deliberately *not* bound to its key name: StackStorm's ``decrypt_kv`` filter
decrypts a value wherever it travelled (a config copies ``{{ st2kv.system.k }}``), with no name
at hand. The key id in the token still says which key made it.
"""


def encrypt(key: DatastoreKey, plaintext: str, *, associated: bytes, nonce: bytes) -> str:
    """Encrypt ``plaintext`` with ``key`` into a ``ph1:`` token bound to ``associated``.

    ``nonce`` must be 12 fresh random bytes (``ValueError`` otherwise): reusing a nonce with
    the same key breaks GCM's confidentiality and authenticity.
    """
    if len(nonce) != NONCE_SIZE:
        raise ValueError(f"a GCM nonce has {NONCE_SIZE} bytes, not {len(nonce)}")
    sealed = AESGCM(key.key).encrypt(
        nonce, plaintext.encode("utf-8"), _associated_data(key.key_id, associated)
    )
    return f"{TOKEN_PREFIX}:{key.key_id}:{_base64.encode(nonce + sealed)}"


def decrypt(
    keys: Mapping[str, DatastoreKey] | DatastoreKey, token: str, *, associated: bytes
) -> str:
    """The plaintext of ``token``, using the key it names among ``keys``.

    ``keys`` is one key, or every loaded key by id (during a rotation, old and new).
    Raises :class:`DecryptionError` when ``token`` is not a well-formed token, its key is
    not among ``keys``, or authentication fails: a changed byte, the wrong key, or
    ``associated`` data other than the data it was encrypted with.
    """
    key_id, payload = _split(token)
    key = _find_key(keys, key_id)
    if len(payload) < NONCE_SIZE + TAG_SIZE:
        raise DecryptionError("encrypted value is truncated", key_id=key_id)
    nonce, sealed = payload[:NONCE_SIZE], payload[NONCE_SIZE:]
    try:
        data = AESGCM(key.key).decrypt(nonce, sealed, _associated_data(key_id, associated))
    except InvalidTag:
        raise DecryptionError(
            "encrypted value failed authentication: it was altered, or it belongs to another"
            " datastore key name or scope",
            key_id=key_id,
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:  # only if someone sealed non-UTF-8 bytes with our key
        raise DecryptionError("decrypted value is not UTF-8 text", key_id=key_id) from None


def key_id_of(token: str) -> str:
    """The id of the key that encrypted ``token``; :class:`DecryptionError` if not a token."""
    return _split(token)[0]


def is_encrypted_token(value: object) -> bool:
    """True when ``value`` is shaped like a token this module writes (authenticity unchecked)."""
    if not isinstance(value, str):
        return False
    try:
        _split(value)
    except DecryptionError:
        return False
    return True


def _split(token: str) -> tuple[str, bytes]:
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise DecryptionError(
            f"not a Packhorse encrypted value (expected '{TOKEN_PREFIX}:<key id>:<payload>')"
        )
    key_id = match["key_id"]
    try:
        payload = _base64.decode(match["payload"])
    except ValueError as error:
        raise DecryptionError(f"encrypted value is damaged: {error}", key_id=key_id) from None
    return key_id, payload


def _find_key(keys: Mapping[str, DatastoreKey] | DatastoreKey, key_id: str) -> DatastoreKey:
    key = keys if isinstance(keys, DatastoreKey) else keys.get(key_id)
    if key is None or key.key_id != key_id:
        raise DecryptionError(
            f"encrypted value was made by datastore key {key_id}, which is not loaded",
            key_id=key_id,
            hint="load the key file this value was encrypted with",
        )
    return key


def _associated_data(key_id: str, associated: bytes) -> bytes:
    # The prefix has a fixed length (the key id is always 16 hex digits), so the caller's
    # bytes cannot be shifted into it; binding the format and key id costs nothing.
    return f"{TOKEN_PREFIX}:{key_id}:".encode("ascii") + associated
