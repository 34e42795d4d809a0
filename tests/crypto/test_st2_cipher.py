"""StackStorm's datastore cipher against vectors that StackStorm's own code produced."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from packhorse.crypto import (
    St2Key,
    parse_st2_key_file,
    render_st2_key_file,
    st2_decrypt,
    st2_encrypt,
)
from packhorse.errors import ConfigurationError, DecryptionError

KNOWN_ANSWERS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "st2_known_answers.json").read_text(encoding="utf-8")
)
KEY = parse_st2_key_file(KNOWN_ANSWERS["key_file"], "st2_known_answers.json")
VECTORS: list[dict[str, str]] = KNOWN_ANSWERS["vectors"]
VECTOR_IDS = [f"{len(vector['plaintext'])}-chars" for vector in VECTORS]
OTHER_KEY = St2Key(aes_key=bytes(32), hmac_key=bytes(32))
PATH = "/etc/st2/keys/datastore_key.json"


def iv_of(ciphertext: str) -> bytes:
    return bytes.fromhex(ciphertext)[5:21]


def test_vectors_cover_the_cases_that_matter() -> None:
    plaintexts = [vector["plaintext"] for vector in VECTORS]
    assert "" in plaintexts
    assert "pässwörd ✓" in plaintexts
    assert any(len(text.encode()) >= 1024 for text in plaintexts)
    assert any(len(text.encode()) % 16 == 0 and text for text in plaintexts)


@pytest.mark.parametrize("vector", VECTORS, ids=VECTOR_IDS)
def test_decrypts_what_stackstorm_encrypted(vector: dict[str, str]) -> None:
    assert st2_decrypt(KEY, vector["ciphertext"]) == vector["plaintext"]
    assert st2_decrypt(KEY, vector["ciphertext"].lower()) == vector["plaintext"]


@pytest.mark.parametrize("vector", VECTORS, ids=VECTOR_IDS)
def test_encrypts_exactly_as_stackstorm_does(vector: dict[str, str]) -> None:
    ciphertext = vector["ciphertext"]
    assert st2_encrypt(KEY, vector["plaintext"], iv=iv_of(ciphertext)) == ciphertext


def test_key_file_renders_back_byte_for_byte() -> None:
    assert render_st2_key_file(KEY) == KNOWN_ANSWERS["key_file"]
    assert KEY.size == 256
    assert KEY.hmac_key_size == 256
    assert len(KEY.aes_key) == 32
    assert "aes_key" not in repr(KEY)


def test_keyczar_style_header_is_accepted() -> None:
    # Values written in StackStorm's keyczar days start with a version byte and a 4-byte key
    # hash instead of "00000". Readers ignore the header; only the signature covers it.
    data = bytes.fromhex(VECTORS[0]["ciphertext"])
    message = b"\x00\x12\x34\x56\x78" + data[5:-20]
    signature = hmac.new(KEY.hmac_key, message, hashlib.sha1).digest()
    assert st2_decrypt(KEY, (message + signature).hex()) == VECTORS[0]["plaintext"]


@given(data=st.data())
def test_any_single_byte_change_is_rejected(data: st.DataObject) -> None:
    vector = data.draw(st.sampled_from(VECTORS), label="vector")
    raw = bytearray.fromhex(vector["ciphertext"])
    index = data.draw(st.integers(0, len(raw) - 1), label="index")
    raw[index] ^= data.draw(st.integers(1, 255), label="xor")
    with pytest.raises(DecryptionError, match="HMAC mismatch"):
        st2_decrypt(KEY, raw.hex().upper())


@pytest.mark.parametrize("vector", VECTORS, ids=VECTOR_IDS)
def test_wrong_key_is_an_hmac_mismatch(vector: dict[str, str]) -> None:
    with pytest.raises(DecryptionError, match="HMAC mismatch: wrong StackStorm key file") as caught:
        st2_decrypt(OTHER_KEY, vector["ciphertext"])
    assert caught.value.hint is not None
    assert "encryption_key_path" in caught.value.hint


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "too short"),
        ("30303030", "too short"),
        (VECTORS[0]["ciphertext"][:-2], "not whole AES blocks"),
        (VECTORS[0]["ciphertext"][:-32], "HMAC mismatch"),
        (VECTORS[0]["ciphertext"][:-40], "too short"),
        (VECTORS[0]["ciphertext"][: -32 - 40] + VECTORS[0]["ciphertext"][-40:], "HMAC mismatch"),
        (VECTORS[0]["ciphertext"][:-1], "not hex"),
        (VECTORS[0]["ciphertext"] + "0", "not hex"),
        ("ZZ" + VECTORS[0]["ciphertext"][2:], "not hex"),
        (" " + VECTORS[0]["ciphertext"], "not hex"),
        (f"ph1:{'0' * 16}:AAAA", "not hex"),
    ],
)
def test_damaged_values_are_rejected(value: str, problem: str) -> None:
    with pytest.raises(DecryptionError, match=problem):
        st2_decrypt(KEY, value)


def test_bad_padding_behind_a_valid_signature_is_rejected() -> None:
    # Only a faulty encryptor can produce this; we say so rather than strip junk.
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    iv = bytes(16)
    block = b"0123456789abcde\x00"  # a zero pad length is never valid PKCS#7
    encryptor = Cipher(algorithms.AES(KEY.aes_key), modes.CBC(iv)).encryptor()
    message = b"00000" + iv + encryptor.update(block) + encryptor.finalize()
    signature = hmac.new(KEY.hmac_key, message, hashlib.sha1).digest()
    with pytest.raises(DecryptionError, match="invalid padding"):
        st2_decrypt(KEY, (message + signature).hex())


@given(plaintext=st.text(), iv=st.binary(min_size=16, max_size=16))
def test_round_trip(plaintext: str, iv: bytes) -> None:
    ciphertext = st2_encrypt(KEY, plaintext, iv=iv)
    assert ciphertext == ciphertext.upper()
    assert ciphertext.startswith("3030303030")
    assert st2_decrypt(KEY, ciphertext) == plaintext


@pytest.mark.parametrize("size", [0, 12, 15, 17, 32])
def test_iv_must_have_16_bytes(size: int) -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        st2_encrypt(KEY, "x", iv=bytes(size))


def st2_key_file(**fields: Any) -> str:
    document: dict[str, Any] = json.loads(KNOWN_ANSWERS["key_file"])
    for name, value in fields.items():
        target = document["hmacKey"] if name.startswith("hmac_") else document
        field_name = name.removeprefix("hmac_")
        if value is ...:
            del target[field_name]
        else:
            target[field_name] = value
    return json.dumps(document, indent=2)


def test_key_file_accepts_what_stackstorm_accepts() -> None:
    aes = json.loads(KNOWN_ANSWERS["key_file"])["aesKeyString"]
    lenient = st2_key_file(
        mode="cbc", size="256", hmac_size="256", aesKeyString=f"{aes[:20]}\n {aes[20:]}="
    )
    assert parse_st2_key_file(lenient, PATH) == KEY


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "not JSON"),
        ('"CBC"', "not a JSON object"),
        (st2_key_file(aesKeyString=...), '"aesKeyString" is missing'),
        (st2_key_file(aesKeyString=7), '"aesKeyString" is not a string'),
        (st2_key_file(aesKeyString="a+b/"), '"aesKeyString" is not URL-safe base64'),
        (st2_key_file(aesKeyString="AAAAA"), '"aesKeyString" is not URL-safe base64'),
        (st2_key_file(aesKeyString="AAAA"), '"aesKeyString" decodes to 3 bytes'),
        (st2_key_file(hmacKey=...), '"hmacKey" is missing'),
        (st2_key_file(hmacKey="x"), '"hmacKey" is not an object'),
        (st2_key_file(hmac_hmacKeyString=...), '"hmacKey.hmacKeyString" is missing'),
        (st2_key_file(hmac_hmacKeyString=""), '"hmacKey.hmacKeyString" is empty'),
        (st2_key_file(hmac_size=...), '"hmacKey.size" is missing'),
        (st2_key_file(hmac_size="big"), '"hmacKey.size" is not a number'),
        (st2_key_file(mode=...), '"mode" is missing'),
        (st2_key_file(mode="GCM"), '"mode" is \'GCM\'; StackStorm keys use "CBC"'),
        (st2_key_file(size=...), '"size" is missing'),
        (st2_key_file(size=True), '"size" is not a number'),
        (st2_key_file(size=64), '"size" is 64; the minimum is 128 bits'),
    ],
)
def test_key_file_errors_name_the_file_and_the_problem(text: str, problem: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_st2_key_file(text, PATH)
    assert caught.value.message.startswith(f"invalid StackStorm key file {PATH}: ")
    assert problem in caught.value.message


def test_key_file_errors_never_show_key_material() -> None:
    document = json.loads(KNOWN_ANSWERS["key_file"])
    with pytest.raises(ConfigurationError) as caught:
        parse_st2_key_file(st2_key_file(mode="ECB", size=1), PATH)
    message = caught.value.message
    assert '"mode"' in message
    assert '"size"' in message
    assert document["aesKeyString"] not in message
    assert document["hmacKey"]["hmacKeyString"] not in message
