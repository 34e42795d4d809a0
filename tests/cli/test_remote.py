"""``packhorse --url URL ...``: the CLI against the app ``packhorse up`` serves, over real HTTP
on loopback with authentication on, through the real entry point. The instance folder is out
of reach of the remote commands ($PACKHORSE_HOME points nowhere), so everything they show
came over the API."""

from __future__ import annotations

import io
import json
import os
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from packhorse import bootstrap
from packhorse.engine.clock import iso_now
from packhorse.engine.passwords import hash_password
from packhorse.settings import load_settings
from tests.api.serving import free_port, serving
from tests.conftest import CliResult

Cli = Callable[..., CliResult]
PASSWORD = "ana-s3cret-pw"


@pytest.fixture
def server(instance_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The served app's URL; users ana (admin) and vera (viewer); credentials kept under a
    temporary XDG_CONFIG_HOME."""
    settings = load_settings(instance_home)
    users = bootstrap.user_store(settings)
    users.add_user("ana", hash_password(PASSWORD), "admin", now=iso_now())
    users.add_user("vera", hash_password("vera-pw"), "viewer", now=iso_now())
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("PACKHORSE_HOME", str(tmp_path / "no-instance-here"))
    for name in ("PACKHORSE_URL", "PACKHORSE_TOKEN", "PACKHORSE_API_KEY", "PACKHORSE_CA_FILE"):
        monkeypatch.delenv(name, raising=False)
    with serving(bootstrap.create_app(settings, workers=2)) as url:
        yield url


def login(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, url: str, user: str = "ana", pw: str = PASSWORD
) -> CliResult:
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{pw}\n"))
    return cli("login", "--url", url, "--user", user, "--password-stdin")


@pytest.fixture
def remote(server: str, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """``packhorse --url SERVER ...`` after ``packhorse login`` as ana."""
    assert login(cli, monkeypatch, server).code == 0
    return lambda *args: cli("--url", server, *args)


def test_login_keeps_a_private_token_then_action_list_matches_local(
    server: str, cli: Cli, instance_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = login(cli, monkeypatch, server)
    assert done.code == 0, done.err
    assert done.out.startswith(f"Logged in to {server} as ana; the token expires at ")
    assert PASSWORD not in done.out + done.err

    kept = tmp_path / "config" / "packhorse" / "credentials.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    entry = json.loads(kept.read_text())["servers"][server]
    assert entry["user"] == "ana" and entry["token"] and entry["expiry"].endswith("Z")
    assert PASSWORD not in kept.read_text()

    listed = cli("--url", server, "action", "list")
    assert listed.code == 0, listed.err
    assert "core.local" in listed.out and "local-shell-cmd" in listed.out
    local = cli("--home", instance_home, "action", "list")
    assert listed.out == local.out
    packs = cli("--url", server, "pack", "list")
    assert packs.out == cli("--home", instance_home, "pack", "list").out
    shown = json.loads(cli("--url", server, "action", "get", "core.local", "--json").out)
    assert shown["ref"] == "core.local" and "cmd" in shown["parameters"]

    bad = login(cli, monkeypatch, server, pw="wrong")
    assert bad.code == 2 and "refused the user name or password of 'ana'" in bad.err


def test_run_prints_the_result_and_exits_as_local(
    remote: Cli, cli: Cli, instance_home: Path
) -> None:
    ran = remote("run", "core.local", "cmd=echo hello")
    assert ran.code == 0, ran.err
    assert "action.ref: core.local" in ran.out and "status: succeeded" in ran.out
    assert "stdout: hello" in ran.out
    execution_id = ran.out.split()[1]

    failed = remote("run", "core.local", "cmd=echo oops >&2; exit 3", "--json")
    assert failed.code == 1
    document = json.loads(failed.out)
    assert document["status"] == "failed" and document["result"]["return_code"] == 3
    assert document["context"]["user"] == "ana"  # the signed-in user, not 'admin'

    listed = remote("execution", "list")
    assert execution_id in listed.out and document["id"] in listed.out
    assert "ana" in listed.out and "failed" in listed.out
    only_failed = json.loads(remote("execution", "list", "--status", "failed", "--json").out)
    assert [e["id"] for e in only_failed] == [document["id"]]

    got = remote("execution", "get", execution_id)
    assert (
        got.code == 0
        and got.out == cli("--home", instance_home, "execution", "get", execution_id).out
    )
    as_json = json.loads(remote("execution", "get", document["id"], "--json").out)
    assert as_json == document

    queued = remote("run", "core.noop", "--async")
    assert queued.code == 0 and queued.out.startswith("Queued execution ")

    missing = remote("run", "core.nothing")
    assert (
        missing.code == 2
        and 'Resource with a reference or id "core.nothing" not found' in missing.err
    )


def test_keys_set_get_list_delete_with_secrets_masked(remote: Cli) -> None:
    assert remote("key", "set", "region", "eu-west").code == 0
    made = remote("key", "set", "db_password", "hunter2", "--encrypt", "--json")
    assert made.code == 0, made.err
    assert json.loads(made.out)["value"] == "********"

    got = json.loads(remote("key", "get", "region", "--json").out)
    assert got == {
        "name": "region",
        "value": "eu-west",
        "secret": False,
        "encrypted": False,
        "scope": "st2kv.system",
    }
    masked = remote("key", "get", "db_password")
    assert "********" in masked.out and "hunter2" not in masked.out
    clear = json.loads(remote("key", "get", "db_password", "--decrypt", "--json").out)
    assert clear["value"] == "hunter2"

    table = remote("key", "list")
    assert "region" in table.out and "eu-west" in table.out and "hunter2" not in table.out
    mine = remote("key", "set", "theme", "dark", "--scope", "user", "--json")
    assert json.loads(mine.out)["user"] == "ana"

    deleted = remote("key", "delete", "region")
    assert deleted.code == 0 and 'id "region" has been successfully deleted' in deleted.out
    gone = remote("key", "get", "region")
    assert gone.code == 2 and "region" in gone.err and "not found" in gone.err


def test_inquiry_list_get_and_respond(remote: Cli) -> None:
    asked = remote("run", "core.ask", "route=ops", "--json")
    assert asked.code == 1, asked.err  # waiting for an answer: returned, not succeeded
    inquiry_id = json.loads(asked.out)["id"]
    assert json.loads(asked.out)["status"] == "pending"

    assert inquiry_id in remote("inquiry", "list").out
    assert "boolean" in remote("inquiry", "get", inquiry_id).out
    wrong = remote("inquiry", "respond", inquiry_id, "-r", '{"continue": 1}')
    assert wrong.code == 2 and "is not of type 'boolean'" in wrong.err

    answered = remote("inquiry", "respond", inquiry_id, "-r", '{"continue": true}')
    assert answered.code == 0, answered.err
    assert f"Response accepted for inquiry {inquiry_id}" in answered.out
    got = json.loads(remote("execution", "get", inquiry_id, "--json").out)
    assert got["status"] == "succeeded" and got["result"]["response"] == {"continue": True}


def _token() -> str:
    """The token ``packhorse login`` kept (for a request the CLI does not make)."""
    kept = Path(os.environ["XDG_CONFIG_HOME"]) / "packhorse" / "credentials.json"
    (entry,) = json.loads(kept.read_text())["servers"].values()
    return str(entry["token"])


def test_rules_enable_and_disable_and_trigger_instances(remote: Cli, server: str) -> None:
    ref = "examples.greet_from_webhook"
    assert remote("rule", "disable", ref).out.startswith(f"Rule {ref} disabled")
    assert json.loads(remote("rule", "get", ref, "--json").out)["enabled"] is False
    assert remote("rule", "enable", ref).code == 0
    assert json.loads(remote("rule", "show", ref, "--json").out)["enabled"] is True
    unknown = remote("rule", "enable", "examples.nope")
    assert unknown.code == 2 and "not found" in unknown.err

    token = _token()
    posted = httpx.post(
        f"{server}/api/v1/webhooks/greet", json={"name": "Ada"}, headers={"X-Auth-Token": token}
    )
    assert posted.status_code == 202, posted.text
    listed = json.loads(remote("trigger-instance", "list", "--json").out)
    assert [i["trigger_type"] for i in listed] == ["core.st2.webhook"]
    assert listed[0]["payload"]["body"] == {"name": "Ada"}
    table = remote("trigger-instance", "list", "--trigger-type", "core.st2.webhook")
    assert listed[0]["id"] in table.out
    again = remote("trigger-instance", "re-emit", listed[0]["id"])
    assert again.code == 0 and f"(a copy of {listed[0]['id']})" in again.out


def test_local_only_commands_refuse_and_say_what_to_do(server: str, cli: Cli) -> None:
    for args, hint in [
        (("init",), "on the machine that is to hold the instance"),
        (("user", "list"), "run 'packhorse user ...' on the server"),
        (("pack", "register", "--all"), "packs/ folder"),
        (("gc",), "without --url"),
        (("key", "rotate"), "without --url"),
    ]:
        refused = cli("--url", server, *args)
        assert refused.code == 2, (args, refused.out)
        assert "works on a local instance folder, not over the API" in refused.err, refused.err
        assert hint in refused.err, (args, refused.err)
    both = cli("--url", server, "--home", "/tmp", "action", "list")
    assert both.code == 2 and "not both" in both.err


def test_refused_and_expired_credentials_say_to_log_in(
    server: str, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    anonymous = cli("--url", server, "action", "list")
    assert anonymous.code == 2
    assert "Unauthorized" in anonymous.err and f"packhorse login --url {server}" in anonymous.err

    monkeypatch.setenv("PACKHORSE_TOKEN", "not-a-token")
    bogus = cli("--url", server, "execution", "list")
    assert bogus.code == 2 and "$PACKHORSE_TOKEN" in bogus.err
    assert f"packhorse login --url {server}" in bogus.err
    monkeypatch.delenv("PACKHORSE_TOKEN")

    assert login(cli, monkeypatch, server).code == 0
    kept = tmp_path / "config" / "packhorse" / "credentials.json"
    document = json.loads(kept.read_text())
    document["servers"][server]["expiry"] = "2020-01-01T00:00:00.000000Z"
    kept.write_text(json.dumps(document))
    expired = cli("--url", server, "action", "list")
    assert expired.code == 2 and "expired at 2020-01-01" in expired.err
    assert f"packhorse login --url {server}" in expired.err

    assert login(cli, monkeypatch, server).code == 0
    assert cli("--url", server, "action", "list").code == 0
    out = cli("logout", "--url", server)
    assert out.code == 0 and "Logged out" in out.out
    assert server not in json.loads(kept.read_text())["servers"]
    assert cli("--url", server, "action", "list").code == 2


def test_api_key_from_the_environment_and_a_viewer_refused(
    server: str, cli: Cli, instance_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = bootstrap.auth_service(load_settings(instance_home)).create_api_key("vera").key
    monkeypatch.setenv("PACKHORSE_API_KEY", key)
    monkeypatch.setenv("PACKHORSE_URL", server)
    assert "core.local" in cli("action", "list").out
    refused = cli("run", "core.noop")
    assert refused.code == 2
    assert 'User "vera" doesn\'t have required role "operator"' in refused.err


def test_unreachable_url_names_it_and_packhorse_up(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    url = f"http://127.0.0.1:{free_port()}"
    done = cli("--url", url, "execution", "list")
    assert done.code == 2
    assert f"cannot connect to {url}" in done.err and "'packhorse up' is running" in done.err
    bad = cli("--url", "ftp://example", "action", "list")
    assert bad.code == 2 and "http:// or https://" in bad.err


def test_local_commands_do_not_import_httpx(instance_home: Path) -> None:
    import subprocess

    code = (
        "import sys\n"
        "from packhorse.cli.main import main\n"
        "try:\n"
        f"    main(['--home', {str(instance_home)!r}, 'pack', 'list'])\n"
        "except SystemExit as done:\n"
        "    assert not done.code, done.code\n"
        "assert 'httpx' not in sys.modules, 'httpx imported'\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PACKHORSE_URL"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "core" in done.stdout


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own CA, and its key."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert, private = folder / "cert.pem", folder / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, private


def test_https_with_a_ca_file_for_a_self_signed_server(
    instance_home: Path, tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time

    import uvicorn

    settings = load_settings(instance_home)
    bootstrap.user_store(settings).add_user("ana", hash_password(PASSWORD), "admin", now=iso_now())
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("PACKHORSE_CA_FILE", raising=False)
    cert, key = _self_signed(tmp_path)
    port = free_port()
    config = uvicorn.Config(
        bootstrap.create_app(settings, workers=1),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.02)
    url = f"https://127.0.0.1:{port}"
    try:
        untrusted = login(cli, monkeypatch, url)
        assert untrusted.code == 2
        assert f"TLS with {url} failed" in untrusted.err and "--ca-file" in untrusted.err

        monkeypatch.setattr("sys.stdin", io.StringIO(f"{PASSWORD}\n"))
        trusted = cli("login", "--url", url, "--user", "ana", "--password-stdin", "--ca-file", cert)
        assert trusted.code == 0, trusted.err
        listed = cli("--url", url, "action", "list")  # the CA file kept at login
        assert listed.code == 0 and "core.local" in listed.out, listed.err
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def test_trigger_types_sensors_and_a_pack_print_as_local(
    remote: Cli, cli: Cli, instance_home: Path
) -> None:
    for args in (("trigger", "list"), ("sensor", "list"), ("rule", "list")):
        over_api = remote(*args)
        assert over_api.code == 0, over_api.err
        assert over_api.out == cli("--home", instance_home, *args).out, args
    shown = json.loads(remote("pack", "show", "examples", "--json").out)
    local = json.loads(cli("--home", instance_home, "pack", "show", "examples", "--json").out)
    served = ("action", "rule", "sensor", "trigger_type")
    assert shown["contents"] == {k: v for k, v in local["contents"].items() if k in served}
    assert "examples.greet" in shown["contents"]["action"]


def test_a_workflow_and_its_task_tree(remote: Cli, cli: Cli, instance_home: Path) -> None:
    ran = remote("run", "examples.greet_team", "--json")
    assert ran.code == 0, ran.out + ran.err
    workflow_id = json.loads(ran.out)["id"]
    shown = remote("execution", "get", workflow_id)
    assert shown.code == 0 and "tasks:" in shown.out
    assert shown.out == cli("--home", instance_home, "execution", "get", workflow_id).out


def test_tail_prints_the_output_until_the_end(remote: Cli) -> None:
    queued = json.loads(
        remote("run", "core.local", "cmd=echo one; echo two", "--async", "--json").out
    )
    tailed = remote("execution", "tail", queued["id"], "--timeout", "30")
    assert tailed.code == 0, tailed.err
    assert tailed.out.startswith("one\ntwo\n")
    assert f"Execution {queued['id']} has completed (status=succeeded)." in tailed.out


def test_cancel_a_running_command_then_again(remote: Cli) -> None:
    queued = json.loads(remote("run", "core.local", "cmd=sleep 30", "--async", "--json").out)
    canceled = remote("execution", "cancel", queued["id"])
    assert canceled.code == 0, canceled.err
    assert f"action execution with id {queued['id']}" in canceled.out
    ended = remote("execution", "tail", queued["id"], "--timeout", "30")
    assert "(status=canceled)" in ended.out, ended.out + ended.err
    again = remote("execution", "cancel", queued["id"])
    assert again.code == 2 and "already canceled" in again.err


def test_api_keys_made_over_the_api_sign_later_commands(
    remote: Cli, server: str, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = remote("apikey", "create", "--json")
    assert made.code == 0, made.err
    record = json.loads(made.out)
    assert record["user"] == "ana" and record["key"]
    listed = remote("apikey", "list")
    assert record["id"] in listed.out and record["key"] not in listed.out

    monkeypatch.setenv("PACKHORSE_API_KEY", record["key"])
    assert "core.local" in cli("--url", server, "action", "list").out
    deleted = remote("apikey", "delete", record["id"])
    assert deleted.code == 0 and f"Deleted API key {record['id']}." in deleted.out
    refused = cli("--url", server, "action", "list")
    assert refused.code == 2 and "refused the credentials from the API key" in refused.err
    monkeypatch.delenv("PACKHORSE_API_KEY")
    assert remote("apikey", "delete", record["id"]).code == 2


def test_re_run_with_an_override(remote: Cli) -> None:
    first = json.loads(remote("run", "core.local", "cmd=echo first", "--json").out)
    again = remote("execution", "re-run", first["id"], "cmd=echo second", "--json")
    assert again.code == 0, again.err
    document = json.loads(again.out)
    assert document["id"] != first["id"] and document["status"] == "succeeded"
    assert document["result"]["stdout"] == "second"
    paused = remote("execution", "pause", first["id"])
    assert paused.code == 2 and "completed" in paused.err
