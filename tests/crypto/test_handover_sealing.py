"""Secret parameter values sealed for a handover's receiver (crypto/handover.py): they open
only with the receiver's private key, for the execution and parameter they were sealed for,
and never carry the clear value or repeat themselves."""

from __future__ import annotations

import os

import pytest

from packhorse.crypto import _base64
from packhorse.crypto.handover import (
    SEALED_PREFIX,
    is_sealed,
    open_value,
    parameter_identity,
    seal_value,
)
from packhorse.crypto.transport import recipient_public_key
from packhorse.errors import DecryptionError

SECRET = "hunter2-handover-secret"
RECEIVER = bytes(range(1, 33))
OTHER = bytes(range(101, 133))


def _sealed(execution_id: str = "e1", name: str = "password", clear: str = SECRET) -> str:
    return seal_value(
        recipient_public_key(RECEIVER),
        clear,
        associated=parameter_identity(execution_id, name),
        ephemeral_private=os.urandom(32),
        nonce=os.urandom(12),
    )


def test_a_sealed_value_opens_with_the_receivers_key_for_its_execution_and_parameter() -> None:
    sealed = _sealed()
    assert sealed.startswith(SEALED_PREFIX) and is_sealed(sealed)
    assert SECRET not in sealed
    opened = open_value(RECEIVER, sealed, associated=parameter_identity("e1", "password"))
    assert opened == SECRET
    assert (
        open_value(RECEIVER, _sealed(clear="é ✓"), associated=parameter_identity("e1", "password"))
        == "é ✓"
    )


def test_each_seal_is_fresh() -> None:
    assert _sealed() != _sealed()


@pytest.mark.parametrize(
    ("execution_id", "name"),
    [("e1", "token"), ("e2", "password"), ("e1", "Password"), ("password", "e1")],
    ids=["other parameter", "other execution", "case", "swapped"],
)
def test_a_value_moved_to_another_execution_or_parameter_does_not_open(
    execution_id: str, name: str
) -> None:
    with pytest.raises(DecryptionError, match="moved to another execution or parameter"):
        open_value(RECEIVER, _sealed(), associated=parameter_identity(execution_id, name))


def test_another_recipient_cannot_open_it() -> None:
    with pytest.raises(DecryptionError, match="failed authentication"):
        open_value(OTHER, _sealed(), associated=parameter_identity("e1", "password"))


def test_any_altered_byte_refuses() -> None:
    sealed = _sealed()
    prefix, ephemeral, payload = sealed.split(":")
    raw = bytearray(_base64.decode(payload))
    for index in (0, 12, len(raw) - 1):  # nonce, ciphertext, tag
        altered = bytearray(raw)
        altered[index] ^= 1
        text = f"{prefix}:{ephemeral}:{_base64.encode(bytes(altered))}"
        with pytest.raises(DecryptionError):
            open_value(RECEIVER, text, associated=parameter_identity("e1", "password"))
    other_ephemeral = _base64.encode(recipient_public_key(OTHER))
    with pytest.raises(DecryptionError):
        open_value(
            RECEIVER,
            f"{prefix}:{other_ephemeral}:{payload}",
            associated=parameter_identity("e1", "password"),
        )


@pytest.mark.parametrize(
    "text",
    [SECRET, "phseal1:", "phseal1:abc", "phseal1:AAAA:AAAA", "phseal1:!!:AAAA", "ph1:0:x"],
)
def test_what_is_not_a_sealed_value_is_refused(text: str) -> None:
    with pytest.raises(DecryptionError):
        open_value(RECEIVER, text, associated=parameter_identity("e1", "password"))


def test_a_low_order_recipient_key_is_refused_when_sealing() -> None:
    with pytest.raises(ValueError):  # cryptography refuses the all-zero shared secret
        seal_value(
            bytes(32),
            SECRET,
            associated=b"x",
            ephemeral_private=os.urandom(32),
            nonce=os.urandom(12),
        )
