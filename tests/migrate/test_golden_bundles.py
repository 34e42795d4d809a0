"""Every bundle format the project has had stays readable: the committed golden bundles
parse, verify, and their sealed secrets open (the import half will load them too)."""

from __future__ import annotations

import json

from packhorse.crypto import _base64, transport
from packhorse.migrate import bundle_format as fmt
from packhorse.migrate.archive import read_archive
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
