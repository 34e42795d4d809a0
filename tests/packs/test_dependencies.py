"""The pure rules of pack installation: specs, version checks and dependency conflicts."""

from __future__ import annotations

import pytest

from packhorse.packs.dependencies import (
    DependencyConflict,
    Need,
    SourceKind,
    check_need,
    git_ref_candidates,
    parse_spec,
    python_versions_problem,
    stackstorm_version_problem,
)

K = SourceKind


@pytest.mark.parametrize(
    ("text", "source", "version", "kind", "name"),
    [
        ("csv", "csv", None, K.INDEX, "csv"),
        ("csv=0.4.4", "csv", "0.4.4", K.INDEX, "csv"),
        (
            "StackStorm-Exchange/stackstorm-csv",
            "https://github.com/StackStorm-Exchange/stackstorm-csv",
            None,
            K.GIT,
            "csv",
        ),
        (
            "https://host/org/stackstorm-git.git=v0.4.2",
            "https://host/org/stackstorm-git.git",
            "v0.4.2",
            K.GIT,
            "git",
        ),
        ("git@github.com:org/mypack.git", "git@github.com:org/mypack.git", None, K.GIT, "mypack"),
        ("file:///srv/repos/mypack=main", "file:///srv/repos/mypack", "main", K.GIT, "mypack"),
        ("/srv/packs/mypack", "/srv/packs/mypack", None, K.DIRECTORY, "mypack"),
        ("./mypack/", "./mypack/", None, K.DIRECTORY, "mypack"),
        ("mypack-1.2.3.tar.gz", "mypack-1.2.3.tar.gz", None, K.ARCHIVE, "mypack-1.2.3"),
        ("/tmp/x/mypack.tgz", "/tmp/x/mypack.tgz", None, K.ARCHIVE, "mypack"),
    ],
)
def test_specs(text: str, source: str, version: str | None, kind: SourceKind, name: str) -> None:
    spec = parse_spec(text)
    assert (spec.source, spec.version, spec.kind, spec.name) == (source, version, kind, name)


@pytest.mark.parametrize("text", ["", "Not A Name", "we!rd"])
def test_unreadable_specs(text: str) -> None:
    with pytest.raises(ValueError):
        parse_spec(text)


def test_versions_are_tried_with_a_v() -> None:
    assert git_ref_candidates("1.2.3") == ["1.2.3", "v1.2.3"]
    assert git_ref_candidates("v1.2.3") == ["v1.2.3"]


@pytest.mark.parametrize(
    ("constraint", "ok"),
    [
        (">=3.0.0", True),
        (">=2.9.0, <3.10.0", True),
        (">=3.0.0,<3.9.0", False),
        ("<3.0.0", False),
        ("==3.9.0", True),
        (">3.10dev", False),
        (">=3.8", True),
    ],
)
def test_stackstorm_version(constraint: str, ok: bool) -> None:
    problem = stackstorm_version_problem(constraint, "3.9.0")
    assert (problem is None) is ok
    if not ok:
        assert constraint.strip() in str(problem)


def test_python_versions() -> None:
    assert python_versions_problem(None) is None
    assert python_versions_problem(["2", "3"]) is None
    assert "not Python 3" in str(python_versions_problem(["2"]))


CHAIN = ("command line", "a")


def test_needs_met_conflicting_or_to_fetch() -> None:
    planned = {"b": Need("b", "1.0.0", ("command line", "x"))}
    installed = {"c": "1.0.0"}
    assert check_need(Need("d", None, CHAIN), installed=installed, planned=planned)
    assert not check_need(Need("b", "1.0.0", CHAIN), installed=installed, planned=planned)
    assert not check_need(Need("c", None, CHAIN), installed=installed, planned=planned)
    assert not check_need(Need("c", "v1.0.0", CHAIN), installed=installed, planned=planned)
    with pytest.raises(DependencyConflict, match=r"b=1\.0\.0, asked by command line -> x"):
        check_need(Need("b", None, CHAIN), installed=installed, planned=planned)
    with pytest.raises(DependencyConflict, match=r"c 1\.0\.0 is installed, but c=2\.0\.0"):
        check_need(Need("c", "2.0.0", CHAIN), installed=installed, planned=planned)
