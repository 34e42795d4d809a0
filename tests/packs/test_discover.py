"""Discovery: reading pack folders, search paths, symlinks, the bundled core pack."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from packhorse.model.content import Kind
from packhorse.packs.discover import (
    bundled_packs_dir,
    default_context,
    discover_packs,
    is_pack_dir,
    read_pack,
)
from packhorse.packs.validate import validate_packs

from .helpers import PACK_YAML, write_pack


def test_read_pack_lists_files_and_reads_yaml(tmp_path: Path) -> None:
    folder = write_pack(
        tmp_path / "demo",
        {
            "actions/a.yaml": "name: a\n",
            "actions/a.py": "print()\n",
            "actions/lib/x.yml": "a: 1\n",
            ".git/config": "x",
            "actions/__pycache__/a.cpython-311.pyc": b"\0",
            "actions/b.pyc": b"\0",
        },
    )
    source = read_pack(folder)
    assert source.dir_name == "demo"
    assert source.path == str(folder.resolve())
    assert source.display_path == str(folder)
    assert source.files == (
        "actions/a.py",
        "actions/a.yaml",
        "actions/lib/x.yml",
        "pack.yaml",
    )
    assert set(source.texts) == {"actions/a.yaml", "actions/lib/x.yml", "pack.yaml"}
    assert source.texts["actions/a.yaml"] == b"name: a\n"
    assert read_pack(folder, "shown").shown("pack.yaml") == "shown/pack.yaml"


def test_symlinks_outside_the_pack_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text("password: x\n")
    folder = write_pack(tmp_path / "demo", {"actions/real.yaml": "name: r\n"})
    os.symlink(outside, folder / "linked_dir")
    os.symlink(outside / "secret.yaml", folder / "actions" / "leak.yaml")
    os.symlink(folder / "actions" / "real.yaml", folder / "actions" / "alias.yaml")
    source = read_pack(folder)
    assert "linked_dir/secret.yaml" not in source.files
    assert "actions/leak.yaml" not in source.files
    assert "actions/alias.yaml" in source.files  # a link inside the pack is fine
    assert source.texts["actions/alias.yaml"] == b"name: r\n"


def test_discover_first_search_path_wins(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    write_pack(first / "demo", {})
    write_pack(second / "demo", {})
    write_pack(second / "other", {"pack.yaml": PACK_YAML.replace("name: demo", "name: other")})
    (second / "not_a_pack").mkdir()
    (second / "a_file.txt").write_text("x")
    sources, diagnostics = discover_packs([first, second, tmp_path / "missing"])
    assert [(s.dir_name, s.path) for s in sources] == [
        ("demo", str((first / "demo").resolve())),
        ("other", str((second / "other").resolve())),
    ]
    [shadowed] = diagnostics
    assert shadowed.code == "PH007"
    assert shadowed.path == f"{second / 'demo'}/pack.yaml"
    assert str(first / "demo") in shadowed.message
    assert not shadowed.is_error


def test_is_pack_dir(tmp_path: Path) -> None:
    assert is_pack_dir(write_pack(tmp_path / "demo", {}))
    assert not is_pack_dir(tmp_path)


def test_default_context_knows_the_system_trigger_types() -> None:
    context = default_context()
    for ref in ("core.st2.webhook", "core.st2.IntervalTimer", "core.st2.CronTimer"):
        assert ref in context.trigger_types
    webhook = context.trigger_types["core.st2.webhook"]
    assert webhook["parameters_schema"]["required"] == ["url"]
    assert "local-shell-cmd" in context.runner_types


def test_bundled_core_triggers_validate_as_a_pack(tmp_path: Path) -> None:
    # core/pack.yaml may be absent in this checkout: validate a copy that has one
    core = tmp_path / "core"
    shutil.copytree(bundled_packs_dir() / "core" / "triggers", core / "triggers")
    (core / "pack.yaml").write_text(PACK_YAML.replace("name: demo", "name: core"))
    [result] = validate_packs([read_pack(core, "core")], default_context())
    assert result.diagnostics == ()
    assert result.pack is not None
    refs = sorted(r.ref for r in result.pack.of_kind(Kind.TRIGGER_TYPE))
    assert refs == [
        "core.st2.CronTimer",
        "core.st2.DateTimer",
        "core.st2.IntervalTimer",
        "core.st2.action.file_written",
        "core.st2.generic.actiontrigger",
        "core.st2.generic.inquiry",
        "core.st2.generic.notifytrigger",
        "core.st2.key_value_pair.create",
        "core.st2.key_value_pair.delete",
        "core.st2.key_value_pair.update",
        "core.st2.key_value_pair.value_change",
        "core.st2.sensor.process_exit",
        "core.st2.sensor.process_spawn",
        "core.st2.webhook",
    ]
