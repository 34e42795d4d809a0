"""``bundle export`` then ``bundle import`` of 100 generated packs without Python requirements
(10 actions and 5 rules each) into a fresh instance: the acceptance of issue 9 ("export plus
import of 100 packs without Python requirements takes under 10 s").

Timed: the export (secrets sealed with the default scrypt cost) and the import (verify, plan,
stage, validate, install through the pack installer with its virtualenvs, one database
transaction). Not timed: creating the two instances. Floor, measured in the same run:
registering the same 100 packs into a fresh instance (``pack register``), which the import
must do too. Packs of identical requirements share one virtualenv, so the 100 packs build
one. ``--no-venvs`` leaves the virtualenvs out; ``--repeats=N`` (default 3).
"""

from __future__ import annotations

import dataclasses
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import print_table
from packgen import generate

PACKS, ACTIONS, RULES = 100, 10, 5
REPEATS = int(next((a.split("=")[1] for a in sys.argv if a.startswith("--repeats=")), "3"))
PASSPHRASE = "benchmark passphrase"


def main() -> None:
    from packhorse import bootstrap
    from packhorse.engine.clock import utc_now
    from packhorse.engine.instance import init_instance
    from packhorse.engine.keyring import Keyring
    from packhorse.migrate import importing
    from packhorse.migrate.export import ExportOptions, export_bundle
    from packhorse.migrate.import_plan import Action, Kind
    from packhorse.migrate.importing import ImportOptions, import_bundle
    from packhorse.settings import load_settings

    venvs = "--no-venvs" not in sys.argv
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        source = init_instance(root / "source").settings
        generate(source.packs_dir, PACKS, ACTIONS, RULES)
        assert bootstrap.register_instance_packs(source, all_packs=True).ok
        bootstrap.datastore_service(source).set_value("token", "s3cret-value", secret=True)

        exports, imports, floors = [], [], []
        for run in range(REPEATS):
            bundle = root / f"site-{run}.tgz"
            started = time.perf_counter()
            export_bundle(
                source,
                bundle,
                ExportOptions(passphrase=PASSPHRASE),
                instance_keys=Keyring(source.keys_dir).keys().readers,
                now=utc_now(),
                random_bytes=secrets.token_bytes,
                python_version="3",
            )
            exports.append(time.perf_counter() - started)

            target = init_instance(root / f"target-{run}").settings
            instance = importing.wire(target)
            if not venvs:
                environment = bootstrap.pack_install_environment(target, venvs=False)
                instance = dataclasses.replace(instance, install_environment=environment)
            started = time.perf_counter()
            report = import_bundle(
                instance,
                bundle,
                ImportOptions(passphrase=PASSPHRASE),
                instance_keys=Keyring(target.keys_dir).keys().readers,
                recipient_private=None,
            )
            imports.append(time.perf_counter() - started)
            assert report.applied and len(report.plan.names(Kind.PACK, Action.ADD)) == PACKS

            floor_home = init_instance(root / f"floor-{run}").settings
            for folder in sorted(source.packs_dir.glob("bench_*")):
                shutil.copytree(folder, floor_home.packs_dir / folder.name)
            started = time.perf_counter()
            registered = bootstrap.register_instance_packs(
                load_settings(floor_home.home), all_packs=True
            )
            assert registered.ok
            floors.append(time.perf_counter() - started)
            for folder in (target.home, floor_home.home):
                shutil.rmtree(folder)

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    total = median([e + i for e, i in zip(exports, imports, strict=True)])
    print_table(
        f"bundle export + import of {PACKS} packs ({ACTIONS} actions, {RULES} rules each; "
        f"virtualenvs {'built' if venvs else 'left out'}), median of {REPEATS}",
        [
            ("export + import", total, median(floors), "< 10 s"),
            ("  export", median(exports), None, ""),
            ("  import", median(imports), None, ""),
            ("floor: pack register of the same packs", median(floors), None, ""),
        ],
    )


if __name__ == "__main__":
    main()
