"""``packhorse import-st2`` through the real entry point, on a StackStorm install we build
here: packs that need the upgrade transforms, a config, a datastore dump with values
StackStorm encrypted, and the rules' live states. Everything arrives, secrets are sealed
again and never shown, the source is not touched, and a refused import writes nothing."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from packhorse import bootstrap
from packhorse.crypto.stackstorm import St2Key, render_st2_key_file, st2_encrypt
from packhorse.errors import StorageError
from packhorse.migrate import importing
from packhorse.model.content import Kind
from packhorse.settings import load_settings
from tests.conftest import CliResult
from tests.migrate.test_import import state

Run = Callable[..., CliResult]

SECRETS = {
    "api_token": "st2-api-token-that-must-not-leak",
    "alice_token": "alice-st2-token-not-in-clear",
    "db_password": "decrypted-dump-password-secret",
}

LEGACY_PACK = {
    "pack.yaml": "---\nname: legacy\ndescription: An old pack.\nversion: '1.0'\n"
    "author: Tests\nemail: tests@example.org\n",
    "actions/flow.yaml": "---\nname: flow\nrunner_type: orquesta\n"
    "entry_point: workflows/flow.yaml\nparameters:\n  who:\n    type: string\n    default: world\n",
    # A task named ``continue`` (reserved since 3.3) and YAQL format() (gone in 3.9).
    "actions/workflows/flow.yaml": """version: 1.0
input:
  - who
tasks:
  start:
    action: core.noop
    next:
      - when: <% succeeded() %>
        do: continue
  continue:
    action: core.echo
    input:
      message: <% format("{0} done", ctx(who)) %>
    next:
      - publish:
          - said: <% result().stdout %>
output:
  - said: <% ctx(said) %>
""",
    # Python 2 only: reported, not fixable; the pack still imports (nothing runs it).
    "actions/lib/old_helper.py": 'print "hello"\n',
    "rules/on_hook.yaml": "---\nname: on_hook\npack: legacy\nenabled: true\ntrigger:\n"
    "  type: core.st2.webhook\n  parameters:\n    url: legacy\naction:\n  ref: legacy.flow\n",
}

CONFIGURED_PACK = {
    "pack.yaml": "---\nname: configured\ndescription: A pack with a config.\nversion: 2.0.0\n"
    "author: Tests\nemail: tests@example.org\n",
    "config.schema.yaml": "---\nregion:\n  type: string\n  required: true\n"
    "api_token:\n  type: string\n  secret: true\n  required: true\n"
    "retries:\n  type: integer\n  default: 3\n"
    "password:\n  type: string\n  secret: true\n",
}

CONFIG = (
    "---\nregion: eu-west-1\napi_token: '{{ st2kv.system.api_token }}'\nretries: 5\n"
    "password: written-in-clear\n"
)


@dataclass
class St2Site:
    """A StackStorm install's content, as copied off its machine."""

    root: Path
    packs: Path
    configs: Path
    keys: Path
    key_file: Path
    rules: Path

    def args(self, *, key_file: bool = True, rules: bool = True) -> list[object]:
        args: list[object] = ["--packs", self.packs, "--configs", self.configs]
        args += ["--keys", self.keys]
        if key_file:
            args += ["--st2-key-file", self.key_file]
        if rules:
            args += ["--rules-state", self.rules]
        return args


def write_pack(folder: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def site(tmp_path: Path) -> St2Site:
    root = tmp_path / "st2"
    packs, configs = root / "packs", root / "configs"
    write_pack(packs / "legacy", LEGACY_PACK)
    write_pack(packs / "configured", CONFIGURED_PACK)
    # StackStorm's own core pack: Packhorse ships its own, this one is left out.
    write_pack(packs / "core", {"pack.yaml": "---\nname: core\nversion: 1.0.1\n"})
    configs.mkdir()
    (configs / "configured.yaml").write_text(CONFIG)
    (configs / "ghost.yaml").write_text("---\nx: 1\n")
    key = St2Key(aes_key=os.urandom(32), hmac_key=os.urandom(32))
    key_file = root / "datastore_key.json"
    key_file.write_text(render_st2_key_file(key))

    def sealed(clear: str) -> str:
        return st2_encrypt(key, clear, iv=os.urandom(16))

    dump = [
        {"name": "region", "value": "eu-west-1", "scope": "st2kv.system", "secret": False},
        {
            "name": "api_token",
            "value": sealed(SECRETS["api_token"]),
            "scope": "st2kv.system",
            "secret": True,
            "encrypted": True,
        },
        {"name": "theme", "value": "dark", "scope": "st2kv.user", "user": "alice"},
        {
            "name": "alice:token",
            "value": sealed(SECRETS["alice_token"]),
            "scope": "st2kv.user",
            "user": "alice",
            "secret": True,
            "encrypted": True,
        },
        {
            "name": "db_password",
            "value": SECRETS["db_password"],
            "scope": "st2kv.system",
            "secret": True,
            "encrypted": False,
        },
        {
            "name": "session",
            "value": "s-1",
            "scope": "st2kv.system",
            "ttl": 3600,
            "expire_timestamp": "2099-01-01T00:00:00.000000Z",
        },
    ]
    dump.append(
        {"name": "stale", "value": "old", "expire_timestamp": "2001-01-01T00:00:00.000000Z"}
    )
    keys = root / "keys.json"
    keys.write_text(json.dumps(dump))
    rules = root / "rules.json"
    rules.write_text(
        json.dumps(
            [
                {"ref": "legacy.on_hook", "enabled": False},
                {"ref": "gone.rule", "enabled": True},
            ]
        )
    )
    return St2Site(root, packs, configs, keys, key_file, rules)


def import_st2(cli: Run, home: Path, *args: object) -> CliResult:
    bootstrap._cached_registry.cache_clear()  # each CLI command is a new process, not here
    result = cli("--home", home, "import-st2", *args)
    bootstrap._cached_registry.cache_clear()
    return result


def tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def database_bytes(home: Path) -> str:
    """A hash of the database file itself, for refusals that must not even open it to write."""
    return hashlib.sha256((home / "state.db").read_bytes()).hexdigest()


def key_json(cli: Run, home: Path, name: str, *extra: str) -> dict[str, Any]:
    result = cli("--home", home, "key", "get", name, "--decrypt", "--json", *extra)
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert isinstance(document, dict)
    return document


def test_import_carries_packs_configs_keys_and_rule_states(
    cli: Run, instance_home: Path, site: St2Site
) -> None:
    source_before = tree(site.root)
    done = import_st2(cli, instance_home, *site.args())
    assert done.code == 0, done.out + done.err
    for clear in SECRETS.values():
        assert clear not in done.out + done.err
    assert tree(site.root) == source_before  # the StackStorm folders are never written

    assert "pack    legacy 1.0.0 (transformed by continue-task-name, pack-version-semver, " in (
        done.out
    )
    assert "pack    core: skipped (ships with Packhorse)" in done.out
    assert "config  configured.yaml" in done.out
    assert "keys    4 system, 2 user" in done.out
    assert "config ghost.yaml: no pack ghost imported or here" in done.out
    assert "rule gone.rule: enabled state not carried" in done.out
    assert "key system:stale: expired on StackStorm (2001-01-01T00:00:00.000000Z)" in done.out
    assert "config configured.yaml: secret 'password' is in clear in the file" in done.out
    assert "'api_token'" not in done.out  # a datastore reference, not a clear value
    assert "pack legacy: " in done.out and "/legacy/actions/lib/old_helper.py:1:" in done.out
    assert "python2-only" in done.out and "(imported as it is)" in done.out
    assert "import-st2: installing 2 packs" in done.err  # progress on stderr

    settings = load_settings(instance_home)
    registry = bootstrap.content_registry(settings)
    assert {"legacy", "configured"} <= {p.ref for p in registry.list_packs()}
    rule = registry.get_resource(Kind.RULE, "legacy.on_hook")
    assert rule is not None and not rule.enabled  # the live state, not the file's
    workflow = instance_home / "packs" / "legacy" / "actions" / "workflows" / "flow.yaml"
    text = workflow.read_text()
    assert "  continue_:" in text and "do: continue_" in text and "format(" not in text
    assert "version: '1.0.0'" in (instance_home / "packs" / "legacy" / "pack.yaml").read_text()
    assert (instance_home / "configs" / "configured.yaml").read_text() == CONFIG
    config = registry.get_resource(Kind.CONFIG, "configured")
    assert config is not None and config.body["values"]["retries"] == 5

    assert key_json(cli, instance_home, "api_token")["value"] == SECRETS["api_token"]
    assert key_json(cli, instance_home, "db_password")["value"] == SECRETS["db_password"]
    alice = ("--scope", "user", "--user", "alice")
    assert key_json(cli, instance_home, "token", *alice)["value"] == SECRETS["alice_token"]
    assert key_json(cli, instance_home, "theme", *alice)["value"] == "dark"
    listed = cli("--home", instance_home, "key", "list", "--json")
    session = [k for k in json.loads(listed.out) if k["name"] == "session"]
    assert session[0]["expire_timestamp"].startswith("2099-01-01T00:00:00")
    stored = b"".join(p.read_bytes() for p in instance_home.glob("state.db*"))
    for clear in SECRETS.values():
        assert clear.encode() not in stored

    run = cli("--home", instance_home, "run", "legacy.flow", "who=Bob", "--json")
    execution = json.loads(run.out)
    assert execution["status"] == "succeeded", run.out + run.err
    assert execution["result"]["output"] == {"said": "Bob done"}

    again = import_st2(cli, instance_home, *site.args())
    assert again.code == 0 and "Nothing to do" in again.out


def test_encrypted_values_without_the_key_file_are_listed_not_imported(
    cli: Run, instance_home: Path, site: St2Site
) -> None:
    done = import_st2(cli, instance_home, *site.args(key_file=False), "--json")
    assert done.code == 0, done.err
    report = json.loads(done.out)
    assert report["applied"] is True
    assert report["keys"] == {"system": 3, "user": 1}
    assert (
        "key system:api_token: encrypted by StackStorm and no --st2-key-file given"
        in report["cannot_carry"]
    )
    assert (
        "key user:alice:token: encrypted by StackStorm and no --st2-key-file given"
        in (report["cannot_carry"])
    )
    missing = cli("--home", instance_home, "key", "get", "api_token")
    assert missing.code == 2


def test_dry_run_prints_the_plan_and_writes_nothing(
    cli: Run, instance_home: Path, site: St2Site
) -> None:
    before, files_before = state(instance_home), tree(instance_home)
    database = database_bytes(instance_home)
    done = import_st2(cli, instance_home, *site.args(), "--dry-run")
    assert done.code == 0, done.err
    assert "add       pack legacy (1.0.0)" in done.out
    assert "add       key system:api_token (secret)" in done.out
    assert "Dry run: nothing changed." in done.out
    for clear in SECRETS.values():
        assert clear not in done.out + done.err
    assert state(instance_home) == before
    assert database_bytes(instance_home) == database
    assert tree(instance_home) == files_before


def test_a_config_that_breaks_its_schema_leaves_the_instance_as_it_was(
    cli: Run, instance_home: Path, site: St2Site
) -> None:
    (site.configs / "configured.yaml").write_text(CONFIG.replace("retries: 5", "retries: many"))
    before, database = state(instance_home), database_bytes(instance_home)
    done = import_st2(cli, instance_home, *site.args())
    assert done.code == 2
    assert "configured.yaml:4:1: PH611: config key retries must be an integer" in done.err
    assert "putting the instance back" in done.err
    assert state(instance_home) == before
    assert database_bytes(instance_home) == database
    assert not (instance_home / ".import").exists()
    listed = cli("--home", instance_home, "key", "list", "--json")
    assert [k["name"] for k in json.loads(listed.out)] == []


def test_a_pack_that_does_not_validate_refuses_the_import_naming_the_line(
    cli: Run, instance_home: Path, site: St2Site
) -> None:
    (site.packs / "legacy" / "actions" / "broken.yaml").write_text(
        "---\nname: broken\nrunner_type: no-such-runner\nentry_point: x.sh\n"
    )
    before, database = state(instance_home), database_bytes(instance_home)
    done = import_st2(cli, instance_home, *site.args())
    assert done.code == 2
    assert "nothing imported: these StackStorm packs do not validate" in done.err
    assert f"{site.packs / 'legacy' / 'actions' / 'broken.yaml'}:3" in done.err
    assert state(instance_home) == before
    assert database_bytes(instance_home) == database


def test_an_encrypted_value_the_key_file_does_not_open_refuses_the_import(
    cli: Run, instance_home: Path, site: St2Site
) -> None:
    other = St2Key(aes_key=os.urandom(32), hmac_key=os.urandom(32))
    site.key_file.write_text(render_st2_key_file(other))
    before, database = state(instance_home), database_bytes(instance_home)
    done = import_st2(cli, instance_home, *site.args())
    assert done.code == 2
    assert "system:api_token: HMAC mismatch" in done.err
    assert state(instance_home) == before
    assert database_bytes(instance_home) == database


def test_refused_under_url(cli: Run, site: St2Site) -> None:
    done = cli("--url", "http://127.0.0.1:1", "import-st2", "--packs", site.packs)
    assert done.code == 2
    assert "'packhorse import-st2' works on a local instance folder, not over the API" in done.err


def test_a_key_file_without_a_dump_is_a_usage_error(
    cli: Run, instance_home: Path, site: St2Site
) -> None:
    done = import_st2(cli, instance_home, "--packs", site.packs, "--st2-key-file", site.key_file)
    assert done.code == 2 and "give --keys" in done.err


def test_a_config_that_breaks_the_schema_of_a_pack_already_here_writes_nothing(
    cli: Run, instance_home: Path, site: St2Site
) -> None:
    assert import_st2(cli, instance_home, *site.args()).code == 0
    (site.configs / "configured.yaml").write_text(CONFIG.replace("retries: 5", "retries: many"))
    before = state(instance_home)
    done = import_st2(cli, instance_home, *site.args())
    assert done.code == 2
    assert "the StackStorm configs do not validate here" in done.err
    assert "configured.yaml:4:1: PH611: config key retries must be an integer" in done.err
    assert "hint: fix them in the --configs folder and run import-st2 again" in done.err
    assert state(instance_home) == before
    assert (instance_home / "configs" / "configured.yaml").read_text() == CONFIG


def test_a_mistral_workflow_the_transforms_cannot_convert_refuses_the_import(
    cli: Run, instance_home: Path, site: St2Site
) -> None:
    write_pack(
        site.packs / "old_mistral",
        {
            "pack.yaml": "---\nname: old_mistral\nversion: 0.1.0\ndescription: x\n"
            "author: Tests\nemail: tests@example.org\n",
            "actions/each.yaml": "---\nname: each\nrunner_type: mistral-v2\n"
            "entry_point: workflows/each.yaml\n",
            "actions/workflows/each.yaml": "version: '2.0'\nold_mistral.each:\n  tasks:\n"
            "    each:\n      with-items: host in <% $.hosts %>\n"
            "      action: core.echo message=<% $.host %>\n",
        },
    )
    before, database = state(instance_home), database_bytes(instance_home)
    done = import_st2(cli, instance_home, *site.args())
    assert done.code == 2
    each = site.packs / "old_mistral" / "actions"
    assert f"{each / 'each.yaml'}:3:1: PH201: runner type 'mistral-v2' was removed" in done.err
    assert "what the transforms could not fix in them:" in done.err
    assert (
        f"{each / 'workflows' / 'each.yaml'}:5:7: mistral-v2: no mechanical orquesta form: "
        "task 'each': with-items" in done.err
    )
    assert state(instance_home) == before
    assert database_bytes(instance_home) == database


def test_a_failure_after_the_packs_are_installed_puts_everything_back(
    cli: Run, instance_home: Path, site: St2Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> None:
        raise StorageError("database error: disk on fire")

    monkeypatch.setattr(importing, "_write_database", broken)
    before, files_before = state(instance_home), tree(instance_home / "configs")
    done = import_st2(cli, instance_home, *site.args())
    assert done.code != 0 and "disk on fire" in done.err
    assert "import-st2: installing 2 packs" in done.err  # it failed after installing them
    assert state(instance_home) == before
    assert tree(instance_home / "configs") == files_before
    assert not (instance_home / ".import").exists()
    for clear in SECRETS.values():
        assert clear not in done.out + done.err

    monkeypatch.undo()
    assert import_st2(cli, instance_home, *site.args()).code == 0
