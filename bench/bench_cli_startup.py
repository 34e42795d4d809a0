"""Start-up time of the CLI: ``packhorse --help`` and ``packhorse pack list``.

Target (issue 2): each under 300 ms. Floor, measured in the same run: a bare
``python -c pass`` of the same interpreter.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import median_seconds, print_table

REPEATS = 15


def main() -> None:
    python = sys.executable
    script = shutil.which("packhorse", path=str(Path(python).parent)) or "packhorse"
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        subprocess.run([script, "--home", str(home), "init"], check=True, capture_output=True)

        def run(*args: str) -> None:
            subprocess.run([*args], check=True, capture_output=True)

        floor = median_seconds(lambda: run(python, "-c", "pass"), REPEATS)
        help_time = median_seconds(lambda: run(script, "--help"), REPEATS)
        list_time = median_seconds(
            lambda: run(script, "--home", str(home), "pack", "list"), REPEATS
        )
        action_time = median_seconds(
            lambda: run(script, "--home", str(home), "action", "list"), REPEATS
        )
    print_table(
        f"CLI start-up, median of {REPEATS} runs",
        [
            ("packhorse --help", help_time, floor, "< 300 ms"),
            ("packhorse pack list", list_time, floor, "< 300 ms"),
            ("packhorse action list", action_time, floor, ""),
            ("floor: python -c pass", floor, None, ""),
        ],
    )
    if max(help_time, list_time) > 0.3:
        sys.exit("target missed: a command took over 300 ms")


if __name__ == "__main__":
    main()
