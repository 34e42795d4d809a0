"""Sealing a bundle's secret values, and opening them again: pure (keys, salts and randomness
are passed in), shared by export, ``inspect`` and the future import.

The cipher itself is :mod:`packhorse.crypto.transport`; this module decides which key a
bundle uses (passphrase or recipient), records it in the manifest's ``secrets`` block, and
seals or opens ``datastore.json`` items with it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from packhorse.crypto import _base64, transport
from packhorse.errors import BundleError, DecryptionError
from packhorse.migrate.bundle_format import (
    KdfParameters,
    RecipientParameters,
    SecretsBlock,
    item_identity,
)

CIPHER: Literal["AES-256-GCM-SIV"] = "AES-256-GCM-SIV"
VERIFIER_IDENTITY = b"verifier"


@dataclass(frozen=True, slots=True)
class Sealer:
    """Seals the secret values of one export under one key (none: secrets left out)."""

    block: SecretsBlock
    """What the manifest records about the key."""
    key: transport.TransportKey | None = field(default=None, repr=False)
    derived_nonces: bool = False
    random_bytes: Callable[[int], bytes] | None = field(default=None, repr=False)

    def seal(self, identity: bytes, clear: str) -> str | None:
        """The ``pht1:`` token of ``clear`` for the item ``identity``; None when secrets
        are left out."""
        if self.key is None:
            return None
        return transport.seal(
            self.key, clear, associated=identity, nonce=_nonce(self.key, identity, self)
        )


def _nonce(key: transport.TransportKey, identity: bytes, sealer: Sealer) -> bytes:
    if sealer.derived_nonces:
        return transport.derived_nonce(key, identity)
    assert sealer.random_bytes is not None
    return sealer.random_bytes(transport.NONCE_SIZE)


def _sealer(
    key: transport.TransportKey,
    *,
    reproducible: bool,
    random_bytes: Callable[[int], bytes],
    **block: Any,
) -> Sealer:
    partial = Sealer(SecretsBlock(mode="omitted"), key, reproducible, random_bytes)
    verifier = transport.make_verifier(key, nonce=_nonce(key, VERIFIER_IDENTITY, partial))
    return Sealer(
        SecretsBlock(
            cipher=CIPHER,
            nonces="derived" if reproducible else "random",
            verifier=verifier,
            **block,
        ),
        key,
        reproducible,
        random_bytes,
    )


def omitted() -> Sealer:
    """``--no-secrets``: every secret value is left out."""
    return Sealer(SecretsBlock(mode="omitted"))


def for_passphrase(
    passphrase: str,
    *,
    salt: bytes,
    parameters: transport.ScryptParameters,
    reproducible: bool,
    random_bytes: Callable[[int], bytes],
) -> Sealer:
    """Seal under the key scrypt derives from ``passphrase`` and ``salt``."""
    key = transport.derive_key(passphrase, salt, parameters)
    kdf = KdfParameters(n=parameters.n, r=parameters.r, p=parameters.p, salt=_base64.encode(salt))
    return _sealer(
        key, reproducible=reproducible, random_bytes=random_bytes, mode="passphrase", kdf=kdf
    )


def for_recipient(
    recipient_public: bytes,
    *,
    ephemeral_private: bytes,
    reproducible: bool,
    random_bytes: Callable[[int], bytes],
) -> Sealer:
    """Seal for the holder of the private half of ``recipient_public`` (X25519)."""
    key, ephemeral_public = transport.seal_for_recipient(recipient_public, ephemeral_private)
    recipient = RecipientParameters(
        key_id=transport.recipient_key_id(recipient_public),
        ephemeral_public=_base64.encode(ephemeral_public),
    )
    return _sealer(
        key,
        reproducible=reproducible,
        random_bytes=random_bytes,
        mode="recipient",
        recipient=recipient,
    )


def key_from_passphrase(block: SecretsBlock, passphrase: str) -> transport.TransportKey:
    """The key of a passphrase-sealed bundle (:class:`BundleError` for another mode)."""
    if block.mode != "passphrase" or block.kdf is None:
        raise BundleError(f"this bundle's secrets are not sealed under a passphrase ({block.mode})")
    parameters = transport.ScryptParameters(n=block.kdf.n, r=block.kdf.r, p=block.kdf.p)
    return transport.derive_key(passphrase, _base64.decode(block.kdf.salt), parameters)


def key_from_recipient(block: SecretsBlock, private_key: bytes) -> transport.TransportKey:
    """The key of a bundle sealed for this recipient; :class:`BundleError` when it was sealed
    for another key (or not for a recipient at all)."""
    if block.mode != "recipient" or block.recipient is None:
        raise BundleError(f"this bundle's secrets are not sealed for a recipient ({block.mode})")
    own = transport.recipient_key_id(transport.recipient_public_key(private_key))
    if own != block.recipient.key_id:
        raise BundleError(
            f"the secrets are sealed for recipient key {block.recipient.key_id}, "
            f"not this instance's ({own})"
        )
    return transport.open_as_recipient(
        private_key, _base64.decode(block.recipient.ephemeral_public)
    )


def key_opens(block: SecretsBlock, key: transport.TransportKey) -> bool:
    """Whether ``key`` opens the verifier: False means a wrong passphrase (or, for a
    recipient bundle whose key id matched, an altered manifest)."""
    return block.verifier is not None and transport.check_verifier(key, block.verifier)


def unseal_item(item: Mapping[str, Any], key: transport.TransportKey) -> str:
    """The clear value of one sealed ``datastore.json`` item."""
    identity = item_identity(str(item["scope"]), str(item["user"]), str(item["name"]))
    return transport.unseal(key, str(item["value"]), associated=identity)


def sealed_problems(datastore: bytes, key: transport.TransportKey) -> list[str]:
    """Every sealed item of ``datastore.json`` that does not open, as sentences."""
    problems = []
    for item in json.loads(datastore).get("items", []):
        if item.get("secret") and item.get("value") is not None:
            try:
                unseal_item(item, key)
            except DecryptionError as error:
                problems.append(f"{item['scope']} key {item['name']!r}: {error.message}")
    return problems
