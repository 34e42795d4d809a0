"""Write ``tests/golden/format-1.tgz``: a reproducible bundle of the test instance
(see ``conftest.populate``), secrets sealed under :data:`GOLDEN_PASSPHRASE` with cheap scrypt
parameters. Run once per format version, then commit it: ``python -m tests.migrate.make_golden``.
The golden bundles are what future imports must keep reading."""

from __future__ import annotations

import secrets
import sys
import tempfile
from pathlib import Path

GOLDEN = Path(__file__).parents[1] / "golden" / "format-1.tgz"
GOLDEN_PASSPHRASE = "golden bundle passphrase"


def main() -> None:
    from packhorse.crypto import transport
    from packhorse.engine.clock import utc_now
    from packhorse.engine.instance import init_instance
    from packhorse.engine.keyring import Keyring
    from packhorse.migrate.export import ExportOptions, export_bundle
    from tests.migrate.conftest import populate

    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        init_instance(home)
        populated = populate(home)
        settings = populated.settings
        export_bundle(
            settings,
            GOLDEN,
            ExportOptions(
                passphrase=GOLDEN_PASSPHRASE,
                reproducible=True,
                with_executions=True,
                scrypt=transport.ScryptParameters(n=2**10),
            ),
            instance_keys=Keyring(settings.keys_dir).keys().readers,
            now=utc_now(),
            random_bytes=secrets.token_bytes,
            python_version="3.11.0",
        )
    sys.stdout.write(f"wrote {GOLDEN}\n")


if __name__ == "__main__":
    main()
