"""Secrets never appear in clear text anywhere a user or a log can see, after runs that used
them; and changes made while ``packhorse up`` runs are seen by it at once (issue 3)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.conftest import CliResult
from tests.test_up import free_port, wait_for

pytestmark = pytest.mark.slow

Cli = Callable[..., CliResult]
DATASTORE_SECRET = "ds-secret-4f9a1c"
CONFIG_SECRET = "cfg-secret-77be02"
PARAMETER_SECRET = "param-secret-0d3e55"


def finished(cli: Cli, home: Path, execution_id: str, timeout: float = 20) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = json.loads(cli("--home", home, "execution", "get", execution_id, "--json").out)
        if got["status"] in {"succeeded", "failed", "timeout", "abandoned", "canceled"}:
            return dict(got)
        time.sleep(0.05)
    raise AssertionError(f"execution {execution_id} did not finish")


def queue(cli: Cli, home: Path, *args: str) -> str:
    result = cli("--home", home, "run", *args, "--async", "--json")
    assert result.code == 0, result.err
    return str(json.loads(result.out)["id"])


def test_secrets_stay_masked_and_live_changes_are_seen(instance_home: Path, cli: Cli) -> None:
    home = instance_home
    outputs: list[str] = []

    def run_cli(*args: str) -> CliResult:
        result = cli("--home", home, *args)
        outputs.extend([result.out, result.err])
        return result

    assert run_cli("key", "set", "db.password", DATASTORE_SECRET, "--encrypt").code == 0
    configured = run_cli(
        "pack", "config", "examples", "--no-input", "--set", f"api_token={CONFIG_SECRET}"
    )
    assert configured.code == 0, configured.err
    run_cli("key", "set", "greeting", "first")

    port = free_port()
    log_file = home / "logs" / "up.log"
    with log_file.open("ab") as log:
        engine = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "packhorse",
                "--home",
                str(home),
                "up",
                "--listen",
                f"127.0.0.1:{port}",
                "--log-level",
                "debug",
            ],
            stdout=log,
            stderr=log,
        )
    try:
        wait_for(f"http://127.0.0.1:{port}/health", engine)

        # Live changes: the running engine sees a key changed a moment ago.
        first = finished(
            cli, home, queue(cli, home, "core.local", "cmd=echo {{ st2kv.system.greeting }}")
        )
        assert first["result"]["stdout"] == "first"  # type: ignore[index]
        run_cli("key", "set", "greeting", "second")
        changed_at = time.monotonic()
        second = finished(
            cli, home, queue(cli, home, "core.local", "cmd=echo {{ st2kv.system.greeting }}")
        )
        assert second["result"]["stdout"] == "second"  # type: ignore[index]
        assert time.monotonic() - changed_at < 2

        # ...and a config written a moment ago (config_context and self.config).
        greet = finished(cli, home, queue(cli, home, "examples.greet", "name=Ann"))
        assert greet["result"]["stdout"] == "Hello, Ann!"  # type: ignore[index]
        run_cli("pack", "config", "examples", "--no-input", "--set", "greeting=Howdy")
        changed_at = time.monotonic()
        while True:  # registered content is cached for a second in the engine: poll
            greet = finished(cli, home, queue(cli, home, "examples.greet", "name=Ann"))
            if greet["result"]["stdout"] == "Howdy, Ann!":  # type: ignore[index]
                break
            assert time.monotonic() - changed_at < 2, "config change not seen within 2 s"
        built = finished(cli, home, queue(cli, home, "examples.build_greeting", "names=Ann,Bo"))
        assert built["result"]["result"]["text"].startswith("Howdy")  # type: ignore[index]
        assert built["result"]["result"]["token_configured"] is True  # type: ignore[index]

        # Runs that use each kind of secret, and print them.
        leaky = finished(
            cli,
            home,
            queue(
                cli,
                home,
                "core.local",
                "cmd=echo {{ st2kv.system.db.password | decrypt_kv }}; "
                "echo {{ st2kv.system.examples_api_token | decrypt_kv }} >&2",
            ),
        )
        assert leaky["status"] == "succeeded"
        assert leaky["result"]["stdout"] == "********"  # type: ignore[index]
        assert leaky["result"]["stderr"] == "********"  # type: ignore[index]
        with_parameter = finished(
            cli,
            home,
            queue(cli, home, "core.local", "cmd=true", f"sudo_password={PARAMETER_SECRET}"),
        )
        assert with_parameter["parameters"]["sudo_password"] == "********"  # type: ignore[index]

        # Everything a user can look at.
        run_cli("execution", "list", "--json")
        run_cli("execution", "get", str(leaky["id"]))
        run_cli("execution", "get", str(with_parameter["id"]), "--json")
        run_cli("key", "list", "--scope", "all", "--json")
        run_cli("key", "get", "db.password")
        run_cli("key", "export", "-o", str(home / "archive" / "keys.json"))
        run_cli("pack", "config", "examples", "--show", "--json")
        run_cli("pack", "show", "examples", "--json")
    finally:
        engine.send_signal(signal.SIGTERM)
        engine.wait(timeout=30)

    seen = "\n".join(outputs)
    files = {
        path: path.read_bytes()
        for path in home.rglob("*")
        if path.is_file() and path.name != "datastore.key"
    }
    for secret in (DATASTORE_SECRET, CONFIG_SECRET, PARAMETER_SECRET):
        assert secret not in seen, secret
        for path, content in files.items():  # database, WAL, logs, configs, exports
            assert secret.encode() not in content, (secret, path)
    assert log_file.stat().st_size > 0
