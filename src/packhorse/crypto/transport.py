"""The bundle transport cipher: secrets re-encrypted under a passphrase to travel in a bundle.

Pure: the passphrase, salt and nonces are arguments (the shell draws them from ``secrets``,
or derives them for a reproducible bundle), so every function here is deterministic.

- **KDF**: scrypt (memory-hard: a guess costs ``128 * n * r`` bytes of memory, 32 MiB at the
  defaults, which makes GPU and ASIC guessing of a weak passphrase expensive). It derives 64
  bytes: the first 32 are the AES key, the last 32 the key that derives nonces.
- **Cipher**: AES-256-GCM-SIV. Unlike GCM it survives a repeated nonce (it then reveals
  only that two equal plaintexts were equal), which is what makes *derived* nonces safe:
  a reproducible bundle derives each nonce from HMAC-SHA256(nonce key, item identity).
- **Associated data** binds each value to its item (scope, user, name), so a ciphertext
  moved to another key in the bundle fails authentication instead of landing there.
- **Verifier**: a fixed text sealed under the key; opening it tells a wrong passphrase
  (verifier fails) from damaged data (verifier opens, a value does not).
- **Recipient** (instead of a passphrase): the target instance's X25519 public key. The
  exporter makes an ephemeral X25519 key pair; HKDF-SHA256 over the shared secret, salted
  with both public keys, gives the same 64 bytes; only the target's private key opens them.

A sealed value reads ``pht1:<payload>``, the payload being unpadded URL-safe base64 of
``nonce (12 bytes) || ciphertext || tag (16 bytes)``.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from packhorse.crypto import _base64
from packhorse.errors import DecryptionError

KDF_NAME = "scrypt"
CIPHER_NAME = "AES-256-GCM-SIV"
TOKEN_PREFIX = "pht1:"  # noqa: S105 - a format name, not a password
SALT_SIZE = 16
NONCE_SIZE = 12
TAG_SIZE = 16
VERIFIER_TEXT = "packhorse bundle transport key"
VERIFIER_ASSOCIATED_DATA = b'["verifier"]'
MIN_PASSPHRASE_LENGTH = 8


@dataclass(frozen=True, slots=True)
class ScryptParameters:
    """scrypt's cost: ``n`` (CPU and memory, a power of two), ``r`` (block size), ``p``
    (parallelism). The defaults follow the ``cryptography`` documentation's interactive
    recommendation: about 0.2 s and 32 MiB per derivation."""

    n: int = 2**15
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        if self.n < 2 or self.n & (self.n - 1):
            raise ValueError(f"scrypt n must be a power of two above 1, not {self.n}")
        if self.r < 1 or self.p < 1:
            raise ValueError("scrypt r and p must be positive")


@dataclass(frozen=True, slots=True)
class TransportKey:
    """The keys derived from a passphrase and a salt. Never printed."""

    cipher_key: bytes = field(repr=False)
    """32 bytes: the AES-256-GCM-SIV key."""
    nonce_key: bytes = field(repr=False)
    """32 bytes: the HMAC-SHA256 key that derives nonces of a reproducible bundle."""


def normalise_passphrase(passphrase: str) -> bytes:
    """The passphrase as bytes: NFC, so that the same text typed on two systems matches."""
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def _split_key(derived: bytes) -> TransportKey:
    return TransportKey(cipher_key=derived[:32], nonce_key=derived[32:])


def derive_key(passphrase: str, salt: bytes, parameters: ScryptParameters) -> TransportKey:
    """The transport key for ``passphrase`` and ``salt`` (``ValueError`` on an empty one)."""
    if not passphrase:
        raise ValueError("the bundle passphrase is empty")
    if len(salt) < SALT_SIZE:
        raise ValueError(f"a bundle salt has at least {SALT_SIZE} bytes")
    derived = Scrypt(salt=salt, length=64, n=parameters.n, r=parameters.r, p=parameters.p).derive(
        normalise_passphrase(passphrase)
    )
    return _split_key(derived)


def derived_nonce(key: TransportKey, identity: bytes) -> bytes:
    """The nonce of the value named ``identity``: HMAC-SHA256(nonce key, identity), cut to
    12 bytes. Equal for the same key and item, which GCM-SIV tolerates (see module doc)."""
    return hmac.new(key.nonce_key, identity, hashlib.sha256).digest()[:NONCE_SIZE]


def derived_salt(instance_id: str) -> bytes:
    """The salt of a reproducible bundle: fixed per source instance (a fresh random salt
    would change every byte of the secrets). Different instances still get different salts."""
    return hashlib.sha256(b"packhorse-bundle-salt\0" + instance_id.encode("utf-8")).digest()[
        :SALT_SIZE
    ]


def seal(key: TransportKey, plaintext: str, *, associated: bytes, nonce: bytes) -> str:
    """``plaintext`` encrypted under ``key``, bound to ``associated``, as a ``pht1:`` token."""
    if len(nonce) != NONCE_SIZE:
        raise ValueError(f"a GCM-SIV nonce has {NONCE_SIZE} bytes, not {len(nonce)}")
    sealed = AESGCMSIV(key.cipher_key).encrypt(nonce, plaintext.encode("utf-8"), associated)
    return TOKEN_PREFIX + _base64.encode(nonce + sealed)


def unseal(key: TransportKey, token: str, *, associated: bytes) -> str:
    """The plaintext of a ``pht1:`` token; :class:`DecryptionError` when it is damaged, was
    sealed under another key, or for other associated data."""
    if not token.startswith(TOKEN_PREFIX):
        raise DecryptionError(f"not a bundle transport value (expected '{TOKEN_PREFIX}...')")
    try:
        payload = _base64.decode(token.removeprefix(TOKEN_PREFIX))
    except ValueError as error:
        raise DecryptionError(f"bundle transport value is damaged: {error}") from None
    if len(payload) < NONCE_SIZE + TAG_SIZE:
        raise DecryptionError("bundle transport value is truncated")
    nonce, sealed = payload[:NONCE_SIZE], payload[NONCE_SIZE:]
    try:
        data = AESGCMSIV(key.cipher_key).decrypt(nonce, sealed, associated)
    except InvalidTag:
        raise DecryptionError(
            "bundle transport value failed authentication: wrong passphrase, or altered"
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise DecryptionError("bundle transport value is not UTF-8 text") from None


def make_verifier(key: TransportKey, *, nonce: bytes) -> str:
    """The verifier a manifest carries: :data:`VERIFIER_TEXT` sealed under ``key``."""
    return seal(key, VERIFIER_TEXT, associated=VERIFIER_ASSOCIATED_DATA, nonce=nonce)


def check_verifier(key: TransportKey, verifier: str) -> bool:
    """True when ``key`` (so the passphrase) is the one the bundle was made with."""
    try:
        return unseal(key, verifier, associated=VERIFIER_ASSOCIATED_DATA) == VERIFIER_TEXT
    except DecryptionError:
        return False


def fingerprint_key(instance_key: bytes) -> bytes:
    """A key derived from the instance's datastore key (which never leaves the instance):
    what seeds the one-time key pair of a reproducible recipient bundle."""
    return hmac.new(instance_key, b"packhorse bundle fingerprint", hashlib.sha256).digest()


FINGERPRINT_SALT = hashlib.sha256(b"packhorse bundle fingerprint salt, format 1").digest()[
    :SALT_SIZE
]
"""Fixed, so that two bundles sealed with one passphrase (from any instance) carry the same
fingerprints for the same secrets: a round trip keeps the content checksum."""


def passphrase_fingerprint_key(passphrase: str, parameters: ScryptParameters) -> bytes:
    """The key of secret fingerprints in a passphrase-sealed bundle: scrypt of the passphrase
    with :data:`FINGERPRINT_SALT` (the bundle's own scrypt parameters). Without the
    passphrase a fingerprint says nothing about the secret, so it cannot be used to guess
    one offline; with it, the secrets open anyway."""
    if not passphrase:
        raise ValueError("the bundle passphrase is empty")
    return Scrypt(
        salt=FINGERPRINT_SALT, length=32, n=parameters.n, r=parameters.r, p=parameters.p
    ).derive(normalise_passphrase(passphrase))


def fingerprint(key: bytes, identity: bytes, plaintext: str) -> str:
    """HMAC-SHA256 of an item's identity and clear value: equal in two bundles sealed with
    one passphrase exactly when the secret is the same, whatever the transport salt."""
    message = identity + b"\0" + plaintext.encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


RECIPIENT_ALGORITHM = "X25519"
RECIPIENT_KEY_SIZE = 32
RECIPIENT_PREFIX = "phr1:"
"""How a recipient's public key is written: ``phr1:`` and unpadded URL-safe base64."""
_HKDF_INFO = b"packhorse bundle transport key"


def recipient_public_key(private_key: bytes) -> bytes:
    """The 32-byte X25519 public key of a 32-byte private key."""
    return X25519PrivateKey.from_private_bytes(private_key).public_key().public_bytes_raw()


def recipient_key_id(public_key: bytes) -> str:
    """16 hex digits naming a recipient key (first bytes of its SHA-256)."""
    return hashlib.sha256(b"packhorse-recipient\0" + public_key).hexdigest()[:16]


def format_recipient(public_key: bytes) -> str:
    return RECIPIENT_PREFIX + _base64.encode(public_key)


def parse_recipient(text: str) -> bytes:
    """The public key of a ``phr1:`` text (``ValueError`` saying why not)."""
    text = text.strip()
    if not text.startswith(RECIPIENT_PREFIX):
        raise ValueError(f"a recipient key starts with {RECIPIENT_PREFIX!r}")
    key = _base64.decode(text.removeprefix(RECIPIENT_PREFIX))
    if len(key) != RECIPIENT_KEY_SIZE:
        raise ValueError(f"a recipient key has {RECIPIENT_KEY_SIZE} bytes, not {len(key)}")
    return key


def _recipient_key(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> TransportKey:
    if shared == bytes(len(shared)):
        raise ValueError("the recipient key is a low-order point")
    derived = HKDF(
        algorithm=hashes.SHA256(),
        length=64,
        salt=ephemeral_public + recipient_public,
        info=_HKDF_INFO,
    ).derive(shared)
    return _split_key(derived)


def seal_for_recipient(
    recipient_public: bytes, ephemeral_private: bytes
) -> tuple[TransportKey, bytes]:
    """The transport key for ``recipient_public`` and the ephemeral public key to put in the
    manifest. ``ephemeral_private`` is 32 fresh random bytes (or derived, reproducibly)."""
    ephemeral = X25519PrivateKey.from_private_bytes(ephemeral_private)
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient_public))
    ephemeral_public = ephemeral.public_key().public_bytes_raw()
    return _recipient_key(shared, ephemeral_public, recipient_public), ephemeral_public


def open_as_recipient(recipient_private: bytes, ephemeral_public: bytes) -> TransportKey:
    """The transport key a bundle sealed for this recipient was made with."""
    private = X25519PrivateKey.from_private_bytes(recipient_private)
    shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
    return _recipient_key(shared, ephemeral_public, private.public_key().public_bytes_raw())
