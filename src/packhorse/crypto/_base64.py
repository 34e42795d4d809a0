"""URL-safe base64 without padding, decoded strictly.

Strict means one text per byte string: characters outside the URL-safe alphabet, padding,
whitespace, impossible lengths and non-zero unused trailing bits are all refused. Without the
last check two different tokens would decode to the same bytes, and a changed character in
a stored token could go unnoticed.
"""

from __future__ import annotations

import base64
import binascii
import re

_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")


def encode(data: bytes) -> str:
    """``data`` as URL-safe base64 with the ``=`` padding left off."""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def decode(text: str) -> bytes:
    """The bytes of a text :func:`encode` produced; ``ValueError`` for anything else."""
    if not _ALPHABET.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not unpadded URL-safe base64")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as error:  # pragma: no cover - the checks above rule it out
        raise ValueError("not unpadded URL-safe base64") from error
    if encode(data) != text:
        raise ValueError("not canonical base64 (unused trailing bits are set)")
    return data
