"""The datastore key file and key ids."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from packhorse.crypto import DatastoreKey, generate_key, parse_key_file, render_key_file
from packhorse.engine.instance import write_datastore_key
from packhorse.errors import ConfigurationError

PATH = "/srv/ph/keys/datastore.key"
KEY = bytes(range(32))
# Golden: SHA-256 of bytes 0..31 starts with 630dcd2966c4336691125448bbb25b4f. Pinned here so
# a change to the id derivation, which would orphan every stored secret, fails loudly.
KEY_ID = "630dcd2966c43366"


def key_file(**fields: object) -> str:
    document: dict[str, object] = {
        "version": 1,
        "algorithm": "AES-256-GCM",
        "key": base64.b64encode(KEY).decode(),
    }
    document.update(fields)
    return json.dumps({name: value for name, value in document.items() if value is not ...})


def test_key_id_is_a_stable_fingerprint() -> None:
    key = DatastoreKey.from_bytes(KEY)
    assert key.key_id == KEY_ID
    assert parse_key_file(key_file(), PATH).key_id == KEY_ID
    assert DatastoreKey.from_bytes(bytes(32)).key_id != KEY_ID


def test_repr_never_shows_the_key() -> None:
    key = DatastoreKey.from_bytes(KEY)
    assert repr(key) == f"DatastoreKey(key_id='{KEY_ID}')"


def test_key_and_id_must_agree() -> None:
    with pytest.raises(ValueError, match="key_id does not match"):
        DatastoreKey(key_id="0" * 16, key=KEY)
    with pytest.raises(ValueError, match="32 bytes"):
        DatastoreKey.from_bytes(b"short")


@given(st.binary(min_size=32, max_size=32))
def test_render_then_parse_round_trips(raw: bytes) -> None:
    key = generate_key(lambda size: raw[:size])
    text = render_key_file(key)
    assert text.endswith("\n")
    assert parse_key_file(text, PATH) == key


def test_reads_the_file_packhorse_init_writes(tmp_path: Path) -> None:
    path = tmp_path / "datastore.key"
    write_datastore_key(path)
    key = parse_key_file(path.read_text(encoding="utf-8"), str(path))
    assert len(key.key) == 32
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "not JSON"),
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (key_file(version=...), '"version" is missing'),
        (key_file(version=2), '"version" is 2; this Packhorse reads version 1'),
        (key_file(version=True), '"version" is True'),
        (key_file(version=1.0), '"version" is 1.0'),
        (key_file(version="1"), "\"version\" is '1'"),
        (key_file(algorithm=...), '"algorithm" is missing'),
        (key_file(algorithm="AES-128-CBC"), "\"algorithm\" is 'AES-128-CBC'"),
        (key_file(key=...), '"key" is missing'),
        (key_file(key=42), '"key" is not a string'),
        (key_file(key="not base64!"), '"key" is not valid base64'),
        (key_file(key="ü"), '"key" is not valid base64'),
        (key_file(key=base64.b64encode(bytes(16)).decode()), "decodes to 16 bytes; expected 32"),
    ],
)
def test_parse_errors_name_the_file_and_the_problem(text: str, problem: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_key_file(text, PATH)
    assert caught.value.message.startswith(f"invalid datastore key file {PATH}: ")
    assert problem in caught.value.message
    assert caught.value.hint


def test_parse_reports_every_problem_and_never_the_key() -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_key_file(key_file(version=3, algorithm="rot13", key="QUJD"), PATH)
    message = caught.value.message
    assert '"version" is 3' in message
    assert "'rot13'" in message
    assert "decodes to 3 bytes" in message
    assert "QUJD" not in message
