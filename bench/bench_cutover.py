"""Cutover and rollback with nothing in flight (issue 10): how long from the old instance's
drain to the front flipped, and how long a rollback's flip takes.

Two ``packhorse up`` instances on fresh instance folders (SQLite), the new one initialised in
standby (``init --standby``, as ``upgrade run`` does), and ``packhorse front`` in front of
them, all real processes on loopback. Each round runs ``packhorse cutover --json`` from the
first to the second (default health gate) and ``packhorse rollback --json`` back, and reads
the figures the commands report: drain to flipped (drain, open, finish, flip) and the
rollback's flip as the front measured it. Beside them, the whole commands (Python start
included) against the floor of ``packhorse front flip`` (the same start, one flip).

Targets: drain to flipped under 5 s; a rollback flip under 100 ms.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_front import running_front
from common import free_port, print_table, running_up

ROUNDS = 5
PACKHORSE = (sys.executable, "-m", "packhorse")


def run(*args: str) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    done = subprocess.run([*PACKHORSE, *args], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr + done.stdout
    return seconds, json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-cutover-") as folder:
        root = Path(folder)
        ports = free_port(), free_port()
        for name, port, extra in (("old", ports[0], ()), ("new", ports[1], ("--standby",))):
            subprocess.run(
                [*PACKHORSE, "--home", str(root / name), "init", "--listen",
                 f"127.0.0.1:{port}", *extra],
                check=True, capture_output=True,
            )  # fmt: skip
        state = root / "front.json"
        with (
            running_up(root / "old", ports[0]) as old_url,
            running_up(root / "new", ports[1]) as new_url,
            running_front(state, free_port()),
        ):
            run("front", "flip", "--state", str(state), "--to", old_url, "--json")
            drain_to_flip, rollback_flip, cutover_cmd, rollback_cmd, flip_cmd = [], [], [], [], []
            for _ in range(ROUNDS):
                seconds, report = run(
                    "cutover", "--from", str(root / "old"), "--to", str(root / "new"),
                    "--front-state", str(state), "--json",
                )  # fmt: skip
                assert report["ok"], report
                cutover_cmd.append(seconds)
                drain_to_flip.append(float(report["drain_to_flip_seconds"]))  # type: ignore[arg-type]
                seconds, report = run("rollback", "--front-state", str(state), "--json")
                assert report["ok"], report
                rollback_cmd.append(seconds)
                rollback_flip.append(float(report["flip_ms"]) / 1000)  # type: ignore[arg-type]
                # the floor: one bare flip there and back with the same command start-up
                flip_cmd.append(run("front", "flip", "--state", str(state), "--to", new_url)[0])
                run("front", "flip", "--state", str(state), "--to", old_url)
    floor = statistics.median(flip_cmd)
    print_table(
        f"Cutover and rollback, nothing in flight, median of {ROUNDS} rounds",
        [
            ("drain to flipped (cutover's own figure)", statistics.median(drain_to_flip),
             None, "< 5 s"),
            ("rollback flip (the front's figure)", statistics.median(rollback_flip), None,
             "< 100 ms"),
            ("packhorse cutover, whole command", statistics.median(cutover_cmd), floor, ""),
            ("packhorse rollback, whole command", statistics.median(rollback_cmd), floor, ""),
            ("packhorse front flip (floor)", floor, floor, ""),
        ],
    )  # fmt: skip


if __name__ == "__main__":
    main()
