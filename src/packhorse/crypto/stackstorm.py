"""StackStorm's datastore cipher, read and written, so its secrets move over unchanged.

StackStorm keeps its datastore key in a keyczar-style JSON file (``[keyvalue]
encryption_key_path``)::

    {"hmacKey": {"hmacKeyString": "<b64>", "size": 256},
     "aesKeyString": "<b64>", "mode": "CBC", "size": 256}

The key strings are URL-safe base64 with the ``=`` padding left off.

An encrypted value is upper-case hex text of these bytes, in this order:

- a 5-byte header. Keyczar wrote a version byte and 4 bytes of key hash; StackStorm since its
  move to the ``cryptography`` package writes five ASCII ``0`` characters. Readers skip it, but
  the signature covers it, so it must not change;
- a 16-byte random IV;
- the UTF-8 plaintext, padded to whole 16-byte blocks as PKCS#7 says (1 to 16 bytes, each
  holding the pad length), encrypted with AES in CBC mode under the AES key;
- a 20-byte HMAC-SHA1, under the HMAC key, of everything before it (header, IV, ciphertext).

We verify the signature first, in constant time, and only then decrypt and check the padding.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hmac, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from packhorse.errors import ConfigurationError, DecryptionError

HEADER = b"00000"
"""The header StackStorm writes (keyczar wrote a version byte and a key hash instead)."""
HEADER_SIZE = 5
IV_SIZE = 16
BLOCK_SIZE = 16
SIGNATURE_SIZE = 20
"""Bytes of an HMAC-SHA1."""
AES_KEY_SIZES = (16, 24, 32)
MINIMUM_KEY_BITS = 128

_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})*")
_KEYCZAR_BASE64 = re.compile(r"[A-Za-z0-9_-]*")
_HMAC_MISMATCH = "HMAC mismatch: wrong StackStorm key file, or the value was altered or truncated"


@dataclass(frozen=True, slots=True)
class St2Key:
    """A StackStorm datastore key: AES key, HMAC-SHA1 key and their declared sizes."""

    aes_key: bytes = field(repr=False)
    """16, 24 or 32 raw bytes (StackStorm generates 32)."""
    hmac_key: bytes = field(repr=False)
    """Raw HMAC-SHA1 key bytes (StackStorm generates 32)."""
    size: int = 256
    """The file's ``size``: declared AES key bits. Kept to write the file back as it was."""
    hmac_key_size: int = 256
    """The file's ``hmacKey.size``: declared HMAC key bits."""

    def __post_init__(self) -> None:
        if len(self.aes_key) not in AES_KEY_SIZES:
            raise ValueError(f"an AES key has 16, 24 or 32 bytes, not {len(self.aes_key)}")
        if not self.hmac_key:
            raise ValueError("the HMAC key is empty")


def parse_st2_key_file(text: str, path: str) -> St2Key:
    """Read a StackStorm key file, accepting what StackStorm itself accepts.

    Raises :class:`ConfigurationError` naming ``path`` and every problem found.
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise _invalid(path, [f"not JSON ({error.msg} at line {error.lineno})"]) from None
    if not isinstance(document, dict):
        raise _invalid(path, ["not a JSON object"])

    problems: list[str] = []
    aes_key = _key_bytes(document, "aesKeyString", "aesKeyString", problems)
    if aes_key is not None and len(aes_key) not in AES_KEY_SIZES:
        problems.append(f'"aesKeyString" decodes to {len(aes_key)} bytes; expected 16, 24 or 32')
        aes_key = None
    size = _bits(document, "size", "size", problems, minimum=MINIMUM_KEY_BITS)

    hmac_key: bytes | None = None
    hmac_key_size: int | None = None
    hmac_document = document.get("hmacKey")
    if hmac_document is None:
        problems.append('"hmacKey" is missing')
    elif not isinstance(hmac_document, dict):
        problems.append('"hmacKey" is not an object')
    else:
        hmac_key = _key_bytes(hmac_document, "hmacKeyString", "hmacKey.hmacKeyString", problems)
        if hmac_key is not None and not hmac_key:
            problems.append('"hmacKey.hmacKeyString" is empty')
            hmac_key = None
        hmac_key_size = _bits(hmac_document, "size", "hmacKey.size", problems, minimum=1)

    mode = document.get("mode")
    if mode is None:
        problems.append('"mode" is missing')
    elif not isinstance(mode, str) or mode.upper() != "CBC":
        problems.append(f'"mode" is {mode!r}; StackStorm keys use "CBC"')

    if problems or aes_key is None or hmac_key is None or size is None or hmac_key_size is None:
        raise _invalid(path, problems)
    return St2Key(aes_key=aes_key, hmac_key=hmac_key, size=size, hmac_key_size=hmac_key_size)


def render_st2_key_file(key: St2Key) -> str:
    """The key file as StackStorm writes it (compact JSON, no final newline)."""
    document = {
        "hmacKey": {"hmacKeyString": _encode_key(key.hmac_key), "size": key.hmac_key_size},
        "aesKeyString": _encode_key(key.aes_key),
        "mode": "CBC",
        "size": key.size,
    }
    return json.dumps(document, separators=(",", ":"))


def st2_encrypt(key: St2Key, plaintext: str, *, iv: bytes) -> str:
    """Encrypt ``plaintext`` exactly as StackStorm does, with the given 16-byte ``iv``.

    The IV must be fresh random bytes for every value (``ValueError`` if not 16 bytes).
    """
    if len(iv) != IV_SIZE:
        raise ValueError(f"a CBC IV has {IV_SIZE} bytes, not {len(iv)}")
    padder = padding.PKCS7(BLOCK_SIZE * 8).padder()
    padded = padder.update(plaintext.encode("utf-8")) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key.aes_key), modes.CBC(iv)).encryptor()
    message = HEADER + iv + encryptor.update(padded) + encryptor.finalize()
    return (message + _signature(key, message)).hex().upper()


def st2_decrypt(key: St2Key, ciphertext_hex: str) -> str:
    """The plaintext of a value StackStorm encrypted (hex, either case; any 5-byte header).

    Raises :class:`DecryptionError` when the text is not hex, is too short or not whole
    blocks, its HMAC does not match this key, or its padding or UTF-8 is invalid.
    """
    if not _HEX.fullmatch(ciphertext_hex):
        raise DecryptionError("StackStorm encrypted value is not hex text")
    data = binascii.unhexlify(ciphertext_hex)
    body_size = len(data) - HEADER_SIZE - IV_SIZE - SIGNATURE_SIZE
    if body_size < BLOCK_SIZE:
        raise DecryptionError(
            "StackStorm encrypted value is too short to hold a header, IV, one block and an HMAC"
        )
    if body_size % BLOCK_SIZE:
        raise DecryptionError(
            "StackStorm encrypted value is damaged: its ciphertext is not whole AES blocks"
        )
    message, signature = data[:-SIGNATURE_SIZE], data[-SIGNATURE_SIZE:]
    verifier = hmac.HMAC(key.hmac_key, hashes.SHA1())  # noqa: S303 - StackStorm's format
    verifier.update(message)
    try:
        verifier.verify(signature)
    except InvalidSignature:
        raise DecryptionError(
            _HMAC_MISMATCH,
            hint="use the key file named by [keyvalue] encryption_key_path on the StackStorm"
            " install the value came from",
        ) from None

    iv = message[HEADER_SIZE : HEADER_SIZE + IV_SIZE]
    decryptor = Cipher(algorithms.AES(key.aes_key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(message[HEADER_SIZE + IV_SIZE :]) + decryptor.finalize()
    unpadder = padding.PKCS7(BLOCK_SIZE * 8).unpadder()
    try:
        plain = unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise DecryptionError(
            "StackStorm encrypted value has invalid padding although its HMAC matched"
        ) from None
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError:
        raise DecryptionError("StackStorm encrypted value is not UTF-8 text") from None


def _signature(key: St2Key, message: bytes) -> bytes:
    signer = hmac.HMAC(key.hmac_key, hashes.SHA1())  # noqa: S303 - StackStorm's format
    signer.update(message)
    return signer.finalize()


def _encode_key(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _key_bytes(
    document: dict[str, Any], name: str, label: str, problems: list[str]
) -> bytes | None:
    # Keyczar base64: URL-safe alphabet, padding optional, whitespace ignored.
    value = document.get(name)
    if value is None:
        problems.append(f'"{label}" is missing')
        return None
    if not isinstance(value, str):
        problems.append(f'"{label}" is not a string')
        return None
    text = "".join(value.split()).rstrip("=")
    if not _KEYCZAR_BASE64.fullmatch(text) or len(text) % 4 == 1:
        problems.append(f'"{label}" is not URL-safe base64')
        return None
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _bits(
    document: dict[str, Any], name: str, label: str, problems: list[str], *, minimum: int
) -> int | None:
    # StackStorm passes these through int(), so "256" is as good as 256.
    value = document.get(name)
    if value is None:
        problems.append(f'"{label}" is missing')
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        problems.append(f'"{label}" is not a number')
        return None
    try:
        bits = int(value)
    except ValueError:
        problems.append(f'"{label}" is not a number')
        return None
    if bits < minimum:
        problems.append(f'"{label}" is {bits}; the minimum is {minimum} bits')
        return None
    return bits


def _invalid(path: str, problems: list[str]) -> ConfigurationError:
    return ConfigurationError(
        f"invalid StackStorm key file {path}: {'; '.join(problems)}",
        hint="copy the file named by [keyvalue] encryption_key_path in the StackStorm st2.conf",
    )
