"""Every bundle format the project has had stays readable: the committed golden bundles
parse, verify, their sealed secrets open, and each imports into a fresh instance."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from packhorse import bootstrap
from packhorse.crypto import _base64, transport
from packhorse.engine.instance import init_instance
from packhorse.migrate import bundle_format as fmt
from packhorse.migrate.archive import read_archive
from packhorse.settings import load_settings
from tests.conftest import CliResult
from tests.migrate.conftest import SECRETS
from tests.migrate.make_golden import GOLDEN, GOLDEN_PASSPHRASE


def test_format_1_golden_bundle_reads_and_verifies() -> None:
    data, members = read_archive(GOLDEN)
    manifest = fmt.parse_manifest(data)
    assert manifest.format == 1 and manifest.reproducible
    assert fmt.verify_members(manifest, members) == []
    assert fmt.manifest_bytes(manifest) == data  # canonical: read and written alike
    kdf = manifest.secrets.kdf
    assert kdf is not None and manifest.secrets.verifier is not None
    key = transport.derive_key(
        GOLDEN_PASSPHRASE, _base64.decode(kdf.salt), transport.ScryptParameters(kdf.n, kdf.r, kdf.p)
    )
    assert transport.check_verifier(key, manifest.secrets.verifier)
    items = {
        (i["scope"], i["user"], i["name"]): i for i in json.loads(members[fmt.DATASTORE])["items"]
    }
    for (scope, user, name), clear in [
        (("system", "", "db_password"), SECRETS["db_password"]),
        (("user", "alice", "token"), SECRETS["alice_token"]),
    ]:
        identity = fmt.item_identity(scope, user, name)
        assert (
            transport.unseal(key, items[(scope, user, name)]["value"], associated=identity) == clear
        )
    assert "packs/demo_good/pack.yaml" in members and fmt.EXECUTIONS in members


GOLDEN_BUNDLES = sorted(GOLDEN.parent.glob("format-*.tgz"))


@pytest.mark.parametrize("bundle", GOLDEN_BUNDLES, ids=[p.name for p in GOLDEN_BUNDLES])
def test_every_golden_bundle_imports_into_a_fresh_instance(
    bundle: Path, tmp_path: Path, cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "fresh"
    init_instance(home)
    monkeypatch.setenv("PACKHORSE_BUNDLE_PASSPHRASE", GOLDEN_PASSPHRASE)
    bootstrap._cached_registry.cache_clear()
    done = cli("--home", home, "bundle", "import", bundle, "--json")
    assert done.code == 0, done.err
    assert json.loads(done.out)["applied"]
    settings = load_settings(home)
    assert "demo_good" in {p.ref for p in bootstrap.content_registry(settings).list_packs()}
    datastore = bootstrap.datastore_service(settings)
    assert datastore.get_value("db_password", decrypt=True).value == SECRETS["db_password"]
    bootstrap._cached_registry.cache_clear()
    again = cli("--home", home, "bundle", "import", bundle, "--json")
    assert again.code == 0 and not json.loads(again.out)["plan"]["writes"]
