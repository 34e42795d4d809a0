"""The recipient key of an instance: what lets another instance seal a bundle's secrets for
this one without a shared passphrase (``packhorse bundle recipient-key`` prints the public
half; ``bundle export --recipient`` uses it on the source).

``keys/bundle-recipient.key`` (mode 0600, beside the datastore key) is one JSON object::

    {"version": 1, "algorithm": "X25519", "private_key": "<standard base64 of 32 bytes>"}
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Callable
from pathlib import Path

from packhorse.crypto import transport
from packhorse.errors import ConfigurationError

RECIPIENT_KEY_FILE = "bundle-recipient.key"


def load_private_key(keys_dir: Path) -> bytes | None:
    """The instance's recipient private key; None when it has none yet."""
    if not (keys_dir / RECIPIENT_KEY_FILE).exists():
        return None
    return read_private_key_file(keys_dir / RECIPIENT_KEY_FILE)


def read_private_key_file(path: Path) -> bytes:
    """The private key in a recipient key file (:class:`ConfigurationError` if unreadable)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigurationError(f"{path}: cannot read the recipient key: {error}") from None
    try:
        if document["version"] != 1 or document["algorithm"] != transport.RECIPIENT_ALGORITHM:
            raise ValueError("unknown version or algorithm")
        key = base64.b64decode(document["private_key"], validate=True)
        if len(key) != transport.RECIPIENT_KEY_SIZE:
            raise ValueError("wrong length")
    except (KeyError, TypeError, ValueError, binascii.Error) as error:
        raise ConfigurationError(f"{path}: invalid recipient key file ({error})") from None
    return key


def ensure_recipient_key(
    keys_dir: Path, random_bytes: Callable[[int], bytes]
) -> tuple[bytes, bool]:
    """The instance's recipient public key, created first if missing; and whether it was."""
    existing = load_private_key(keys_dir)
    if existing is not None:
        return transport.recipient_public_key(existing), False
    private = random_bytes(transport.RECIPIENT_KEY_SIZE)
    document = {
        "version": 1,
        "algorithm": transport.RECIPIENT_ALGORITHM,
        "private_key": base64.b64encode(private).decode("ascii"),
    }
    path = keys_dir / RECIPIENT_KEY_FILE
    temporary = path.with_name(path.name + ".tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(json.dumps(document) + "\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    return transport.recipient_public_key(private), True
