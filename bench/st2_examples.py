"""StackStorm's example workflows on Packhorse: do they end as StackStorm ends them?

    .venv/bin/python bench/st2_examples.py /path/to/st2/contrib/examples [--only NAME]... [--keep]

Creates a scratch instance, copies the given ``contrib/examples`` pack into it (in place of our
bundled ``examples`` pack), registers it and runs, on an in-process engine (the worker and the
workflow shell, as ``packhorse up`` runs them), every Orquesta workflow of the pack that needs
no network and no Windows, with the inquiries, pauses, cancellations and reruns StackStorm's
integration tests (``st2tests/integration/orquesta/test_wiring*.py``) put them through. Each
case compares what Packhorse gives with what those tests expect: the final status, the result
(``output`` and ``errors``) and, where the tests look at them, the states passed through and the
task executions. The expectations are written as data in ``st2_examples_outcomes.py`` (runs to
the end) and ``st2_examples_scenarios.py`` (inquiries, pause, cancel, re-run); a few workflows
the tests never run have expectations read from their definitions (marked ``derived``).

Prints a table ``workflow | expected | got | ok``, the workflows skipped and why, and a last
line ``N of M match``. Exits 1 when any case does not match. A tool, not part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from st2_examples_lab import Case, Lab, Mismatch
from st2_examples_outcomes import basic_cases, datastore_cases, functions_cases
from st2_examples_scenarios import INTERACTIVE

from packhorse import bootstrap
from packhorse.engine.instance import init_instance
from packhorse.engine.runtime import build_runtime
from packhorse.settings import load_settings


def all_cases() -> list[Case]:
    return [*basic_cases(), *functions_cases(), *datastore_cases(), *INTERACTIVE]


SKIPPED = {
    "orquesta-streaming-demo": "network: tasks 8 and 10 run remote-shell actions over SSH",
    "render_config_context": "needs a pack we lack: fixtures (fixtures.render_config_context)",
}
"""Orquesta workflows of the pack that are not run, and why."""


# -- running ------------------------------------------------------------------------------------


@dataclass
class Row:
    case: Case
    got: str
    ok: bool
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def orquesta_workflows(pack: Path) -> list[str]:
    """Names of the pack's Orquesta actions."""
    names = []
    for meta in sorted((pack / "actions").glob("*.yaml")):
        text = meta.read_text(encoding="utf-8")
        if re.search(r"^runner_type:\s*[\"']?orquesta", text, re.MULTILINE):
            match = re.search(r"^name:\s*[\"']?([\w.-]+)", text, re.MULTILINE)
            if match:
                names.append(match.group(1))
    return names


def prepare(examples: Path, home: Path) -> None:
    init_instance(home)
    target = home / "packs" / "examples"
    shutil.rmtree(target, ignore_errors=True)  # our bundled examples pack, in this instance only
    shutil.copytree(examples, target)
    settings = load_settings(home)
    outcome = bootstrap.register_instance_packs(settings, refs=["examples"])
    if not outcome.ok:
        problems = [d.format() for d in outcome.diagnostics if d.is_error]
        raise SystemExit("registering the examples pack failed:\n" + "\n".join(problems))


async def run_cases(home: Path, cases: Iterable[Case]) -> list[Row]:
    runtime = build_runtime(load_settings(home), slots=6)
    lab = Lab(runtime, home / "scratch")
    lab.scratch.mkdir()
    stop = asyncio.Event()
    loops = [
        asyncio.create_task(runtime.worker.run(stop)),
        asyncio.create_task(runtime.workflows.run(stop, poll_seconds=0.05)),
    ]
    rows = []
    try:
        for case in cases:
            started = time.monotonic()
            try:
                got, ok = await case.run(lab), True
            except Mismatch as mismatch:
                got, ok = str(mismatch), False
            except Exception as error:  # noqa: BLE001 - a crash is a result to report
                got, ok = f"error: {type(error).__name__}: {error}", False
            rows.append(Row(case, got, ok, time.monotonic() - started))
            print(
                f"  {'ok  ' if ok else 'DIFF'} {case.label} ({rows[-1].seconds:.1f} s)", flush=True
            )
    finally:
        stop.set()
        await asyncio.gather(*loops, return_exceptions=True)
        await runtime.aclose()
    return rows


def _clip(text: str, mark: str = "", width: int = 48) -> str:
    room = width - len(mark)
    return (text if len(text) <= room else text[: room - 3] + "...") + mark


def print_report(rows: Sequence[Row], workflows: Sequence[str], verbose: bool) -> None:
    width = max(len(row.case.label) for row in rows)
    print()
    print(f"{'workflow':<{width}} | {'expected':<48} | {'got':<48} | ok")
    print(f"{'-' * width}-+-{'-' * 48}-+-{'-' * 48}-+---")
    for row in rows:
        got = row.got if verbose else _clip(row.got)
        mark = "yes" if row.ok else "NO"
        expected = _clip(row.case.expected, " *" if row.case.derived else "")
        print(f"{row.case.label:<{width}} | {expected:<48} | {got:<48} | {mark}")
    print("\n* derived: no StackStorm test runs this workflow; expected read from its definition")
    covered = {case.workflow for case in all_cases()}
    missing = [name for name in workflows if name not in covered and name not in SKIPPED]
    print("\nSkipped:")
    for name, why in SKIPPED.items():
        print(f"  {name}: {why}")
    for name in missing:
        print(f"  {name}: no case written for it")
    if not verbose:
        failing = [row for row in rows if not row.ok and len(row.got) > 48]
        if failing:
            print("\nDifferences in full:")
            for row in failing:
                print(f"  {row.case.label}: {row.got}")
    matched = sum(row.ok for row in rows)
    print(f"\n{matched} of {len(rows)} match")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("examples", type=Path, help="a StackStorm checkout's contrib/examples")
    parser.add_argument(
        "--only", action="append", default=[], help="cases whose label contains this"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch instance")
    parser.add_argument("--verbose", action="store_true", help="print differences in full")
    parser.add_argument(
        "--wait", type=float, default=Lab.wait_seconds, help="seconds to wait for each state"
    )
    options = parser.parse_args()
    Lab.wait_seconds = options.wait
    examples: Path = options.examples.resolve()
    if not (examples / "pack.yaml").is_file():
        parser.error(f"{examples} is not a pack folder (no pack.yaml)")
    cases = [
        case
        for case in all_cases()
        if not options.only or any(word in case.label for word in options.only)
    ]
    scratch = Path(tempfile.mkdtemp(prefix="st2-examples-"))
    home = scratch / "home"
    try:
        prepare(examples, home)
        print(f"instance {home}; {len(cases)} cases")
        rows = asyncio.run(run_cases(home, cases))
    finally:
        if options.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print_report(rows, orquesta_workflows(examples), options.verbose)
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
