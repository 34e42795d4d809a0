"""Acceptance of ``packhorse import-st2`` on StackStorm's own ``examples``, ``linux`` and
``hello_st2`` packs (from a StackStorm source checkout on this machine, never copied into
this repository), with a config and a datastore dump holding a value StackStorm encrypted;
their offline workflows and actions then run here.

The checkout is ``/work/st2src`` unless ``$PACKHORSE_ST2_SOURCE`` names another; without it
the test is skipped, saying so."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from packhorse import bootstrap
from packhorse.crypto.stackstorm import St2Key, render_st2_key_file, st2_encrypt
from tests.conftest import CliResult

Run = Callable[..., CliResult]

ST2_SOURCE = Path(os.environ.get("PACKHORSE_ST2_SOURCE", "/work/st2src"))
PACKS = ("examples", "linux", "hello_st2")
API_KEY = "examples-api-key-never-in-clear"


def _contrib() -> Path:
    contrib = ST2_SOURCE / "contrib"
    missing = [name for name in PACKS if not (contrib / name / "pack.yaml").is_file()]
    if missing:
        message = (
            f"StackStorm's {', '.join(missing)} packs are not at {contrib} (set "
            "$PACKHORSE_ST2_SOURCE to a StackStorm source checkout)"
        )
        print(f"skipped: {message}")
        pytest.skip(message)
    return contrib


def run(cli: Run, home: Path, *args: str) -> dict[str, object]:
    result = cli("--home", home, "run", *args, "--json")
    assert result.out, result.err
    execution = json.loads(result.out)
    assert execution["status"] == "succeeded", result.out + result.err
    assert isinstance(execution, dict)
    return execution


@pytest.mark.slow
def test_stackstorm_contrib_packs_import_and_their_workflows_run(
    cli: Run, instance_home: Path, tmp_path: Path
) -> None:
    contrib = _contrib()
    packs, configs = tmp_path / "st2" / "packs", tmp_path / "st2" / "configs"
    for name in PACKS:
        shutil.copytree(contrib / name, packs / name)
    configs.mkdir()
    (configs / "examples.yaml").write_text(
        "---\napi_key: '{{ st2kv.system.examples_api_key }}'\napi_secret: s\nregion: eu-west-1\n"
    )
    key = St2Key(aes_key=os.urandom(32), hmac_key=os.urandom(32))
    key_file = tmp_path / "st2" / "datastore_key.json"
    key_file.write_text(render_st2_key_file(key))
    dump = [
        {"name": "greeting", "value": "hello from st2", "scope": "st2kv.system"},
        {
            "name": "examples_api_key",
            "value": st2_encrypt(key, API_KEY, iv=os.urandom(16)),
            "scope": "st2kv.system",
            "secret": True,
            "encrypted": True,
        },
    ]
    keys = tmp_path / "st2" / "keys.json"
    keys.write_text(json.dumps(dump))

    bootstrap._cached_registry.cache_clear()
    done = cli(
        "--home", instance_home, "import-st2", "--packs", packs, "--configs", configs,
        "--keys", keys, "--st2-key-file", key_file, "--json",
    )  # fmt: skip
    bootstrap._cached_registry.cache_clear()
    assert done.code == 0, done.out + done.err
    assert API_KEY not in done.out + done.err
    report = json.loads(done.out)
    assert report["applied"] is True
    assert sorted(p["ref"] for p in report["packs"]) == sorted(PACKS)
    assert report["configs"] == ["examples.yaml"]
    assert report["keys"] == {"system": 2}

    sequential = run(cli, instance_home, "examples.orquesta-sequential", "name=Stanley")
    assert sequential["result"]["output"] == {  # type: ignore[index]
        "greeting": "Stanley, All your base are belong to us!"
    }
    st2kv = run(cli, instance_home, "examples.orquesta-st2kv", "key_name=system.greeting")
    assert st2kv["result"]["output"] == {"value": "hello from st2"}  # type: ignore[index]
    greet = run(cli, instance_home, "hello_st2.greet", "greeting=Yo")
    assert greet["result"]["stdout"] == "Yo, StackStorm!"  # type: ignore[index]
    secret = cli("--home", instance_home, "key", "get", "examples_api_key", "--decrypt", "--json")
    assert json.loads(secret.out)["value"] == API_KEY
