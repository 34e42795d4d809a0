"""Write ``tests/golden/format-0.tgz``: a bundle of format 0, the pre-release format that
format 1 replaced (made up for the purpose; ``docs/bundle-format.md`` describes it). It holds
the ``demo_good`` fixture pack, its config, plain and secret datastore keys in both scopes
(secrets sealed under :data:`GOLDEN_PASSPHRASE` as format 0 sealed them) and the pack's rule
states in the manifest's pack listing. Every input is fixed (salt, nonces derived), so the
bytes repeat: ``python -m tests.migrate.make_golden_format0``, then commit the file."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

GOLDEN_0 = Path(__file__).parents[1] / "golden" / "format-0.tgz"
PACK = Path(__file__).parents[1] / "fixtures" / "packs" / "demo_good"
CONFIG = b"---\napi_url: https://example.org\napi_token: '{{ st2kv.system.db_password }}'\n"
RULES = {"demo_good.on_line": False, "demo_good.on_webhook": True}
PLAIN_KEYS = [("system", "region", "eu-west-1"), ("user:alice", "theme", "dark")]
SECRET_KEYS = [("system", "db_password", "db_password"), ("user:alice", "token", "alice_token")]
"""Scope, name and the key of its clear value in ``tests.migrate.conftest.SECRETS``."""
INSTANCE_ID = "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0"
CREATED_AT = "2026-01-01T00:00:00Z"


def main() -> None:
    from packhorse.crypto import _base64, transport
    from packhorse.migrate import bundle_format as fmt
    from packhorse.migrate.archive import write_archive
    from packhorse.migrate.bundle_versions import format_0_checksum
    from packhorse.migrate.export import pack_members
    from tests.migrate.conftest import SECRETS
    from tests.migrate.make_golden import GOLDEN_PASSPHRASE

    salt = hashlib.sha256(b"packhorse golden bundle, format 0").digest()[:16]
    scrypt = transport.ScryptParameters(n=2**10)
    key = transport.derive_key(GOLDEN_PASSPHRASE, salt, scrypt)

    def sealed(scope: str, name: str, clear: str) -> str:
        # The identity format 0 bound a value to is format 1's, scope and user apart.
        kind, _, user = scope.partition(":")
        identity = fmt.item_identity(kind, user, name)
        nonce = transport.derived_nonce(key, identity)
        return transport.seal(key, clear, associated=identity, nonce=nonce)

    items: list[dict[str, Any]] = [
        {"scope": scope, "name": name, "value": value} for scope, name, value in PLAIN_KEYS
    ]
    items += [
        {"scope": scope, "name": name, "secret": True, "value": sealed(scope, name, SECRETS[k])}
        for scope, name, k in SECRET_KEYS
    ]
    members = [
        *pack_members("demo_good", PACK),
        fmt.Member(f"{fmt.CONFIGS_DIR}/demo_good.yaml", CONFIG),
        fmt.Member(fmt.DATASTORE, fmt.canonical_json(items)),
    ]
    manifest = {
        "format": 0,
        "packhorse_version": "0.0.1",
        "instance_id": INSTANCE_ID,
        "created_at": CREATED_AT,
        "packs": [{"ref": "demo_good", "version": "1.2.3", "rules": RULES}],
        "checksum": format_0_checksum({m.path: m.data for m in members}),
        "secrets": {
            "scrypt": {"n": scrypt.n, "r": scrypt.r, "p": scrypt.p, "salt": _base64.encode(salt)},
            "verifier": transport.make_verifier(
                key, nonce=transport.derived_nonce(key, b"verifier")
            ),
        },
    }
    with GOLDEN_0.open("wb") as target:
        write_archive(fmt.canonical_json(manifest), members, target)
    sys.stdout.write(f"wrote {GOLDEN_0}\n")


if __name__ == "__main__":
    main()
