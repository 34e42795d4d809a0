"""``pack-version-semver``: table of pack.yaml texts before and after."""

from __future__ import annotations

import pytest

from packhorse.migrate.transforms import pack_version

CASES = [
    ("version: 1.0\n", "version: 1.0.0\n"),
    ("version: v1.2.3\n", "version: 1.2.3\n"),
    ("version: '2'  # major only\n", "version: '2.0.0'  # major only\n"),
    ('name: x\nversion: "v0.3"\nauthor: a\n', 'name: x\nversion: "0.3.0"\nauthor: a\n'),
    ("version: 1.2.3\n", "version: 1.2.3\n"),
    ("version: 1.2.3-beta.1\n", "version: 1.2.3-beta.1\n"),
    ("version: latest\n", "version: latest\n"),
]


@pytest.mark.parametrize(("before", "after"), CASES)
def test_apply(before: str, after: str) -> None:
    assert pack_version.apply("pack.yaml", before) == after
    assert pack_version.apply("pack.yaml", after) == after


def test_only_pack_yaml_is_touched() -> None:
    assert pack_version.apply("actions/a.yaml", "version: 1.0\n") == "version: 1.0\n"


def test_detect_fixable_and_not() -> None:
    [fixable] = pack_version.detect({"pack.yaml": "name: x\nversion: 1.0\n"})
    assert (fixable.path, fixable.line, fixable.col, fixable.fixable) == ("pack.yaml", 2, 10, True)
    [manual] = pack_version.detect({"pack.yaml": "version: latest\n"})
    assert not manual.fixable
    assert "by hand" in manual.message
    assert pack_version.detect({"pack.yaml": "version: 1.0.0\n"}) == []
