"""Validation of whole packs: the valid fixtures, batches, and a pack with several errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from packhorse.model.content import Kind
from packhorse.model.runner_types import RUNNER_TYPES
from packhorse.packs.discover import default_context, read_pack
from packhorse.packs.validate import ValidationContext, context_from_packs, validate_packs

from .helpers import write_pack

FIXTURES = Path(__file__).parent.parent / "fixtures" / "packs"


@pytest.fixture
def packs(tmp_path: Path) -> Path:
    """A copy of the fixture packs (validation must not depend on where the repo lives)."""
    target = tmp_path / "packs"
    shutil.copytree(FIXTURES, target)
    return target


def test_valid_pack_has_no_diagnostics_and_every_kind(packs: Path) -> None:
    [result] = validate_packs([read_pack(packs / "demo_good")], default_context())
    assert [d.format() for d in result.diagnostics] == []
    pack = result.pack
    assert pack is not None
    assert pack.ref == "demo_good"
    assert pack.path == str(packs / "demo_good")
    # Configs live in the instance, not in the pack: registration adds them.
    kinds = {k: sorted(r.ref for r in pack.of_kind(k)) for k in Kind if k is not Kind.CONFIG}
    assert kinds == {
        Kind.TRIGGER_TYPE: ["demo_good.event", "demo_good.file_watch.line"],
        Kind.SENSOR: ["demo_good.Watcher"],
        Kind.ACTION: [
            "demo_good.chain",
            "demo_good.copy",
            "demo_good.count",
            "demo_good.echo",
            "demo_good.fetch",
            "demo_good.flow",
        ],
        Kind.ALIAS: ["demo_good.say"],
        Kind.POLICY: ["demo_good.limit", "demo_good.retry"],
        Kind.RULE: ["demo_good.on_line", "demo_good.on_webhook"],
        Kind.CONFIG_SCHEMA: ["demo_good"],
    }
    # registration order: trigger types first, rules after actions
    order = [r.kind for r in pack.resources]
    assert order.index(Kind.TRIGGER_TYPE) < order.index(Kind.ACTION) < order.index(Kind.RULE)


def test_metadata_is_normalised(packs: Path) -> None:
    [result] = validate_packs([read_pack(packs / "demo_user")], default_context())
    assert result.pack is not None
    metadata = result.pack.metadata
    assert metadata["ref"] == "demo_user"
    assert metadata["version"] == "0.1.0"
    assert metadata["keywords"] == []
    assert metadata["dependencies"] == []
    assert "pack.yaml" in result.pack.files


def test_bodies_have_defaults_filled(packs: Path) -> None:
    [result] = validate_packs([read_pack(packs / "demo_good")], default_context())
    assert result.pack is not None
    by_ref = {r.ref: r for r in result.pack.resources if r.kind is not Kind.CONFIG_SCHEMA}
    echo = by_ref["demo_good.echo"].body
    assert echo["enabled"] is True
    assert echo["entry_point"] == ""
    assert echo["pack"] == "demo_good"
    assert echo["ref"] == "demo_good.echo"
    assert echo["metadata_file"] == "actions/echo.yaml"
    copy = by_ref["demo_good.copy"]
    assert copy.enabled is False
    assert copy.body["enabled"] is False
    chain = by_ref["demo_good.chain"].body
    assert chain["parameters"] == {}
    on_line = by_ref["demo_good.on_line"].body
    assert on_line["enabled"] is False  # the StackStorm API default
    assert on_line["trigger"] == {"type": "demo_good.file_watch.line", "parameters": {}}
    assert on_line["type"] == {"ref": "backstop", "parameters": {}}
    assert on_line["criteria"] == {}
    assert on_line["action"] == {"ref": "demo_good.flow", "parameters": {}}
    on_webhook = by_ref["demo_good.on_webhook"]
    assert on_webhook.enabled is True
    assert on_webhook.body["type"] == {"ref": "standard", "parameters": {}}
    sensor = by_ref["demo_good.Watcher"].body
    assert sensor["enabled"] is True
    assert sensor["trigger_types"] == ["demo_good.file_watch.line"]
    line = by_ref["demo_good.file_watch.line"]
    assert line.metadata_file == "sensors/watcher.yaml"
    assert line.body["parameters_schema"] == {}
    event = by_ref["demo_good.event"].body
    assert event["payload_schema"]["properties"]["level"] == {"type": "string"}
    assert by_ref["demo_good.say"].body["enabled"] is True
    assert by_ref["demo_good.retry"].body["parameters"]["retry_on"] == "timeout"
    [schema] = result.pack.of_kind(Kind.CONFIG_SCHEMA)
    assert schema.ref == "demo_good"
    assert schema.body["attributes"]["api_token"]["secret"] is True


def test_digests_are_stable(packs: Path) -> None:
    first = validate_packs([read_pack(packs / "demo_good")], default_context())[0].pack
    again = validate_packs([read_pack(packs / "demo_good")], default_context())[0].pack
    assert first is not None and again is not None
    assert [r.digest for r in first.resources] == [r.digest for r in again.resources]


def test_content_of_the_batch_is_visible_to_every_pack(packs: Path) -> None:
    # demo_user comes first: references are resolved after the whole batch is read
    sources = [read_pack(packs / "demo_user"), read_pack(packs / "demo_good")]
    results = validate_packs(sources, default_context())
    assert [[d.format() for d in r.diagnostics] for r in results] == [[], []]
    assert all(r.pack is not None for r in results)


def test_unknown_packs_are_warnings_alone(packs: Path) -> None:
    [result] = validate_packs([read_pack(packs / "demo_user", "demo_user")], default_context())
    assert sorted(d.code for d in result.diagnostics) == ["PH306", "PH309"]
    assert result.pack is not None  # warnings do not stop registration


def test_installed_content_comes_from_the_context(packs: Path) -> None:
    [good] = validate_packs([read_pack(packs / "demo_good")], default_context())
    assert good.pack is not None
    context = context_from_packs([good.pack], RUNNER_TYPES)
    assert "demo_good.echo" in context.actions
    assert "demo_good.event" in context.trigger_types
    assert context.packs == frozenset({"demo_good"})
    [user] = validate_packs([read_pack(packs / "demo_user")], context)
    assert user.diagnostics == ()


def test_trigger_parameters_are_checked_for_pack_trigger_types(tmp_path: Path) -> None:
    context = ValidationContext(
        runner_types=RUNNER_TYPES,
        trigger_types={
            "other.event": {
                "parameters_schema": {
                    "type": "object",
                    "properties": {"source": {"type": "string", "required": True}},
                }
            }
        },
        packs=frozenset({"other"}),
    )
    folder = write_pack(
        tmp_path / "demo",
        {
            "actions/a.yaml": "---\nname: a\nrunner_type: noop\n",
            "rules/r.yaml": (
                "---\nname: r\ntrigger:\n  type: other.event\n  parameters:\n"
                "    source: 5\naction:\n  ref: demo.a\n"
            ),
        },
    )
    [result] = validate_packs([read_pack(folder, "demo")], context)
    [problem] = result.diagnostics
    assert problem.code == "PH308"
    assert (problem.path, problem.line) == ("demo/rules/r.yaml", 6)
    assert problem.field == "trigger.parameters.source"


def test_a_pack_with_errors_registers_nothing_and_reports_them_all(packs: Path) -> None:
    [result] = validate_packs([read_pack(packs / "demo_broken", "demo_broken")], default_context())
    assert result.pack is None
    found = {(d.path, d.code) for d in result.diagnostics}
    assert found == {
        ("demo_broken/pack.yaml", "PH101"),
        ("demo_broken/actions/bad.yaml", "PH201"),
        ("demo_broken/actions/bad.yaml", "PH214"),
        ("demo_broken/rules/bad.yaml", "PH010"),
        ("demo_broken/rules/bad.yaml", "PH302"),
        ("demo_broken/rules/bad.yaml", "PH308"),  # the webhook needs its url parameter
    }
    runner = next(d for d in result.diagnostics if d.code == "PH201")
    assert "local-shell-cmd" in runner.message  # the replacement of run-local
    assert runner.field == "runner_type"
    assert (runner.line, runner.col) == (3, 1)


def test_two_packs_with_one_ref_in_a_batch(tmp_path: Path) -> None:
    first = write_pack(
        tmp_path / "one",
        {"pack.yaml": "name: x\nref: same\ndescription: d\nversion: 1.0.0\nauthor: a\n"},
    )
    second = write_pack(
        tmp_path / "two",
        {"pack.yaml": "name: y\nref: same\ndescription: d\nversion: 1.0.0\nauthor: a\n"},
    )
    results = validate_packs([read_pack(first, "one"), read_pack(second, "two")], default_context())
    assert results[0].pack is not None
    [duplicate] = [d for d in results[1].diagnostics if d.code == "PH006"]
    assert (duplicate.path, duplicate.line) == ("two/pack.yaml", 2)
    assert "one" in duplicate.message
    assert results[1].pack is None


def test_missing_manifest(tmp_path: Path) -> None:
    folder = write_pack(tmp_path / "demo", {"actions/a.yaml": "name: a\n"}, manifest=False)
    [result] = validate_packs([read_pack(folder, "demo")], default_context())
    [problem] = result.diagnostics
    assert (problem.code, problem.path, problem.line) == ("PH100", "demo/pack.yaml", 0)
    assert result.pack is None


def test_sensors_may_share_an_identical_trigger_type(tmp_path: Path) -> None:
    sensor = (
        "---\nclass_name: {name}\nentry_point: s.py\n"
        "trigger_types:\n  - name: shared\n    payload_schema: {{type: object}}\n"
    )
    folder = write_pack(
        tmp_path / "demo",
        {
            "sensors/s.py": "",
            "sensors/one.yaml": sensor.format(name="One"),
            "sensors/two.yaml": sensor.format(name="Two"),
        },
    )
    result = validate_packs([read_pack(folder)], default_context())[0]
    assert result.diagnostics == ()
    assert result.pack is not None
    assert [r.ref for r in result.pack.of_kind(Kind.TRIGGER_TYPE)] == ["demo.shared"]


def test_only_top_level_metadata_files_are_content(tmp_path: Path) -> None:
    folder = write_pack(
        tmp_path / "demo",
        {
            "actions/a.yml": "---\nname: a\nrunner_type: noop\n",
            "actions/workflows/not_an_action.yaml": "- whatever\n",
            "actions/lib/data.yaml": "{broken",
            "tests/fixtures/x.yaml": "{broken",
        },
    )
    result = validate_packs([read_pack(folder)], default_context())[0]
    assert result.diagnostics == ()
    assert result.pack is not None
    assert [r.ref for r in result.pack.resources] == ["demo.a"]
