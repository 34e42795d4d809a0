"""Our semantic version code against the ``semver`` package that StackStorm uses."""

from __future__ import annotations

import itertools

import pytest
import semver
from hypothesis import given
from hypothesis import strategies as st

from packhorse.expr.functions.version import (
    Version,
    version_bump_major,
    version_bump_minor,
    version_bump_patch,
    version_compare,
    version_match,
)

numbers = st.one_of(st.integers(0, 3), st.integers(0, 10**20))
identifiers = st.one_of(
    st.integers(0, 12).map(str),
    st.sampled_from(["alpha", "beta", "rc", "a-b", "0a", "x1", "-"]),
)
prereleases = st.one_of(st.none(), st.lists(identifiers, min_size=1, max_size=4).map(".".join))
builds = st.one_of(st.none(), st.sampled_from(["b1", "build.5", "001", "x-y.z"]))


@st.composite
def versions(draw: st.DrawFn) -> str:
    text = f"{draw(numbers)}.{draw(numbers)}.{draw(numbers)}"
    prerelease = draw(prereleases)
    build = draw(builds)
    if prerelease:
        text += f"-{prerelease}"
    if build:
        text += f"+{build}"
    return text


@given(versions(), versions())
def test_compare_agrees_with_semver(left: str, right: str) -> None:
    assert version_compare(left, right) == semver.Version.parse(left).compare(right)


@given(versions(), st.sampled_from(["<", "<=", ">", ">=", "==", "!=", ""]), versions())
def test_match_agrees_with_semver(value: str, operator: str, other: str) -> None:
    assert version_match(value, operator + other) == semver.Version.parse(value).match(
        operator + other
    )


@given(versions())
def test_parse_and_bumps_agree_with_semver(text: str) -> None:
    theirs = semver.Version.parse(text)
    assert str(Version.parse(text)) == str(theirs)
    assert version_bump_major(text) == str(theirs.bump_major())
    assert version_bump_minor(text) == str(theirs.bump_minor())
    assert version_bump_patch(text) == str(theirs.bump_patch())


@given(st.text(alphabet="0123456789.-+abv ", max_size=14))
def test_parse_accepts_what_semver_accepts(text: str) -> None:
    try:
        semver.Version.parse(text)
    except ValueError:
        with pytest.raises(ValueError, match="not a valid semantic version"):
            Version.parse(text)
    else:
        assert str(Version.parse(text)) == text


@pytest.mark.parametrize(
    "text", ["1.2", "1", "01.2.3", "1.2.3-01", "1.2.3-", "1.2.3+", "v1.2.3", " 1.2.3", "1.2.3\n"]
)
def test_invalid_versions(text: str) -> None:
    with pytest.raises(ValueError, match="not a valid semantic version"):
        Version.parse(text)


def test_prerelease_order_from_the_specification() -> None:
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
    ]
    for lower, higher in itertools.pairwise(ordered):
        assert version_compare(lower, higher) == -1
        assert version_compare(higher, lower) == 1
