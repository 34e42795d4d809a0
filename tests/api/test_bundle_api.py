"""``/api/v1/packhorse/bundle/export`` and ``/import`` over real HTTP, two instances served on
loopback, driven by ``packhorse bundle export --from URL`` and ``bundle import --to URL``:
the bundle travels sealed for the target's recipient key and arrives whole, a second import
changes nothing, and passphrases, other roles and damaged bundles are refused with nothing
changed."""

from __future__ import annotations

import gzip
import io
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.api.credentials import headers_for
from tests.api.serving import serving
from tests.conftest import CliResult
from tests.migrate.conftest import SECRETS, Populated, populate
from tests.migrate.test_import import state
from tests.packs.test_content_lock import held_elsewhere

from packhorse import bootstrap
from packhorse.api.v1 import bundles
from packhorse.engine.instance import init_instance
from packhorse.model.content import Kind
from packhorse.model.datastore import Scope
from packhorse.settings import Settings, load_settings

Run = Callable[..., CliResult]
EXPORT, IMPORT = "/api/v1/packhorse/bundle/export", "/api/v1/packhorse/bundle/import"


@dataclass
class Served:
    settings: Settings
    url: str
    headers: dict[str, str]

    def post(self, path: str, **kwargs: object) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        return httpx.post(f"{self.url}{path}", headers=headers, timeout=300, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def source(instance_home: Path) -> Iterator[tuple[Served, Populated]]:
    populated = populate(instance_home)
    settings = populated.settings
    with serving(bootstrap.create_app(settings, workers=1)) as url:
        yield Served(settings, url, headers_for(settings)), populated


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Served]:
    """A freshly initialised instance (its own datastore and recipient keys), served."""
    init_instance(tmp_path / "target")
    settings = load_settings(tmp_path / "target")
    with serving(bootstrap.create_app(settings, workers=1)) as url:
        yield Served(settings, url, headers_for(settings))


def _members(bundle: bytes) -> bytes:
    """Every member's bytes of a bundle, one after the other."""
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(bundle))) as archive:
        return b"".join(
            archive.extractfile(m).read()  # type: ignore[union-attr]
            for m in archive.getmembers()
            if m.isreg()
        )


def _scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary folder of this process (the servers run in it), empty, to see what the
    routes leave behind."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch


def _as_admin(monkeypatch: pytest.MonkeyPatch, served: Served) -> None:
    monkeypatch.setenv("PACKHORSE_TOKEN", served.headers["X-Auth-Token"])


def test_export_sealed_for_the_target_and_import_over_the_api(
    cli: Run,
    source: tuple[Served, Populated],
    target: Served,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old, populated = source
    scratch = _scratch(tmp_path, monkeypatch)
    recipient = httpx.get(
        f"{target.url}/api/v1/packhorse/recipient-key", headers=target.headers
    ).json()["recipient"]
    bundle = tmp_path / "site.tgz"

    _as_admin(monkeypatch, old)
    done = cli("bundle", "export", "--from", old.url, "-o", bundle, "--recipient", recipient)
    assert done.code == 0, done.err
    assert bundle.stat().st_mode & 0o777 == 0o600
    data = bundle.read_bytes()
    for clear in SECRETS.values():
        assert clear.encode() not in data + _members(data)
        assert clear not in done.out + done.err
    # The raw answer: a gzip file with its name; the server's temporary files are gone.
    raw = old.post(EXPORT, json={"recipient": recipient, "events_days": 7})
    assert raw.status_code == 200, raw.text
    assert list(scratch.iterdir()) == []
    assert raw.headers["content-type"] == "application/gzip"
    assert "attachment; filename=" in raw.headers["content-disposition"]
    for clear in SECRETS.values():
        assert clear.encode() not in _members(raw.content)

    _as_admin(monkeypatch, target)
    dry = cli("bundle", "import", bundle, "--to", target.url, "--dry-run")
    assert dry.code == 0, dry.err
    assert "add       pack demo_good (1.2.3)" in dry.out and "Dry run" in dry.out
    bootstrap._cached_registry.cache_clear()
    done = cli("bundle", "import", bundle, "--to", target.url)
    assert done.code == 0, done.err
    assert "add       pack demo_good (1.2.3)" in done.out
    assert f"into {target.url}" in done.out
    for clear in SECRETS.values():
        assert clear not in done.out + done.err

    settings = target.settings
    registry = bootstrap.content_registry(settings)
    assert "demo_good" in {p.ref for p in registry.list_packs()}
    rule = registry.get_resource(Kind.RULE, "demo_good.on_line")
    assert rule is not None and not rule.enabled
    datastore = bootstrap.datastore_service(settings)
    assert datastore.get_value("db_password", decrypt=True).value == SECRETS["db_password"]
    token = datastore.get_value("token", scope=Scope.USER, user="alice", decrypt=True)
    assert token.value == SECRETS["alice_token"]
    assert settings.key_file.read_bytes() != populated.settings.key_file.read_bytes()

    # The same bundle again: nothing to do, nothing changed.
    before = state(settings.home)
    again = target.post(IMPORT, content=data, headers={"Content-Type": "application/gzip"})
    assert again.status_code == 200, again.text
    report = again.json()
    assert report["applied"] is False and report["plan"]["writes"] is False
    assert state(settings.home) == before
    quiet = cli("bundle", "import", bundle, "--to", target.url, "--json")
    assert quiet.code == 0, quiet.err
    assert '"applied": false' in quiet.out
    assert list(scratch.iterdir()) == []


def test_passphrases_never_travel(
    cli: Run,
    source: tuple[Served, Populated],
    target: Served,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old, populated = source
    passfile = tmp_path / "pass"
    passfile.write_text("a long enough passphrase\n")
    bundle = tmp_path / "site.tgz"
    done = cli(
        "--home", populated.settings.home, "bundle", "export", "-o", bundle,
        "--passphrase-file", passfile,
    )  # fmt: skip
    assert done.code == 0, done.err
    before = state(target.settings.home)
    refused = target.post(IMPORT, content=bundle.read_bytes())
    assert refused.status_code == 400
    assert "GET /api/v1/packhorse/recipient-key" in refused.json()["faultstring"]
    _as_admin(monkeypatch, target)
    cli_refused = cli("bundle", "import", bundle, "--to", target.url)
    assert cli_refused.code != 0 and "recipient-key" in cli_refused.err
    assert cli("bundle", "import", bundle, "--to", target.url, "--passphrase-file", passfile).code
    assert state(target.settings.home) == before

    for body in ({"passphrase": "secret"}, {}, {"recipient": "phr1:abc"}):
        answer = old.post(EXPORT, json=body)
        assert answer.status_code == 400, body
    assert "never accepted" in old.post(EXPORT, json={"passphrase": "x"}).json()["faultstring"]
    _as_admin(monkeypatch, old)
    out = tmp_path / "out.tgz"
    with_file = cli("bundle", "export", "--from", old.url, "-o", out, "--passphrase-file", passfile)
    assert with_file.code == 2 and "--recipient" in with_file.err
    bare = cli("bundle", "export", "--from", old.url, "-o", out)
    assert bare.code == 2 and "--recipient" in bare.err
    assert not out.exists()


def test_only_an_admin_exports_or_imports(source: tuple[Served, Populated]) -> None:
    old, _ = source
    for role in ("viewer", "operator"):
        headers = headers_for(old.settings, f"a-{role}", role)
        assert old.post(EXPORT, json={"no_secrets": True}, headers=headers).status_code == 403
        assert old.post(IMPORT, content=b"x", headers=headers).status_code == 403
    assert httpx.post(f"{old.url}{EXPORT}", json={"no_secrets": True}).status_code == 401


def test_a_damaged_or_oversized_bundle_changes_nothing(
    source: tuple[Served, Populated], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    old, _ = source
    scratch = _scratch(tmp_path, monkeypatch)
    exported = old.post(EXPORT, json={"no_secrets": True})
    assert exported.status_code == 200, exported.text
    # Re-packed with one member's byte changed: the checksums no longer match.
    damaged = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(gzip.decompress(exported.content))) as archive,
        tarfile.open(fileobj=damaged, mode="w:gz") as out,
    ):
        for member in archive.getmembers():
            content = archive.extractfile(member).read()  # type: ignore[union-attr]
            if member.name.startswith("packs/") and member.name.endswith(".yaml"):
                content += b"\n# altered\n"
                member.size = len(content)
            out.addfile(member, io.BytesIO(content))
    before = state(old.settings.home)
    for body in (damaged.getvalue(), exported.content[:1000], b"not a bundle at all"):
        answer = old.post(IMPORT, content=body)
        assert 400 <= answer.status_code < 500, answer.text
        assert "faultstring" in answer.json()
    assert "does not verify" in old.post(IMPORT, content=damaged.getvalue()).json()["faultstring"]
    monkeypatch.setattr(bundles, "MAX_IMPORT_BYTES", 100)
    assert old.post(IMPORT, content=exported.content).status_code == 413
    assert state(old.settings.home) == before
    assert list(scratch.iterdir()) == []  # removed on every refusal too


def test_an_import_while_another_process_changes_the_instance_is_a_409(
    source: tuple[Served, Populated], target: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, _ = source
    exported = old.post(EXPORT, json={"no_secrets": True})
    assert exported.status_code == 200, exported.text
    before = state(target.settings.home)
    with held_elsewhere(target.settings.home):
        busy = target.post(IMPORT, content=exported.content)
    assert busy.status_code == 409, busy.text
    assert "cannot run at the same time" in busy.json()["faultstring"]
    assert state(target.settings.home) == before
