"""The parameter schema dialect, beyond the one case per code."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import diagnostics_of


def codes(tmp_path: Path, runner: str, parameters: str) -> list[tuple[str, int]]:
    """Diagnostics of an action with these parameters (the first on line 5, 6 for python)."""
    text = f"---\nname: a\nrunner_type: {runner}\nparameters:\n{parameters}"
    if runner == "python-script":
        text = text.replace("parameters:", "entry_point: x.py\nparameters:")
    found = diagnostics_of(tmp_path, {"actions/a.yaml": text, "actions/x.py": ""})
    return [(d.code, d.line) for d in found]


@pytest.mark.parametrize(
    ("runner", "parameters", "expected"),
    [
        # nested keywords are checked against the draft-4 meta-schema, at the nested line
        ("noop", "  x:\n    type: object\n    properties:\n      y: 5\n", [("PH218", 8)]),
        ("noop", "  x:\n    type: object\n    properties:\n      y:\n        format: email\n", []),
        ("noop", "  x:\n    enum: []\n", [("PH218", 6)]),
        ("noop", "  x:\n    enum: [a, a]\n", [("PH218", 6)]),
        ("noop", "  x:\n    enum: [1, '1', true]\n", []),
        ("noop", "  x: {}\n", []),
        ("noop", "  x:\n    minimum: 1\n    maximum: nope\n", [("PH218", 7)]),
        # positions: unique, contiguous, any start
        ("noop", "  a: {position: 1}\n  b: {position: 2}\n", []),
        ("noop", "  a: {position: 0}\n  b: {position: 0}\n", [("PH214", 6)]),
        ("noop", "  a: {position: true}\n", [("PH213", 5)]),
        # runner parameters: only default, description, enum, immutable, required may change
        (
            "local-shell-cmd",
            "  timeout:\n    default: 5\n    description: Quick.\n    required: true\n",
            [],
        ),
        ("local-shell-cmd", "  sudo:\n    immutable: true\n", []),  # the runner's default
        ("local-shell-cmd", "  cmd:\n    type: string\n    position: 0\n", [("PH216", 7)]),
        ("local-shell-cmd", "  kwarg_op:\n    enum: ['--', '-']\n", []),
        ("remote-shell-cmd", "  dir:\n    default: /var/tmp\n", []),
        ("remote-shell-cmd", "  dir:\n    immutable: false\n", [("PH217", 6)]),
        ("python-script", "  timeout:\n    type: integer\n    default: 30\n", []),
    ],
)
def test_parameter_dialect(
    tmp_path: Path, runner: str, parameters: str, expected: list[tuple[str, int]]
) -> None:
    assert codes(tmp_path, runner, parameters) == expected


def test_config_schema_uses_the_same_dialect(tmp_path: Path) -> None:
    schema = (
        "---\napi:\n  type: string\n  format: uri\nretries:\n  type: [integer, string]\n"
        "nested:\n  type: object\n  properties:\n    url: {type: string, format: uri}\n"
    )
    found = diagnostics_of(tmp_path, {"config.schema.yaml": schema})
    assert [(d.code, d.path, d.line) for d in found] == [
        ("PH211", "demo/config.schema.yaml", 4),
        ("PH210", "demo/config.schema.yaml", 6),
    ]


def test_config_schema_must_be_a_mapping(tmp_path: Path) -> None:
    found = diagnostics_of(tmp_path, {"config.schema.yaml": "- a\n"})
    assert [(d.code, d.line) for d in found] == [("PH004", 1)]
