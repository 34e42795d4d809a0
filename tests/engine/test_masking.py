"""Secret masking: by schema, by value, and in log records from any logger."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from packhorse.engine.logs import install_redaction
from packhorse.params.masking import MASK, Redactor, mask_by_schema, secret_parameter_names

SCHEMA = {
    "user": {"type": "string"},
    "password": {"type": "string", "secret": True},
    "auth": {
        "type": "object",
        "properties": {"token": {"type": "string", "secret": True}, "kind": {"type": "string"}},
    },
}


def test_mask_by_schema_masks_secret_fields_at_any_depth() -> None:
    values = {"user": "u", "password": "p", "auth": {"token": "t", "kind": "k"}, "extra": 1}
    assert mask_by_schema(values, SCHEMA) == {
        "user": "u",
        "password": MASK,
        "auth": {"token": MASK, "kind": "k"},
        "extra": 1,
    }
    assert mask_by_schema({"password": None}, SCHEMA) == {"password": None}
    assert secret_parameter_names(SCHEMA) == {"password"}


def test_redactor_replaces_known_values_everywhere() -> None:
    redactor = Redactor(["hunter22", "hunter22-longer", "no"])
    data = {"stdout": "pw=hunter22-longer and hunter22", "hunter22": ["x hunter22 y", 3]}
    assert redactor.redact(data) == {
        "stdout": f"pw={MASK} and {MASK}",
        MASK: [f"x {MASK} y", 3],
    }
    assert redactor.redact_text("no secrets here: no") == "no secrets here: no"  # too short
    assert "hunter22" in redactor and "nothing" not in redactor


_TEXT = st.text(alphabet=st.characters(blacklist_characters="*"), max_size=60)


@given(
    st.lists(st.text(st.characters(blacklist_characters="*"), min_size=4, max_size=12), max_size=5),
    _TEXT,
)
def test_redacted_text_never_contains_a_secret(secrets: list[str], text: str) -> None:
    mixed = text.join(secrets) + text
    redacted = Redactor(secrets).redact_text(mixed)
    for secret in secrets:
        assert secret not in redacted


def test_log_records_from_any_logger_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    redactor = Redactor(["s3cr3t-value"])
    uninstall = install_redaction(redactor)
    try:
        with caplog.at_level(logging.INFO):
            logging.getLogger("uvicorn.error").info("token is %s", "s3cr3t-value")
            logging.getLogger("packhorse.x").warning("plain s3cr3t-value inline")
            try:
                raise ValueError("boom s3cr3t-value")
            except ValueError:
                logging.getLogger("lib").exception("failed")
    finally:
        uninstall()
    text = caplog.text
    assert "s3cr3t-value" not in text
    assert text.count(MASK) >= 3
