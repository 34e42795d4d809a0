"""Password hashes: verify what was hashed, refuse everything else."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from packhorse.engine.passwords import generate_password, hash_password, verify_password


def test_hash_verifies_only_the_right_password() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$") and "correct horse" not in stored
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horsf", stored)
    assert not verify_password("", stored)


def test_same_password_gets_different_salts() -> None:
    assert hash_password("x") != hash_password("x")


def test_generated_passwords_are_long_and_distinct() -> None:
    passwords = {generate_password() for _ in range(20)}
    assert len(passwords) == 20 and all(len(p) >= 20 for p in passwords)


@given(st.text(max_size=200))
@settings(max_examples=25, deadline=None)
def test_malformed_stored_hashes_never_verify_and_never_raise(stored: str) -> None:
    assert verify_password("anything", stored) is False
