"""docs/diagnostics.md documents every code of the catalogue, in order, and no other."""

from __future__ import annotations

import re
from pathlib import Path

from packhorse.packs.validate.codes import CODES

DOC = Path(__file__).parent.parent.parent / "docs" / "diagnostics.md"


def test_every_code_is_documented_with_its_title_and_severity() -> None:
    text = DOC.read_text()
    headings = re.findall(r"^## (PH\d{3}): (.+)$", text, flags=re.MULTILINE)
    assert [code for code, _ in headings] == list(CODES)
    for code, title in headings:
        assert title == CODES[code].title
        section = text.split(f"## {code}:")[1].split("\n## ")[0]
        assert f"Severity: **{CODES[code].severity.value}**" in section
        assert "Fix:" in section
        assert f": {code}: " in section  # an example of the message
