"""Structure of the packs that ship inside Packhorse (src/packhorse/bundled_packs).

These checks stand in until the pack validator lands: every YAML file parses, manifests,
actions, rules, sensors, aliases and policies use only the keys StackStorm accepts, entry points
exist, positions are contiguous, references resolve inside the bundled packs, Python compiles
and the core actions keep the parameter interface of StackStorm's core pack.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

import packhorse
from packhorse.packs.validate.yamldoc import parse_yaml

BUNDLED = Path(packhorse.__file__).parent / "bundled_packs"
PACKS = ("core", "examples")

SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)
PACK_REF = re.compile(r"^[a-z0-9_]+$")
PARAMETER_NAME = re.compile(r"^\w+$")

ACTION_KEYS = {
    "name", "runner_type", "entry_point", "enabled", "description", "pack", "parameters",
    "output_schema", "notify", "tags", "metadata_file",
}  # fmt: skip
PARAMETER_KEYS = {
    "type", "description", "title", "default", "enum", "required", "secret", "immutable",
    "position", "items", "additionalItems", "properties", "patternProperties",
    "additionalProperties", "dependencies", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "minLength", "maxLength", "minItems", "maxItems", "multipleOf",
    "pattern", "uniqueItems", "allOf", "anyOf", "oneOf", "not", "definitions", "$schema", "id",
}  # fmt: skip
SIMPLE_TYPES = {"string", "integer", "number", "boolean", "object", "array", "null"}
RULE_KEYS = {
    "name", "pack", "description", "enabled", "type", "trigger", "criteria", "action",
    "context", "tags", "metadata_file",
}  # fmt: skip
SENSOR_KEYS = {
    "class_name", "entry_point", "description", "enabled", "poll_interval", "trigger_types",
    "artifact_uri", "pack", "metadata_file",
}  # fmt: skip
TRIGGER_TYPE_KEYS = {
    "name", "pack", "description", "payload_schema", "parameters_schema", "tags", "metadata_file",
}  # fmt: skip
ALIAS_KEYS = {
    "name", "pack", "description", "enabled", "action_ref", "formats", "ack", "result",
    "immutable_parameters", "extra", "metadata_file",
}  # fmt: skip
POLICY_KEYS = {
    "name", "pack", "description", "enabled", "resource_ref", "policy_type", "parameters",
    "metadata_file",
}  # fmt: skip
POLICY_TYPES = {"action.concurrency", "action.concurrency.attr", "action.retry"}

# Runner parameter names (reference §3.3): an action may redeclare these, and an immutable one
# may take its default from the runner.
RUNNER_PARAMETERS: dict[str, set[str]] = {
    "local-shell-cmd": {"cmd", "cwd", "env", "kwarg_op", "sudo", "sudo_password", "timeout"},
    "local-shell-script": {
        "cwd", "env", "kwarg_op", "sudo", "sudo_password", "timeout", "debug", "content_version",
    },
    "remote-shell-cmd": {
        "hosts", "username", "password", "private_key", "passphrase", "port", "bastion_host",
        "cmd", "cwd", "dir", "env", "kwarg_op", "parallel", "sudo", "sudo_password", "timeout",
    },
    "python-script": {"env", "timeout", "log_level", "debug", "content_version"},
    "http-request": {
        "url", "headers", "cookies", "username", "password", "allow_redirects",
        "verify_ssl_cert", "http_proxy", "https_proxy", "url_hosts_blacklist",
        "url_hosts_whitelist",
    },
    "orquesta": {"notify"},
    "action-chain": {"display_published", "skip_notify"},
    "inquirer": {"schema", "ttl", "roles", "users", "route"},
    "noop": set(),
}  # fmt: skip
# Runners whose actions have no entry point file: the command or request is a parameter.
NO_ENTRY_POINT = {"local-shell-cmd", "remote-shell-cmd", "http-request", "inquirer", "noop"}
BUILTIN_TRIGGER_TYPES = {
    "core.st2.webhook", "core.st2.IntervalTimer", "core.st2.DateTimer", "core.st2.CronTimer",
    "core.st2.generic.actiontrigger", "core.st2.generic.notifytrigger",
    "core.st2.generic.inquiry", "core.st2.action.file_written",
}  # fmt: skip
ORQUESTA_COMMANDS = {"continue", "fail", "noop", "retry"}


def load(path: Path) -> Any:
    """Parse one YAML file; any diagnostic, even a warning, fails the calling test."""
    document, diagnostics = parse_yaml(path.read_bytes(), str(path.relative_to(BUNDLED)))
    assert not diagnostics, [d.format() for d in diagnostics]
    assert document is not None
    return document.data


def metadata_files(pack: str, folder: str) -> list[Path]:
    """The files StackStorm reads as metadata: *.yaml and *.yml directly in the folder."""
    base = BUNDLED / pack / folder
    return sorted([*base.glob("*.yaml"), *base.glob("*.yml")])


def all_files(suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in BUNDLED.rglob("*") if p.is_file() and p.name.endswith(suffixes))


def ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(BUNDLED)) for p in paths]


def action_refs() -> set[str]:
    return {f"{pack}.{load(p)['name']}" for pack in PACKS for p in metadata_files(pack, "actions")}


def trigger_type_refs(pack: str) -> set[str]:
    names = [load(p)["name"] for p in metadata_files(pack, "triggers")]
    for sensor in metadata_files(pack, "sensors"):
        names += [t["name"] for t in load(sensor).get("trigger_types", [])]
    return {f"{pack}.{name}" for name in names}


ACTION_FILES = [p for pack in PACKS for p in metadata_files(pack, "actions")]
YAML_FILES = all_files((".yaml", ".yml"))
PYTHON_FILES = all_files((".py",))


def test_the_bundled_packs_are_the_expected_ones() -> None:
    found = [p.name for p in BUNDLED.iterdir() if p.is_dir() and p.name[0] not in "._"]
    assert sorted(found) == sorted(PACKS)
    # Guards the globs: with no files found, every parametrized test would pass vacuously.
    assert all(metadata_files(pack, "actions") for pack in PACKS)
    assert len(YAML_FILES) > len(ACTION_FILES) and PYTHON_FILES


@pytest.mark.parametrize("path", YAML_FILES, ids=ids(YAML_FILES))
def test_every_yaml_file_parses_cleanly(path: Path) -> None:
    assert load(path) is not None, "empty YAML document"


@pytest.mark.parametrize("pack", PACKS)
def test_pack_manifest(pack: str) -> None:
    manifest = load(BUNDLED / pack / "pack.yaml")
    assert manifest["ref"] == pack
    assert PACK_REF.match(manifest["ref"])
    for key in ("name", "description", "author", "email"):
        assert isinstance(manifest.get(key), str) and manifest[key], key
    assert SEMVER.match(str(manifest["version"])), manifest["version"]
    assert manifest["python_versions"] == ["3"]


@pytest.mark.parametrize("path", ACTION_FILES, ids=ids(ACTION_FILES))
def test_action_metadata(path: Path) -> None:
    action = load(path)
    pack = path.parent.parent.name
    assert set(action) <= ACTION_KEYS, set(action) - ACTION_KEYS
    assert action.get("pack", pack) == pack
    assert isinstance(action["name"], str) and action["name"]
    runner = action["runner_type"]
    assert runner in RUNNER_PARAMETERS
    entry_point = action.get("entry_point", "")
    if runner in NO_ENTRY_POINT:
        assert entry_point == ""
    else:
        target = (path.parent / entry_point).resolve()
        assert target.is_file(), f"entry point {entry_point} not found"
        assert target.is_relative_to((BUNDLED / pack).resolve())

    parameters = action.get("parameters", {})
    for name, schema in parameters.items():
        assert PARAMETER_NAME.match(name), name
        assert set(schema) <= PARAMETER_KEYS, (name, set(schema) - PARAMETER_KEYS)
        if "type" in schema:
            assert schema["type"] in SIMPLE_TYPES, (name, schema["type"])
        elif name not in RUNNER_PARAMETERS[runner]:
            pytest.fail(f"{name}: an action parameter needs a type")
        if schema.get("immutable"):
            assert "default" in schema or name in RUNNER_PARAMETERS[runner], name
        if "enum" in schema and "default" in schema:
            assert schema["default"] in schema["enum"], name

    positions = sorted(s["position"] for s in parameters.values() if "position" in s)
    if positions:
        assert positions == list(range(positions[0], positions[0] + len(positions))), positions


def test_action_names_are_unique_per_pack() -> None:
    for pack in PACKS:
        names = [load(p)["name"] for p in metadata_files(pack, "actions")]
        assert len(names) == len(set(names)), names


@pytest.mark.parametrize("path", PYTHON_FILES, ids=ids(PYTHON_FILES))
def test_python_files_compile(path: Path) -> None:
    compile(path.read_text(encoding="utf-8"), str(path), "exec")


def python_action_files() -> list[Path]:
    return [
        (path.parent / load(path)["entry_point"])
        for path in ACTION_FILES
        if load(path)["runner_type"] == "python-script"
    ]


@pytest.mark.parametrize("path", python_action_files(), ids=ids(python_action_files()))
def test_python_actions_subclass_action_and_define_run(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imports = {
        (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert ("st2common.runners.base_action", "Action") in imports
    classes = [
        node
        for node in tree.body
        if isinstance(node, ast.ClassDef)
        and any(isinstance(base, ast.Name) and base.id == "Action" for base in node.bases)
    ]
    assert len(classes) == 1, "exactly one Action subclass per file"
    methods = {n.name for n in classes[0].body if isinstance(n, ast.FunctionDef)}
    assert "run" in methods


def test_shell_scripts_are_executable_bash() -> None:
    scripts = all_files((".sh",))
    assert scripts
    for script in scripts:
        assert os.access(script, os.X_OK), f"{script.name} is not executable"
        assert script.read_text(encoding="utf-8").startswith("#!/usr/bin/env bash\n")
        if shutil.which("bash"):
            subprocess.run(["bash", "-n", str(script)], check=True)


CONFIG_SCHEMAS = [BUNDLED / pack / "config.schema.yaml" for pack in PACKS]
CONFIG_SCHEMAS = [path for path in CONFIG_SCHEMAS if path.exists()]


@pytest.mark.parametrize("path", CONFIG_SCHEMAS, ids=ids(CONFIG_SCHEMAS))
def test_config_schema_uses_the_parameter_dialect(path: Path) -> None:
    schema = load(path)
    assert isinstance(schema, dict) and schema
    for name, item in schema.items():
        assert PARAMETER_NAME.match(name), name
        assert set(item) <= PARAMETER_KEYS - {"position", "immutable"}, name
        assert item["type"] in SIMPLE_TYPES, name


def test_examples_config_schema_shows_each_kind_of_item() -> None:
    schema = load(BUNDLED / "examples" / "config.schema.yaml")
    kinds = {
        (item["type"], "default" in item, bool(item.get("secret"))) for item in schema.values()
    }
    assert {("string", True, False), ("string", False, True), ("integer", True, False)} <= kinds


def test_orquesta_workflows_reference_known_actions_and_tasks() -> None:
    known = action_refs()
    workflows = [
        path.parent / load(path)["entry_point"]
        for path in ACTION_FILES
        if load(path)["runner_type"] == "orquesta"
    ]
    assert workflows
    for workflow in workflows:
        spec = load(workflow)
        assert str(spec["version"]) == "1.0"
        tasks = spec["tasks"]
        for name, task in tasks.items():
            assert PARAMETER_NAME.match(name) and name not in ORQUESTA_COMMANDS, name
            if "action" in task:
                assert task["action"].split()[0] in known, (name, task["action"])
            for transition in task.get("next", []):
                targets = transition.get("do", [])
                targets = targets.split(",") if isinstance(targets, str) else targets
                for target in targets:
                    target = target.strip()
                    assert target in tasks or target in ORQUESTA_COMMANDS, (name, target)


def test_action_chains_reference_known_actions_and_steps() -> None:
    known = action_refs()
    chains = [
        path.parent / load(path)["entry_point"]
        for path in ACTION_FILES
        if load(path)["runner_type"] == "action-chain"
    ]
    assert chains
    for chain in chains:
        spec = load(chain)
        steps = {step["name"]: step for step in spec["chain"]}
        assert spec.get("default", spec["chain"][0]["name"]) in steps
        for name, step in steps.items():
            assert step["ref"] in known, (name, step["ref"])
            for edge in ("on-success", "on-failure"):
                assert step.get(edge, name) in steps, (name, edge)


def test_trigger_types_and_sensors() -> None:
    for path in metadata_files("examples", "triggers"):
        trigger_type = load(path)
        assert set(trigger_type) <= TRIGGER_TYPE_KEYS
        assert trigger_type["payload_schema"]["type"] == "object"
    sensors = metadata_files("examples", "sensors")
    assert sensors
    for path in sensors:
        sensor = load(path)
        assert set(sensor) <= SENSOR_KEYS, set(sensor) - SENSOR_KEYS
        module = path.parent / sensor["entry_point"]
        tree = ast.parse(module.read_text(encoding="utf-8"))
        classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
        assert sensor["class_name"] in classes
        bases = {b.id for b in classes[sensor["class_name"]].bases if isinstance(b, ast.Name)}
        if "PollingSensor" in bases:
            assert sensor["poll_interval"] > 0
        for trigger_type in sensor.get("trigger_types", []):
            assert set(trigger_type) <= TRIGGER_TYPE_KEYS
            assert "name" in trigger_type and "payload_schema" in trigger_type


def test_rules_aliases_and_policies_point_at_existing_content() -> None:
    actions = action_refs()
    triggers = BUILTIN_TRIGGER_TYPES | trigger_type_refs("examples")
    rules = [load(p) for p in metadata_files("examples", "rules")]
    assert {r["trigger"]["type"] for r in rules} >= {
        "core.st2.webhook",
        "core.st2.IntervalTimer",
        "examples.service_alert",
    }
    for rule in rules:
        assert set(rule) <= RULE_KEYS, set(rule) - RULE_KEYS
        assert isinstance(rule["enabled"], bool), "set enabled explicitly: the API default is off"
        assert rule["trigger"]["type"] in triggers
        assert rule["action"]["ref"] in actions
        for key, criterion in rule.get("criteria", {}).items():
            assert key.startswith("trigger."), key
            assert "type" in criterion, f"{key}: a criterion without a type never matches"
    timers = [r for r in rules if r["trigger"]["type"] == "core.st2.IntervalTimer"]
    assert timers and not any(r["enabled"] for r in timers), "timers stay off for make run"

    for path in metadata_files("examples", "aliases"):
        alias = load(path)
        assert set(alias) <= ALIAS_KEYS
        assert alias["action_ref"] in actions
    policies = [load(p) for p in metadata_files("examples", "policies")]
    assert {p["policy_type"] for p in policies} == {"action.concurrency", "action.retry"}
    for policy in policies:
        assert set(policy) <= POLICY_KEYS
        assert policy["resource_ref"] in actions


# The compatibility promise: (action, parameter, attribute, value) as StackStorm's core declares.
CORE_INTERFACE = [
    ("local", "cmd", "required", True),
    ("local", "sudo", "immutable", True),
    ("local_sudo", "sudo", "default", True),
    ("local_sudo", "sudo", "immutable", True),
    ("echo", "message", "required", True),
    ("echo", "cmd", "default", 'echo "{{message}}"'),
    ("echo", "cmd", "immutable", True),
    ("echo", "sudo", "default", False),
    ("echo", "kwarg_op", "immutable", True),
    ("error", "cmd", "default", '>&2 echo "{{message}}"'),
    ("error", "cmd", "immutable", True),
    ("remote", "cmd", "required", True),
    ("remote_sudo", "sudo", "default", True),
    ("http", "method", "enum", ["HEAD", "GET", "POST", "PUT", "DELETE", "OPTIONS", "TRACE",
                                "PATCH", "PURGE"]),
    ("http", "headers", "type", "object"),
    ("http", "params", "type", "object"),
    ("http", "body", "type", "string"),
    ("http", "auth", "type", "string"),
    ("http", "timeout", "type", "number"),
    ("http", "timeout", "default", 60),
    ("pause", "max_pause", "type", "integer"),
    ("pause", "max_pause", "position", 0),
    ("pause", "random", "position", 1),
    ("uuid", "uuid_type", "default", "uuid4"),
    ("uuid", "uuid_type", "enum", ["uuid1", "uuid4"]),
    ("inject_trigger", "trigger", "type", "string"),
    ("inject_trigger", "trigger_name", "type", "string"),
    ("inject_trigger", "payload", "type", "object"),
    ("inject_trigger", "trace_tag", "type", "string"),
]  # fmt: skip
CORE_RUNNERS = {
    "local": "local-shell-cmd", "local_sudo": "local-shell-cmd", "echo": "local-shell-cmd",
    "error": "local-shell-cmd", "noop": "noop", "http": "http-request", "ask": "inquirer",
    "pause": "python-script", "uuid": "python-script", "inject_trigger": "python-script",
    "remote": "remote-shell-cmd", "remote_sudo": "remote-shell-cmd",
}  # fmt: skip


def core_actions() -> dict[str, Any]:
    return {load(p)["name"]: load(p) for p in metadata_files("core", "actions")}


def test_core_has_the_stackstorm_action_names_and_runners() -> None:
    assert {name: a["runner_type"] for name, a in core_actions().items()} == CORE_RUNNERS


@pytest.mark.parametrize(("action", "parameter", "attribute", "value"), CORE_INTERFACE)
def test_core_parameter_interface(action: str, parameter: str, attribute: str, value: Any) -> None:
    assert core_actions()[action]["parameters"][parameter][attribute] == value


def test_core_actions_declare_no_parameters_beyond_stackstorm() -> None:
    declared = {name: set(a.get("parameters", {})) for name, a in core_actions().items()}
    assert declared["noop"] == set() and declared["ask"] == set()
    assert declared["http"] == {
        "auth", "body", "file_content", "file_content_type", "file_name", "file_path",
        "headers", "method", "params", "timeout",
    }  # fmt: skip
    assert declared["inject_trigger"] == {"trigger", "trigger_name", "payload", "trace_tag"}
    assert declared["pause"] == {"max_pause", "random"}
