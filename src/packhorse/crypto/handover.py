"""Secret parameter values of a handover, sealed for the receiving instance.

Instances that hand work to each other keep their own datastore keys, so a queued
execution's encrypted parameter (``ph1:...``) means nothing to the receiver. The sender
decrypts it and seals the clear value for the receiver's X25519 recipient key (the key a
recipient bundle is sealed for, :mod:`packhorse.crypto.transport`); the receiver opens it
with its private key and encrypts it under its own datastore key before storing the row.

Pure: the ephemeral private key and the nonce are arguments (the shell draws them fresh for
every value). A sealed value reads::

    phseal1:<ephemeral public key>:<payload>

both unpadded URL-safe base64, the payload being ``nonce (12) || ciphertext || tag (16)``
under AES-256-GCM-SIV with the key HKDF-SHA256 derives from the X25519 shared secret (salted
with both public keys). The associated data binds the value to its execution id and
parameter name, so a sealed value moved to another execution or parameter does not open.
"""

from __future__ import annotations

import json
import re

from packhorse.crypto import _base64, transport
from packhorse.errors import DecryptionError

SEALED_PREFIX = "phseal1:"
"""First field of a value sealed for a handover's receiver."""

_SEALED = re.compile(r"phseal1:(?P<ephemeral>[A-Za-z0-9_-]+):(?P<payload>[A-Za-z0-9_-]+)")


def parameter_identity(execution_id: str, name: str) -> bytes:
    """The associated data of parameter ``name`` of execution ``execution_id``."""
    return json.dumps(["handover-parameter", execution_id, name]).encode("utf-8")


def is_sealed(value: object) -> bool:
    """True when ``value`` is shaped like a sealed handover value (authenticity unchecked)."""
    return isinstance(value, str) and _SEALED.fullmatch(value) is not None


def seal_value(
    recipient_public: bytes,
    plaintext: str,
    *,
    associated: bytes,
    ephemeral_private: bytes,
    nonce: bytes,
) -> str:
    """``plaintext`` sealed for ``recipient_public``, bound to ``associated``.

    ``ephemeral_private`` (32 bytes) and ``nonce`` (12 bytes) must be fresh random bytes.
    ``ValueError`` for a recipient key that is a low-order point."""
    key, ephemeral_public = transport.seal_for_recipient(recipient_public, ephemeral_private)
    token = transport.seal(key, plaintext, associated=associated, nonce=nonce)
    payload = token.removeprefix(transport.TOKEN_PREFIX)
    return f"{SEALED_PREFIX}{_base64.encode(ephemeral_public)}:{payload}"


def open_value(recipient_private: bytes, sealed: str, *, associated: bytes) -> str:
    """The clear text of a sealed value; :class:`DecryptionError` when it is not one, was
    sealed for another recipient, was altered, or belongs to another execution or
    parameter."""
    match = _SEALED.fullmatch(sealed)
    if match is None:
        raise DecryptionError(f"not a sealed handover value (expected '{SEALED_PREFIX}...')")
    try:
        ephemeral_public = _base64.decode(match["ephemeral"])
    except ValueError as error:
        raise DecryptionError(f"sealed handover value is damaged: {error}") from None
    if len(ephemeral_public) != transport.RECIPIENT_KEY_SIZE:
        raise DecryptionError("sealed handover value is damaged: bad ephemeral key")
    try:
        key = transport.open_as_recipient(recipient_private, ephemeral_public)
    except ValueError as error:
        raise DecryptionError(f"sealed handover value is damaged: {error}") from None
    try:
        return transport.unseal(
            key, transport.TOKEN_PREFIX + match["payload"], associated=associated
        )
    except DecryptionError:
        raise DecryptionError(
            "sealed handover value failed authentication: sealed for another instance's"
            " recipient key, altered, or moved to another execution or parameter"
        ) from None
