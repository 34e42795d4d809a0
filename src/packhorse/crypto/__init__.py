"""Encryption of datastore secrets: pure functions, no I/O, no clock, no hidden randomness.

Randomness (new keys, nonces, IVs) is always an argument, so every function here is
reproducible in tests; the shell passes ``secrets.token_bytes`` or values it drew from it.

- :mod:`packhorse.crypto.keys`: our datastore key file and :class:`DatastoreKey`.
- :mod:`packhorse.crypto.cipher`: AES-256-GCM tokens (``ph1:<key id>:<payload>``).
- :mod:`packhorse.crypto.stackstorm`: StackStorm's keyczar-compatible cipher, to import
  values a StackStorm install encrypted (and to write them back for round trips).

Decryption failures of every kind raise :class:`packhorse.errors.DecryptionError`.
"""

from __future__ import annotations

from packhorse.crypto.cipher import (
    DATASTORE_ASSOCIATED_DATA,
    NONCE_SIZE,
    TOKEN_PREFIX,
    decrypt,
    encrypt,
    is_encrypted_token,
    key_id_of,
)
from packhorse.crypto.keys import (
    KEY_SIZE,
    DatastoreKey,
    generate_key,
    parse_key_file,
    render_key_file,
)
from packhorse.crypto.stackstorm import (
    St2Key,
    parse_st2_key_file,
    render_st2_key_file,
    st2_decrypt,
    st2_encrypt,
)

__all__ = [
    "DATASTORE_ASSOCIATED_DATA",
    "KEY_SIZE",
    "NONCE_SIZE",
    "TOKEN_PREFIX",
    "DatastoreKey",
    "St2Key",
    "decrypt",
    "encrypt",
    "generate_key",
    "is_encrypted_token",
    "key_id_of",
    "parse_key_file",
    "parse_st2_key_file",
    "render_key_file",
    "render_st2_key_file",
    "st2_decrypt",
    "st2_encrypt",
]
