"""``bundle export`` of a busy instance: 1,000 datastore keys (200 secret), 20,000 trigger
instances with an enforcement each, the starter packs; secrets sealed with the default scrypt
cost (2**15). Floors, measured in the same run: the SQLite online backup of the same database
(the snapshot every export starts with) and one scrypt derivation.

Target: a few seconds, dominated by the work a bundle must do (snapshot, JSON, gzip).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import median_seconds, print_table

REPEATS = 5
KEYS = 1_000
EVENTS = 20_000


def main() -> None:
    import sqlalchemy as sa

    from packhorse import bootstrap
    from packhorse.crypto import transport
    from packhorse.engine.clock import utc_now
    from packhorse.engine.instance import init_instance
    from packhorse.engine.keyring import Keyring
    from packhorse.migrate.export import ExportOptions, export_bundle
    from packhorse.model.datastore import KeyValue
    from packhorse.storage import schema
    from packhorse.storage.datastore import SqlDatastore

    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        settings = init_instance(home).settings
        datastore = bootstrap.datastore_service(settings)
        SqlDatastore(bootstrap.database_engine(settings)).put_many(
            KeyValue(
                name=f"key.{i:05}",
                value=datastore.encrypt(f"value {i}") if i % 5 == 0 else f"value {i}",
                secret=i % 5 == 0,
                updated_at="2026-01-01T00:00:00.000000Z",
            )
            for i in range(KEYS)
        )
        now = utc_now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        instances = [
            {
                "id": f"ti{i:08}",
                "trigger": "core.st2.webhook",
                "trigger_type": "core.st2.webhook",
                "payload": json.dumps({"headers": {"x": "y"}, "body": {"n": i, "t": "x" * 200}}),
                "occurrence_time": now,
                "status": "processed",
                "source": "webhook",
                "trace_tag": None,
                "created_at": now,
            }
            for i in range(EVENTS)
        ]
        enforcements = [
            {
                "id": f"en{i:08}",
                "rule": "examples.on_webhook",
                "trigger_instance_id": f"ti{i:08}",
                "execution_id": f"ex{i:08}",
                "failure_reason": None,
                "enforced_at": now,
            }
            for i in range(EVENTS)
        ]
        engine = bootstrap.database_engine(settings)
        with engine.begin() as connection:
            connection.execute(sa.insert(schema.trigger_instances), instances)
            connection.execute(sa.insert(schema.rule_enforcements), enforcements)
        engine.dispose()
        keys = Keyring(settings.keys_dir).keys().readers
        output = Path(scratch) / "bundle.tgz"

        def export() -> None:
            export_bundle(
                settings,
                output,
                ExportOptions(passphrase="benchmark passphrase"),
                instance_keys=keys,
                now=utc_now(),
                random_bytes=secrets.token_bytes,
                python_version="3",
            )

        def backup() -> None:
            copy = Path(scratch) / "copy.db"
            copy.unlink(missing_ok=True)
            source = sqlite3.connect(f"file:{settings.state_db}?mode=ro", uri=True)
            target = sqlite3.connect(copy)
            source.backup(target)
            target.close()
            source.close()

        def kdf() -> None:
            transport.derive_key("p" * 20, b"s" * 16, transport.ScryptParameters())

        if "--profile" in sys.argv:
            import cProfile

            cProfile.runctx("export()", globals(), locals(), sort="cumulative")
            return
        exported = median_seconds(export, REPEATS)
        snapshot = median_seconds(backup, REPEATS)
        derive = median_seconds(kdf, REPEATS)
        size = output.stat().st_size
    print_table(
        f"bundle export ({KEYS} keys, {EVENTS} trigger instances; {size // 1024} KiB), "
        f"median of {REPEATS}",
        [
            ("bundle export", exported, snapshot + derive, "a few seconds"),
            ("floor: SQLite online backup", snapshot, None, ""),
            ("floor: one scrypt derivation (n=2**15)", derive, None, ""),
        ],
    )


if __name__ == "__main__":
    main()
