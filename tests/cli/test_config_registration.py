"""Registration of pack configs: configs/<ref>.yaml is a resource of its pack."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import CliResult

Cli = Callable[..., CliResult]


def registered_config(home: Path, ref: str) -> dict[str, Any] | None:
    from packhorse import bootstrap
    from packhorse.model.content import Kind
    from packhorse.settings import load_settings

    resource = bootstrap.registry_reader(load_settings(home)).get_resource(Kind.CONFIG, ref)
    return None if resource is None else dict(resource.body)


def plan_of(cli: Cli, home: Path, *refs: str) -> dict[str, Any]:
    result = cli("--home", home, "pack", "register", *refs, "--dry-run", "--json")
    assert result.code == 0, result.out + result.err
    plan = json.loads(result.out)["plan"]
    assert isinstance(plan, dict)
    return plan


def test_init_registers_the_schema_defaults_as_the_config(instance_home: Path) -> None:
    assert registered_config(instance_home, "examples") == {
        "pack": "examples",
        "values": {"greeting": "Hello", "max_names": 5},
        "file": None,
    }
    assert registered_config(instance_home, "core") is None  # no schema, no file


def test_a_config_file_is_validated_and_registered(instance_home: Path, cli: Cli) -> None:
    (instance_home / "configs" / "examples.yaml").write_text("---\ngreeting: Hi\n")
    plan = plan_of(cli, instance_home, "examples")
    assert plan["resources"] == [
        {"operation": "update", "kind": "config", "ref": "examples", "pack": "examples"}
    ]
    result = cli("--home", instance_home, "pack", "register", "examples")
    assert result.code == 0, result.err
    assert "update  config    examples" in result.out
    assert registered_config(instance_home, "examples") == {
        "pack": "examples",
        "values": {"greeting": "Hi", "max_names": 5},
        "file": "configs/examples.yaml",
    }
    # Unchanged: nothing to do. Removed: back to the defaults.
    assert plan_of(cli, instance_home, "examples")["resources"] == []
    (instance_home / "configs" / "examples.yaml").unlink()
    assert cli("--home", instance_home, "pack", "register", "examples").code == 0
    config = registered_config(instance_home, "examples")
    assert config is not None and config["file"] is None


def test_a_config_with_an_error_registers_nothing(instance_home: Path, cli: Cli) -> None:
    config_file = instance_home / "configs" / "examples.yaml"
    config_file.write_text("---\ngreeting: Hi\nmax_names: many\n")
    before = registered_config(instance_home, "examples")
    result = cli("--home", instance_home, "pack", "register", "examples")
    assert result.code == 1
    assert f"{config_file}:3:1: PH611: config key max_names must be an integer" in result.err
    assert "Nothing registered" in result.err
    assert registered_config(instance_home, "examples") == before


def test_warnings_do_not_block_registration(instance_home: Path, cli: Cli) -> None:
    config_file = instance_home / "configs" / "examples.yaml"
    config_file.write_text("---\napi_token: s3cret\n")
    result = cli("--home", instance_home, "pack", "register", "examples", "--json")
    assert result.code == 0, result.out
    report = json.loads(result.out)
    assert [(d["code"], d["path"], d["line"]) for d in report["diagnostics"]] == [
        ("PH616", str(config_file), 2)
    ]
    config = registered_config(instance_home, "examples")
    assert config is not None and config["values"]["api_token"] == "s3cret"


def test_a_pack_without_schema_registers_its_config_as_given(instance_home: Path, cli: Cli) -> None:
    (instance_home / "configs" / "core.yaml").write_text("---\nanything: [1, 2]\n")
    result = cli("--home", instance_home, "pack", "register", "core")
    assert result.code == 0, result.err
    assert registered_config(instance_home, "core") == {
        "pack": "core",
        "values": {"anything": [1, 2]},
        "file": "configs/core.yaml",
    }


def test_yaml_errors_in_a_config_are_reported_with_its_path(instance_home: Path, cli: Cli) -> None:
    config_file = instance_home / "configs" / "examples.yaml"
    config_file.write_text("greeting: [\n")
    result = cli("--home", instance_home, "pack", "register", "--all")
    assert result.code == 1
    assert f"{config_file}:2:1: PH002: invalid YAML" in result.err


def test_pack_show_lists_the_config(instance_home: Path, cli: Cli) -> None:
    shown = json.loads(cli("--home", instance_home, "pack", "show", "examples", "--json").out)
    assert shown["contents"]["config"] == ["examples"]


def test_an_unreadable_config_is_an_error(instance_home: Path, cli: Cli) -> None:
    config_path = instance_home / "configs" / "examples.yaml"
    config_path.mkdir()  # a folder where the file should be
    result = cli("--home", instance_home, "pack", "register", "examples")
    assert result.code == 1
    assert f"{config_path}:0:0: PH610: cannot read the config file" in result.err


def test_without_a_configs_folder_packs_get_their_defaults(instance_home: Path) -> None:
    from packhorse import bootstrap
    from packhorse.engine.registration import register_packs
    from packhorse.settings import load_settings

    settings = load_settings(instance_home)
    (instance_home / "configs" / "examples.yaml").write_text("greeting: Hi\n")
    outcome = register_packs(
        bootstrap.content_registry(settings),
        settings.pack_search_paths,
        home=settings.home,
        refs=["examples"],
        dry_run=True,
        now="2026-01-01T00:00:00Z",
    )
    assert outcome.ok and outcome.diagnostics == ()
    [pack] = outcome.packs
    [config] = [r for r in pack.resources if r.kind.value == "config"]
    assert config.body == {
        "pack": "examples",
        "values": {"greeting": "Hello", "max_names": 5},
        "file": None,
    }
