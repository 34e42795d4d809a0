"""``upgrade verify`` wired to instance folders of this machine: their recorded events, their
shadow evaluator and the candidate's pack tests. Used by the command (for folders) and by the
``verify`` step of ``upgrade run``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from packhorse.migrate.verify import EventSource, Shadow
    from packhorse.migrate.verify_diff import Expectation, PackTest, VerifyReport
    from packhorse.settings import Settings

Say = Callable[[str], None]


def local_events(settings: Settings) -> EventSource:
    """The trigger instances and enforcements the instance recorded."""
    from packhorse import bootstrap
    from packhorse.storage.events import SqlEventStore

    return SqlEventStore(bootstrap.database_engine(settings))


def local_shadow(settings: Settings) -> Shadow:
    """The instance's rules, datastore and configs, evaluated without side effects."""
    from packhorse.engine.shadow import shadow_evaluator

    return shadow_evaluator(settings)


def local_pack_tests(settings: Settings, say: Say) -> list[PackTest]:
    """Every registered pack's tests, each in its test virtualenv."""
    from packhorse import bootstrap
    from packhorse.migrate.verify import run_pack_tests
    from packhorse.packs.testing import run_pack_tests as run_tests
    from packhorse.packs.testing import tests_venv

    builder = bootstrap.venv_builder(settings)

    def run(ref: str, folder: Path) -> tuple[bool, str]:
        say(f"pack tests: {ref}...")
        venv = tests_venv(builder, ref, folder)
        done = run_tests(Path(venv.path), folder, ["-q"], capture=True)
        return done.returncode == 0, done.stdout + done.stderr

    packs = [
        (pack.ref, settings.home / pack.path)
        for pack in bootstrap.registry_reader(settings).list_packs()
    ]
    return run_pack_tests(packs, run)


def verify_folders(
    baseline: Settings,
    candidate: Settings,
    *,
    since: str | None,
    limit: int,
    pack_tests: bool,
    expectations: Sequence[Expectation] = (),
    say: Say = lambda _line: None,
) -> VerifyReport:
    """``upgrade verify`` of two instance folders."""
    from packhorse.migrate.verify import recorded_traffic, verify

    traffic = recorded_traffic(local_events(baseline), since=since, limit=limit)
    return verify(
        traffic,
        local_shadow(baseline),
        local_shadow(candidate),
        names=(str(baseline.home), str(candidate.home)),
        pack_tests=local_pack_tests(candidate, say) if pack_tests else [],
        pack_tests_skipped=None if pack_tests else "pack_tests: false in the plan",
        expectations=list(expectations),
    )
