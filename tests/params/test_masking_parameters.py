"""Rendered parameters for display: secret ones masked."""

from __future__ import annotations

from packhorse.params import MASK, RenderedParameters, mask_parameters


def test_mask_parameters() -> None:
    schema = {
        "sudo_password": {"type": "string", "secret": True},
        "token": {"type": "string", "secret": True},
        "env": {"type": "object", "properties": {"KEY": {"secret": True}}},
        "user": {"type": "string"},
    }
    rendered = RenderedParameters(
        runner={"sudo_password": "pw", "env": {"KEY": "k", "OTHER": "o"}},
        action={"token": None, "user": "stanley"},
    )
    assert mask_parameters(rendered, schema) == {
        "sudo_password": MASK,
        "env": {"KEY": MASK, "OTHER": "o"},
        "token": None,
        "user": "stanley",
    }
    assert rendered.runner["sudo_password"] == "pw"
