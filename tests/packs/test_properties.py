"""Properties: reading and validating never raise, whatever the files hold."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packhorse.model.runner_types import RUNNER_TYPES
from packhorse.packs.discover import read_pack
from packhorse.packs.source import PackSource
from packhorse.packs.validate import ValidationContext, validate_packs

CONTEXT = ValidationContext(
    runner_types=RUNNER_TYPES,
    trigger_types={
        "core.st2.webhook": {
            "parameters_schema": {
                "type": "object",
                "properties": {"url": {"type": "string"}},
                "required": ["url"],
            }
        }
    },
    packs=frozenset({"core"}),
)

METADATA = (
    "pack.yaml",
    "config.schema.yaml",
    "actions/a.yaml",
    "rules/r.yaml",
    "sensors/s.yaml",
    "triggers/t.yaml",
    "aliases/x.yaml",
    "policies/p.yaml",
    "actions/workflows/w.yaml",
)
FIELDS = [
    "name",
    "ref",
    "pack",
    "version",
    "runner_type",
    "entry_point",
    "parameters",
    "type",
    "position",
    "required",
    "immutable",
    "secret",
    "default",
    "enum",
    "properties",
    "items",
    "trigger",
    "action",
    "criteria",
    "pattern",
    "condition",
    "class_name",
    "trigger_types",
    "poll_interval",
    "payload_schema",
    "parameters_schema",
    "formats",
    "action_ref",
    "resource_ref",
    "policy_type",
    "threshold",
    "python_versions",
    "email",
    "enabled",
    "display",
    "representation",
    "ack",
    "result",
    "format",
    "search",
    "url",
    "unit",
    "delta",
]
WORDS = [
    "local-shell-cmd",
    "python-script",
    "orquesta",
    "action-chain",
    "mistral-v2",
    "search",
    "equals",
    "any",
    "core.st2.webhook",
    "demo.a",
    "x.py",
    "workflows/w.yaml",
    "../x",
    "string",
    "integer",
    "object",
    "array",
    "action.retry",
    "action.concurrency",
    "1.0.0",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 10),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(WORDS),
    st.text(max_size=8),
)
keys = st.one_of(st.sampled_from(FIELDS), st.text(max_size=6))
values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=5)
    ),
    max_leaves=25,
)
documents = st.dictionaries(st.sampled_from(FIELDS), values, max_size=8)


def source_of(texts: dict[str, bytes]) -> PackSource:
    files = tuple(sorted({*texts, "actions/x.py", "sensors/x.py"}))
    return PackSource("demo", "/packs/demo", "demo", files, texts)


def check(texts: dict[str, bytes]) -> None:
    results = validate_packs([source_of(texts)], CONTEXT)
    assert len(results) == 1
    for diagnostic in results[0].diagnostics:
        assert diagnostic.code and diagnostic.message
        assert diagnostic.line >= 0 and diagnostic.col >= 0


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(METADATA), documents, max_size=6))
def test_validate_never_raises_on_structured_nonsense(files: dict[str, Any]) -> None:
    texts = {path: yaml.safe_dump(data).encode() for path, data in files.items()}
    check(texts)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(METADATA), st.text(max_size=80), max_size=5))
def test_validate_never_raises_on_arbitrary_text(files: dict[str, str]) -> None:
    check({path: text.encode("utf-8", "surrogatepass") for path, text in files.items()})


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(METADATA), st.binary(max_size=60), max_size=5))
def test_validate_never_raises_on_arbitrary_bytes(files: dict[str, bytes]) -> None:
    check(files)


segments = st.sampled_from(["actions", "rules", "sensors", "lib", "a", ".git", "__pycache__"])
names = st.sampled_from(
    ["pack.yaml", "a.yaml", "b.yml", "c.py", "d.pyc", "config.schema.yaml", "config.yaml"]
)
trees = st.dictionaries(
    st.tuples(st.lists(segments, max_size=2), names).map(lambda t: "/".join([*t[0], t[1]])),
    st.one_of(st.binary(max_size=40), documents.map(lambda d: yaml.safe_dump(d).encode())),
    max_size=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees)
def test_read_and_validate_never_raise_on_small_trees(tree: dict[str, bytes]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "demo"
        root.mkdir()
        for relative, content in tree.items():
            target = root / relative
            if any(parent.is_file() for parent in target.parents):
                continue  # a file already sits where this needs a folder
            if target.is_dir():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        source = read_pack(root, "demo")
        assert all(not f.startswith(".git/") and "__pycache__" not in f for f in source.files)
        assert not any(f.endswith(".pyc") for f in source.files)
        validate_packs([source], CONTEXT)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.dictionaries(st.sampled_from(METADATA), documents, max_size=4), max_size=3),
    st.lists(st.sampled_from(["demo", "other", "core"]), min_size=3, max_size=3),
)
def test_batches_never_raise(packs: list[dict[str, Any]], names: list[str]) -> None:
    sources = [
        PackSource(
            name,
            f"/packs/{index}/{name}",
            name,
            tuple(sorted(files)),
            {path: yaml.safe_dump(data).encode() for path, data in files.items()},
        )
        for index, (name, files) in enumerate(zip(names, packs, strict=False))
    ]
    results = validate_packs(sources, CONTEXT)
    assert [r.source for r in results] == sources
