"""``flat-output-schema``: a flat schema becomes a whole one, comments and layout kept."""

from __future__ import annotations

import pytest
import yaml

from packhorse.migrate.transforms import output_schema

HEAD = "name: a\nrunner_type: python-script\n"
FLAT = """\
output_schema:
  # the result
  count:
    type: integer

  names:
    type: array
    description: >
      folded text
parameters: {}
"""
WHOLE = """\
output_schema:
  # the result
  type: object
  properties:
    count:
      type: integer

    names:
      type: array
      description: >
        folded text
  additionalProperties: true
parameters: {}
"""
FLOW = "output_schema: {a: {type: string}}  # short\n"
FLOW_WHOLE = (
    "output_schema: {type: object, properties: {a: {type: string}}, "
    "additionalProperties: true}  # short\n"
)
ALREADY = "output_schema:\n  type: object\n  properties:\n    a: {type: string}\n"
NESTED_AT_END = "meta:\n  output_schema:\n    a:\n      type: string\n"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (HEAD + FLAT, HEAD + WHOLE),
        (HEAD + FLAT.replace("parameters: {}\n", ""), HEAD + WHOLE.replace("parameters: {}\n", "")),
        (HEAD + FLOW, HEAD + FLOW_WHOLE),
        (HEAD + ALREADY, HEAD + ALREADY),
        (HEAD + NESTED_AT_END, HEAD + NESTED_AT_END),
        ("name: not-an-action\n" + FLAT, "name: not-an-action\n" + FLAT),
    ],
)
def test_apply(before: str, after: str) -> None:
    once = output_schema.apply("actions/a.yaml", before)
    assert once == after
    assert output_schema.apply("actions/a.yaml", once) == once


def test_meaning_is_kept() -> None:
    before = yaml.safe_load(HEAD + FLAT)["output_schema"]
    after = yaml.safe_load(output_schema.apply("a.yaml", HEAD + FLAT))["output_schema"]
    assert after == {"type": "object", "properties": before, "additionalProperties": True}


def test_detect() -> None:
    [finding] = output_schema.detect({"actions/a.yaml": HEAD + FLAT})
    assert (finding.line, finding.col, finding.fixable) == (3, 1, True)
    assert output_schema.detect({"actions/a.yaml": HEAD + WHOLE}) == []
