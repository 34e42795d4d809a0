"""AES-256-GCM tokens: round trips, and every kind of damage rejected with DecryptionError."""

from __future__ import annotations

import base64

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from packhorse.crypto import (
    DATASTORE_ASSOCIATED_DATA,
    NONCE_SIZE,
    DatastoreKey,
    decrypt,
    encrypt,
    is_encrypted_token,
    key_id_of,
)
from packhorse.errors import DecryptionError, PackhorseError

KEY = DatastoreKey.from_bytes(bytes(range(32)))
OTHER_KEY = DatastoreKey.from_bytes(bytes(range(1, 33)))
NONCE = bytes(range(100, 112))
PLACE = DATASTORE_ASSOCIATED_DATA

keys = st.binary(min_size=32, max_size=32).map(DatastoreKey.from_bytes)
nonces = st.binary(min_size=NONCE_SIZE, max_size=NONCE_SIZE)


def token_for(plaintext: str = "s3cr3t pässwörd ✓") -> str:
    return encrypt(KEY, plaintext, associated=PLACE, nonce=NONCE)


def split_payload(token: str) -> tuple[str, bytes]:
    head, _, payload = token.rpartition(":")
    return head, base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))


def join_payload(head: str, payload: bytes) -> str:
    return f"{head}:{base64.urlsafe_b64encode(payload).decode().rstrip('=')}"


@given(key=keys, plaintext=st.text(), associated=st.binary(), nonce=nonces)
@example(key=KEY, plaintext="", associated=b"", nonce=NONCE)
def test_round_trip(key: DatastoreKey, plaintext: str, associated: bytes, nonce: bytes) -> None:
    token = encrypt(key, plaintext, associated=associated, nonce=nonce)
    assert is_encrypted_token(token)
    assert key_id_of(token) == key.key_id
    assert decrypt(key, token, associated=associated) == plaintext
    assert decrypt({key.key_id: key}, token, associated=associated) == plaintext


def test_token_layout() -> None:
    token = token_for("abc")
    prefix, key_id, payload = token.split(":")
    assert (prefix, key_id) == ("ph1", KEY.key_id)
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert raw[:NONCE_SIZE] == NONCE
    assert len(raw) == NONCE_SIZE + len("abc") + 16
    assert "=" not in payload


def test_encrypt_is_deterministic_given_the_nonce() -> None:
    assert token_for() == token_for()
    other = encrypt(KEY, "s3cr3t pässwörd ✓", associated=PLACE, nonce=bytes(12))
    assert other != token_for()


@given(data=st.data())
def test_any_single_byte_change_of_the_payload_is_rejected(data: st.DataObject) -> None:
    head, payload = split_payload(token_for())
    index = data.draw(st.integers(0, len(payload) - 1), label="index")
    flip = data.draw(st.integers(1, 255), label="xor")
    damaged = bytearray(payload)
    damaged[index] ^= flip
    with pytest.raises(DecryptionError, match="failed authentication"):
        decrypt(KEY, join_payload(head, bytes(damaged)), associated=PLACE)


@given(data=st.data())
def test_any_single_character_change_of_the_token_is_rejected(data: st.DataObject) -> None:
    token = token_for()
    index = data.draw(st.integers(0, len(token) - 1), label="index")
    replacement = data.draw(
        st.characters(codec="utf-8").filter(lambda char: char != token[index]), label="char"
    )
    damaged = token[:index] + replacement + token[index + 1 :]
    with pytest.raises(DecryptionError):
        decrypt(KEY, damaged, associated=PLACE)


def test_changed_unused_base64_bits_are_rejected() -> None:
    # 12 + 18 + 16 = 46 bytes: 62 characters, the last of which carries 4 unused bits.
    token = encrypt(KEY, "x" * 18, associated=PLACE, nonce=NONCE)
    last = token[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    sibling = alphabet[alphabet.index(last) ^ 1]
    with pytest.raises(DecryptionError, match="not canonical"):
        decrypt(KEY, token[:-1] + sibling, associated=PLACE)


@pytest.mark.parametrize("length", range(0, 80, 3))
def test_truncated_tokens_are_rejected(length: int) -> None:
    token = token_for()
    with pytest.raises(DecryptionError):
        decrypt(KEY, token[:length], associated=PLACE)


def test_short_payload_is_reported_as_truncated() -> None:
    head, payload = split_payload(token_for())
    with pytest.raises(DecryptionError, match="truncated"):
        decrypt(KEY, join_payload(head, payload[:27]), associated=PLACE)


def test_wrong_key_is_rejected() -> None:
    token = token_for()
    with pytest.raises(DecryptionError, match="not loaded") as caught:
        decrypt(OTHER_KEY, token, associated=PLACE)
    assert caught.value.key_id == KEY.key_id
    with pytest.raises(DecryptionError, match="not loaded"):
        decrypt({OTHER_KEY.key_id: OTHER_KEY}, token, associated=PLACE)
    # A key filed under the wrong id is refused too, rather than used.
    with pytest.raises(DecryptionError, match="not loaded"):
        decrypt({KEY.key_id: OTHER_KEY}, token, associated=PLACE)


def test_wrong_key_under_a_forged_id_fails_authentication() -> None:
    token = token_for().replace(KEY.key_id, OTHER_KEY.key_id)
    with pytest.raises(DecryptionError, match="failed authentication"):
        decrypt(OTHER_KEY, token, associated=PLACE)


@given(associated=st.binary())
def test_wrong_associated_data_is_rejected(associated: bytes) -> None:
    if associated == PLACE:
        return
    with pytest.raises(DecryptionError, match="failed authentication"):
        decrypt(KEY, token_for(), associated=associated)


def test_rotation_picks_the_key_each_token_names() -> None:
    old = encrypt(KEY, "old", associated=PLACE, nonce=NONCE)
    new = encrypt(OTHER_KEY, "new", associated=PLACE, nonce=NONCE)
    loaded = {KEY.key_id: KEY, OTHER_KEY.key_id: OTHER_KEY}
    assert decrypt(loaded, old, associated=PLACE) == "old"
    assert decrypt(loaded, new, associated=PLACE) == "new"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "plain text",
        "ph1",
        "ph1::",
        f"ph1:{KEY.key_id}:",
        f"ph2:{KEY.key_id}:AAAA",
        f"ph1:{KEY.key_id.upper()}:AAAA",
        f"ph1:{KEY.key_id[:-1]}:AAAA",
        f"ph1:{KEY.key_id}:AAAA=",
        f"ph1:{KEY.key_id}:AA AA",
        f"ph1:{KEY.key_id}:A",
        f"ph1:{KEY.key_id}:AA+/",
        f" {token_for()}",
        f"{token_for()}\n",
    ],
)
def test_malformed_tokens(value: str) -> None:
    assert not is_encrypted_token(value)
    with pytest.raises(DecryptionError):
        decrypt(KEY, value, associated=PLACE)


def test_key_id_of_rejects_what_is_not_a_token() -> None:
    with pytest.raises(DecryptionError, match="not a Packhorse encrypted value"):
        key_id_of("3030303030ABCDEF")


@pytest.mark.parametrize("value", [None, 42, b"ph1:", ["ph1"]])
def test_only_strings_are_tokens(value: object) -> None:
    assert not is_encrypted_token(value)


def test_decryption_error_is_a_packhorse_error_without_secrets() -> None:
    with pytest.raises(PackhorseError) as caught:
        decrypt(KEY, token_for("hunter2"), associated=b"elsewhere")
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("size", [0, 11, 13, 16])
def test_nonce_must_have_12_bytes(size: int) -> None:
    with pytest.raises(ValueError, match="12 bytes"):
        encrypt(KEY, "x", associated=PLACE, nonce=bytes(size))
