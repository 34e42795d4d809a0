"""YAML documents with positions: the fast path and PyYAML's path agree; nothing raises."""

from __future__ import annotations

import gc

import pytest

from packhorse.packs.validate.yamldoc import parse_yaml

PLAIN = """\
---
name: demo
count: 3
ratio: 0.5
flag: yes
nothing:
when: 2024-01-02
stamp: 2024-01-02 03:04:05
items:
  - one
  - {inner: 1}
1: numeric key
"""


def test_plain_document_data_and_positions() -> None:
    doc, problems = parse_yaml(PLAIN, "f.yaml")
    assert problems == []
    assert doc is not None
    assert doc.data == {
        "name": "demo",
        "count": 3,
        "ratio": 0.5,
        "flag": True,
        "nothing": None,
        "when": "2024-01-02",
        "stamp": "2024-01-02 03:04:05",
        "items": ["one", {"inner": 1}],
        "1": "numeric key",
    }
    assert doc.where(()) == (2, 1)
    assert doc.where(("count",)) == (3, 1)
    assert doc.where(("items", 1)) == (11, 5)
    assert doc.where(("items", 1, "inner")) == (11, 6)
    assert doc.where(("items", 1, "missing", "deeper")) == (11, 5)
    assert doc.where(("1",)) == (12, 1)


def test_aliases_and_merge_keys_take_the_slow_path() -> None:
    text = "base: &b {a: 1, b: 2}\nchild:\n  <<: *b\n  b: 3\nagain: *b\n"
    doc, problems = parse_yaml(text, "f.yaml")
    assert problems == []
    assert doc is not None
    assert doc.data == {
        "base": {"a": 1, "b": 2},
        "child": {"a": 1, "b": 3},
        "again": {"a": 1, "b": 2},
    }
    assert doc.where(("child", "b")) == (4, 3)


def test_duplicate_keys_warn_with_their_line() -> None:
    doc, problems = parse_yaml("a: 1\nb:\n  c: 1\n  c: 2\n", "f.yaml")
    assert doc is not None and doc.data == {"a": 1, "b": {"c": 2}}
    [warning] = problems
    assert (warning.code, warning.line, warning.field) == ("PH003", 4, "b.c")


@pytest.mark.parametrize(
    "text",
    [
        "a: &x [*x]\n",
        "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
        + "".join(
            f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n"
            for p, c in zip("abcdef", "bcdefg", strict=True)
        ),
        "a: !!python/object:os.system ls\n",
        "a: [1, 2\n",
        "%YAML 9.9\n---\na: 1\n",
    ],
)
def test_hostile_documents_are_diagnostics(text: str) -> None:
    doc, problems = parse_yaml(text, "f.yaml")
    assert doc is None
    assert [p.code for p in problems] == ["PH002"]


def test_deep_documents_do_not_overflow() -> None:
    depth = 5000
    doc, problems = parse_yaml("[" * depth + "]" * depth, "f.yaml")
    assert (doc is None) == bool(problems)


def test_moderately_deep_documents_parse() -> None:
    depth = 400
    doc, problems = parse_yaml("a: " + "[" * depth + "1" + "]" * depth, "f.yaml")
    assert problems == []
    assert doc is not None
    value = doc.data["a"]
    for _ in range(depth):
        value = value[0]
    assert value == 1


def test_empty_document_and_binary() -> None:
    doc, problems = parse_yaml("", "f.yaml")
    assert problems == [] and doc is not None and doc.data is None
    doc, _ = parse_yaml("a: !!binary aGVsbG8=\n", "f.yaml")
    assert doc is not None and doc.data == {"a": "aGVsbG8="}


def test_reading_a_large_document_triggers_no_full_collection() -> None:
    """A big document's node tree does not make the garbage collector walk the whole process
    over and over (the cost of reading would grow faster than the file); the collector is
    left as it was found."""
    text = "".join(f"t{i}:\n  action: core.noop\n  next: [{{do: t{i + 1}}}]\n" for i in range(5000))
    collections: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 2:
            collections.append(info["generation"])

    gc.collect()  # from here, only a burst of new objects can bring on a full collection
    gc.callbacks.append(count)
    try:
        doc, problems = parse_yaml(text, "f.yaml")
        assert gc.isenabled()
        gc.disable()
        try:
            parse_yaml("a: 1\n", "f.yaml")
            assert not gc.isenabled()
        finally:
            gc.enable()
    finally:
        gc.callbacks.remove(count)
    assert problems == [] and doc is not None and len(doc.data) == 5000
    assert collections == []
