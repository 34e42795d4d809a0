"""Re-installing packs whose requirements did not change: no virtualenv is rebuilt.

Twenty small packs (a python action and a ``requirements.txt`` each, half of them with a
requirement from a wheelhouse made here) are installed into a fresh instance with
``packhorse pack install`` (one command; packs with the same requirements share a venv, so two
are built, with uv and the default baseline from its cache), then installed again unchanged,
several times. The floor is
``packhorse pack register`` of the same twenty packs (what any install has to do at least).

Target (issue 8): re-installing 20 packs whose requirements did not change takes under 5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))
from common import packhorse
from tests.packs.test_venvs import make_wheel

PACKS = 20


def make_packs(root: Path, count: int) -> list[Path]:
    folders = []
    for n in range(count):
        ref = f"bench_pack_{n:02d}"
        folder = root / ref
        (folder / "actions").mkdir(parents=True)
        (folder / "pack.yaml").write_text(
            f"ref: {ref}\nname: {ref}\ndescription: benchmark pack\nversion: 1.0.{n}\n"
            "author: bench\nemail: bench@example.com\n"
        )
        (folder / "actions" / "hello.yaml").write_text(
            "name: hello\nrunner_type: python-script\nentry_point: hello.py\n"
            "description: say hello\n"
        )
        (folder / "actions" / "hello.py").write_text(
            "from st2common.runners.base_action import Action\n\n\n"
            "class Hello(Action):\n    def run(self):\n        return 'hello'\n"
        )
        (folder / "requirements.txt").write_text("phtinylib==1.0\n" if n % 2 else "")
        folders.append(folder)
    return folders


def timed(home: Path, *args: str) -> float:
    started = time.perf_counter()
    packhorse(home, *args)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="re-installs (the median is quoted)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        wheels = root / "wheels"
        make_wheel(wheels, "phtinylib", "1.0")
        home = root / "home"
        packhorse(home, "init")
        folders = [str(f) for f in make_packs(root / "src", PACKS)]
        # The default baseline comes from the package index (uv's cache after the first
        # run); the packs' own requirement from the wheelhouse, as extra links.
        args = ["pack", "install", *folders, "--json"]
        os.environ["UV_FIND_LINKS"] = str(wheels)
        os.environ["PIP_FIND_LINKS"] = str(wheels)
        first = timed(home, *args)
        again = [timed(home, *args) for _ in range(arguments.runs)]
        register = [
            timed(home, "pack", "register", *[Path(f).name for f in folders])
            for _ in range(arguments.runs)
        ]
    median, floor = statistics.median(again), statistics.median(register)
    print(f"\n{PACKS} packs: half without requirements, half with one (two distinct venvs)")
    print(f"{'measurement':<52} {'median':>9} {'ratio':>7}  target")
    print(f"{'first install (2 venvs built, 18 packs share)':<52} {first:8.2f}s")
    print(
        f"{'re-install, nothing changed (no venv rebuilt)':<52} {median:8.2f}s "
        f"{median / floor:6.1f}x  < 5 s"
    )
    print(f"{'floor: pack register of the same packs':<52} {floor:8.2f}s")
    print("re-install runs: " + ", ".join(f"{t:.2f} s" for t in again))


if __name__ == "__main__":
    main()
