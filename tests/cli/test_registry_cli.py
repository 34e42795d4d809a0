"""``packhorse pack register|list|show`` and the content list/show commands."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from tests.conftest import CliResult

Cli = Callable[..., CliResult]


def registered(cli: Cli, home: Path, kind: str) -> list[dict[str, object]]:
    result = cli("--home", home, kind, "list", "--json")
    assert result.code == 0, result.err
    return list(json.loads(result.out))


def test_pack_list_and_show(instance_home: Path, cli: Cli) -> None:
    table = cli("--home", instance_home, "pack", "list")
    assert table.code == 0
    assert table.out.splitlines()[0].split()[:3] == ["REF", "VERSION", "NAME"]
    assert {line.split()[0] for line in table.out.splitlines()[1:]} == {"core", "examples"}
    packs = registered(cli, instance_home, "pack")
    assert {p["ref"] for p in packs} == {"core", "examples"}
    shown = json.loads(cli("--home", instance_home, "pack", "show", "core", "--json").out)
    assert "core.local" in shown["contents"]["action"]
    assert "core.st2.webhook" in shown["contents"]["trigger_type"]
    missing = cli("--home", instance_home, "pack", "show", "nope")
    assert missing.code == 2 and "pack 'nope' not found" in missing.err


def test_content_commands_list_and_show(instance_home: Path, cli: Cli) -> None:
    actions = {a["ref"]: a for a in registered(cli, instance_home, "action")}
    assert actions["core.local"]["runner_type"] == "local-shell-cmd"
    assert any(ref.startswith("examples.") for ref in actions)
    shown = cli("--home", instance_home, "action", "show", "core.local")
    assert shown.code == 0 and "local-shell-cmd" in shown.out
    rules = registered(cli, instance_home, "rule")
    assert rules and all(r["ref"].startswith("examples.") for r in rules)  # type: ignore[union-attr]
    triggers = {t["ref"] for t in registered(cli, instance_home, "trigger")}
    assert {"core.st2.webhook", "core.st2.IntervalTimer", "core.st2.CronTimer"} <= triggers
    assert registered(cli, instance_home, "sensor")
    only_core = registered(cli, instance_home, "action") and cli(
        "--home", instance_home, "action", "list", "--pack", "core", "--json"
    )
    assert {a["pack"] for a in json.loads(only_core.out)} == {"core"}
    missing = cli("--home", instance_home, "rule", "show", "examples.nope")
    assert missing.code == 2 and "not found" in missing.err


def test_reregistering_unchanged_packs_changes_nothing(instance_home: Path, cli: Cli) -> None:
    before = registered(cli, instance_home, "pack")
    result = cli("--home", instance_home, "pack", "register", "--all")
    assert result.code == 0, result.err
    assert "Nothing to change" in result.out
    assert registered(cli, instance_home, "pack") == before


def test_removed_content_is_removed_from_the_registry(instance_home: Path, cli: Cli) -> None:
    rules = registered(cli, instance_home, "rule")
    victim = rules[0]
    (instance_home / "packs" / "examples" / str(victim["metadata_file"])).unlink()

    dry = cli("--home", instance_home, "pack", "register", "examples", "--dry-run", "--json")
    assert dry.code == 0, dry.err
    plan = json.loads(dry.out)["plan"]
    assert {"operation": "delete", "kind": "rule", "ref": victim["ref"], "pack": "examples"} in (
        plan["resources"]
    )
    assert len(registered(cli, instance_home, "rule")) == len(rules)  # dry run changed nothing

    result = cli("--home", instance_home, "pack", "register", "examples")
    assert result.code == 0, result.err
    assert f"delete  rule      {victim['ref']}" in result.out
    assert victim["ref"] not in {r["ref"] for r in registered(cli, instance_home, "rule")}


def test_a_pack_with_an_error_registers_nothing(instance_home: Path, cli: Cli) -> None:
    examples = instance_home / "packs" / "examples"
    before = registered(cli, instance_home, "action")
    # A valid new action plus a broken one: neither may be registered.
    (examples / "actions" / "fresh.yaml").write_text(
        "name: fresh\nrunner_type: noop\ndescription: new\n"
    )
    (examples / "actions" / "broken.yaml").write_text("name: broken\nrunner_type: no-such-runner\n")
    result = cli("--home", instance_home, "pack", "register", "examples")
    assert result.code == 1
    assert "actions/broken.yaml:2:" in result.err and "no-such-runner" in result.err
    assert "Nothing registered" in result.err
    assert registered(cli, instance_home, "action") == before


def test_register_all_removes_packs_gone_from_disk(instance_home: Path, cli: Cli) -> None:
    shutil.rmtree(instance_home / "packs" / "examples")
    result = cli("--home", instance_home, "pack", "register", "--all")
    assert result.code == 0, result.err
    assert "delete  pack      examples" in result.out
    assert {p["ref"] for p in registered(cli, instance_home, "pack")} == {"core"}
    assert all(r["pack"] == "core" for r in registered(cli, instance_home, "action"))


def test_register_names_unknown_packs_and_requires_a_selection(
    instance_home: Path, cli: Cli
) -> None:
    result = cli("--home", instance_home, "pack", "register", "ghost")
    assert result.code == 1 and "pack 'ghost' not found" in result.err
    usage = cli("--home", instance_home, "pack", "register")
    assert usage.code == 2 and "--all" in usage.err


def test_extra_pack_paths_from_settings_are_searched(
    instance_home: Path, tmp_path: Path, cli: Cli
) -> None:
    extra = tmp_path / "site-packs"
    (extra / "site").mkdir(parents=True)
    (extra / "site" / "pack.yaml").write_text(
        "name: site\ndescription: d\nversion: 1.0.0\nauthor: me\n"
    )
    settings = instance_home / "packhorse.toml"
    settings.write_text(settings.read_text().replace("paths = []", f'paths = ["{extra}"]'))
    result = cli("--home", instance_home, "pack", "register", "site")
    assert result.code == 0, result.err
    assert "site" in {p["ref"] for p in registered(cli, instance_home, "pack")}
