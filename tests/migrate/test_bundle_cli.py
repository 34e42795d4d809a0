"""``packhorse bundle export`` and ``bundle inspect`` through the real entry point."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from packhorse.migrate import bundle_format as fmt
from tests.conftest import CliResult
from tests.migrate.conftest import SECRETS, Populated

Run = Callable[..., CliResult]
PASSPHRASE = "a long enough passphrase"


def test_export_then_inspect(cli: Run, populated: Populated, tmp_path: Path) -> None:
    home, bundle = populated.settings.home, tmp_path / "site.tgz"
    (tmp_path / "pass").write_text(PASSPHRASE + "\n")
    done = cli(
        "--home", home, "bundle", "export", "-o", bundle, "--passphrase-file", tmp_path / "pass"
    )
    assert done.code == 0, done.err
    assert done.out.startswith(f"Exported to {bundle} (")
    assert "packs 2, configs 1, keys 5 (2 secret), rules" in done.out
    assert "users 2, api keys 1, trigger instances 1." in done.out
    assert "Content checksum: " in done.out
    assert "bundle export: writing site.tgz" in done.err  # progress, on stderr
    for clear in [*SECRETS.values(), PASSPHRASE]:
        assert clear not in done.out + done.err

    inspected = cli(
        "--home", home, "bundle", "inspect", bundle, "--passphrase-file", tmp_path / "pass"
    )
    assert inspected.code == 0, inspected.out
    assert "every checksum matches; every secret opens." in inspected.out
    assert populated.settings.instance_id in inspected.out

    (tmp_path / "wrong").write_text("not the right passphrase\n")
    wrong = cli("bundle", "inspect", bundle, "--passphrase-file", tmp_path / "wrong", "--json")
    assert wrong.code == 1
    assert json.loads(wrong.out)["problems"] == ["wrong passphrase (the verifier does not open)"]


def test_export_json_with_the_passphrase_from_the_environment(
    cli: Run, populated: Populated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PACKHORSE_BUNDLE_PASSPHRASE", PASSPHRASE)
    bundle = tmp_path / "site.tgz"
    done = cli(
        "--home", populated.settings.home, "bundle", "export", "-o", bundle,
        "--json", "--reproducible", "--with-executions",
    )  # fmt: skip
    assert done.code == 0, done.err
    summary = json.loads(done.out)
    assert summary["counts"]["secret_keys"] == 2 and summary["counts"]["executions"] == 0
    assert summary["reproducible"] and summary["created_at"] == "1970-01-01T00:00:00Z"
    assert summary["size"] == bundle.stat().st_size
    assert done.err == ""  # --json: no progress lines


def test_export_refuses_secrets_without_a_passphrase(
    cli: Run, populated: Populated, tmp_path: Path
) -> None:
    bundle = tmp_path / "site.tgz"
    refused = cli("--home", populated.settings.home, "bundle", "export", "-o", bundle)
    assert refused.code == 2 and "passphrase is needed" in refused.err
    assert "--no-secrets" in refused.err and not bundle.exists()

    (tmp_path / "short").write_text("short\n")
    short = cli(
        "--home", populated.settings.home, "bundle", "export", "-o", bundle,
        "--passphrase-file", tmp_path / "short",
    )  # fmt: skip
    assert short.code == 2 and "shorter than 8" in short.err

    omitted = cli(
        "--home", populated.settings.home, "bundle", "export", "-o", bundle, "--no-secrets"
    )
    assert omitted.code == 0 and "(2 secret, left out)" in omitted.out


def _rewrite(bundle: Path, change: Callable[[str, bytes], bytes]) -> None:
    with tarfile.open(bundle) as archive:
        members = [
            (info, archive.extractfile(info).read())  # type: ignore[union-attr]
            for info in archive.getmembers()
        ]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for info, data in members:
            data = change(info.name, data)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    bundle.write_bytes(gzip.compress(buffer.getvalue()))


def test_inspect_finds_an_altered_member(cli: Run, populated: Populated, tmp_path: Path) -> None:
    bundle = tmp_path / "site.tgz"
    assert (
        cli(
            "--home", populated.settings.home, "bundle", "export", "-o", bundle, "--no-secrets"
        ).code
        == 0
    )
    _rewrite(
        bundle,
        lambda name, data: (
            data.replace(b"eu-west-1", b"us-east-1") if name == fmt.DATASTORE else data
        ),
    )
    inspected = cli("bundle", "inspect", bundle)
    assert inspected.code == 1
    assert "problem: datastore.json: checksum mismatch (damaged or altered)" in inspected.out

    not_a_bundle = tmp_path / "x.tgz"
    not_a_bundle.write_bytes(b"hello")
    refused = cli("bundle", "inspect", not_a_bundle)
    assert refused.code == 2 and "not a readable bundle archive" in refused.err


def test_export_asks_for_the_passphrase_twice_on_a_terminal(
    cli: Run, populated: Populated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[str, bool, object]] = []

    def prompt(text: str, *, hide_input: bool, confirmation_prompt: object) -> str:
        asked.append((text, hide_input, confirmation_prompt))
        return PASSPHRASE

    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("click.prompt", prompt)
    done = cli("--home", populated.settings.home, "bundle", "export", "-o", tmp_path / "b.tgz")
    assert done.code == 0, done.err
    assert asked == [("Bundle passphrase", True, True)]
    monkeypatch.setenv("PACKHORSE_BUNDLE_PASSPHRASE", PASSPHRASE)
    assert cli("bundle", "inspect", tmp_path / "b.tgz").code == 0


def test_a_missing_pack_folder_is_a_warning(cli: Run, populated: Populated, tmp_path: Path) -> None:
    import shutil

    shutil.rmtree(populated.settings.packs_dir / "demo_good")
    done = cli(
        "--home", populated.settings.home, "bundle", "export", "-o", tmp_path / "b.tgz",
        "--no-secrets", "--json",
    )  # fmt: skip
    assert done.code == 0
    summary = json.loads(done.out)
    assert summary["counts"]["packs"] == 1
    assert "pack demo_good: folder" in done.err and "is missing; not exported" in done.err


def test_bundle_commands_are_refused_over_the_api(cli: Run, tmp_path: Path) -> None:
    refused = cli("--url", "http://127.0.0.1:9", "bundle", "export", "-o", tmp_path / "b.tgz")
    assert refused.code == 2 and "not over the API" in refused.err
    assert not (tmp_path / "b.tgz").exists()


def test_secrets_sealed_for_a_target_instance(
    cli: Run, populated: Populated, tmp_path: Path, _instance_template: Path
) -> None:
    """The target prints its public recipient key; the source seals for it; only the target
    opens the secrets, with no passphrase shared."""
    import shutil

    target, other = tmp_path / "target", tmp_path / "other"
    shutil.copytree(_instance_template, target)
    shutil.copytree(_instance_template, other)
    printed = cli("--home", target, "bundle", "recipient-key")
    assert printed.code == 0 and printed.out.startswith("phr1:")
    assert "bundle-recipient.key" in printed.err
    key_file = target / "keys" / "bundle-recipient.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    again = cli("--home", target, "bundle", "recipient-key", "-o", tmp_path / "target.pub")
    assert (tmp_path / "target.pub").read_text() == printed.out and again.err.startswith("Wrote")

    bundle = tmp_path / "b.tgz"
    home = populated.settings.home
    done = cli(
        "--home", home, "bundle", "export", "-o", bundle, "--recipient", tmp_path / "target.pub",
        "--json",
    )  # fmt: skip
    assert done.code == 0, done.err
    assert json.loads(done.out)["secrets"] == "recipient"
    opened = cli("--home", target, "bundle", "inspect", bundle, "--json")
    assert opened.code == 0 and json.loads(opened.out)["secrets_ok"] is True
    cli("--home", other, "bundle", "recipient-key")
    refused = cli("--home", other, "bundle", "inspect", bundle, "--json")
    assert refused.code == 1
    assert "not this instance's" in json.loads(refused.out)["problems"][0]
    unchecked = cli("--home", tmp_path / "nowhere", "bundle", "inspect", bundle, "--json")
    assert unchecked.code == 0 and json.loads(unchecked.out)["secrets_ok"] is None

    # Reproducible sealing for a recipient: byte-identical too.
    for name in ("r1.tgz", "r2.tgz"):
        assert cli(
            "--home", home, "bundle", "export", "-o", tmp_path / name, "--reproducible",
            "--recipient", printed.out.strip(),
        ).code == 0  # fmt: skip
    assert (tmp_path / "r1.tgz").read_bytes() == (tmp_path / "r2.tgz").read_bytes()
    assert cli("--home", target, "bundle", "inspect", tmp_path / "r1.tgz").code == 0

    bad = cli("--home", home, "bundle", "export", "-o", bundle, "--recipient", "phr1:abc")
    assert bad.code == 2 and "not a recipient key" in bad.err


def test_exported_secrets_are_masked_in_the_logs(
    cli: Run, populated: Populated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from packhorse import bootstrap

    monkeypatch.setenv("PACKHORSE_BUNDLE_PASSPHRASE", PASSPHRASE)
    done = cli("--home", populated.settings.home, "bundle", "export", "-o", tmp_path / "b.tgz")
    assert done.code == 0
    redactor = bootstrap.redactor()
    for clear in SECRETS.values():
        assert clear not in redactor.redact_text(f"oops: {clear}")


def test_an_unreadable_pack_file_fails_the_export_cleanly(
    cli: Run, populated: Populated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests run as root, which reads any file whatever its mode: make one read fail instead.
    unreadable = populated.settings.packs_dir / "demo_good" / "pack.yaml"
    open_ = Path.open

    def refuse(path: Path, *args: Any, **kwargs: Any) -> Any:
        if path == unreadable:  # pack files are read by chunks through Path.open
            raise PermissionError(13, "Permission denied")
        return open_(path, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    done = cli(
        "--home", populated.settings.home, "bundle", "export", "-o", tmp_path / "b.tgz",
        "--no-secrets",
    )  # fmt: skip
    assert done.code == 2 and "pack.yaml: cannot read: Permission denied" in done.err
    assert not (tmp_path / "b.tgz").exists()
    assert not list(tmp_path.glob(".b.tgz*"))
