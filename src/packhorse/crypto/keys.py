"""The datastore key: its file format and its identity.

The file (``keys/datastore.key``, written by ``packhorse init``) is one JSON object::

    {"version": 1, "algorithm": "AES-256-GCM", "key": "<standard base64 of 32 bytes>"}

A key's id is the first 16 hex digits of the SHA-256 of the key. Every encrypted value names
the id of the key that made it, so during a key rotation (old and new key both loaded) each
value is decrypted with the right key and a value nobody can decrypt is recognised as such.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from packhorse.errors import ConfigurationError

KEY_FILE_VERSION = 1
ALGORITHM = "AES-256-GCM"
KEY_SIZE = 32
"""Bytes in a datastore key (AES-256)."""
KEY_ID_LENGTH = 16
"""Hex digits in a key id (64 bits of the key's SHA-256: plenty to tell keys apart)."""


def key_id_for(key: bytes) -> str:
    """The stable fingerprint of ``key``; it reveals nothing usable about the key itself."""
    return hashlib.sha256(key).hexdigest()[:KEY_ID_LENGTH]


@dataclass(frozen=True, slots=True)
class DatastoreKey:
    """A datastore encryption key and its id. Build one with :meth:`from_bytes`."""

    key_id: str
    """First 16 hex digits of SHA-256(key); carried by every token this key encrypts."""
    key: bytes = field(repr=False)
    """The 32 raw key bytes. Never printed: ``repr`` leaves it out."""

    def __post_init__(self) -> None:
        if len(self.key) != KEY_SIZE:
            raise ValueError(f"a datastore key has {KEY_SIZE} bytes, not {len(self.key)}")
        if self.key_id != key_id_for(self.key):
            raise ValueError("key_id does not match the key; use DatastoreKey.from_bytes")

    @classmethod
    def from_bytes(cls, key: bytes) -> DatastoreKey:
        """The key with its id computed."""
        return cls(key_id=key_id_for(key), key=key)


def generate_key(random_bytes: Callable[[int], bytes]) -> DatastoreKey:
    """A new key drawn from ``random_bytes`` (the shell passes ``secrets.token_bytes``)."""
    return DatastoreKey.from_bytes(random_bytes(KEY_SIZE))


def render_key_file(key: DatastoreKey) -> str:
    """The key file text for ``key``, ending with a newline. :func:`parse_key_file` reads it."""
    document = {
        "version": KEY_FILE_VERSION,
        "algorithm": ALGORITHM,
        "key": base64.b64encode(key.key).decode("ascii"),
    }
    return json.dumps(document) + "\n"


def parse_key_file(text: str, path: str) -> DatastoreKey:
    """Read a datastore key file.

    Raises :class:`ConfigurationError` naming ``path`` and every problem found (never
    the key material itself).
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise _invalid(path, [f"not JSON ({error.msg} at line {error.lineno})"]) from None
    if not isinstance(document, dict):
        raise _invalid(path, ["not a JSON object"])

    problems: list[str] = []
    version = document.get("version")
    if version is None:
        problems.append('"version" is missing')
    elif type(version) is not int or version != KEY_FILE_VERSION:
        problems.append(f'"version" is {version!r}; this Packhorse reads version 1')
    algorithm = document.get("algorithm")
    if algorithm is None:
        problems.append('"algorithm" is missing')
    elif algorithm != ALGORITHM:
        problems.append(f'"algorithm" is {algorithm!r}; expected {ALGORITHM!r}')

    key: bytes | None = None
    encoded = document.get("key")
    if encoded is None:
        problems.append('"key" is missing')
    elif not isinstance(encoded, str):
        problems.append('"key" is not a string')
    else:
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            problems.append('"key" is not valid base64')
        else:
            if len(key) != KEY_SIZE:
                problems.append(f'"key" decodes to {len(key)} bytes; expected {KEY_SIZE}')

    if problems or key is None:
        raise _invalid(path, problems)
    return DatastoreKey.from_bytes(key)


def _invalid(path: str, problems: list[str]) -> ConfigurationError:
    return ConfigurationError(
        f"invalid datastore key file {path}: {'; '.join(problems)}",
        hint="restore the key file from your backup; without it encrypted values are lost",
    )
